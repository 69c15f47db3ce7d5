"""Callbacks in tijdvakken: places per tijdvak, callbacks and the requests merged into them,
attempts, tijdvak notices, and the e-mail outbox.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from alembic import op
import sqlalchemy as sa

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "server_secret",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "callback_slot",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("booked", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "start"),
    )
    op.create_table(
        "email_outbox",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("purpose", sa.String(length=24), nullable=False),
        sa.Column("to_address", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("ics", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_try_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("email_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_email_outbox_due", ["sent_at", "next_try_at"], unique=False)

    op.create_table(
        "tijdvak_notice",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "start"),
    )
    op.create_table(
        "callback",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("slot_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("slot_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("phone_hash", sa.String(length=64), nullable=False),
        sa.Column("caller_type", sa.String(length=16), nullable=False),
        sa.Column("voicemail_ok", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("claimed_by", sa.String(length=36), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_result", sa.String(length=16), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.JSON(), nullable=True),
        sa.Column("overdue_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["claimed_by"],
            ["agent.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("callback", schema=None) as batch_op:
        batch_op.create_index("ix_callback_slot", ["slot_start"], unique=False)
        batch_op.create_index(
            "ux_callback_open_phone",
            ["phone_hash"],
            unique=True,
            sqlite_where=sa.text("status IN ('open', 'claimed')"),
            postgresql_where=sa.text("status IN ('open', 'claimed')"),
        )

    op.create_table(
        "callback_attempt",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("callback_id", sa.String(length=36), nullable=False),
        sa.Column("agent_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agent.id"],
        ),
        sa.ForeignKeyConstraint(
            ["callback_id"],
            ["callback.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("callback_attempt", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_callback_attempt_callback_id"), ["callback_id"], unique=False)

    op.create_table(
        "callback_request",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("callback_id", sa.String(length=36), nullable=False),
        sa.Column("reference", sa.String(length=16), nullable=False),
        sa.Column("manage_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("slot_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("slot_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("caller_type", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column("topic", sa.String(length=500), nullable=True),
        sa.Column("voicemail_ok", sa.Boolean(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("organisation", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rescheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminder_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["callback_id"],
            ["callback.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("manage_hash"),
        sa.UniqueConstraint("reference"),
    )
    with op.batch_alter_table("callback_request", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_callback_request_callback_id"), ["callback_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("callback_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_callback_request_callback_id"))

    op.drop_table("callback_request")
    with op.batch_alter_table("callback_attempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_callback_attempt_callback_id"))

    op.drop_table("callback_attempt")
    with op.batch_alter_table("callback", schema=None) as batch_op:
        batch_op.drop_index(
            "ux_callback_open_phone",
            sqlite_where=sa.text("status IN ('open', 'claimed')"),
            postgresql_where=sa.text("status IN ('open', 'claimed')"),
        )
        batch_op.drop_index("ix_callback_slot")

    op.drop_table("callback")
    op.drop_table("tijdvak_notice")
    with op.batch_alter_table("email_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_email_outbox_due")

    op.drop_table("email_outbox")
    op.drop_table("callback_slot")
    op.drop_table("server_secret")
