"""Management figures (issue 18): anonymous counts per local day and team, sealed once the day
has settled, so the figures outlive the retention purge.

Revision ID: 0020
Revises: 0016
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "figures_day",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("team", sa.String(length=40), nullable=False),
        sa.Column("figure", sa.String(length=40), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "team", "figure"),
    )
    op.create_table(
        "figures_sealed",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )


def downgrade() -> None:
    op.drop_table("figures_sealed")
    op.drop_table("figures_day")
