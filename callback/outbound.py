"""Every event callbacks send to the advisors' consoles (server→client, `/agent`): one model
each, built only through its constructor (`Model(...).to(target)`). The AsyncAPI document
(`GET /api/asyncapi.json`) is generated from them."""

from __future__ import annotations

from typing import Literal

from contact.events import AGENT_NS, ServerEvent, Shape, server_event

Time = str  # ISO 8601 with offset, as written by contact.clock.iso


@server_event
class TijdvakStarted(ServerEvent):
    """A tijdvak started with callbacks to make, to every agent online (once per tijdvak)."""

    event = "tijdvak_started"
    namespace = AGENT_NS
    kind: Literal["terugbellen", "adviesgesprek"]
    start: Time
    end: Time
    callbacks: int


class Slot(Shape):
    start: Time
    end: Time


@server_event
class CallbackOverdue(ServerEvent):
    """A callback still open when its tijdvak ended, to the supervisors (once)."""

    event = "callback_overdue"
    namespace = AGENT_NS
    callback_id: str
    kind: Literal["terugbellen", "adviesgesprek"]
    slot: Slot
    status: str
    claimed_by: str | None
