"""Opening hours per team at run time: each team's own week pattern, the exceptions (open or
closed ranges with a public reason), and the version row every change raises.

Revision ID: 0019
Revises: 0016
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa


revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "team_hours",
        sa.Column("team", sa.String(length=32), nullable=False),
        sa.Column("pattern", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("team"),
    )
    op.create_table(
        "hours_exception",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("team", sa.String(length=32), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=True),
        sa.Column("reason_text", sa.String(length=120), nullable=True),
        sa.Column("reason_text_en", sa.String(length=120), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_hours_exception_team_end", "hours_exception", ["team", "ends_at"])
    version = op.create_table(
        "hours_version",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(version, [{"id": 1, "version": 0}])


def downgrade() -> None:
    op.drop_table("hours_version")
    op.drop_index("ix_hours_exception_team_end", table_name="hours_exception")
    op.drop_table("hours_exception")
    op.drop_table("team_hours")
