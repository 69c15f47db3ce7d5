"""Every event the chat sends to clients (server→client), one model each, on `/visitor` and
`/agent`: its one definition and its one constructor (`Model(...).to(target)`). The payloads
clients send are in `chat/events.py`; this module imports nothing of the chat, so the pure rules
(`chat/model.py`) may build events too. docs/protocol.md describes them; the AsyncAPI document
(`GET /api/asyncapi.json`) is generated from them."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from contact.emits import Emit, ToCrisisAudience
from contact.events import AGENT_NS, VISITOR_NS, ServerEvent, Shape, server_event

Time = str  # ISO 8601 with offset, as written by contact.clock.iso
Audience = Literal["crisis", "everyone"]


# ---- /visitor -----------------------------------------------------------------------------


@server_event
class VisitorCrisis(ServerEvent):
    """112 at once when the crisis procedure starts; outside opening hours the 24/7 line too."""

    event = "crisis"
    namespace = VISITOR_NS
    text: str
    text_en: str
    phone: str
    advice_phone: str


@server_event
class VisitorQueue(ServerEvent):
    """The visitor's place in the queue of the team that serves them."""

    event = "queue"
    namespace = VISITOR_NS
    position: int
    estimated_wait_s: int
    advisors_online: int


class AgentName(Shape):
    name: str | None


@server_event
class Assigned(ServerEvent):
    """An advisor took the conversation (first name only)."""

    event = "assigned"
    namespace = VISITOR_NS
    agent: AgentName


@server_event
class VisitorChatMessage(ServerEvent):
    """A message of the conversation; an advisor's carries `name` (first name)."""

    event = "message"
    namespace = VISITOR_NS
    optional_keys = frozenset({"name"})
    id: str
    seq: int
    sender: Literal["visitor", "agent"]
    text: str
    at: Time
    name: str | None = None


@server_event
class VisitorTyping(ServerEvent):
    event = "typing"
    namespace = VISITOR_NS
    typing: bool


@server_event
class Closed(ServerEvent):
    """The conversation ended; `outcome` (the kind only) when the advisor closed it."""

    event = "closed"
    namespace = VISITOR_NS
    optional_keys = frozenset({"outcome"})
    reason: Literal["agent_closed", "visitor_left"]
    outcome: Literal["advies", "melding", "geen"] | None = None


@server_event
class Transfer(ServerEvent):
    """The visitor is being connected to a colleague."""

    event = "transfer"
    namespace = VISITOR_NS
    text: str
    text_en: str


# ---- /agent -------------------------------------------------------------------------------


class QueueItem(Shape):
    conversation_id: str
    caller_type: str
    intent: str
    topic: str | None
    team: str
    priority: int
    waiting_since: Time | None
    danger_now: bool
    in_crisis: bool
    expertise: list[str]
    visitor_present: bool
    visitor_away_since: Time | None
    overflow: bool


@server_event
class AgentQueue(ServerEvent):
    """The waiting conversations this agent's group sees, in queue order; `version` rises."""

    event = "queue"
    namespace = AGENT_NS
    version: int
    waiting: list[QueueItem]


class MineItem(Shape):
    optional_keys = frozenset({"left_at", "outcome_due_at"})
    id: str
    status: str
    caller_type: str
    intent: str
    topic: str | None
    team: str
    priority: int
    danger_now: bool
    expertise: list[str]
    in_crisis: bool
    waiting_since: Time | None
    accepted_at: Time | None
    last_seq: int
    holder_id: str | None
    visitor_left: bool
    visitor_present: bool
    visitor_away_since: Time | None
    quick_exit: bool
    awaiting_outcome: bool
    left_at: Time | None = None
    outcome_due_at: Time | None = None


@server_event
class Mine(ServerEvent):
    """The agent's own conversations (and those whose outcome they may still record)."""

    event = "mine"
    namespace = AGENT_NS
    conversations: list[MineItem]


@server_event
class CrisisAlert(ServerEvent):
    """A crisis nobody acknowledged yet: round 1 to the crisis audience, later rounds to everyone."""

    event = "crisis_alert"
    namespace = AGENT_NS
    conversation_id: str
    reason: str | None
    escalated_at: Time | None
    by: str | None
    by_name: str | None
    round: int
    audience: Audience
    caller_type: str
    status: str
    holder_id: str | None

    def emit(self) -> Emit:
        """The one way a crisis alert goes out: to the audience its round names."""
        return self.to(ToCrisisAudience(self.audience))


@server_event
class Crises(ServerEvent):
    """The open crises, as this agent would be alerted to them (on connect and `sync`)."""

    event = "crises"
    namespace = AGENT_NS
    open: list[CrisisAlert]


@server_event
class AgentChatMessage(ServerEvent):
    """A message of a conversation the agent holds or reads along."""

    event = "message"
    namespace = AGENT_NS
    optional_keys = frozenset({"name"})
    id: str
    seq: int
    sender: Literal["visitor", "agent"]
    text: str
    at: Time
    name: str | None = None
    conversation_id: str


@server_event
class AgentTyping(ServerEvent):
    event = "typing"
    namespace = AGENT_NS
    conversation_id: str
    typing: bool


@server_event
class Note(ServerEvent):
    """An internal note, to the writer's other consoles."""

    event = "note"
    namespace = AGENT_NS
    id: str
    conversation_id: str
    text: str
    at: Time
    internal: Literal[True]


@server_event
class Transferred(ServerEvent):
    """A colleague handed this agent a conversation."""

    event = "transferred"
    namespace = AGENT_NS
    conversation_id: str
    from_: str | None = Field(alias="from")


@server_event
class TakenOver(ServerEvent):
    """This agent took a conversation over from its holder."""

    event = "taken_over"
    namespace = AGENT_NS
    conversation_id: str
    from_: str | None = Field(alias="from")


class ByAgent(ServerEvent):
    conversation_id: str
    by: str
    by_name: str | None
    at: Time


@server_event
class Reader(ByAgent):
    """Someone reads this holder's conversation along."""

    event = "reader"
    namespace = AGENT_NS


@server_event
class TakeOverRequest(ByAgent):
    """A reader asks the holder to hand the conversation over."""

    event = "take_over_request"
    namespace = AGENT_NS
    expires_at: Time


@server_event
class TakeOverDeclined(ByAgent):
    event = "take_over_declined"
    namespace = AGENT_NS


@server_event
class TakenFromYou(ServerEvent):
    event = "taken_from_you"
    namespace = AGENT_NS
    conversation_id: str
    by: str
    by_name: str | None
    how: Literal["consent", "no_answer", "holder_offline"]
    at: Time


@server_event
class CrisisAcked(ByAgent):
    """Someone acknowledged the crisis: every console drops its alarm."""

    event = "crisis_acked"
    namespace = AGENT_NS


@server_event
class CrisisEnded(ServerEvent):
    """The conversation of an unacknowledged crisis ended: the alarm is withdrawn."""

    event = "crisis_ended"
    namespace = AGENT_NS
    conversation_id: str
    reason: Literal["visitor_left", "visitor_gone", "agent_closed"]
    held: bool
    at: Time


@server_event
class Offer(ServerEvent):
    """A push offer: take it (`accept`) or let it `pass`."""

    event = "offer"
    namespace = AGENT_NS
    conversation_id: str
    team: str
    caller_type: str
    intent: str
    topic: str | None
    priority: int
    danger_now: bool
    expertise: list[str]
    waiting_since: Time | None
    expires_at: Time


@server_event
class OfferWithdrawn(ServerEvent):
    event = "offer_withdrawn"
    namespace = AGENT_NS
    conversation_id: str
    reason: Literal["taken", "ended", "expired"]


@server_event
class SpoedMelding(ServerEvent):
    """A melding with urgency `spoed`, for the crisis team to act on."""

    event = "spoed_melding"
    namespace = AGENT_NS
    handoff_id: str
    conversation_id: str
    summary: str | None
    gemeente: str | None
    by: str
    by_name: str | None
    at: Time


@server_event
class OutcomeMissing(ServerEvent):
    """The outcome was not recorded in time: `geen` was recorded for it."""

    event = "outcome_missing"
    namespace = AGENT_NS
    conversation_id: str
    agent_id: str | None
    agent_name: str | None
    left_at: Time | None
    quick_exit: bool | None
    team: str
    in_crisis: bool
    at: Time


@server_event
class VisitorPresence(ServerEvent):
    event = "visitor_presence"
    namespace = AGENT_NS
    conversation_id: str
    present: bool
    since: Time | None


@server_event
class VisitorLeft(ServerEvent):
    event = "visitor_left"
    namespace = AGENT_NS
    conversation_id: str
    quick_exit: bool
    at: Time


class RiskConcept(Shape):
    concept: str
    level: Literal["acuut", "hoog", "zorg"]
    words: list[str]


@server_event
class Risk(ServerEvent):
    """A visitor's message shows a risk signal (concepts and their words, never the message)."""

    event = "risk"
    namespace = AGENT_NS
    conversation_id: str
    seq: int  # the visitor message it belongs to (advisors mark a signal wrong by it)
    signals: list[str]
    level: Literal["acuut", "hoog", "zorg"]
    concepts: list[RiskConcept]


@server_event
class SessionEnded(ServerEvent):
    """The agent's session ended (logout, idle timeout, an account change): the console asks to
    log in again; the socket closes a moment later."""

    event = "session_ended"
    namespace = AGENT_NS


# ---- the workplace: status, board, read-along, whisper (issue 17) ---------------------------


class ByName(Shape):
    name: str


@server_event
class AgentStatusChanged(ServerEvent):
    """The agent's status changed (by themselves on another console, by a close, or by a
    supervisor, then `by`): every console of theirs shows it."""

    event = "agent_status"
    namespace = AGENT_NS
    optional_keys = frozenset({"by"})
    agent_id: str
    status: Literal["beschikbaar", "pauze", "nawerk", "offline"]
    since: Time | None
    until: Time | None  # the end of `nawerk`; after it the agent is `beschikbaar`
    by: ByName | None = None


@server_event
class ReadAlongStopped(ByAgent):
    """A reader stopped reading this holder's conversation along."""

    event = "read_along_stopped"
    namespace = AGENT_NS


@server_event
class WhisperToHolder(ServerEvent):
    """A supervisor's whisper: only the holder of the conversation gets it, never the visitor."""

    event = "whisper"
    namespace = AGENT_NS
    id: str
    conversation_id: str
    text: str
    at: Time
    from_: ByName = Field(alias="from")


class BoardCrisis(Shape):
    escalated_at: Time | None
    acknowledged_at: Time | None
    acknowledged_by: str | None
    ended_at: Time | None
    round: int


class BoardConversation(Shape):
    id: str
    status: Literal["waiting", "active"]
    team: str
    caller_type: str
    priority: int
    danger_now: bool
    holder: dict[str, str] | None  # {"id", "name"}
    waiting_since: Time | None
    accepted_at: Time | None
    risk: Literal["acuut", "hoog", "zorg"] | None
    crisis: BoardCrisis | None
    visitor_present: bool
    visitor_away_since: Time | None
    read_along: bool


class BoardAgent(Shape):
    id: str
    name: str
    role: str
    teams: list[str]
    status: Literal["beschikbaar", "pauze", "nawerk", "offline"]
    since: Time | None
    until: Time | None
    online: bool
    load: int
    limit: int


class BoardTeam(Shape):
    team: str
    waiting: int
    oldest_waiting_since: Time | None
    available: int


class BoardCallbacks(Shape):
    overdue: int
    oldest_due: Time | None


@server_event
class Board(ServerEvent):
    """The supervisors' overview: conversations, agents, teams, open crises, overdue callbacks.
    Never message text, names of visitors or contact details."""

    event = "board"
    namespace = AGENT_NS
    at: Time
    conversations: list[BoardConversation]
    agents: list[BoardAgent]
    teams: list[BoardTeam]
    crises: list[str]  # ids of the conversations whose crisis nobody acknowledged yet
    callbacks: BoardCallbacks
