"""The access log (NEN 7513): one chained, append-only entry per read of a contact's content and
per login, logout, failed login and account change, and the chain's head row that every append
locks (with the signed checkpoint of the last purged entry).

Revision ID: 0016
Revises: 0012
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa


revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "access_log",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agent_id", sa.String(length=36), nullable=True),
        sa.Column("role", sa.String(length=20), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("contact_type", sa.String(length=20), nullable=True),
        sa.Column("contact_id", sa.String(length=64), nullable=True),
        sa.Column("address_hash", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index("ix_access_log_at", "access_log", ["at"])
    op.create_index("ix_access_log_agent_id", "access_log", ["agent_id"])
    op.create_index("ix_access_log_contact_id", "access_log", ["contact_id"])
    head = op.create_table(
        "access_log_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("checkpoint_seq", sa.Integer(), nullable=False),
        sa.Column("checkpoint_hash", sa.String(length=64), nullable=False),
        sa.Column("checkpoint_signature", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": "0" * 64, "checkpoint_seq": 0, "checkpoint_hash": "0" * 64}])


def downgrade() -> None:
    op.drop_table("access_log_head")
    op.drop_index("ix_access_log_contact_id", table_name="access_log")
    op.drop_index("ix_access_log_agent_id", table_name="access_log")
    op.drop_index("ix_access_log_at", table_name="access_log")
    op.drop_table("access_log")
