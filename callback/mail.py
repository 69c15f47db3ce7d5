"""E-mail about adviesgesprekken: the texts (Dutch first, English after), the iCalendar
invitation, and the worker that delivers the outbox over SMTP with retries."""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from zoneinfo import ZoneInfo

import aiosmtplib
import structlog
from icalendar import Calendar, Event, vCalAddress
from sqlalchemy import select, update

from callback.store import outbox, requests
from contact.clock import Clock
from contact.db import Database
from contact.keys import hash_token

log = structlog.get_logger(__name__)

TZ = ZoneInfo("Europe/Amsterdam")
ORGANISER = "Veilig Thuis"
_KIND_NL = {"adviesgesprek": "Adviesgesprek met Veilig Thuis", "terugbellen": "Veilig Thuis belt u terug"}
MAX_TRIES = 10
# What an outbox row keeps once it was sent or given up: nothing of the address, the text (with
# the manage link and its token) or the calendar file; purpose, times and tries stay.
SENT_MAIL_BLANKED: dict[str, Any] = {"to_address": "", "subject": "", "body": "", "ics": None}


@dataclass(frozen=True)
class Message:
    subject: str
    body: str


def _when(start: datetime, end: datetime) -> str:
    s, e = start.astimezone(TZ), end.astimezone(TZ)
    days = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")
    months = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september",
              "oktober", "november", "december")  # fmt: skip
    return f"{days[s.weekday()]} {s.day} {months[s.month - 1]} {s.year}, {s:%H:%M}–{e:%H:%M} uur"


def compose(purpose: str, *, name: str | None, start: datetime, end: datetime, manage_url: str | None) -> Message:
    """The e-mail text. Nothing in it says what the conversation is about. The manage link (in
    the caller's own mailbox only) is never put in the calendar entry: see `invitation`."""
    greeting = f"Beste {name}," if name else "Beste,"
    when = _when(start, end)
    en_when = f"{start.astimezone(TZ):%Y-%m-%d %H:%M}–{end.astimezone(TZ):%H:%M} (Amsterdam time)"
    manage = f"\nWilt u de afspraak verzetten of afzeggen? Dat kan hier:\n{manage_url}\n" if manage_url else ""
    subjects = {
        "confirmation": "Bevestiging adviesgesprek Veilig Thuis",
        "rescheduled": "Nieuwe tijd adviesgesprek Veilig Thuis",
        "reminder": "Herinnering: morgen adviesgesprek Veilig Thuis",
        "cancelled": "Adviesgesprek Veilig Thuis afgezegd",
    }
    intros = {
        "confirmation": f"U heeft een adviesgesprek met Veilig Thuis gepland op {when}.",
        "rescheduled": f"Uw adviesgesprek met Veilig Thuis is verzet naar {when}.",
        "reminder": f"Morgen heeft u een adviesgesprek met Veilig Thuis: {when}.",
        "cancelled": f"U heeft uw adviesgesprek met Veilig Thuis op {when} afgezegd.",
    }
    if purpose == "cancelled":
        next_step = (
            "We bellen u dan niet. Wilt u toch een gesprek? Maak een nieuwe afspraak of bel ons.\n"
            "Met de bijlage haalt u de afspraak uit uw agenda.\n"
        )
        en = f"Your advice call with Veilig Thuis on {en_when} is cancelled; we will not call you then. "
    else:
        next_step = "Een adviseur belt u in dit tijdvak op het nummer dat u heeft opgegeven.\n"
        en = f"Your advice call with Veilig Thuis: {en_when}. An advisor will call you in this time window. "
    body = (
        f"{greeting}\n\n{intros[purpose]}\n{next_step}"
        f"{manage}\nIs er nu acuut gevaar? Bel 112. Veilig Thuis is dag en nacht bereikbaar op 0800-2000 (gratis).\n\n"
        f"Met vriendelijke groet,\nVeilig Thuis\n\n---\n"
        f"{en}In acute danger call 112; Veilig Thuis answers 0800-2000 day and night.\n"
    )
    return Message(subjects[purpose], body)


# iTIP (RFC 5546) methods: REQUEST puts the event in (or updates it in) the caller's calendar,
# CANCEL takes it out; PUBLISH is a plain file to import (the manage page's download).
METHODS = ("PUBLISH", "REQUEST", "CANCEL")


def invitation(
    *,
    uid: str,
    sequence: int,
    kind: str,
    start: datetime,
    end: datetime,
    now: datetime,
    method: str = "PUBLISH",
    organiser: str | None = None,
    attendee: str | None = None,
) -> str:
    """An iCalendar (RFC 5545) event for the tijdvak. One UID per request in every e-mail and
    in the download, and a SEQUENCE that rises with every change, so a calendar keeps one entry
    and updates or removes it. No manage link and no token in it: a calendar entry is often
    shared (a partner, a secretary, a team calendar) and synced to other devices; the link
    stays in the caller's own mailbox. CLASS:PRIVATE asks shared calendars to show only
    "busy"."""
    if method not in METHODS:
        raise ValueError(f"unknown iTIP method {method!r}")
    cancelled = method == "CANCEL"
    cal = Calendar()
    cal.add("prodid", "-//Veilig Thuis//vt-contact//NL")
    cal.add("version", "2.0")
    cal.add("method", method)
    event = Event()
    event.add("uid", uid)
    event.add("sequence", sequence)
    event.add("dtstamp", now)
    event.add("last-modified", now)
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", _KIND_NL.get(kind, "Veilig Thuis"))
    if cancelled:
        description = "Dit adviesgesprek is afgezegd. Veilig Thuis belt u dan niet."
    else:
        description = "Een adviseur van Veilig Thuis belt u in dit tijdvak. Acuut gevaar: bel 112."
    event.add("description", description + " Veilig Thuis is dag en nacht bereikbaar op 0800-2000.")
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("class", "PRIVATE")
    event.add("transp", "TRANSPARENT" if cancelled else "OPAQUE")
    if organiser:
        event.add("organizer", vCalAddress(f"mailto:{organiser}"), parameters={"CN": ORGANISER})
    if attendee:
        # The caller booked it themselves: accepted already, nothing to answer.
        event.add(
            "attendee",
            vCalAddress(f"mailto:{attendee}"),
            parameters={"ROLE": "REQ-PARTICIPANT", "PARTSTAT": "ACCEPTED", "RSVP": "FALSE"},
        )
    cal.add_component(event)
    return cal.to_ical().decode()


def method_of(ics: str) -> str:
    """The iTIP method of a calendar file, for the MIME type of its attachment."""
    found = str(Calendar.from_ical(ics).get("method", "PUBLISH")).upper()
    return found if found in METHODS else "PUBLISH"


@dataclass(frozen=True)
class SmtpConfig:
    host: str | None
    port: int = 25
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    sender: str = "Veilig Thuis <noreply@veiligthuis.example>"
    # Where callers reach the manage page (VT_PUBLIC_URL): the manage links made at sending.
    public_url: str = "http://127.0.0.1:8080"


# What a queued e-mail holds instead of its manage link: the token is made at sending, so the
# outbox never holds one (docs/privacy.md).
MANAGE_LINK = "{{manage_link}}"


def manage_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/afspraak/beheer#{token}"


class Mailer:
    """Delivers the outbox. Each e-mail is claimed by moving its next try forward (one
    conditional UPDATE), so two workers never send the same one at once; a failure is retried
    with exponential back-off and jitter."""

    def __init__(self, db: Database, clock: Clock, config: SmtpConfig, claim_s: int = 120) -> None:
        self.db = db
        self.clock = clock
        self.config = config
        self.claim = timedelta(seconds=claim_s)

    async def deliver_due(self, limit: int = 50) -> int:
        if not self.config.host:
            return 0
        now = self.clock.now()
        async with self.db.read() as conn:
            due = (
                await conn.execute(
                    select(outbox.c.id, outbox.c.next_try_at)
                    .where(outbox.c.sent_at.is_(None), outbox.c.next_try_at <= now, outbox.c.tries < MAX_TRIES)
                    .order_by(outbox.c.next_try_at)
                    .limit(limit)
                )
            ).all()
        sent = 0
        for item in due:
            row = await self._claim(item.id, item.next_try_at, now)
            if row is None:
                continue
            try:
                await self._send(row)
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                tries = row.tries + 1
                delay = min(3600, 30 * 2 ** (tries - 1)) * random.uniform(0.8, 1.2)
                async with self.db.write() as conn:
                    await conn.execute(
                        update(outbox)
                        .where(outbox.c.id == row.id)
                        .values(
                            tries=tries,
                            next_try_at=now + timedelta(seconds=delay),
                            # Given up: nobody will send it, so nothing of it is kept.
                            **(SENT_MAIL_BLANKED if tries >= MAX_TRIES else {}),
                        )
                    )
                log.warning("mail_failed", purpose=row.purpose, tries=tries, error=type(exc).__name__)
                continue
            async with self.db.write() as conn:
                await conn.execute(
                    update(outbox)
                    .where(outbox.c.id == row.id)
                    .values(sent_at=self.clock.now(), tries=row.tries + 1, **SENT_MAIL_BLANKED)
                )
            log.info("mail_sent", purpose=row.purpose)
            sent += 1
        return sent

    async def _claim(self, mail_id: str, seen_next: datetime, now: datetime) -> Any:
        async with self.db.write() as conn:
            return (
                await conn.execute(
                    update(outbox)
                    .where(outbox.c.id == mail_id, outbox.c.sent_at.is_(None), outbox.c.next_try_at == seen_next)
                    .values(next_try_at=now + self.claim)
                    .returning(outbox)
                )
            ).first()

    async def _with_link(self, row: Any) -> str:
        """The text to send: with a manage link of its own for an e-mail about an open request.
        The new token's hash is stored before sending; the token itself only goes out in the
        e-mail. A retry makes another one (the earlier never reached anyone)."""
        body = str(row.body)
        if MANAGE_LINK not in body:
            return body
        token = secrets.token_urlsafe(32)
        async with self.db.write() as conn:
            issued = (
                await conn.execute(
                    update(requests)
                    .where(requests.c.id == row.request_id, requests.c.status == "open")
                    .values(mail_manage_hash=hash_token(token))
                    .returning(requests.c.id)
                )
            ).first()
        if issued is None:  # cancelled or handled meanwhile: no link that could not work
            return body.replace(MANAGE_LINK, "(deze afspraak kunt u niet meer wijzigen)")
        return body.replace(MANAGE_LINK, manage_url(self.config.public_url, token))

    async def _send(self, row: Any) -> None:
        msg = EmailMessage()
        msg["From"] = self.config.sender
        msg["To"] = row.to_address
        msg["Subject"] = row.subject
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(domain="vt-contact")
        msg.set_content(await self._with_link(row))
        if row.ics:
            msg.add_attachment(
                row.ics.encode(),
                maintype="text",
                subtype="calendar",
                filename="afspraak.ics",
                params={"method": method_of(row.ics), "charset": "utf-8"},
            )
        await aiosmtplib.send(
            msg,
            hostname=self.config.host,
            port=self.config.port,
            start_tls=self.config.starttls,
            username=self.config.username,
            password=self.config.password,
            timeout=20,
        )
