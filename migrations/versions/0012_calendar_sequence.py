"""The calendar entry of a callback request: its SEQUENCE (RFC 5545) rises with every reschedule
and with the cancellation, so a calendar replaces the entry of the same UID instead of adding a
second one. The UID is now `<request id>@vt-contact` in every e-mail and in the download
(invitations sent before this revision carried another UID in their e-mail).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("callback_request", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ics_sequence", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("callback_request", schema=None) as batch_op:
        batch_op.drop_column("ics_sequence")
