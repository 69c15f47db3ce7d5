"""Push mode: the open offer of a waiting conversation and who let it pass; agents' expertise.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from alembic import op
import sqlalchemy as sa

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("offered_to", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("offered_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("agent", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expertise", sa.JSON(), nullable=True))
    op.create_table(
        "push_decline",
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("agent_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversation.id"]),
        sa.PrimaryKeyConstraint("conversation_id", "agent_id"),
    )


def downgrade() -> None:
    op.drop_table("push_decline")
    with op.batch_alter_table("agent", schema=None) as batch_op:
        batch_op.drop_column("expertise")
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.drop_column("offered_at")
        batch_op.drop_column("offered_to")
