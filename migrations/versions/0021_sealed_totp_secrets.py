"""Room for sealed TOTP secrets: `agent.totp_secret` and `agent.totp_pending` hold
`enc1:<key id>:<base64>` (AES-GCM, contact/secretbox.py), longer than a bare secret.

The data is not changed here: a migration does not know VT_SECRET_KEY. Secrets stored in the
clear are sealed at their next use, or all at once by `vt-contact agent encrypt-2fa`.

Revision ID: 0021
Revises: 0016
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa


revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agent") as batch_op:
        for column in ("totp_secret", "totp_pending"):
            batch_op.alter_column(
                column, existing_type=sa.String(length=64), type_=sa.String(length=255), existing_nullable=True
            )


def downgrade() -> None:
    # A sealed secret does not fit 64 characters: the second factors are reset (enrolled again).
    op.execute("UPDATE agent SET totp_secret = NULL, totp_pending = NULL, totp_last_step = NULL, recovery_hashes = NULL")
    with op.batch_alter_table("agent") as batch_op:
        for column in ("totp_secret", "totp_pending"):
            batch_op.alter_column(
                column, existing_type=sa.String(length=255), type_=sa.String(length=64), existing_nullable=True
            )
