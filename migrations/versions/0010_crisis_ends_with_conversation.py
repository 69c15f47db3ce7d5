"""The crisis procedure of a conversation ends when the conversation ends: remember when and why,
so no alert goes out for a conversation that is over.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("crisis_ended_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("crisis_end_reason", sa.String(length=32), nullable=True))
    # Crises of conversations already closed and never acknowledged were still alerting: end them.
    op.execute(
        "UPDATE conversation SET crisis_ended_at = closed_at, crisis_end_reason = close_reason "
        "WHERE status = 'closed' AND crisis_at IS NOT NULL AND crisis_acked_at IS NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.drop_column("crisis_end_reason")
        batch_op.drop_column("crisis_ended_at")
