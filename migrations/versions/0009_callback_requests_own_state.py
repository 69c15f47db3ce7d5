"""Each callback request keeps its own tijdvak and state: attempts record which requests they
were for, callbacks are found by number for the card's earlier requests, and an open callback's
tijdvak is that of its earliest open request (the old rule "the latest reschedule wins" could
move the first call away from the victim's tijdvak).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _first_due(column: str) -> str:
    # The earliest open request of the callback, ties to the one made first (portable SQL:
    # a scalar subquery with ORDER BY and LIMIT works on SQLite and PostgreSQL alike).
    return (
        f"(SELECT r.{column} FROM callback_request r WHERE r.callback_id = callback.id AND r.status = 'open' "
        "ORDER BY r.slot_start, r.created_at LIMIT 1)"
    )


def upgrade() -> None:
    with op.batch_alter_table("callback_attempt", schema=None) as batch_op:
        batch_op.add_column(sa.Column("requests", sa.JSON(), nullable=True))
    with op.batch_alter_table("callback", schema=None) as batch_op:
        # Earlier callbacks of a number, shown on its card (`related`).
        batch_op.create_index("ix_callback_phone_hash", ["phone_hash"], unique=False)
    columns = ("slot_start", "slot_end", "kind", "caller_type", "voicemail_ok")
    assignments = ", ".join(f"{c} = {_first_due(c)}" for c in columns)
    op.execute(
        f"UPDATE callback SET {assignments} WHERE status IN ('open', 'claimed') AND EXISTS "
        "(SELECT 1 FROM callback_request r WHERE r.callback_id = callback.id AND r.status = 'open')"
    )


def downgrade() -> None:
    # The tijdvakken stay as they are: the earliest open request is also a valid tijdvak there.
    with op.batch_alter_table("callback", schema=None) as batch_op:
        batch_op.drop_index("ix_callback_phone_hash")
    with op.batch_alter_table("callback_attempt", schema=None) as batch_op:
        batch_op.drop_column("requests")
