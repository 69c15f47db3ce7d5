"""The use cases of callbacks: tijdvakken with room, booking (never oversold, silently merged per
phone number), the caller's own manage page, the advisors' work list, claim, attempts, close,
the roster, and the jobs the elected scheduler runs. Each state change writes, audits, and
returns what to send, in one place.

The requests of one number share one callback (the advisors' card), but each request keeps its
own tijdvak and state: the card is due in the tijdvak of its earliest open request, a manage link
changes and shows only its own request, and ending the call ends only the requests the advisor
selected; the others move on, untouched, to a new callback."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from callback import mail
from callback import outbound as out
from callback.model import (
    REQUEST_END,
    Schedule,
    Tijdvak,
    check_changeable,
    first_due,
    manage_status,
    retry_after,
    select_requests,
    voicemail_for,
)
from callback.store import OPEN, attempts, callbacks, notices, outbox, requests, slots
from cases.outbox import Contact, HandoffSettings, create_handoff
from cases.outcome import check_outcome
from contact.access_log import AccessLog, Reader
from contact.auth import AgentIdentity, agents
from contact.clock import Clock, iso
from contact.db import Database
from contact.emits import BoardChanged, HandoffCreated, Outgoing, Result, ToAgentGroup, ToCrisisAudience
from contact.errors import DomainError
from contact.keys import hash_token
from contact.phone import display_phone, normalise_email, normalise_phone
from contact.store import record_audit

CLAIMED_BY_COLLEAGUE = ("Een collega belt deze beller al.", "A colleague is already calling this caller.")
ALREADY_REACHED = ("Deze beller is al bereikt: rond het verzoek af.", "This caller was reached: close the callback.")
FINISHED = ("Dit terugbelverzoek is al afgehandeld.", "This callback is finished.")
NO_VOICEMAIL = ("Hier mag geen voicemail worden ingesproken.", "No voicemail may be left for this caller.")
# Earlier callbacks of the same number shown on a card: enough to ask about, not a history.
RELATED_MAX = 5

# Unambiguous on the phone: no 0/O, 1/I/L.
_REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
_RETRIES = 4


@dataclass(frozen=True)
class CallbackConfig:
    capacity: dict[str, int]
    max_attempts: int = 3
    retry_gap: timedelta = timedelta(minutes=15)
    public_url: str = "http://127.0.0.1:8080"
    # ORGANIZER of the calendar invitations (the address the e-mail comes from).
    organiser: str = "noreply@veiligthuis.example"
    # Need to know: the team a callback belongs to (by caller type; None: every agent sees every
    # card), and how many days back and ahead of today an advisor may see the work list.
    team_of: Callable[[str], str] | None = None
    window_days: int = 7


@dataclass(frozen=True)
class Booking:
    kind: str
    slot_start: datetime
    phone: str
    caller_type: str
    safe_to_leave_voicemail: bool
    name: str | None = None
    topic: str | None = None
    email: str | None = None
    organisation: str | None = None


def calendar_uid(request_id: str) -> str:
    """The UID of a request's calendar entry: stable for its whole life and nothing secret (the
    request's own id, never derived from its manage token)."""
    return f"{request_id}@vt-contact"


class CallbackService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        schedule: Schedule,
        config: CallbackConfig,
        handoffs: HandoffSettings,
        access_log: AccessLog,
    ) -> None:
        self.access_log = access_log
        self.db = db
        self.clock = clock
        self.schedule = schedule
        self.config = config
        self.keys = handoffs.keys
        self.handoffs = handoffs
        self.tz: ZoneInfo = schedule.tz

    # ---- callers ----------------------------------------------------------------------

    async def slots(self, kind: str, first_day: date | None, days: int) -> dict[str, Any]:
        """The bookable tijdvakken with at least one place left."""
        now = self.clock.now()
        first_day = first_day or self.schedule.local_day(now)
        candidates = self.schedule.bookable(kind, first_day, days, now)
        if not candidates:
            return {"slots": []}
        async with self.db.read() as conn:
            rows = (
                await conn.execute(
                    select(slots.c.start, slots.c.capacity, slots.c.booked).where(
                        slots.c.kind == kind,
                        slots.c.start >= candidates[0].start,
                        slots.c.start <= candidates[-1].start,
                    )
                )
            ).all()
        known = {r.start: (r.capacity, r.booked) for r in rows}
        default = self.config.capacity[kind]
        found = []
        for tv in candidates:
            capacity, booked = known.get(tv.start, (default, 0))
            if capacity - booked > 0:
                found.append({"start": iso(tv.start), "end": iso(tv.end), "kind": kind, "remaining": capacity - booked})
        return {"slots": found}

    async def book(self, booking: Booking) -> dict[str, Any]:
        """Book a place in a tijdvak. A request for a number that already has an open callback
        is merged into it, and the answer looks exactly like that of a new request."""
        now = self.clock.now()
        tijdvak = self.schedule.check_bookable(booking.kind, booking.slot_start, now)
        phone = normalise_phone(booking.phone)
        if booking.kind == "adviesgesprek" and booking.caller_type == "professional":
            missing = [f for f in ("email", "organisation") if not getattr(booking, f)]
            if missing:
                raise DomainError("invalid_input", fields=missing)
        token = secrets.token_urlsafe(32)
        for attempt in range(_RETRIES):
            try:
                async with self.db.write() as conn:
                    # The number's open callback is locked before the place is taken: callback,
                    # then tijdvak, the order of every writer (cancel and reschedule too), so no
                    # two transactions wait on each other in a circle.
                    phone_hash, existing = await self._open_callback(conn, phone)
                    if not await self._take_place(conn, booking.kind, tijdvak):
                        raise DomainError("slot_full")
                    reference = await self._insert_request(
                        conn, booking, tijdvak, phone, phone_hash, existing, token, now
                    )
                    return {
                        "reference": reference,
                        "manage_token": token,
                        "slot": {"start": iso(tijdvak.start), "end": iso(tijdvak.end)},
                    }
            except IntegrityError:
                # Another process created the same tijdvak row or the same number's callback at
                # this very moment (or a reference collided): the next round sees theirs.
                if attempt == _RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    async def _take_place(self, conn: AsyncConnection, kind: str, tv: Tijdvak) -> bool:
        """One place in the tijdvak, decided by one conditional UPDATE: never oversold."""
        taken = (
            await conn.execute(
                update(slots)
                .where(slots.c.kind == kind, slots.c.start == tv.start, slots.c.booked < slots.c.capacity)
                .values(booked=slots.c.booked + 1)
                .returning(slots.c.booked)
            )
        ).first()
        if taken is not None:
            return True
        exists = await conn.scalar(select(slots.c.kind).where(slots.c.kind == kind, slots.c.start == tv.start))
        if exists is not None or self.config.capacity[kind] < 1:
            return False
        await conn.execute(
            insert(slots).values(kind=kind, start=tv.start, end=tv.end, capacity=self.config.capacity[kind], booked=1)
        )
        return True

    async def _release_place(self, conn: AsyncConnection, kind: str, start: datetime) -> None:
        await conn.execute(
            update(slots)
            .where(slots.c.kind == kind, slots.c.start == start, slots.c.booked > 0)
            .values(booked=slots.c.booked - 1)
        )

    async def _open_callback(self, conn: AsyncConnection, phone: str) -> tuple[str, Any]:
        """The keyed hash of a number and its open callback (locked), if it has one."""
        phone_hash = self.keys.hash(phone)
        existing = (
            await conn.execute(
                select(callbacks.c.id)
                # Every stored form: an open callback hashed with the key before a rotation too.
                .where(callbacks.c.phone_hash.in_(self.keys.matches(phone)), callbacks.c.status.in_(OPEN))
                .with_for_update()
            )
        ).first()
        return phone_hash, existing

    async def _insert_request(
        self,
        conn: AsyncConnection,
        b: Booking,
        tv: Tijdvak,
        phone: str,
        phone_hash: str,
        existing: Any,
        token: str,
        now: datetime,
    ) -> str:
        if existing is None:
            callback_id = await _open_callback(
                conn, b.kind, tv.start, tv.end, phone, phone_hash, b.caller_type, b.safe_to_leave_voicemail, now
            )
        else:
            callback_id = existing.id
        reference = "VT-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(6))
        request_id = str(uuid.uuid4())
        await conn.execute(
            insert(requests).values(
                id=request_id,
                callback_id=callback_id,
                reference=reference,
                manage_hash=hash_token(token),
                kind=b.kind,
                slot_start=tv.start,
                slot_end=tv.end,
                phone=phone,
                caller_type=b.caller_type,
                name=b.name,
                topic=b.topic,
                voicemail_ok=b.safe_to_leave_voicemail,
                email=b.email,
                organisation=b.organisation,
                status="open",
                created_at=now,
                ics_sequence=0,
            )
        )
        if existing is not None:
            await self._recompute(conn, callback_id)
        if b.email and b.kind == "adviesgesprek":
            await self._queue_mail(
                conn, "confirmation", request_id=request_id, sequence=0, to=b.email, name=b.name, tv=tv, link=True,
                now=now,
            )  # fmt: skip
        await record_audit(
            conn,
            at=now,
            action="callback_requested",
            actor="caller",
            callback_id=callback_id,
            kind=b.kind,
            merged=existing is not None,
        )
        return reference

    async def _open_requests(self, conn: AsyncConnection, callback_id: str) -> list[Any]:
        return list(
            (
                await conn.execute(
                    select(requests)
                    .where(requests.c.callback_id == callback_id, requests.c.status == "open")
                    .order_by(requests.c.slot_start, requests.c.created_at)
                )
            ).all()
        )

    async def _recompute(self, conn: AsyncConnection, callback_id: str) -> None:
        """The callback's tijdvak, kind and voicemail rule from its open requests: always those
        of the request to call first (the earliest own tijdvak), whoever rescheduled what; no
        request moves another's call. No open request left: the callback is cancelled."""
        due = first_due(await self._open_requests(conn, callback_id))
        if due is None:
            await conn.execute(
                update(callbacks)
                .where(callbacks.c.id == callback_id, callbacks.c.status.in_(OPEN))
                .values(status="cancelled", closed_at=self.clock.now())
            )
            return
        values: dict[str, Any] = {
            "slot_start": due.slot_start,
            "slot_end": due.slot_end,
            "kind": due.kind,
            "caller_type": due.caller_type,
            "voicemail_ok": due.voicemail_ok,
        }
        current = await conn.scalar(select(callbacks.c.slot_start).where(callbacks.c.id == callback_id))
        if current != due.slot_start:
            values["overdue_at"] = None  # another tijdvak: overdue is flagged for that one afresh
        await conn.execute(update(callbacks).where(callbacks.c.id == callback_id).values(**values))

    async def _own_request(self, conn: AsyncConnection, token: str) -> Any:
        """The open request of a manage token. Used, cancelled and made-up tokens take the same
        path (one indexed lookup that finds nothing) and give the same `not_found`. The token
        is the one shown at booking or the one of the latest e-mail."""
        hashed = hash_token(token)
        row = (
            await conn.execute(
                select(requests).where(
                    or_(requests.c.manage_hash == hashed, requests.c.mail_manage_hash == hashed),
                    requests.c.status == "open",
                )
            )
        ).first()
        if row is None:
            raise DomainError("not_found")
        return row

    async def _changeable_request(self, conn: AsyncConnection, token: str, now: datetime) -> Any:
        """The open request of a manage token, with its callback locked (callback first, then
        request: the order of every writer), so no close can move it meanwhile; refused with
        `closed` once its own tijdvak has started."""
        row = await self._own_request(conn, token)
        for _ in range(_RETRIES):
            await conn.execute(select(callbacks.c.id).where(callbacks.c.id == row.callback_id).with_for_update())
            fresh = (
                await conn.execute(select(requests).where(requests.c.id == row.id, requests.c.status == "open"))
            ).first()
            if fresh is None:
                raise DomainError("not_found")
            if fresh.callback_id == row.callback_id:
                check_changeable(fresh.slot_start, now)
                return fresh
            row = fresh  # moved on to a new callback just now: lock that one
        raise DomainError("conflict", ("Probeer het zo opnieuw.", "Please try again."))

    async def view(self, token: str) -> dict[str, Any]:
        """Only what this caller entered themselves, in its own state: nothing of another request
        of the same number, and nothing done with one changes this answer."""
        async with self.db.read() as conn:
            row = await self._own_request(conn, token)
        return self._request_view(row, self.clock.now())

    @staticmethod
    def _request_view(row: Any, now: datetime) -> dict[str, Any]:
        view: dict[str, Any] = {
            "reference": row.reference,
            "kind": row.kind,
            "status": manage_status(row.slot_end, now),
            "slot": {"start": iso(row.slot_start), "end": iso(row.slot_end)},
            "phone": display_phone(row.phone),
            "caller_type": row.caller_type,
            "name": row.name,
            "topic": row.topic,
            "safe_to_leave_voicemail": row.voicemail_ok,
        }
        if row.email is not None:
            view["email"] = row.email
            view["organisation"] = row.organisation
        return view

    async def cancel(self, token: str) -> dict[str, Any]:
        """The caller cancels their own request (before its tijdvak starts); other requests of
        the number keep theirs, and the card moves to the earliest one left."""
        now = self.clock.now()
        async with self.db.write() as conn:
            row = await self._changeable_request(conn, token, now)
            done = (
                await conn.execute(
                    update(requests)
                    .where(requests.c.id == row.id, requests.c.status == "open")
                    .values(status="cancelled", cancelled_at=now, ics_sequence=requests.c.ics_sequence + 1)
                    .returning(requests.c.ics_sequence)
                )
            ).first()
            if done is None:
                raise DomainError("not_found")
            await self._release_place(conn, row.kind, row.slot_start)
            await self._recompute(conn, row.callback_id)
            if row.email and row.kind == "adviesgesprek":
                # The invitation is taken out of the caller's calendar (METHOD:CANCEL, same UID).
                tijdvak = Tijdvak(row.slot_start, row.slot_end, row.kind)
                await self._queue_mail(
                    conn, "cancelled", request_id=row.id, sequence=done.ics_sequence, to=row.email, name=row.name,
                    tv=tijdvak, link=False, now=now,
                )  # fmt: skip
            await record_audit(conn, at=now, action="callback_cancelled", actor="caller", callback_id=row.callback_id)
        return {"ok": True}

    async def reschedule(self, token: str, slot_start: datetime) -> dict[str, Any]:
        """The caller moves their own request to another tijdvak (before its own starts); the card
        is then due in the earliest open request's tijdvak, never in a later one."""
        now = self.clock.now()
        async with self.db.write() as conn:
            row = await self._changeable_request(conn, token, now)
            tijdvak = self.schedule.check_bookable(row.kind, slot_start, now)
            if tijdvak.start == row.slot_start:
                return {"ok": True, "slot": {"start": iso(tijdvak.start), "end": iso(tijdvak.end)}}
            if not await self._take_place(conn, row.kind, tijdvak):
                raise DomainError("slot_full")
            await self._release_place(conn, row.kind, row.slot_start)
            sequence = await conn.scalar(
                update(requests)
                .where(requests.c.id == row.id)
                .values(
                    slot_start=tijdvak.start,
                    slot_end=tijdvak.end,
                    rescheduled_at=now,
                    reminder_sent_at=None,
                    ics_sequence=requests.c.ics_sequence + 1,
                )
                .returning(requests.c.ics_sequence)
            )
            await self._recompute(conn, row.callback_id)
            if row.email and row.kind == "adviesgesprek":
                await self._queue_mail(
                    conn, "rescheduled", request_id=row.id, sequence=int(sequence or 0), to=row.email, name=row.name,
                    tv=tijdvak, link=True, now=now,
                )  # fmt: skip
            await record_audit(conn, at=now, action="callback_rescheduled", actor="caller", callback_id=row.callback_id)
        return {"ok": True, "slot": {"start": iso(tijdvak.start), "end": iso(tijdvak.end)}}

    async def calendar(self, token: str) -> str:
        """The request's calendar entry to download: the same UID and SEQUENCE as its latest
        e-mail, as a plain file to import (METHOD:PUBLISH); no manage link in it."""
        async with self.db.read() as conn:
            row = await self._own_request(conn, token)
        return mail.invitation(
            uid=calendar_uid(row.id),
            sequence=row.ics_sequence,
            kind=row.kind,
            start=row.slot_start,
            end=row.slot_end,
            now=self.clock.now(),
            organiser=self.config.organiser,
        )

    async def _queue_mail(
        self,
        conn: AsyncConnection,
        purpose: str,
        *,
        request_id: str,
        sequence: int,
        to: str,
        name: str | None,
        tv: Tijdvak,
        link: bool,
        now: datetime,
    ) -> None:
        """An e-mail with the calendar invitation of one request: booked and moved ones as
        METHOD:REQUEST, a cancelled one as METHOD:CANCEL; always the request's own UID and its
        current SEQUENCE. The manage link goes in the text (the caller's own mailbox), never in
        the calendar entry. Nor in the outbox: it holds a placeholder, and the link gets a token
        of its own when the e-mail is sent (callback/mail.py)."""
        manage_url = mail.MANAGE_LINK if link else None
        message = mail.compose(purpose, name=name, start=tv.start, end=tv.end, manage_url=manage_url)
        ics = mail.invitation(
            uid=calendar_uid(request_id),
            sequence=sequence,
            kind=tv.kind,
            start=tv.start,
            end=tv.end,
            now=now,
            method="CANCEL" if purpose == "cancelled" else "REQUEST",
            organiser=self.config.organiser,
            attendee=to,
        )
        await conn.execute(
            insert(outbox).values(
                id=str(uuid.uuid4()),
                request_id=request_id,
                purpose=purpose,
                to_address=to,
                subject=message.subject,
                body=message.body,
                ics=ics,
                created_at=now,
                next_try_at=now,
                tries=0,
            )
        )

    # ---- advisors ---------------------------------------------------------------------

    def _visible_teams(self, agent: AgentIdentity, day: date, team: str | None) -> frozenset[str] | None:
        """Need to know: the teams whose cards `agent` may see on `day` (None: all of them).
        Supervisors and admins see every team and day; others their own teams within the window
        around today. Anything else is `forbidden`."""
        if team is not None and not agent.is_supervisor and team not in agent.teams:
            raise DomainError("forbidden", reason="other_team")
        if not agent.is_supervisor:
            today = self.schedule.local_day(self.clock.now())
            if abs((day - today).days) > self.config.window_days:
                raise DomainError("forbidden", reason="outside_window", window_days=self.config.window_days)
        if team is not None:
            return frozenset({team})
        return None if agent.is_supervisor else frozenset(agent.teams)

    async def work_list(
        self, agent: AgentIdentity, day: date, reader: Reader, team: str | None = None
    ) -> dict[str, Any]:
        """The callbacks of one day per tijdvak, with their places, for the advisors: only the
        cards of the teams the agent may see; each card shown is an entry in the access log,
        written before the list is answered (no entry, no list)."""
        teams = self._visible_teams(agent, day, team)
        start = datetime.combine(day, time(0), self.tz)
        end = datetime.combine(day + timedelta(days=1), time(0), self.tz)
        async with self.db.read() as conn:
            rows = (
                await conn.execute(
                    select(callbacks, agents.c.name.label("claimed_by_name"))
                    .select_from(callbacks.outerjoin(agents, agents.c.id == callbacks.c.claimed_by))
                    .where(
                        callbacks.c.slot_start >= start, callbacks.c.slot_start < end, callbacks.c.status != "cancelled"
                    )
                    .order_by(callbacks.c.slot_start, callbacks.c.created_at)
                )
            ).all()
            request_rows = (
                await conn.execute(
                    select(requests)
                    .where(requests.c.callback_id.in_([r.id for r in rows]))
                    .order_by(requests.c.created_at)
                )
            ).all()
            slot_rows = (await conn.execute(select(slots).where(slots.c.start >= start, slots.c.start < end))).all()
            related = await self._related(conn, rows)
        if teams is not None and self.config.team_of is not None:
            team_of = self.config.team_of
            rows = [r for r in rows if team_of(r.caller_type) in teams]
        by_callback: dict[str, list[Any]] = {}
        for r in request_rows:
            by_callback.setdefault(r.callback_id, []).append(r)
        if rows:
            async with self.db.write() as conn:
                for r in rows:
                    await self.access_log.record(
                        conn, reader, "callback_list", contact_type="callback", contact_id=r.id, date=day.isoformat()
                    )
        places = {(s.kind, s.start): (s.capacity, s.booked) for s in slot_rows}
        groups: dict[tuple[str, datetime], dict[str, Any]] = {}
        for kind in sorted(self.config.capacity):
            for tv in self.schedule.tijdvakken(kind, day, 1):
                capacity, booked = places.get((kind, tv.start), (self.config.capacity[kind], 0))
                groups[(kind, tv.start)] = {
                    "kind": kind,
                    "start": iso(tv.start),
                    "end": iso(tv.end),
                    "capacity": capacity,
                    "booked": booked,
                    "callbacks": [],
                }
        now = self.clock.now()
        for r in rows:
            key = (r.kind, r.slot_start)
            if key not in groups:  # a tijdvak the pattern no longer has: still on the list
                groups[key] = {"kind": r.kind, "start": iso(r.slot_start), "end": iso(r.slot_end),
                               "capacity": None, "booked": None, "callbacks": []}  # fmt: skip
            view = self._callback_view(r, by_callback.get(r.id, []), now)
            view["related"] = related.get(r.id, [])
            groups[key]["callbacks"].append(view)
        ordered = sorted(groups.values(), key=lambda g: (g["start"], g["kind"]))
        return {"date": day.isoformat(), "tijdvakken": ordered}

    async def _related(self, conn: AsyncConnection, rows: Sequence[Any]) -> dict[str, list[dict[str, Any]]]:
        """Per callback, the other (ended) callbacks of the same number, latest first: so an
        advisor knows that requests were made before and can ask about them. For advisors only."""
        hashes = {r.phone_hash for r in rows}
        if not hashes:
            return {}
        others = (
            await conn.execute(
                select(
                    callbacks.c.id, callbacks.c.phone_hash, callbacks.c.status, callbacks.c.created_at,
                    callbacks.c.closed_at, callbacks.c.outcome,
                )
                .where(callbacks.c.phone_hash.in_(hashes), callbacks.c.status.not_in(OPEN))
                .order_by(callbacks.c.created_at.desc(), callbacks.c.id)
            )
        ).all()  # fmt: skip
        kept: dict[str, list[Any]] = {}
        for o in others:
            same = kept.setdefault(o.phone_hash, [])
            if len(same) < RELATED_MAX + 1:  # one more: the callback itself may be among them
                same.append(o)
        ids = [o.id for same in kept.values() for o in same]
        refs: dict[str, list[dict[str, Any]]] = {}
        if ids:
            for q in (
                await conn.execute(
                    select(requests.c.callback_id, requests.c.reference, requests.c.status, requests.c.created_at)
                    .where(requests.c.callback_id.in_(ids))
                    .order_by(requests.c.created_at)
                )
            ).all():
                refs.setdefault(q.callback_id, []).append(
                    {"reference": q.reference, "status": q.status, "created_at": iso(q.created_at)}
                )
        found: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            found[r.id] = [
                {
                    "id": o.id,
                    "status": o.status,
                    "created_at": iso(o.created_at),
                    "closed_at": iso(o.closed_at),
                    "outcome": (o.outcome or {}).get("kind"),
                    "requests": refs.get(o.id, []),
                }
                for o in kept.get(r.phone_hash, [])
                if o.id != r.id
            ][:RELATED_MAX]
        return found

    def _callback_view(self, r: Any, reqs: list[Any], now: datetime) -> dict[str, Any]:
        due = first_due(q for q in reqs if q.status == "open")
        # Need to know: once a callback has ended (its case handed off, or nobody reached) the
        # card no longer shows how to reach the caller.
        ended = r.status not in OPEN
        return {
            "id": r.id,
            "kind": r.kind,
            "slot": {"start": iso(r.slot_start), "end": iso(r.slot_end)},
            "phone": None if ended else display_phone(r.phone),
            "caller_type": r.caller_type,
            "voicemail_allowed": r.voicemail_ok,
            "status": r.status,
            "claimed_by": r.claimed_by,
            "claimed_by_name": getattr(r, "claimed_by_name", None),
            "attempts": r.attempts,
            "last_result": r.last_result,
            "next_attempt_at": iso(r.next_attempt_at),
            "overdue": r.status in OPEN and r.slot_end <= now,
            "merged": len(reqs) > 1,
            "requests": [
                {
                    "reference": q.reference,
                    "status": q.status,
                    "created_at": iso(q.created_at),
                    "slot": {"start": iso(q.slot_start), "end": iso(q.slot_end)},
                    "rescheduled": q.rescheduled_at is not None,
                    "caller_type": q.caller_type,
                    "name": None if ended else q.name,
                    "topic": q.topic,
                    "voicemail_ok": q.voicemail_ok,
                    "email": None if ended else q.email,
                    "organisation": q.organisation,
                    "being_called": due is not None and q.id == due.id,
                }
                for q in reqs
            ],
            "outcome": r.outcome,
        }

    async def claim(self, agent: AgentIdentity, callback_id: str) -> dict[str, Any]:
        """Take a callback to call: one conditional UPDATE, so only one advisor can."""
        now = self.clock.now()
        async with self.db.write() as conn:
            done = (
                await conn.execute(
                    update(callbacks)
                    .where(callbacks.c.id == callback_id, callbacks.c.status == "open")
                    .values(status="claimed", claimed_by=agent.id, claimed_at=now)
                    .returning(callbacks.c.id)
                )
            ).first()
            if done is None:
                row = (
                    await conn.execute(
                        select(callbacks.c.status, callbacks.c.claimed_by).where(callbacks.c.id == callback_id)
                    )
                ).first()
                if row is None:
                    raise DomainError("not_found")
                if row.status == "claimed" and row.claimed_by == agent.id:
                    return {"ok": True}
                if row.status == "claimed":
                    raise DomainError("already_taken", CLAIMED_BY_COLLEAGUE)
                raise DomainError("closed", FINISHED)
            await record_audit(
                conn, at=now, action="callback_claimed", actor=f"agent:{agent.id}", callback_id=callback_id
            )
        return {"ok": True}

    async def _claimed_row(self, conn: AsyncConnection, agent: AgentIdentity, callback_id: str) -> Any:
        row = (await conn.execute(select(callbacks).where(callbacks.c.id == callback_id).with_for_update())).first()
        if row is None:
            raise DomainError("not_found")
        if row.claimed_by != agent.id:
            raise DomainError("forbidden")
        if row.status != "claimed":
            raise DomainError("closed", FINISHED)
        return row

    async def _selection(
        self, conn: AsyncConnection, callback_id: str, references: list[str] | None
    ) -> tuple[Any, list[Any]]:
        """The request being called and the open requests an attempt or outcome applies to."""
        open_requests = await self._open_requests(conn, callback_id)
        selected = select_requests(open_requests, references)
        if not selected:  # a claimed callback always has an open request; defensively, no half work
            raise DomainError("closed", FINISHED)
        return first_due(open_requests), selected

    async def attempt(
        self, agent: AgentIdentity, callback_id: str, result: str, references: list[str] | None = None
    ) -> Result:
        """Record a call for the selected requests (default: the one being called): reached, no
        answer (retried later in the tijdvak, up to the maximum, then 'niet bereikt' for those
        requests), a voicemail (only if the request being called and every selected one allowed
        it), wrong number. Requests not selected stay open on a new callback when this one ends."""
        now = self.clock.now()
        async with self.db.write() as conn:
            row = await self._claimed_row(conn, agent, callback_id)
            if row.last_result == "bereikt":
                raise DomainError("conflict", ALREADY_REACHED, state="reached")
            being_called, selected = await self._selection(conn, callback_id, references)
            if result == "voicemail" and not voicemail_for(being_called, selected):
                raise DomainError("forbidden", NO_VOICEMAIL, reason="no_voicemail")
            count = row.attempts + 1
            state, next_at = retry_after(
                count, result, now, row.slot_end, self.config.max_attempts, self.config.retry_gap
            )
            if next_at is not None and next_at < row.slot_start:
                next_at = row.slot_start  # called before the tijdvak: try again when it starts
            values: dict[str, Any] = {"attempts": count, "last_result": result, "next_attempt_at": next_at}
            await conn.execute(
                insert(attempts).values(
                    id=str(uuid.uuid4()),
                    callback_id=callback_id,
                    agent_id=agent.id,
                    at=now,
                    result=result,
                    requests=[q.reference for q in selected],
                )
            )
            if state in ("not_reached", "wrong_number"):
                await self._end(conn, row, state, selected, now, f"agent:{agent.id}", **values)
            else:
                await conn.execute(update(callbacks).where(callbacks.c.id == callback_id).values(**values))
            await record_audit(
                conn,
                at=now,
                action="callback_attempt",
                actor=f"agent:{agent.id}",
                callback_id=callback_id,
                result=result,
                requests=len(selected),
            )
        # A `Result` like every use case that may end a callback (not reached, wrong number): no
        # handoff, but the board counts overdue callbacks and a call may end one.
        return Result(
            {"ok": True, "state": state, "attempts": count, "next_attempt_at": iso(next_at)}, [BoardChanged()]
        )

    async def _end(
        self,
        conn: AsyncConnection,
        row: Any,
        status: str,
        selected: list[Any],
        now: datetime,
        actor: str,
        **values: Any,
    ) -> str | None:
        """The callback is over (closed, not reached, wrong number) for the selected requests:
        they end with it and their manage links stop working. Any other request still open on
        it moves, in this same transaction, to a new callback in the earliest tijdvak among
        them, so its caller's page, tijdvak and place are untouched. Returns the new callback."""
        await conn.execute(
            update(callbacks).where(callbacks.c.id == row.id).values(status=status, closed_at=now, **values)
        )
        await conn.execute(
            update(requests)
            .where(requests.c.id.in_([q.id for q in selected]), requests.c.status == "open")
            .values(status=REQUEST_END[status])
        )
        rest = await self._open_requests(conn, row.id)
        due = first_due(rest)
        if due is None:
            return None
        # The ended callback left the open states above, so the one-open-callback-per-number
        # index lets this one in; a booking waiting on the lock of the old one finds this one.
        carried = await _open_callback(
            conn,
            due.kind,
            due.slot_start,
            due.slot_end,
            row.phone,
            row.phone_hash,
            due.caller_type,
            due.voicemail_ok,
            now,
        )
        await conn.execute(
            update(requests)
            .where(requests.c.callback_id == row.id, requests.c.status == "open")
            .values(callback_id=carried)
        )
        await record_audit(
            conn, at=now, action="callback_requests_carried", actor=actor, callback_id=carried, from_callback=row.id,
            requests=len(rest),
        )  # fmt: skip
        return carried

    async def close(
        self, agent: AgentIdentity, callback_id: str, outcome: dict[str, Any], references: list[str] | None = None
    ) -> Result:
        """End a claimed callback with the outcome form of a chat (advies / melding / geen), for
        the selected requests (default: the one being called). Like a chat's close it answers a
        `Result`: the ack, and `HandoffCreated` when a handoff waits in the outbox."""
        outcome = check_outcome(outcome)
        now = self.clock.now()
        async with self.db.write() as conn:
            row = await self._claimed_row(conn, agent, callback_id)
            _, selected = await self._selection(conn, callback_id, references)
            await self._end(conn, row, "closed", selected, now, f"agent:{agent.id}", outcome=outcome)
            await record_audit(
                conn,
                at=now,
                action="callback_closed",
                actor=f"agent:{agent.id}",
                callback_id=callback_id,
                outcome=outcome["kind"],
                urgency=outcome.get("urgency"),
                requests=len(selected),
            )
            handoff_id = await self._handoff(conn, agent, row, [q.id for q in selected], outcome, now)
        answer: dict[str, Any] = {"ok": True}
        if handoff_id is None:
            return Result(answer, [BoardChanged()])
        answer["handoff_id"] = handoff_id
        return Result(answer, [HandoffCreated(), BoardChanged()])

    async def _handoff(
        self,
        conn: AsyncConnection,
        agent: AgentIdentity,
        row: Any,
        selected: list[str],
        outcome: dict[str, Any],
        now: datetime,
    ) -> str | None:
        """The callback as the case system receives it: the requests the call was closed for and
        every attempt; linked to earlier registrations of the same number or e-mail address.
        Requests that moved on to a new callback are not in it: they are not handled yet."""
        reqs = (
            await conn.execute(select(requests).where(requests.c.id.in_(selected)).order_by(requests.c.created_at))
        ).all()
        tries = (
            await conn.execute(select(attempts).where(attempts.c.callback_id == row.id).order_by(attempts.c.at))
        ).all()
        emails = [e for q in reqs if q.email and (e := normalise_email(q.email))]
        hashes = [self.keys.hash(row.phone), *self.handoffs.hashes(outcome), *map(self.keys.hash, emails)]
        matches = [*self.keys.matches(row.phone), *self.handoffs.matches(outcome)]
        matches += [m for e in emails for m in self.keys.matches(e)]
        extra = {
            "callback": {
                "kind": row.kind,
                "phone": row.phone,
                "slot": {"start": iso(row.slot_start), "end": iso(row.slot_end)},
                "voicemail_allowed": row.voicemail_ok,
                "attempts": [
                    {"at": iso(t.at), "result": t.result, "agent_id": t.agent_id, "requests": t.requests or []}
                    for t in tries
                ],
            },
            "requests": [
                {
                    "reference": q.reference,
                    "created_at": iso(q.created_at),
                    "slot": {"start": iso(q.slot_start), "end": iso(q.slot_end)},
                    "caller_type": q.caller_type,
                    "name": q.name,
                    "topic": q.topic,
                    "email": q.email,
                    "organisation": q.organisation,
                    "status": q.status,
                }
                for q in reqs
            ],
        }
        return await create_handoff(
            conn,
            Contact(
                source="callback",
                source_id=row.id,
                caller_type=row.caller_type,
                received_at=now,
                outcome=outcome,
                advisor={"id": agent.id, "name": agent.name},
                extra=extra,
                contact_hashes=hashes,
                match_hashes=matches,
            ),
            now,
            webhook=self.handoffs.webhook,
            tz=self.handoffs.tz,
        )

    async def set_roster(self, agent: AgentIdentity, kind: str, start: datetime, capacity: int) -> dict[str, Any]:
        """Places of one tijdvak, from the roster. Fewer than booked is allowed: no new booking then."""
        if agent.role not in ("supervisor", "admin"):
            raise DomainError("forbidden")
        tijdvak = self.schedule.find(kind, start)
        if tijdvak is None:
            raise DomainError("invalid_input", field="slot_start", reason="not_in_pattern")
        now = self.clock.now()
        for attempt in range(_RETRIES):
            try:
                async with self.db.write() as conn:
                    changed = (
                        await conn.execute(
                            update(slots)
                            .where(slots.c.kind == kind, slots.c.start == tijdvak.start)
                            .values(capacity=capacity)
                            .returning(slots.c.booked)
                        )
                    ).first()
                    booked = changed.booked if changed is not None else 0
                    if changed is None:
                        await conn.execute(
                            insert(slots).values(
                                kind=kind, start=tijdvak.start, end=tijdvak.end, capacity=capacity, booked=0
                            )
                        )
                    await record_audit(
                        conn,
                        at=now,
                        action="roster_set",
                        actor=f"agent:{agent.id}",
                        kind=kind,
                        start=iso(tijdvak.start),
                        capacity=capacity,
                    )
                return {
                    "kind": kind,
                    "start": iso(tijdvak.start),
                    "end": iso(tijdvak.end),
                    "capacity": capacity,
                    "booked": booked,
                    "remaining": max(0, capacity - booked),
                }
            except IntegrityError:
                if attempt == _RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    # ---- scheduled jobs -----------------------------------------------------------------

    async def tijdvak_notices(self) -> list[Outgoing]:
        """At the start of each tijdvak, tell the advisors on duty how many callbacks it has.
        Once per tijdvak, whichever process runs it (the notice row is the claim)."""
        now = self.clock.now()
        emits: list[Outgoing] = []
        for kind in sorted(self.config.capacity):
            for tv in self.schedule.tijdvakken(kind, self.schedule.local_day(now), 1):
                if not tv.start <= now < tv.end:
                    continue
                told = select(notices.c.kind).where(notices.c.kind == kind, notices.c.start == tv.start)
                if await self._any(told):  # told already (the usual case): no write lock
                    continue
                try:
                    async with self.db.write() as conn:
                        await conn.execute(insert(notices).values(kind=kind, start=tv.start, at=now))
                        count = await conn.scalar(
                            select(func.count()).where(
                                callbacks.c.kind == kind,
                                callbacks.c.slot_start == tv.start,
                                callbacks.c.status.in_(OPEN),
                            )
                        )
                except IntegrityError:
                    continue  # told already
                if not count:
                    continue  # nothing to call in it: no notice to read
                view = {"kind": kind, "start": iso(tv.start), "end": iso(tv.end), "callbacks": int(count or 0)}
                emits.append(out.TijdvakStarted.model_validate(view).to(ToCrisisAudience("everyone")))
        return emits

    async def _any(self, query: Select[Any]) -> bool:
        """Whether `query` finds a row, read without taking the write lock."""
        async with self.db.read() as conn:
            return (await conn.execute(query.limit(1))).first() is not None

    async def flag_overdue(self) -> list[Outgoing]:
        """Callbacks still open when their tijdvak ended: flagged once, to the supervisors."""
        now = self.clock.now()
        due = (callbacks.c.status.in_(OPEN), callbacks.c.slot_end <= now, callbacks.c.overdue_at.is_(None))
        # Looked at first without SQLite's write lock: nearly every run finds nothing, and the
        # message writer must not wait for a write that changes nothing (issue 19).
        if not await self._any(select(callbacks.c.id).where(*due)):
            return []
        async with self.db.write() as conn:
            rows = (
                await conn.execute(
                    update(callbacks)
                    .where(*due)
                    .values(overdue_at=now)
                    .returning(
                        callbacks.c.id,
                        callbacks.c.kind,
                        callbacks.c.slot_start,
                        callbacks.c.slot_end,
                        callbacks.c.status,
                        callbacks.c.claimed_by,
                    )
                )
            ).all()
            for r in rows:
                await record_audit(conn, at=now, action="callback_overdue", actor="system", callback_id=r.id)
        return [
            out.CallbackOverdue.model_validate(
                {
                    "callback_id": r.id,
                    "kind": r.kind,
                    "slot": {"start": iso(r.slot_start), "end": iso(r.slot_end)},
                    "status": r.status,
                    "claimed_by": r.claimed_by,
                },  # fmt: skip
            ).to(ToAgentGroup("all"))
            for r in rows
        ]

    async def queue_reminders(self) -> int:
        """E-mail reminders of adviesgesprekken, the day before: claimed per request with one
        conditional UPDATE, so never sent twice."""
        now = self.clock.now()
        today = datetime.combine(self.schedule.local_day(now), time(0), self.tz)
        tomorrow = self.schedule.local_day(now) + timedelta(days=1)
        from_ = datetime.combine(tomorrow, time(0), self.tz)
        to = datetime.combine(tomorrow + timedelta(days=1), time(0), self.tz)
        queued = 0
        due = (
            requests.c.kind == "adviesgesprek",
            requests.c.status == "open",
            requests.c.email.is_not(None),
            requests.c.reminder_sent_at.is_(None),
            # Booked today for tomorrow: the confirmation has just said it all.
            requests.c.created_at < today,
            requests.c.slot_start >= from_,
            requests.c.slot_start < to,
        )
        if not await self._any(select(requests.c.id).where(*due)):  # no write lock for nothing
            return 0
        async with self.db.write() as conn:
            rows = (
                await conn.execute(
                    update(requests)
                    .where(*due)
                    .values(reminder_sent_at=now)
                    .returning(
                        requests.c.id,
                        requests.c.email,
                        requests.c.name,
                        requests.c.slot_start,
                        requests.c.slot_end,
                        requests.c.kind,
                    )
                )
            ).all()
            for r in rows:
                message = mail.compose("reminder", name=r.name, start=r.slot_start, end=r.slot_end, manage_url=None)
                await conn.execute(
                    insert(outbox).values(
                        id=str(uuid.uuid4()), purpose="reminder", to_address=r.email, subject=message.subject,
                        body=message.body, ics=None, created_at=now, next_try_at=now, tries=0,
                    )
                )  # fmt: skip
                queued += 1
        return queued


async def _open_callback(
    conn: AsyncConnection,
    kind: str,
    slot_start: datetime,
    slot_end: datetime,
    phone: str,
    phone_hash: str,
    caller_type: str,
    voicemail_ok: bool,
    now: datetime,
) -> str:
    """A new open, unclaimed callback card for a number; answers its id."""
    callback_id = str(uuid.uuid4())
    await conn.execute(
        insert(callbacks).values(
            id=callback_id,
            kind=kind,
            slot_start=slot_start,
            slot_end=slot_end,
            phone=phone,
            phone_hash=phone_hash,
            caller_type=caller_type,
            voicemail_ok=voicemail_ok,
            status="open",
            attempts=0,
            created_at=now,
        )
    )
    return callback_id
