"""The advisors' workplace: each agent's status (beschikbaar, pauze, nawerk, offline) with since
and until, and the whispers of supervisors to the advisor holding a conversation.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa


revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_status",
        sa.Column("agent_id", sa.String(length=36), sa.ForeignKey("agent.id"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("set_by", sa.String(length=36), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("agent_id"),
    )
    op.create_table(
        "whisper",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("conversation_id", sa.String(length=36), sa.ForeignKey("conversation.id"), nullable=False),
        sa.Column("from_agent_id", sa.String(length=36), sa.ForeignKey("agent.id"), nullable=False),
        sa.Column("to_agent_id", sa.String(length=36), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_whisper_conversation", "whisper", ["conversation_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_whisper_conversation", table_name="whisper")
    op.drop_table("whisper")
    op.drop_table("agent_status")
