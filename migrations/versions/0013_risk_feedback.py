"""Advisors' feedback on risk signals (issue 13): a concept marked wrong, or a risk missed, per
visitor message (ids only, no text), and anonymous per-day counts of the concepts that fired,
which outlive the retention purge.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "risk_feedback",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("concept", sa.String(length=200), nullable=False, server_default=""),
        sa.Column("level", sa.String(length=8), nullable=True),
        sa.Column("agent_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversation.id"]),
        sa.ForeignKeyConstraint(["agent_id"], ["agent.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("conversation_id", "seq", "kind", "concept", "agent_id", name="ux_risk_feedback"),
    )
    op.create_index("ix_risk_feedback_at", "risk_feedback", ["at"])
    op.create_table(
        "risk_concept_day",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("concept", sa.String(length=200), nullable=False),
        sa.Column("fired", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("day", "concept"),
    )


def downgrade() -> None:
    op.drop_table("risk_concept_day")
    op.drop_index("ix_risk_feedback_at", table_name="risk_feedback")
    op.drop_table("risk_feedback")
