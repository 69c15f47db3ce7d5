"""Handoff to the case system: the outbox of closed contacts and the hashes that link repeat
reports (hermelding).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

from alembic import op
import sqlalchemy as sa

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "handoff",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("urgency", sa.String(length=8), nullable=True),
        sa.Column("gemeente", sa.String(length=100), nullable=True),
        sa.Column("caller_type", sa.String(length=16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("agent_id", sa.String(length=36), nullable=True),
        sa.Column("hermelding", sa.Boolean(), nullable=False),
        sa.Column("repeat_of", sa.String(length=36), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("next_try_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=80), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("handoff", schema=None) as batch_op:
        batch_op.create_index("ix_handoff_deadline", ["deadline"], unique=False)
        batch_op.create_index("ix_handoff_delivery", ["status", "next_try_at"], unique=False)
        batch_op.create_index("ux_handoff_source", ["source", "source_id"], unique=True)

    op.create_table(
        "handoff_contact",
        sa.Column("handoff_id", sa.String(length=36), nullable=False),
        sa.Column("contact_hash", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["handoff_id"],
            ["handoff.id"],
        ),
        sa.PrimaryKeyConstraint("handoff_id", "contact_hash"),
    )
    with op.batch_alter_table("handoff_contact", schema=None) as batch_op:
        batch_op.create_index("ix_handoff_contact_hash", ["contact_hash"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("handoff_contact", schema=None) as batch_op:
        batch_op.drop_index("ix_handoff_contact_hash")

    op.drop_table("handoff_contact")
    with op.batch_alter_table("handoff", schema=None) as batch_op:
        batch_op.drop_index("ux_handoff_source")
        batch_op.drop_index("ix_handoff_delivery")
        batch_op.drop_index("ix_handoff_deadline")

    op.drop_table("handoff")
