"""The advisors' desk: ready texts (snelteksten) with the default safety texts, the keyed hashes
that recognise a conversation's visitor, and blocks on abusive visitors.

Revision ID: 0018
Revises: 0016
Create Date: 2026-12-01
"""

from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa


revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_WIPE_NL = (
    "Wil je niet dat iemand ziet dat je met ons chat? Wis dan je geschiedenis. "
    "Op een computer: druk op Ctrl+Shift+Delete (Mac: Cmd+Shift+Delete) en kies 'Browsegeschiedenis'. "
    "Op een telefoon: open de instellingen van je browser en kies 'Geschiedenis wissen'. "
    "Nog veiliger is een privévenster. Met de knop 'Snel weg' ga je meteen naar een andere website."
)
_WIPE_EN = (
    "Don't want anyone to see that you chat with us? Then clear your history. "
    "On a computer: press Ctrl+Shift+Delete (Mac: Cmd+Shift+Delete) and choose 'Browsing history'. "
    "On a phone: open your browser's settings and choose 'Clear history'. "
    "A private window is even safer. The 'Snel weg' (quick exit) button takes you to another website at once."
)
# (id, lang, shortcut, title, text): shared by every team, marked as default, editable.
DEFAULT_TEXTS = (
    ("default-112-nl", "nl", "112", "Gevaar: bel 112", "Ben je nu in gevaar? Bel {noodnummer}."),
    ("default-112-en", "en", "112", "Danger: call 112", "Are you in danger right now? Call {noodnummer}."),
    ("default-veilig-nl", "nl", "veilig", "Ben je veilig?", "Ben je nu veilig?"),
    ("default-veilig-en", "en", "veilig", "Are you safe?", "Are you safe right now?"),
    ("default-wissen-nl", "nl", "wissen", "Wis je geschiedenis", _WIPE_NL),
    ("default-wissen-en", "en", "wissen", "Clear your history", _WIPE_EN),
    (
        "default-bellen-nl",
        "nl",
        "bellen",
        "Bel ons gratis",
        "Je kunt ons altijd bellen, dag en nacht. Dat is gratis: {telefoon}.",
    ),
    ("default-bellen-en", "en", "bellen", "Call us for free", "You can call us any time, day and night, for free: {telefoon}."),
    (
        "default-sluiting-nl",
        "nl",
        "sluiting",
        "De chat sluit",
        "De chat sluit vandaag om {sluitingstijd}. Daarna kun je ons gratis bellen: {telefoon}.",
    ),
    (
        "default-sluiting-en",
        "en",
        "sluiting",
        "The chat closes",
        "The chat closes today at {sluitingstijd}. After that you can call us for free: {telefoon}.",
    ),
)


def upgrade() -> None:
    texts = op.create_table(
        "ready_text",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("team", sa.String(length=40), nullable=True),
        sa.Column("lang", sa.String(length=2), nullable=False),
        sa.Column("title", sa.String(length=80), nullable=False),
        sa.Column("shortcut", sa.String(length=30), nullable=False),
        sa.Column("text", sa.String(length=2000), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False, server_default="0"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ready_text_team", "ready_text", ["team"])
    op.create_table(
        "visitor_mark",
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("address_hash", sa.String(length=64), nullable=True),
        sa.Column("browser_hash", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("conversation_id"),
    )
    op.create_table(
        "visitor_block",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("address_hash", sa.String(length=64), nullable=True),
        sa.Column("browser_hash", sa.String(length=64), nullable=True),
        sa.Column("whole_address", sa.Boolean(), nullable=False, server_default="0"),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("created_by", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_visitor_block_address", "visitor_block", ["address_hash"])
    op.create_index("ix_visitor_block_browser", "visitor_block", ["browser_hash"])
    op.create_index("ix_visitor_block_until", "visitor_block", ["until"])
    now = datetime.now(UTC)
    op.bulk_insert(
        texts,
        [
            {"id": i, "team": None, "lang": lang, "shortcut": key, "title": title, "text": text, "is_default": True,
             "updated_at": now, "updated_by": None}
            for i, lang, key, title, text in DEFAULT_TEXTS
        ],
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_visitor_block_until", table_name="visitor_block")
    op.drop_index("ix_visitor_block_browser", table_name="visitor_block")
    op.drop_index("ix_visitor_block_address", table_name="visitor_block")
    op.drop_table("visitor_block")
    op.drop_table("visitor_mark")
    op.drop_index("ix_ready_text_team", table_name="ready_text")
    op.drop_table("ready_text")
