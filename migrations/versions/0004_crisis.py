"""Crisis state and timeline of a conversation, its expertise, and APScheduler's job table.

The job table has the shape APScheduler 3.x's SQLAlchemyJobStore expects, so Alembic stays
the one owner of the schema (the job store only creates it when it is missing).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expertise", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("crisis_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("crisis_reason", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("crisis_by", sa.String(length=48), nullable=True))
        batch_op.add_column(sa.Column("crisis_round", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("crisis_alerted_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("crisis_acked_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("crisis_acked_by", sa.String(length=36), nullable=True))
        batch_op.create_index("ix_conversation_crisis_open", ["crisis_acked_at", "crisis_at"])
    op.create_table(
        "crisis_event",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=48), nullable=False),
        sa.Column("actor_name", sa.String(length=120), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("round", sa.Integer(), nullable=True),
        sa.Column("audience", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversation.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_crisis_event_conversation", "crisis_event", ["conversation_id", "at"])
    op.create_table(
        "apscheduler_jobs",
        sa.Column("id", sa.Unicode(length=191), nullable=False),
        sa.Column("next_run_time", sa.Float(precision=25), nullable=True),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_apscheduler_jobs_next_run_time", "apscheduler_jobs", ["next_run_time"])


def downgrade() -> None:
    op.drop_index("ix_apscheduler_jobs_next_run_time", table_name="apscheduler_jobs")
    op.drop_table("apscheduler_jobs")
    op.drop_index("ix_crisis_event_conversation", table_name="crisis_event")
    op.drop_table("crisis_event")
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.drop_index("ix_conversation_crisis_open")
        for column in (
            "crisis_acked_by",
            "crisis_acked_at",
            "crisis_alerted_at",
            "crisis_round",
            "crisis_by",
            "crisis_reason",
            "crisis_at",
            "expertise",
        ):
            batch_op.drop_column(column)
