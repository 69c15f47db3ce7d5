"""Every contact ends: a conversation, a callback and each callback request is marked when its
personal data was purged (`purged_at`), whatever way it ended, and contact hashes get room for a
key version (`v<n>:` before the hex), so the hash key can be rotated.

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None

_MARKED = ("conversation", "callback", "callback_request")


def upgrade() -> None:
    for table in _MARKED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_conversation_purge", "conversation", ["purged_at", "outcome_at"])
    op.create_index("ix_callback_purge", "callback", ["purged_at", "closed_at"])
    op.create_index("ix_callback_request_purge", "callback_request", ["purged_at", "status"])
    with op.batch_alter_table("callback", schema=None) as batch_op:
        batch_op.alter_column("phone_hash", type_=sa.String(80), existing_type=sa.String(64), existing_nullable=False)
    with op.batch_alter_table("handoff_contact", schema=None) as batch_op:
        batch_op.alter_column(
            "contact_hash", type_=sa.String(80), existing_type=sa.String(64), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("handoff_contact", schema=None) as batch_op:
        batch_op.alter_column("contact_hash", type_=sa.String(64), existing_type=sa.String(80), existing_nullable=False)
    with op.batch_alter_table("callback", schema=None) as batch_op:
        batch_op.alter_column("phone_hash", type_=sa.String(64), existing_type=sa.String(80), existing_nullable=False)
    op.drop_index("ix_callback_request_purge", table_name="callback_request")
    op.drop_index("ix_callback_purge", table_name="callback")
    op.drop_index("ix_conversation_purge", table_name="conversation")
    for table in reversed(_MARKED):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("purged_at")
