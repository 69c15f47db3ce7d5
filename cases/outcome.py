"""What a contact (chat or callback) ends as: the outcome form's rules, and its payload as a
client sends it. A melding or advies is handed off to the case system (cases/outbox.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contact.errors import DomainError
from contact.gemeenten import official as official_gemeente
from contact.phone import normalise_email, normalise_phone
from contact.validation import Line, Text

MAX_SUMMARY = 4000
OUTCOME_KINDS = ("advies", "melding", "geen")
URGENCIES = ("spoed", "hoog", "midden", "laag")
UNKNOWN_GEMEENTE = (
    "Deze gemeente kennen we niet. Kies een gemeente uit de lijst.",
    "This is not a Dutch municipality. Choose one from the list.",
)


class Outcome(BaseModel):
    """The outcome form as sent: strict shape, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    kind: Literal["advies", "melding", "geen"]
    summary: Annotated[Text, StringConstraints(max_length=MAX_SUMMARY)] | None = None
    urgency: Literal["spoed", "hoog", "midden", "laag"] | None = None
    gemeente: Annotated[Line, StringConstraints(max_length=100)] | None = None
    expertise: (
        Annotated[list[Annotated[Line, StringConstraints(min_length=1, max_length=80)]], Field(max_length=20)] | None
    ) = None
    # The reporter's own phone number / e-mail address, if they gave one (a melding).
    phone: Annotated[Line, StringConstraints(max_length=32)] | None = None
    email: Annotated[Line, StringConstraints(max_length=254)] | None = None


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
