"""Every contact ends: a conversation, a callback and each callback request is marked when its
personal data was purged (`purged_at`), whatever way it ended, and contact hashes get room for a
key version (`v<id>:` before the hex), so the hash key can be rotated. No manage token is kept in
clear: an e-mail waits in the outbox with a placeholder for its manage link and the request it
belongs to; at sending, a manage token of its own is made for the e-mail (`mail_manage_hash`).

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_MARKED = ("conversation", "callback", "callback_request")


def upgrade() -> None:
    for table in _MARKED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("callback_request", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mail_manage_hash", sa.String(64), nullable=True))
        batch_op.create_index("ux_callback_request_mail_manage_hash", ["mail_manage_hash"], unique=True)
    with op.batch_alter_table("email_outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_id", sa.String(36), nullable=True))
    op.create_index("ix_conversation_purge", "conversation", ["purged_at", "outcome_at"])
    op.create_index("ix_callback_purge", "callback", ["purged_at", "closed_at"])
    op.create_index("ix_callback_request_purge", "callback_request", ["purged_at"])
    with op.batch_alter_table("callback", schema=None) as batch_op:
        batch_op.alter_column("phone_hash", type_=sa.String(128), existing_type=sa.String(64), existing_nullable=False)
    with op.batch_alter_table("handoff_contact", schema=None) as batch_op:
        batch_op.alter_column(
            "contact_hash", type_=sa.String(128), existing_type=sa.String(64), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("handoff_contact", schema=None) as batch_op:
        batch_op.alter_column("contact_hash", type_=sa.String(64), existing_type=sa.String(128), existing_nullable=False)
    with op.batch_alter_table("callback", schema=None) as batch_op:
        batch_op.alter_column("phone_hash", type_=sa.String(64), existing_type=sa.String(128), existing_nullable=False)
    with op.batch_alter_table("email_outbox", schema=None) as batch_op:
        batch_op.drop_column("request_id")
    with op.batch_alter_table("callback_request", schema=None) as batch_op:
        batch_op.drop_index("ux_callback_request_mail_manage_hash")
        batch_op.drop_column("mail_manage_hash")
    op.drop_index("ix_callback_request_purge", table_name="callback_request")
    op.drop_index("ix_callback_purge", table_name="callback")
    op.drop_index("ix_conversation_purge", table_name="conversation")
    for table in reversed(_MARKED):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("purged_at")
