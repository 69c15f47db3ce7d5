"""Rules of the crisis procedure: who is alerted in which round, who may acknowledge, when the
next alert is due, and what the visitor is told. Plain functions; the chat service does the I/O."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from routing.queue_order import CRISIS_ROLE, CRISIS_TEAM, SEE_ALL_ROLES

Audience = Literal["crisis", "everyone"]
MAX_REASON = 500

# Who started a crisis when no agent did.
BY_VISITOR = "visitor"  # answered "yes" to "Ben je nu in gevaar?"
BY_SYSTEM = "system"  # a risk phrase of the highest level


def crisis_capable(role: str, teams: tuple[str, ...] | list[str], crisis_team: str = CRISIS_TEAM) -> bool:
    """Crisis agents, members of the crisis team, supervisors and admins get every alert."""
    return role == CRISIS_ROLE or role in SEE_ALL_ROLES or crisis_team in teams


def audience(round_: int) -> Audience:
    """The first alert goes to the crisis team and the supervisors; when nobody acknowledged
    it in time, every later round goes to every agent online: someone must pick it up."""
    return "crisis" if round_ <= 1 else "everyone"


def may_acknowledge(role: str, teams: tuple[str, ...] | list[str], round_: int, crisis_team: str = CRISIS_TEAM) -> bool:
    """An agent may take on a crisis they were alerted to."""
    return crisis_capable(role, teams, crisis_team) or audience(round_) == "everyone"


def realert_due(alerted_at: datetime | None, now: datetime, realert_after_s: float) -> bool:
    return alerted_at is not None and now - alerted_at >= timedelta(seconds=realert_after_s)


def visitor_text(chat_open: bool) -> dict[str, str]:
    """What the visitor sees at once: 112 first. Outside opening hours nobody may answer the
    chat, so the 24/7 phone line is named too."""
    if chat_open:
        return {
            "text": "Ben je nu in gevaar? Bel meteen 112. "
            "Je kunt hier ook blijven chatten: je bent als eerste aan de beurt.",
            "text_en": "In danger now? Call 112 at once. You can also keep chatting here: you are first in line.",
            "phone": "112",
            "advice_phone": "0800-2000",
        }
    return {
        "text": "Ben je nu in gevaar? Bel meteen 112. De chat is nu gesloten; Veilig Thuis is dag en nacht "
        "bereikbaar op 0800-2000 (gratis).",
        "text_en": "In danger now? Call 112 at once. The chat is closed now; Veilig Thuis answers day and night "
        "on 0800-2000 (free).",
        "phone": "112",
        "advice_phone": "0800-2000",
    }
