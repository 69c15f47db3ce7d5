"""Plain values and rules of the chat: who an event goes to, outcomes, wait estimates.

No transport or database imports here: the service returns `Emit`s and the socket adapter
turns them into Socket.IO emits."""

from __future__ import annotations

import math
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

# Re-exported: the chat's modules and tests know these under chat.model.
from cases.outcome import OUTCOME_KINDS, URGENCIES, check_outcome
from chat import outbound as out
from contact.clock import iso
from contact.emits import (
    BoardChanged,
    Emit,
    HandoffCreated,
    Outgoing,
    QueueChanged,
    Result,
    Target,
    ToAgent,
    ToAgentGroup,
    ToCrisisAudience,
    ToReaders,
    ToVisitor,
)

__all__ = [
    "MAX_TEXT",
    "OUTCOME_KINDS",
    "URGENCIES",
    "BoardChanged",
    "Emit",
    "HandoffCreated",
    "Outgoing",
    "QueueChanged",
    "Result",
    "Target",
    "ToAgent",
    "ToAgentGroup",
    "ToCrisisAudience",
    "ToReaders",
    "ToVisitor",
    "ConversationStatus",
    "OPEN_STATUSES",
    "TRANSITIONS",
    "may_move",
    "check_outcome",
    "estimate_wait_s",
    "first_name",
    "iso",
    "message_view",
    "parse_group",
    "queue_group",
    "withdrawn_emit",
]

MAX_TEXT = 4000


class ConversationStatus(StrEnum):
    """Where a conversation is. Stored as its string (`waiting`, `active`, `closed`)."""

    WAITING = "waiting"  # in the queue, nobody holds it
    ACTIVE = "active"  # an advisor holds it
    CLOSED = "closed"  # ended; its holder may still record the outcome if the visitor left


_W, _A, _C = ConversationStatus.WAITING, ConversationStatus.ACTIVE, ConversationStatus.CLOSED
# Which status may follow which (a new conversation starts as waiting):
TRANSITIONS: Mapping[ConversationStatus, frozenset[ConversationStatus]] = {
    # accepted (also by push offer or by acknowledging its crisis); left or gone from the queue
    _W: frozenset({_A, _C}),
    # transferred to a team's queue; left by the visitor, closed by the advisor, outcome overdue
    _A: frozenset({_W, _C}),
    # the visitor whose connection was lost is back in time: waiting again, with the old place
    _C: frozenset({_W}),
}
OPEN_STATUSES = (_W, _A)


def may_move(current: str, new: str) -> bool:
    """Whether a conversation in status `current` may move to `new` (unknown values may not)."""
    try:
        return ConversationStatus(new) in TRANSITIONS[ConversationStatus(current)]
    except ValueError:
        return False


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


def withdrawn_emit(agent_id: str, conversation_id: str, reason: str = "taken") -> Emit:
    """A push offer is void: someone else took the conversation (`taken`), it ended (`ended`),
    or it was not answered in time (`expired`)."""
    return out.OfferWithdrawn.model_validate({"conversation_id": conversation_id, "reason": reason}).to(
        ToAgent(agent_id)
    )
