"""Nawerk periods (issue 18): each nawerk after a close, so the management figures can report
nawerk time per day and team; deleted with the conversation's purge.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa


revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "nawerk_period",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("agent_id", sa.String(length=36), sa.ForeignKey("agent.id"), nullable=False),
        sa.Column("conversation_id", sa.String(length=36), sa.ForeignKey("conversation.id"), nullable=False),
        sa.Column("team", sa.String(length=40), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("planned_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_nawerk_period_agent", "nawerk_period", ["agent_id", "ended_at"])
    op.create_index("ix_nawerk_period_started", "nawerk_period", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_nawerk_period_started", table_name="nawerk_period")
    op.drop_index("ix_nawerk_period_agent", table_name="nawerk_period")
    op.drop_table("nawerk_period")
