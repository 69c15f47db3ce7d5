"""A crisis worker (or supervisor) may ask to take a conversation over from its holder: who asked
and since when, so the holder can answer and, without an answer in time, the asker may go ahead;
and whether anyone reads the conversation along, so its messages go to them too.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("takeover_by", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("takeover_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("read_along", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.drop_column("read_along")
        batch_op.drop_column("takeover_at")
        batch_op.drop_column("takeover_by")
