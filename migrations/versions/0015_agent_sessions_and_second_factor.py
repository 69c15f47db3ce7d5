"""Accounts you can trust: a login is a session row the token refers to (logout, idle timeout,
revocation), and agents get a second factor (TOTP secret, the last step used, hashed recovery
codes).

Revision ID: 0015
Revises: 0012
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa


revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_session",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("agent_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("factor", sa.String(length=20), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=30), nullable=True),
    )
    op.create_index("ix_agent_session_agent_id", "agent_session", ["agent_id"])
    with op.batch_alter_table("agent", schema=None) as batch_op:
        batch_op.add_column(sa.Column("totp_secret", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("totp_pending", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("recovery_hashes", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agent", schema=None) as batch_op:
        batch_op.drop_column("recovery_hashes")
        batch_op.drop_column("totp_last_step")
        batch_op.drop_column("totp_pending")
        batch_op.drop_column("totp_secret")
    op.drop_index("ix_agent_session_agent_id", table_name="agent_session")
    op.drop_table("agent_session")
