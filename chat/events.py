"""The payloads clients may send on /visitor and /agent: strict shapes, unknown fields refused."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from cases.outcome import Outcome
from chat.model import MAX_TEXT
from contact.validation import MAX_INT, Line, Text

# Every string goes through the shared rules of contact.validation: `Text` (free text: no
# control characters but line breaks and tabs, no lone surrogates) or `Line` (ids, tokens,
# names of things: printable only).
ClientId = Annotated[Line, StringConstraints(min_length=1, max_length=64)]
ConversationId = Annotated[Line, StringConstraints(min_length=1, max_length=64)]


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _text(value: str) -> str:
    if not value.strip():
        raise ValueError("text is empty")
    return value


class Start(Payload):
    caller_type: Literal["kind", "jongere", "volwassene", "professional"]
    intent: Literal["advies", "melding", "weet_niet"]
    topic: Annotated[Text, StringConstraints(max_length=200, strip_whitespace=True)] | None = None
    danger_now: bool = False
    # Accepted for older widgets and ignored: only the server issues resume tokens.
    resume_token: Annotated[Line, StringConstraints(max_length=128)] | None = None
    # The widget's per-browser value (random, kept in the tab's sessionStorage only): only its
    # keyed hash is stored, to recognise a blocked visitor (chat/blocks.py).
    browser: Annotated[str, StringConstraints(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")] | None = None


class VisitorMessage(Payload):
    client_id: ClientId
    text: Annotated[Text, StringConstraints(min_length=1, max_length=MAX_TEXT)]
    _nonblank = field_validator("text")(_text)


class Typing(Payload):
    typing: bool


class Resume(Payload):
    resume_token: Annotated[Line, StringConstraints(min_length=1, max_length=128)]
    after_seq: Annotated[int, Field(ge=0, le=MAX_INT)] = 0


class Empty(Payload):
    pass


class Leave(Payload):
    # The widget's quick exit ("Snel weg"): the advisor learns the visitor may be in danger now.
    quick_exit: bool = False


class ConversationRef(Payload):
    conversation_id: ConversationId


class RiskFeedbackIn(Payload):
    conversation_id: ConversationId
    # A message's seq: a 32-bit column, so larger numbers are refused here, not by the database.
    seq: Annotated[int, Field(ge=1, le=MAX_INT)]
    kind: Literal["wrong", "missed"]
    concept: Annotated[Line, StringConstraints(min_length=1, max_length=200)] | None = None


class ReadAlong(Payload):
    conversation_id: ConversationId
    # Why a supervisor reads along (NEN 7513 asks the ground of an access); kept in the access log.
    reason: Annotated[Text, StringConstraints(max_length=200, strip_whitespace=True)] | None = None


class Accept(Payload):
    conversation_id: ConversationId
    # The agent saw that the visitor's connection is gone and takes the conversation anyway.
    confirm_visitor_away: bool = False


class TakeOverAnswer(Payload):
    conversation_id: ConversationId
    accept: bool


class AgentMessage(Payload):
    conversation_id: ConversationId
    client_id: ClientId
    text: Annotated[Text, StringConstraints(min_length=1, max_length=MAX_TEXT)]
    _nonblank = field_validator("text")(_text)


class AgentTyping(Payload):
    conversation_id: ConversationId
    typing: bool


class NoteIn(Payload):
    conversation_id: ConversationId
    text: Annotated[Text, StringConstraints(min_length=1, max_length=MAX_TEXT)]
    _nonblank = field_validator("text")(_text)


class Transfer(Payload):
    conversation_id: ConversationId
    team: Annotated[Line, StringConstraints(min_length=1, max_length=40)] | None = None
    agent_id: Annotated[Line, StringConstraints(min_length=1, max_length=64)] | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Transfer:
        if (self.team is None) == (self.agent_id is None):
            raise ValueError("give either team or agent_id")
        return self


class Escalate(Payload):
    conversation_id: ConversationId
    reason: Annotated[Text, StringConstraints(min_length=1, max_length=500)]
    _nonblank = field_validator("reason")(_text)


class Close(Payload):
    conversation_id: ConversationId
    outcome: Outcome


class SetStatus(Payload):
    status: Literal["beschikbaar", "pauze", "nawerk", "offline"]
    # A supervisor sets a colleague's status; without it the agent sets their own.
    agent_id: Annotated[Line, StringConstraints(min_length=1, max_length=64)] | None = None


class WhisperIn(Payload):
    conversation_id: ConversationId
    text: Annotated[Text, StringConstraints(min_length=1, max_length=2000)]
    _nonblank = field_validator("text")(_text)


def parse(model: type[Payload], data: Any) -> Any:
    """Validate `data` as `model`; a missing payload counts as an empty object."""
    return model.model_validate({} if data is None else data)


class BlockVisitor(Payload):
    """A supervisor blocks the visitor of a conversation (chat/blocks.py)."""

    conversation_id: ConversationId
    hours: Annotated[int, Field(ge=1, le=720)]
    reason: Annotated[Text, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]
    # Every start from the visitor's address, whatever browser (at most 24 hours).
    whole_address: bool = False
    _nonblank = field_validator("reason")(_text)
