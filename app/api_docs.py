"""The machine-readable API, generated from the models: an OpenAPI 3.1 document of the HTTP API
(`GET /api/openapi.json`) and an AsyncAPI 3.0 document of the Socket.IO namespaces `/visitor`
and `/agent` (`GET /api/asyncapi.json`). Request bodies and Socket.IO payloads are the models the
adapters validate with; outbound events are the registry of `contact/events.py`; the answers of
the HTTP API are described by the models below. docs/protocol.md stays the prose contract.

It lives in the composition root because it is the one place that knows every package."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

import callback.outbound  # noqa: F401  (registers its events)
import chat.outbound  # noqa: F401  (registers its events)
from callback import http as callback_http
from chat import desk_http
from chat import events as chat_in
from contact import hours_http
from contact import http as contact_http
from contact.events import AGENT_NS, REGISTRY, VISITOR_NS

OPENAPI_PATH = "/api/openapi.json"
ASYNCAPI_PATH = "/api/asyncapi.json"


# ---- answers of the HTTP API (descriptions: the handlers build them) --------------------------


class _Doc(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorDetail(_Doc):
    """Extra fields beside `code` where useful (`opens_at`, `field`, `fields`, `missing`, `limit`, `reason`)."""

    code: str = Field(description="snake_case, e.g. invalid_input, unauthorized, not_found")
    message: str = Field(description="Dutch, for people")
    message_en: str


class Error(BaseModel):
    """Every failure: as an HTTP body with a 4xx (or 503 `unavailable`) status, or a Socket.IO ack."""

    error: ErrorDetail


class Ok(_Doc):
    ok: Literal[True]


class ChatStatus(_Doc):
    open: bool
    opens_at: str | None
    closes_at: str | None
    queue_length: int
    estimated_wait_s: int
    advisors_online: int


class TeamOpen(_Doc):
    """One team's state; `reason` (`{code, nl, en}`) while a closure with a public reason holds."""

    open: bool
    opens_at: str | None
    closes_at: str | None


class Status(_Doc):
    """`chat`: for the team of `?caller_type=` (or `?team=`), else open while any team is."""

    chat: ChatStatus
    phone: dict[str, str]
    widget: dict[str, str | None]
    teams: dict[str, TeamOpen]


class TeamHoursView(_Doc):
    """A team's week pattern (its own or VT_CHAT_HOURS), current and future exceptions, the
    state now and today's opening ranges."""

    team: str
    name: str
    own_pattern: bool
    pattern: dict[str, Any]
    exceptions: list[dict[str, Any]]
    now: TeamOpen
    today: list[dict[str, str | None]]
    pattern_version: str  # also the ETag; PUT/DELETE of the pattern take it as If-Match (409 when changed)


class HoursOverview(_Doc):
    teams: list[TeamHoursView]
    timezone: str


class HoursExceptions(_Doc):
    team: str
    exceptions: list[dict[str, Any]]


class AgentPublic(_Doc):
    id: str
    name: str
    role: str
    teams: list[str]


class LoginAnswer(_Doc):
    token: str
    agent: AgentPublic
    expires_in: int


class Colleague(AgentPublic):
    online: bool


class Colleagues(_Doc):
    agents: list[Colleague]


class Gemeenten(_Doc):
    gemeenten: list[str]
    as_of: str


class Team(_Doc):
    id: str
    name: str
    crisis: bool


class Named(_Doc):
    id: str
    name: str


class RoutingView(_Doc):
    teams: list[Team]
    expertise: list[Named]


class ConsoleConfig(RoutingView):
    phone: dict[str, str]
    chat_hours: str
    callback_hours: str
    timezone: str


class Slot(_Doc):
    start: str
    end: str


class BookableSlot(Slot):
    kind: str
    remaining: int


class Slots(_Doc):
    slots: list[BookableSlot]


class Booked(_Doc):
    reference: str
    manage_token: str
    slot: Slot


class OwnRequest(_Doc):
    reference: str
    kind: str
    status: Literal["open", "passed"]
    slot: Slot
    phone: str
    caller_type: str


class Rescheduled(Ok):
    slot: Slot


class WorkList(_Doc):
    """The tijdvakken of the day with a card per callback (see docs/protocol.md)."""

    date: str
    tijdvakken: list[dict[str, Any]]


class AttemptAnswer(Ok):
    state: Literal["reached", "retry", "not_reached", "wrong_number"]
    attempts: int
    next_attempt_at: str | None


class CloseAnswer(Ok):
    handoff_id: str | None = None


class Roster(_Doc):
    kind: str
    start: str
    end: str
    capacity: int
    booked: int
    remaining: int


class Cases(_Doc):
    today: str
    cases: list[dict[str, Any]]


class Case(_Doc):
    """A case with its `handoff` document (see docs/protocol.md)."""

    id: str
    handoff: dict[str, Any]


class RiskConceptCount(_Doc):
    concept: str | None  # None: a missed risk that named no concept
    fired: int
    marked_wrong: int
    reported_missed: int


class RiskConcepts(_Doc):
    """Per concept in a period: how often it fired, was marked wrong, was reported missed."""

    from_: str = Field(alias="from")
    to: str
    concepts: list[RiskConceptCount]


class FiguresRow(_Doc):
    """The figures of one period and team (docs/figures.md defines each)."""

    period: str
    team: str | None
    chats_offered: int
    chats_answered: int
    chats_abandoned: int
    wait_p50_s: int | None
    wait_p90_s: int | None
    talk_mean_s: float | None
    talk_p50_s: int | None
    nawerk_mean_s: float | None
    outcome_advies: int
    outcome_melding: int
    outcome_geen: int
    crisis_alarms: int
    crisis_acknowledged: int
    crisis_ack_p50_s: int | None
    crisis_ack_max_s: int | None
    callbacks_requested: int
    callbacks_cancelled: int
    callbacks_reached: int
    callbacks_not_reached: int
    callbacks_wrong_number: int
    tijdvak_capacity: int
    tijdvak_booked: int
    tijdvak_use: float | None
    meldingen: int
    meldingen_deadline_met: int
    meldingen_deadline_missed: int
    deadline_met_share: float | None
    hermeldingen: int
    nawerk_p50_s: int | None


class Figures(_Doc):
    """Management figures per period and team, and totals per period (`format=csv`: the same rows as CSV)."""

    from_: str = Field(alias="from")
    to: str
    group: Literal["day", "week", "month"]
    team: str | None
    timezone: str
    rows: list[FiguresRow]
    totals: list[FiguresRow]


class RiskExample(_Doc):
    date: str
    kind: Literal["wrong", "missed"]
    concept: str
    level: str | None
    agent_role: str
    text: str


class RiskExamples(_Doc):
    """The marked examples with their message text (JSON; `format=csv` gives the same as CSV)."""

    examples: list[RiskExample]


class AccessLogEntries(_Doc):
    """Entries of the access log (NEN 7513), in `seq` order; `format=csv` gives them as CSV."""

    entries: list[dict[str, Any]]
    next_after_seq: int | None


class SessionInfo(_Doc):
    """The agent of this session and the idle timeout the console warns before."""

    agent: dict[str, Any]
    idle_timeout_s: float


class Enrolment(_Doc):
    """A TOTP secret to add to an authenticator app, with its otpauth URI and a QR code (SVG)."""

    secret: str
    otpauth_uri: str
    qr_svg: str


class AgentList(_Doc):
    """Each: id, username, name, role, teams, active, second_factor, last_login (ISO or null)."""

    agents: list[dict[str, Any]]


class AgentAdded(_Doc):
    agent: dict[str, Any]
    password: str | None = Field(default=None, description="Made by the server when none was given: shown once")


class PasswordReset(_Doc):
    ok: Literal[True]
    password: str | None = Field(default=None, description="Made by the server when none was given: shown once")


class Schema(_Doc):
    """A document of this API (OpenAPI or AsyncAPI)."""


class ReadyTextView(_Doc):
    id: str
    team: str | None
    lang: Literal["nl", "en"]
    title: str
    shortcut: str
    text: str
    default: bool
    updated_at: str
    version: str  # also the ETag; PUT/DELETE of the text take it as If-Match (409 when changed)


class ReadyTextValues(_Doc):
    """What the console fills in for each placeholder (null: not known now, left as it is)."""

    voornaam: str | None
    telefoon: str
    noodnummer: str
    sluitingstijd: str | None


class ReadyTextsForAgent(_Doc):
    """The ready texts this agent may use, with the values of their placeholders."""

    texts: list[ReadyTextView]
    values: ReadyTextValues


class ReadyTextList(_Doc):
    texts: list[ReadyTextView]


class ReadyTextOne(_Doc):
    text: ReadyTextView


class VisitorBlockView(_Doc):
    id: str
    conversation_id: str
    reason: str | None
    by: str
    by_name: str | None
    until: str
    created_at: str
    whole_address: bool


class VisitorBlockList(_Doc):
    """The blocks in force now; never a hash or an address."""

    blocks: list[VisitorBlockView]


class LiftAnswer(Ok):
    lifted: bool


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    answer: type[BaseModel] | None
    body: type[BaseModel] | None = None
    auth: bool = False
    status: int = 200
    media: str = "application/json"
    query: tuple[str, ...] = ()  # optional query parameters
    required_query: tuple[str, ...] = ()
    errors: tuple[int, ...] = field(default=(422,))


OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "get",
        "/api/status",
        "Chat open or closed (per team too), queue, phone numbers",
        Status,
        query=("caller_type", "team"),
        errors=(422,),
    ),  # fmt: skip
    Operation("post", "/api/visitor/exit", "The widget's quick exit (sendBeacon)", None, status=204, errors=()),
    Operation("post", "/api/agent/login", "Log in", LoginAnswer, contact_http.LoginBody, errors=(401, 422, 429)),
    Operation("post", "/api/agent/logout", "End this session (its token and sockets stop at once)", Ok, auth=True),
    Operation("get", "/api/agent/session", "This session's agent and idle timeout", SessionInfo, auth=True),
    Operation(
        "post",
        "/api/agent/2fa/enroll",
        "A second factor for an account that has none",
        Enrolment,
        contact_http.EnrolBody,
        errors=(401, 422, 429),
    ),  # fmt: skip
    Operation(
        "post",
        "/api/agent/2fa/confirm",
        "Confirm the second factor: logs in and gives recovery codes",
        LoginAnswer,
        contact_http.ConfirmBody,
        errors=(401, 422, 429),
    ),  # fmt: skip
    Operation("get", "/api/admin/agents", "Every account (admin)", AgentList, auth=True, errors=(403,)),
    Operation(
        "post", "/api/admin/agents/{username}/disable", "Disable an account", Ok, auth=True, errors=(403, 404, 409)
    ),
    Operation("post", "/api/admin/agents/{username}/enable", "Enable an account", Ok, auth=True, errors=(403, 404)),
    Operation(
        "post",
        "/api/admin/agents/{username}/reset-password",
        "Set a new password (ends the sessions); without one the server makes it",
        PasswordReset,
        contact_http.PasswordBody,
        auth=True,
        errors=(403, 404, 422),
    ),  # fmt: skip
    Operation(
        "post",
        "/api/admin/agents/{username}/role",
        "Change the role (ends the sessions)",
        Ok,
        contact_http.RoleBody,
        auth=True,
        errors=(403, 404, 409, 422),
    ),  # fmt: skip
    Operation(
        "post",
        "/api/admin/agents/{username}/teams",
        "Change the teams (ends the sessions)",
        Ok,
        contact_http.TeamsBody,
        auth=True,
        errors=(403, 404, 422),
    ),  # fmt: skip
    Operation(
        "post", "/api/admin/agents/{username}/reset-2fa", "Remove the second factor", Ok, auth=True, errors=(403, 404)
    ),
    Operation(
        "post",
        "/api/admin/agents",
        "Add an account; without a password the server makes one",
        AgentAdded,
        contact_http.NewAgentBody,
        auth=True,
        status=201,
        errors=(403, 409, 422),
    ),  # fmt: skip
    Operation("get", "/api/agent/colleagues", "Every active agent, for transfer", Colleagues, auth=True),
    Operation("get", "/api/agent/gemeenten", "The CBS gemeenten of the melding form", Gemeenten, auth=True),
    Operation("get", "/api/agent/routing", "Teams and expertise of the routing file", RoutingView, auth=True),
    Operation("get", "/api/agent/config", "Every configured value the console shows", ConsoleConfig, auth=True),
    Operation(
        "get", "/api/callbacks/slots", "Bookable tijdvakken", Slots, query=("from", "days"), required_query=("kind",)
    ),
    Operation(
        "post",
        "/api/callbacks",
        "Book a callback",
        Booked,
        callback_http.BookingBody,
        status=201,
        errors=(409, 422, 429),
    ),  # fmt: skip
    Operation("get", "/api/callbacks/{token}", "The caller's own request", OwnRequest, errors=(404,)),
    Operation("post", "/api/callbacks/{token}/cancel", "Cancel one's request", Ok, errors=(404, 409)),
    Operation(
        "post",
        "/api/callbacks/{token}/reschedule",
        "Move one's request to another tijdvak",
        Rescheduled,
        callback_http.RescheduleBody,
        errors=(404, 409, 422),
    ),  # fmt: skip
    Operation(
        "get",
        "/api/callbacks/{token}/calendar.ics",
        "The tijdvak as an RFC 5545 event",
        None,
        media="text/calendar",
        errors=(404,),
    ),  # fmt: skip
    Operation(
        "get",
        "/api/agent/callbacks",
        "The work list of a day (an advisor: own teams, near today)",
        WorkList,
        auth=True,
        query=("date", "team"),
        errors=(403, 422),
    ),  # fmt: skip
    Operation("post", "/api/agent/callbacks/{id}/claim", "Claim a callback", Ok, auth=True, errors=(404, 409)),
    Operation(
        "post",
        "/api/agent/callbacks/{id}/attempts",
        "Record a call",
        AttemptAnswer,
        callback_http.AttemptBody,
        auth=True,
        errors=(403, 404, 409, 422),
    ),  # fmt: skip
    Operation(
        "post",
        "/api/agent/callbacks/{id}/close",
        "Close with an outcome (hands off)",
        CloseAnswer,
        callback_http.CloseBody,
        auth=True,
        errors=(403, 404, 409, 422),
    ),  # fmt: skip
    Operation("put", "/api/admin/roster", "Places of one tijdvak", Roster, callback_http.RosterBody, auth=True),
    Operation(
        "get",
        "/api/agent/cases",
        "Handoffs by deadline",
        Cases,
        auth=True,
        query=("status", "due_within_days", "overdue"),
    ),  # fmt: skip
    Operation("get", "/api/agent/cases/{id}", "One case with its handoff", Case, auth=True, errors=(403, 404)),
    Operation(
        "get",
        "/api/supervisor/risk/concepts",
        "Risk signals per concept: fired, marked wrong, reported missed",
        RiskConcepts,
        auth=True,
        query=("from", "to"),
        errors=(403, 422),
    ),  # fmt: skip
    Operation(
        "get",
        "/api/supervisor/risk/feedback",
        "The examples advisors marked, with their text",
        RiskExamples,
        auth=True,
        query=("format",),
        errors=(403, 422),
    ),  # fmt: skip
    Operation(
        "get",
        "/api/audit",
        "Search the access log by contact or agent",
        AccessLogEntries,
        auth=True,
        query=("contact", "agent", "from", "to", "after_seq", "limit", "format"),
        errors=(403, 422),
    ),  # fmt: skip
    Operation(
        "get", "/api/agent/ready-texts", "The ready texts this agent may use", ReadyTextsForAgent, auth=True, errors=()
    ),
    Operation("get", "/api/supervisor/ready-texts", "Every ready text", ReadyTextList, auth=True, errors=(403,)),
    Operation(
        "post",
        "/api/supervisor/ready-texts",
        "Add a ready text",
        ReadyTextOne,
        desk_http.ReadyTextBody,
        auth=True,
        status=201,
        errors=(403, 422),
    ),  # fmt: skip
    Operation(
        "put",
        "/api/supervisor/ready-texts/{id}",
        "Change a ready text",
        ReadyTextOne,
        desk_http.ReadyTextBody,
        auth=True,
        errors=(403, 404, 409, 422),
    ),  # fmt: skip
    Operation(
        "delete", "/api/supervisor/ready-texts/{id}", "Delete a ready text", Ok, auth=True, errors=(403, 404, 409)
    ),
    Operation(
        "get", "/api/supervisor/blocks", "The visitor blocks in force", VisitorBlockList, auth=True, errors=(403,)
    ),
    Operation("delete", "/api/supervisor/blocks/{id}", "Lift a block", LiftAnswer, auth=True, errors=(403, 404)),
    Operation("post", "/api/supervisor/blocks/{id}/lift", "Lift a block", LiftAnswer, auth=True, errors=(403, 404)),
    # Opening hours per team (supervisors and admins).
    Operation("get", "/api/supervisor/hours", "Every team's opening hours", HoursOverview, auth=True, errors=(403,)),
    Operation(
        "get", "/api/supervisor/hours/{team}", "One team's opening hours", TeamHoursView, auth=True, errors=(403, 422)
    ),
    Operation(
        "put",
        "/api/supervisor/hours/{team}/pattern",
        "Set the team's week pattern",
        TeamHoursView,
        hours_http.PatternBody,
        auth=True,
        errors=(403, 409, 422),
    ),  # fmt: skip
    Operation(
        "delete",
        "/api/supervisor/hours/{team}/pattern",
        "Back to VT_CHAT_HOURS",
        TeamHoursView,
        auth=True,
        errors=(403, 409, 422),
    ),  # fmt: skip
    Operation(
        "get",
        "/api/supervisor/hours/{team}/exceptions",
        "The team's current and future exceptions",
        HoursExceptions,
        auth=True,
        errors=(403, 422),
    ),  # fmt: skip
    Operation(
        "post",
        "/api/supervisor/hours/{team}/exceptions",
        "Add an exception (open or closed, a date or date-time range)",
        TeamHoursView,
        hours_http.ExceptionBody,
        auth=True,
        status=201,
        errors=(403, 422),
    ),  # fmt: skip
    Operation(
        "delete",
        "/api/supervisor/hours/{team}/exceptions/{id}",
        "Delete an exception",
        TeamHoursView,
        auth=True,
        errors=(403, 404, 422),
    ),  # fmt: skip
    Operation(
        "post",
        "/api/supervisor/hours/{team}/close",
        "Closed from now until a time (an incident)",
        TeamHoursView,
        hours_http.CloseNowBody,
        auth=True,
        errors=(403, 422),
    ),  # fmt: skip
    Operation(
        "get",
        "/api/supervisor/figures",
        "Management figures per day, week or month and team (JSON or CSV)",
        Figures,
        auth=True,
        query=("from", "to", "group", "team", "format"),
        errors=(403, 422),
    ),  # fmt: skip
    Operation("get", OPENAPI_PATH, "This document", Schema, errors=()),
    Operation("get", ASYNCAPI_PATH, "The AsyncAPI 3.0 document of the Socket.IO namespaces", Schema, errors=()),
)


def _schemas(models: list[type[BaseModel]], prefix: str) -> tuple[dict[Any, Any], dict[str, Any]]:
    unique = list(dict.fromkeys(models))
    refs, defs = models_json_schema([(m, "validation") for m in unique], ref_template=prefix + "{model}")
    return {m: refs[(m, "validation")] for m in unique}, defs.get("$defs", {})


def openapi() -> dict[str, Any]:
    models: list[type[BaseModel]] = [Error]
    for op in OPERATIONS:
        models += [m for m in (op.answer, op.body) if m is not None]
    refs, defs = _schemas(models, "#/components/schemas/")
    error_ref = refs[Error]
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        item: dict[str, Any] = {"summary": op.summary, "operationId": f"{op.method}_{op.path}"}
        params = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _path_names(op.path)
        ]
        params += [
            {"name": name, "in": "query", "required": name in op.required_query, "schema": {"type": "string"}}
            for name in (*op.required_query, *op.query)
        ]
        if params:
            item["parameters"] = params
        if op.body is not None:
            item["requestBody"] = {"required": True, "content": {"application/json": {"schema": refs[op.body]}}}
        answer: dict[str, Any] = {"description": op.summary}
        if op.answer is not None:
            answer["content"] = {op.media: {"schema": refs[op.answer]}}
        elif op.media != "application/json":
            answer["content"] = {op.media: {"schema": {"type": "string"}}}
        responses: dict[str, Any] = {str(op.status): answer}
        codes = set(op.errors) | ({401} if op.auth else set())
        for code in sorted(codes | {503} if op.path not in (OPENAPI_PATH, ASYNCAPI_PATH) else codes):
            responses[str(code)] = {"$ref": "#/components/responses/Error"}
        item["responses"] = responses
        if op.auth:
            item["security"] = [{"bearer": []}]
        paths.setdefault(op.path, {})[op.method] = item
    return {
        "openapi": "3.1.0",
        "info": {"title": "vt-contact HTTP API", "version": "1", "description": "See docs/protocol.md."},
        "paths": paths,
        "components": {
            "schemas": defs,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {
                "Error": {
                    "description": "The error shape of every failure",
                    "content": {"application/json": {"schema": error_ref}},
                }
            },
        },
    }


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]


# ---- Socket.IO ------------------------------------------------------------------------------

# The answers (acks) of Socket.IO events, besides the error shape.


class QueuePlace(_Doc):
    position: int
    estimated_wait_s: int
    advisors_online: int


class StartAck(_Doc):
    conversation_id: str
    resume_token: str
    status: Literal["waiting"]
    queue: QueuePlace


class ResumeAck(_Doc):
    """Open: with `last_seq`, `queue` while waiting, `agent` while active; otherwise exactly
    `{"conversation_id", "status": "closed", "messages": []}`."""

    conversation_id: str
    status: str
    messages: list[dict[str, Any]]
    last_seq: int | None = None
    queue: QueuePlace | None = None
    agent: dict[str, str | None] | None = None


class MessageAck(_Doc):
    id: str
    seq: int
    at: str


class NoteAck(_Doc):
    id: str


class ConversationAck(_Doc):
    """The conversation with its messages and notes (and `crisis`)."""

    conversation: dict[str, Any]


class ReadAlongAck(ConversationAck):
    read_along: Literal[True]


class EscalateAck(Ok):
    already_running: bool


class AckCrisisAck(Ok):
    taken: bool
    read_along: bool | None = None
    conversation: dict[str, Any] | None = None


class TakeOverAck(Ok):
    state: Literal["asked", "taken"]
    expires_at: str | None = None
    conversation: dict[str, Any] | None = None


class TakeOverAnswerAck(Ok):
    handed_over: bool


class BlockAck(_Doc):
    block_id: str
    until: str


class SyncAck(_Doc):
    """The same snapshots as on connect, and the open push offer (or null)."""

    queue: chat.outbound.AgentQueue
    mine: chat.outbound.Mine
    crises: chat.outbound.Crises
    offer: chat.outbound.Offer | None
    status: dict[str, str | None] | None = None  # {"status", "since", "until"} (issue 17)


class StatusAck(Ok):
    """The status as set: `until` is the end of `nawerk`."""

    status: Literal["beschikbaar", "pauze", "nawerk", "offline"]
    since: str | None
    until: str | None


class WhisperAck(_Doc):
    id: str
    at: str


# (namespace, event) → (payload model, ack model): what clients send and what they are answered.
INBOUND: dict[tuple[str, str], tuple[type[BaseModel], type[BaseModel]]] = {
    (VISITOR_NS, "start"): (chat_in.Start, StartAck),
    (VISITOR_NS, "resume"): (chat_in.Resume, ResumeAck),
    (VISITOR_NS, "message"): (chat_in.VisitorMessage, MessageAck),
    (VISITOR_NS, "typing"): (chat_in.Typing, Ok),
    (VISITOR_NS, "leave"): (chat_in.Leave, Ok),
    (AGENT_NS, "accept"): (chat_in.Accept, ConversationAck),
    (AGENT_NS, "message"): (chat_in.AgentMessage, MessageAck),
    (AGENT_NS, "typing"): (chat_in.AgentTyping, Ok),
    (AGENT_NS, "note"): (chat_in.NoteIn, NoteAck),
    (AGENT_NS, "close"): (chat_in.Close, CloseAnswer),
    (AGENT_NS, "history"): (chat_in.ConversationRef, ConversationAck),
    (AGENT_NS, "sync"): (chat_in.Empty, SyncAck),
    (AGENT_NS, "transfer"): (chat_in.Transfer, Ok),
    (AGENT_NS, "escalate"): (chat_in.Escalate, EscalateAck),
    (AGENT_NS, "ack_crisis"): (chat_in.ConversationRef, AckCrisisAck),
    (AGENT_NS, "pass"): (chat_in.ConversationRef, Ok),
    (AGENT_NS, "read_along"): (chat_in.ReadAlong, ReadAlongAck),
    (AGENT_NS, "take_over"): (chat_in.ConversationRef, TakeOverAck),
    (AGENT_NS, "take_over_answer"): (chat_in.TakeOverAnswer, TakeOverAnswerAck),
    (AGENT_NS, "risk_feedback"): (chat_in.RiskFeedbackIn, Ok),
    (AGENT_NS, "block_visitor"): (chat_in.BlockVisitor, BlockAck),
    (AGENT_NS, "set_status"): (chat_in.SetStatus, StatusAck),
    (AGENT_NS, "board"): (chat_in.Empty, chat.outbound.Board),
    (AGENT_NS, "whisper"): (chat_in.WhisperIn, WhisperAck),
    (AGENT_NS, "read_along_stop"): (chat_in.ConversationRef, Ok),
}


def _key(namespace: str, event: str, direction: str) -> str:
    return f"{namespace.strip('/')}_{direction}_{event}"


def asyncapi() -> dict[str, Any]:
    models: list[type[BaseModel]] = [Error, *(m for pair in INBOUND.values() for m in pair), *REGISTRY.values()]
    refs, defs = _schemas(models, "#/components/schemas/")
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for ns in (VISITOR_NS, AGENT_NS):
        channel = ns.strip("/")
        channel_messages: dict[str, Any] = {}
        for (namespace, event), (model, ack) in INBOUND.items():
            if namespace != ns:
                continue
            key = _key(ns, event, "in")
            messages[key] = {
                "name": event,
                "title": f"{event} (client → server)",
                "payload": refs[model],
            }
            # The Socket.IO ack: the answer, or the error shape.
            messages[f"{key}_ack"] = {
                "name": f"{event} ack",
                "title": f"the ack of {event}",
                "payload": {"oneOf": [refs[ack], refs[Error]]},
            }
            channel_messages[key] = {"$ref": f"#/components/messages/{key}"}
            channel_messages[f"{key}_ack"] = {"$ref": f"#/components/messages/{key}_ack"}
            operations[key] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{channel}"},
                "messages": [{"$ref": f"#/channels/{channel}/messages/{key}"}],
                "reply": {
                    "channel": {"$ref": f"#/channels/{channel}"},
                    "messages": [{"$ref": f"#/channels/{channel}/messages/{key}_ack"}],
                },
            }
        for (namespace, event), event_model in sorted(REGISTRY.items()):
            if namespace != ns:
                continue
            key = _key(ns, event, "out")
            messages[key] = {
                "name": event,
                "title": f"{event} (server → client)",
                "summary": (event_model.__doc__ or event).strip().splitlines()[0],
                "payload": refs[event_model],
            }
            channel_messages[key] = {"$ref": f"#/components/messages/{key}"}
            operations[key] = {
                "action": "send",
                "channel": {"$ref": f"#/channels/{channel}"},
                "messages": [{"$ref": f"#/channels/{channel}/messages/{key}"}],
            }
        channels[channel] = {
            "address": ns,
            "description": "Socket.IO namespace (path /socket.io/, Engine.IO 4)",
            "messages": channel_messages,
        }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "vt-contact Socket.IO API", "version": "1", "description": "See docs/protocol.md."},
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"schemas": defs, "messages": messages},
    }


@cache
def _documents() -> tuple[dict[str, Any], dict[str, Any]]:
    return openapi(), asyncapi()


async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(_documents()[0])


async def asyncapi_json(request: web.Request) -> web.Response:
    return web.json_response(_documents()[1])


def routes() -> list[web.RouteDef]:
    return [web.get(OPENAPI_PATH, openapi_json), web.get(ASYNCAPI_PATH, asyncapi_json)]
