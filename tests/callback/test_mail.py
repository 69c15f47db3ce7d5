"""E-mail of adviesgesprekken through a real SMTP server on loopback (aiosmtpd): the confirmation
with a valid calendar invitation, the reminder the day before, and delivery after the mail
server was down."""

from __future__ import annotations

import asyncio
import email
import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from aiohttp import ClientSession
from aiosmtpd.controller import Controller
from icalendar import Calendar
from sqlalchemy import select

from callback.store import outbox
from contact.clock import ManualClock
from contact.db import Database
from tests.callback.conftest import MONDAY_8, Api, booking
from tests.support.server import RunningServer, make_settings, migrated_sqlite
from tests.support.services import free_port


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


async def _wait(predicate, timeout=5.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


def _professional(**kw):
    fields = {
        "kind": "adviesgesprek",
        "caller_type": "professional",
        "slot_start": "2026-12-02T09:45:00+01:00",
        "name": "Els Bakker",
        "email": "els.bakker@school.example",
        "organisation": "Basisschool De Linde",
    }
    return booking(**{**fields, **kw})


async def test_confirmation_with_invitation_then_reminder_the_day_before(tmp_path, smtp, capfd):
    inbox, port = smtp
    url = await migrated_sqlite(str(tmp_path / "mail.db"))
    clock = ManualClock(MONDAY_8)
    settings = make_settings(
        url,
        smtp_host="127.0.0.1",
        smtp_port=port,
        callback_check_s=0.1,
        public_url="https://vt.example",
        hash_key="k" * 32,
    )
    server = await RunningServer(settings, clock).start()
    try:
        async with ClientSession() as http:
            api = Api(server.url, http)
            status, made = await api.call("POST", "/api/callbacks", _professional())
            assert status == 201
            await _wait(lambda: len(inbox.messages) == 1)
            mail = inbox.messages[0]
            assert mail["To"] == "els.bakker@school.example" and "Bevestiging" in mail["Subject"]
            text = (
                next(p for p in mail.walk() if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
            )
            assert "Els Bakker" in text and "woensdag 2 december 2026, 09:45–10:30 uur" in text
            # The link has a token of its own, made at sending: the outbox never held one.
            link = re.search(r"https://vt\.example/afspraak/beheer#([A-Za-z0-9_-]{40,})", text)
            assert link and link.group(1) != made["manage_token"]
            assert (await api.call("GET", f"/api/callbacks/{link.group(1)}"))[0] == 200
            assert (await api.call("GET", f"/api/callbacks/{made['manage_token']}"))[0] == 200  # both work
            assert await _outbox_without_tokens(url, [link.group(1), made["manage_token"]])
            assert "0612345678" not in text and "06 12345678" not in text  # no phone number in e-mail
            ics = next(p for p in mail.walk() if p.get_content_type() == "text/calendar").get_payload(decode=True)
            event = next(c for c in Calendar.from_ical(ics).walk() if c.name == "VEVENT")
            assert event.decoded("dtstart") == datetime(2026, 12, 2, 8, 45, tzinfo=UTC)
            assert event.decoded("dtend") == datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
            assert str(event["uid"]).endswith("@vt-contact")

            # Booked today for tomorrow: no reminder on top of the confirmation.
            tomorrow = _professional(phone="0687654321", slot_start="2026-12-01T09:45:00+01:00")
            assert (await api.call("POST", "/api/callbacks", tomorrow))[0] == 201
            await _wait(lambda: len(inbox.messages) == 2)
            await asyncio.sleep(0.4)
            assert len(inbox.messages) == 2 and "Bevestiging" in inbox.messages[1]["Subject"]
            # The day before (Tuesday afternoon): one reminder, however often the job runs.
            clock.set(datetime(2026, 12, 1, 15, 0, tzinfo=UTC))
            await _wait(lambda: len(inbox.messages) == 3)
            await asyncio.sleep(0.4)
            assert len(inbox.messages) == 3 and "Herinnering" in inbox.messages[2]["Subject"]
    finally:
        await server.stop()
    out, err = capfd.readouterr()
    assert "mail_sent" in out + err  # the logs were read …
    assert "els.bakker" not in out + err and "Bakker" not in out + err  # … and hold no address or name


async def test_mail_waits_while_the_mail_server_is_down(tmp_path):
    port = free_port()  # nothing listens here yet
    url = await migrated_sqlite(str(tmp_path / "down.db"))
    clock = ManualClock(MONDAY_8)
    settings = make_settings(url, smtp_host="127.0.0.1", smtp_port=port, callback_check_s=0.1, hash_key="k" * 32)
    server = await RunningServer(settings, clock).start()
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    try:
        async with ClientSession() as http:
            assert (await Api(server.url, http).call("POST", "/api/callbacks", _professional()))[0] == 201
        await asyncio.sleep(0.5)  # tried and failed; the next try waits for its back-off
        controller.start()
        await asyncio.sleep(0.5)
        assert inbox.messages == []  # still backing off: no hammering of a broken server
        clock.advance(minutes=2)
        await _wait(lambda: len(inbox.messages) == 1)
        await asyncio.sleep(0.3)
        assert len(inbox.messages) == 1
    finally:
        controller.stop()
        await server.stop()


def _calendar(ics: bytes | str):
    """The METHOD and the one VEVENT of a calendar file, parsed with `icalendar`."""
    cal = Calendar.from_ical(ics)
    events = [c for c in cal.walk() if c.name == "VEVENT"]
    assert len(events) == 1
    return str(cal["method"]), events[0]


def _text(mail: email.message.Message) -> str:
    return next(p for p in mail.walk() if p.get_content_type() == "text/plain").get_payload(decode=True).decode()


def _attachment(mail: email.message.Message) -> tuple[bytes, str]:
    part = next(p for p in mail.walk() if p.get_content_type() == "text/calendar")
    return part.get_payload(decode=True), str(part.get_param("method"))


async def test_one_calendar_entry_updated_by_reschedule_and_removed_by_cancel(tmp_path, smtp):
    """Booking, reschedule and cancellation send one UID with a rising SEQUENCE (REQUEST,
    REQUEST, CANCEL); the download carries the same UID and SEQUENCE; no .ics holds the manage
    token or link (calendars are shared), while the e-mail text keeps the link."""
    inbox, port = smtp
    url = await migrated_sqlite(str(tmp_path / "ics.db"))
    settings = make_settings(
        url,
        smtp_host="127.0.0.1",
        smtp_port=port,
        callback_check_s=0.1,
        public_url="https://vt.example",
        hash_key="k" * 32,
        mail_from="Veilig Thuis <afspraken@vt.example>",
    )
    server = await RunningServer(settings, ManualClock(MONDAY_8)).start()
    files: list[bytes | str] = []
    try:
        async with ClientSession() as http:
            api = Api(server.url, http)
            status, made = await api.call("POST", "/api/callbacks", _professional())
            assert status == 201
            token = made["manage_token"]
            await _wait(lambda: len(inbox.messages) == 1)
            status, download = await api.call("GET", f"/api/callbacks/{token}/calendar.ics")
            assert status == 200
            files.append(download)
            method, first = _calendar(download)
            assert method == "PUBLISH" and int(first["sequence"]) == 0
            uid = str(first["uid"])
            assert uid.endswith("@vt-contact")
            assert hashlib.sha256(token.encode()).hexdigest()[:32] not in uid  # nothing derived from the token

            moved = {"slot_start": "2026-12-03T10:30:00+01:00"}
            assert (await api.call("POST", f"/api/callbacks/{token}/reschedule", moved))[0] == 200
            await _wait(lambda: len(inbox.messages) == 2)
            # The same tijdvak again changes nothing and sends nothing.
            assert (await api.call("POST", f"/api/callbacks/{token}/reschedule", moved))[0] == 200
            status, download = await api.call("GET", f"/api/callbacks/{token}/calendar.ics")
            files.append(download)
            method, event = _calendar(download)
            assert (method, str(event["uid"]), int(event["sequence"])) == ("PUBLISH", uid, 1)
            assert event.decoded("dtstart") == datetime(2026, 12, 3, 9, 30, tzinfo=UTC)

            assert (await api.call("POST", f"/api/callbacks/{token}/cancel"))[0] == 200
            await _wait(lambda: len(inbox.messages) == 3)
            await asyncio.sleep(0.3)
            assert len(inbox.messages) == 3
    finally:
        await server.stop()

    confirmation, rescheduled, cancelled = inbox.messages
    assert "Bevestiging" in confirmation["Subject"] and "Nieuwe tijd" in rescheduled["Subject"]
    assert "afgezegd" in cancelled["Subject"] and cancelled["To"] == "els.bakker@school.example"
    seen = []
    for mail in (confirmation, rescheduled, cancelled):
        ics, mime_method = _attachment(mail)
        files.append(ics)
        method, event = _calendar(ics)
        assert mime_method == method  # text/calendar; method=... matches the file
        seen.append((method, str(event["uid"]), int(event["sequence"]), str(event["status"])))
        assert str(event["organizer"]) == "mailto:afspraken@vt.example"
        assert str(event["attendee"]) == "mailto:els.bakker@school.example"
        assert str(event["class"]) == "PRIVATE"
    assert seen == [
        ("REQUEST", uid, 0, "CONFIRMED"),
        ("REQUEST", uid, 1, "CONFIRMED"),
        ("CANCEL", uid, 2, "CANCELLED"),
    ]
    _, cancel_event = _calendar(_attachment(cancelled)[0])
    assert cancel_event.decoded("dtstart") == datetime(2026, 12, 3, 9, 30, tzinfo=UTC)  # the tijdvak it was in
    for ics in files:
        text = ics.decode() if isinstance(ics, bytes) else ics
        unfolded = text.replace("\r\n ", "").replace("\n ", "")
        assert token not in unfolded and "/afspraak/beheer" not in unfolded and "vt.example/afspraak" not in unfolded
    # The e-mail text (the caller's own mailbox) keeps the link while it works; not after cancelling.
    assert "https://vt.example/afspraak/beheer#" in _text(rescheduled) and token not in _text(rescheduled)
    assert token not in _text(cancelled) and "afgezegd" in _text(cancelled)


async def _outbox_without_tokens(url: str, tokens: list[str]) -> bool:
    """No row of the outbox holds a manage token, and a sent one holds no address or text."""
    db = Database(url)
    try:
        async with db.read() as conn:
            rows = (await conn.execute(select(outbox))).all()
    finally:
        await db.dispose()
    for row in rows:
        text = " ".join(str(v) for v in row)
        if any(t in text for t in tokens):
            return False
        if row.sent_at is not None and (row.to_address or row.body or row.ics or row.subject):
            return False
    return bool(rows)
