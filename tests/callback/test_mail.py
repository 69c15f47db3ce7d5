"""E-mail of adviesgesprekken through a real SMTP server on loopback (aiosmtpd): the confirmation
with a valid calendar invitation, the reminder the day before, and delivery after the mail
server was down."""

from __future__ import annotations

import asyncio
import email
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from aiohttp import ClientSession
from aiosmtpd.controller import Controller
from icalendar import Calendar

from contact.clock import ManualClock
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
            assert f"https://vt.example/afspraak/beheer#{made['manage_token']}" in text
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
