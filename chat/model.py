"""Plain values and rules of the chat: who an event goes to, outcomes, wait estimates.

No transport or database imports here: the service returns `Emit`s and the socket adapter
turns them into Socket.IO emits."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from callback.phone import normalise_email, normalise_phone
from contact.errors import DomainError
from contact.gemeenten import official as official_gemeente

MAX_TEXT = 4000
OUTCOME_KINDS = ("advies", "melding", "geen")
URGENCIES = ("spoed", "hoog", "midden", "laag")
UNKNOWN_GEMEENTE = (
    "Deze gemeente kennen we niet. Kies een gemeente uit de lijst.",
    "This is not a Dutch municipality. Choose one from the list.",
)


@dataclass(frozen=True)
class ToVisitor:
    """The visitor's connection(s) of one conversation."""

    conversation_id: str


@dataclass(frozen=True)
class ToAgent:
    """Every open console of one agent."""

    agent_id: str


@dataclass(frozen=True)
class ToAgentGroup:
    """Every console of the agents who see the same queue (same role class and teams)."""

    group: str


@dataclass(frozen=True)
class ToCrisisAudience:
    """Crisis alerts: `crisis` reaches crisis agents, the crisis team and supervisors;
    `everyone` every agent online."""

    audience: str


@dataclass(frozen=True)
class ToReaders:
    """Every console reading a conversation along (a supervisor, or the crisis worker who took
    its crisis on while a colleague holds it)."""

    conversation_id: str


Target = ToVisitor | ToAgent | ToAgentGroup | ToCrisisAudience | ToReaders

_SEE_ALL = ("supervisor", "admin")


def queue_group(role: str, teams: tuple[str, ...] | list[str]) -> str:
    """The name of the set of agents who see one view of the queue: supervisors and admins see
    everything; others by role and teams (a crisis agent also serves the crisis team)."""
    if role in _SEE_ALL:
        return "all"
    return f"{role}:{','.join(sorted(set(teams)))}"


def parse_group(group: str) -> tuple[str, tuple[str, ...]]:
    if group == "all":
        return "supervisor", ()
    role, _, teams = group.partition(":")
    return role, tuple(t for t in teams.split(",") if t)


@dataclass(frozen=True)
class Emit:
    target: Target
    event: str
    data: dict[str, Any]


@dataclass(frozen=True)
class QueueChanged:
    """The queue changed: every agent's snapshot and every waiting visitor's position are due.
    Not computed per change: the transport coalesces a burst of changes into one broadcast."""


@dataclass(frozen=True)
class HandoffCreated:
    """A handoff waits in the outbox: the delivery worker of this process may start at once."""


Outgoing = Emit | QueueChanged | HandoffCreated


@dataclass
class Result:
    """What a use case answers (the ack) and what must be sent to others after the commit."""

    ack: dict[str, Any]
    emits: Sequence[Outgoing] = ()


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def message_view(row: Any) -> dict[str, Any]:
    """A message as clients see it; an advisor's carries the display name (first name) of the
    advisor who wrote it, so a transfer never shows a colleague's words under another name."""
    view = {"id": row.id, "seq": row.seq, "sender": row.sender, "text": row.text, "at": iso(row.at)}
    if row.sender == "agent":
        view["name"] = first_name(getattr(row, "agent_name", None))
    return view


def first_name(full_name: str | None) -> str | None:
    """What a visitor sees of an advisor: the first name only."""
    return full_name.split()[0] if full_name and full_name.split() else None


def check_outcome(outcome: dict[str, Any]) -> dict[str, Any]:
    """The rules of the outcome form: a melding needs summary, urgency and gemeente."""
    kind = outcome["kind"]
    if kind not in OUTCOME_KINDS:
        raise DomainError("invalid_input", field="outcome.kind")
    urgency = outcome.get("urgency")
    if urgency is not None and urgency not in URGENCIES:
        raise DomainError("invalid_input", field="outcome.urgency")
    if kind == "melding":
        missing = [f for f in ("summary", "urgency", "gemeente") if not (outcome.get(f) or "").strip()]
        if missing:
            raise DomainError("outcome_incomplete", missing=missing)
    cleaned = {k: v for k, v in outcome.items() if v is not None}
    # A melding goes to the region of its gemeente: only a real one, in the CBS spelling.
    if (cleaned.get("gemeente") or "").strip():
        gemeente = official_gemeente(cleaned["gemeente"])
        if gemeente is None:
            raise DomainError("invalid_input", UNKNOWN_GEMEENTE, field="outcome.gemeente")
        cleaned["gemeente"] = gemeente
    # The reporter's own contact details, when given: for the triage team and to link repeat reports.
    if cleaned.get("phone"):
        cleaned["phone"] = normalise_phone(cleaned["phone"])
    if cleaned.get("email"):
        email = normalise_email(cleaned["email"])
        if email is None:
            raise DomainError("invalid_input", field="outcome.email")
        cleaned["email"] = email
    return cleaned


def estimate_wait_s(position: int, accepted_recently: int, window_s: int, default_per_position_s: int) -> int:
    """Little's law: with `accepted_recently` conversations taken in the last `window_s`
    seconds, the visitor at `position` waits about position / rate. Bounded so that one quiet
    or busy moment does not promise too much."""
    if position <= 0:
        return 0
    if accepted_recently >= 3:
        per_position = min(max(window_s / accepted_recently, 20), 900)
    else:
        per_position = default_per_position_s
    return int(math.ceil(position * per_position))
