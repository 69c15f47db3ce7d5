"""A conversation the visitor left can still get its outcome: remember how they left (quick exit),
when the outcome was recorded and by whom, and the last activity that keeps the resume token alive.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("visitor_quick_exit", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("outcome_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("outcome_by", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=True))
    # Conversations closed before this revision were settled at close, with or without an outcome:
    # none of them is "waiting for its outcome" now.
    op.execute("UPDATE conversation SET outcome_at = closed_at WHERE status = 'closed'")
    op.execute("UPDATE conversation SET outcome_by = agent_id WHERE outcome IS NOT NULL")
    op.execute("UPDATE conversation SET last_activity_at = COALESCE(closed_at, accepted_at, created_at)")


def downgrade() -> None:
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.drop_column("last_activity_at")
        batch_op.drop_column("outcome_by")
        batch_op.drop_column("outcome_at")
        batch_op.drop_column("visitor_quick_exit")
