"""What a use case returns besides its answer: the events to send once its transaction has
committed, and to whom. Plain values; the socket adapter (chat/sockets.py) sends them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


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


@dataclass(frozen=True)
class BoardChanged:
    """Something only the supervisors' board shows changed (an overdue callback was called or
    closed): the transport sends one live board within its interval, as after a board event."""


Outgoing = Emit | QueueChanged | HandoffCreated | BoardChanged


@dataclass
class Result:
    """What a use case answers (the ack) and what must be sent to others after the commit."""

    ack: dict[str, Any]
    emits: Sequence[Outgoing] = ()
