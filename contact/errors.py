"""The error shape of docs/protocol.md: a code for programs, a Dutch (and English) text for people."""

from __future__ import annotations

from typing import Any

MESSAGES: dict[str, tuple[str, str]] = {
    "invalid_input": ("Dat klopt niet helemaal. Controleer wat je hebt ingevuld.", "The input is not valid."),
    "unauthorized": (
        "Je bent niet (meer) ingelogd. Log opnieuw in.",
        "You are not logged in, or your session expired.",
    ),
    "invalid_credentials": ("Gebruikersnaam of wachtwoord klopt niet.", "Username or password is incorrect."),
    "forbidden": ("Dat mag je hier niet doen.", "You may not do this."),
    "second_factor_required": (
        "Vul de code uit je authenticator-app in.",
        "Enter the code from your authenticator app.",
    ),
    "not_found": ("Dat hebben we niet gevonden.", "Not found."),
    "closed": ("De chat is nu gesloten.", "The chat is closed now."),
    "already_taken": (
        "Een collega heeft dit gesprek al aangenomen.",
        "A colleague has already accepted this conversation.",
    ),
    "capacity_reached": (
        "Je hebt al het maximale aantal gesprekken tegelijk.",
        "You already hold the maximum number of conversations.",
    ),
    "slot_full": ("Dit tijdvak is vol. Kies een ander tijdvak.", "This time window is full."),
    "invalid_phone": ("Dit telefoonnummer klopt niet.", "This phone number is not valid."),
    "outcome_incomplete": (
        "Vul voor een melding een samenvatting, de urgentie en de gemeente in.",
        "A melding needs a summary, an urgency and a gemeente.",
    ),
    "rate_limited": (
        "Even rustig aan: wacht een paar seconden en probeer het opnieuw.",
        "Too many requests; wait a moment.",
    ),
    "conflict": ("Je hebt al een gesprek open.", "There is already an open conversation."),
    "internal": ("Er ging iets mis bij ons. Probeer het zo nog eens.", "Something went wrong on our side."),
    # The database is down or did not answer in time: nothing was done; the same again later works.
    "unavailable": (
        "Het lukt nu even niet. Probeer het zo nog eens.",
        "We cannot do this right now; try again in a moment.",
    ),
}


class DomainError(Exception):
    """A refusal that the client is told about; `extra` fields sit beside `code` in the payload."""

    def __init__(self, code: str, texts: tuple[str, str] | None = None, **extra: Any) -> None:
        if code not in MESSAGES:
            raise ValueError(f"unknown error code {code}")
        super().__init__(code)
        self.code = code
        self.texts = texts
        self.extra = extra

    def payload(self) -> dict[str, Any]:
        return error_payload(self.code, self.texts, **self.extra)


def error_payload(code: str, texts: tuple[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    nl, en = texts or MESSAGES[code]
    return {"error": {"code": code, "message": nl, "message_en": en, **extra}}


# Specific texts for codes that mean more than one thing.
CONVERSATION_ENDED = ("Dit gesprek is al afgelopen.", "This conversation has already ended.")
NO_CONVERSATION = ("Er is nog geen gesprek. Begin eerst een gesprek.", "Start or resume a conversation first.")
