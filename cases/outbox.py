"""The transactional outbox: a closed chat or callback with outcome `melding` or `advies`
becomes a handoff in the same transaction as its close, so nothing is lost between the two.
Repeat reports (hermelding) are linked here through keyed hashes of phone numbers and e-mail
addresses."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from cases.deadlines import safety_assessment_deadline
from cases.store import handoff_contacts, handoffs
from contact.clock import iso
from contact.keys import Keys
from contact.phone import normalise_email
from contact.store import record_audit

HANDED_OFF = ("melding", "advies")


@dataclass
class HandoffSettings:
    """How handoffs are made here: webhook or built-in register, the local time zone for
    deadlines, and the key of the contact hashes (filled in at start-up)."""

    webhook: bool = False
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/Amsterdam"))
    keys: Keys = field(default_factory=Keys)

    def hashes(self, outcome: dict[str, Any]) -> list[str]:
        """Keyed hashes of the reporter's phone number and e-mail address in an outcome, to store."""
        return [self.keys.hash(value) for value in self._contacts(outcome)]

    def matches(self, outcome: dict[str, Any]) -> list[str]:
        """Every stored form of those hashes (older keys too), to find earlier reports by."""
        return [found for value in self._contacts(outcome) for found in self.keys.matches(value)]

    @staticmethod
    def _contacts(outcome: dict[str, Any]) -> list[str]:
        found = []
        if outcome.get("phone"):
            found.append(outcome["phone"])
        if outcome.get("email") and (email := normalise_email(outcome["email"])):
            found.append(email)
        return found


@dataclass(frozen=True)
class Contact:
    """What the case system needs to know of a closed contact."""

    source: str  # chat | callback
    source_id: str
    caller_type: str
    received_at: datetime
    outcome: dict[str, Any]
    advisor: dict[str, Any]
    transcript: Sequence[dict[str, Any]] = ()
    notes: Sequence[dict[str, Any]] = ()
    crisis: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    contact_hashes: Iterable[str] = ()
    # Every form those hashes may be stored in (made with an older key): to find earlier reports.
    match_hashes: Iterable[str] = ()


async def create_handoff(
    conn: AsyncConnection, contact: Contact, now: datetime, *, webhook: bool, tz: ZoneInfo
) -> str | None:
    """Write the handoff of `contact` inside the caller's transaction; None for outcome `geen`.
    With a webhook it waits in the outbox for the delivery worker; without one it is
    registered in the built-in case register at once."""
    kind = contact.outcome["kind"]
    if kind not in HANDED_OFF:
        return None
    handoff_id = str(uuid.uuid4())
    hashes = sorted(set(contact.contact_hashes))
    earlier = None
    if hashes:
        earlier = (
            await conn.execute(
                select(handoffs.c.id, handoffs.c.received_at)
                .select_from(handoffs.join(handoff_contacts, handoff_contacts.c.handoff_id == handoffs.c.id))
                .where(handoff_contacts.c.contact_hash.in_(sorted(set(hashes) | set(contact.match_hashes))))
                .order_by(handoffs.c.received_at.desc(), handoffs.c.created_at.desc())
                .limit(1)
            )
        ).first()
    urgency = contact.outcome.get("urgency")
    deadline = safety_assessment_deadline(contact.received_at, urgency, tz) if kind == "melding" else None
    payload = {
        "id": handoff_id,
        "source": contact.source,
        "source_id": contact.source_id,
        "received_at": iso(contact.received_at),
        "caller_type": contact.caller_type,
        "kind": kind,
        "outcome": contact.outcome,
        "urgency": urgency,
        "gemeente": contact.outcome.get("gemeente"),
        "expertise": contact.outcome.get("expertise") or [],
        "deadline": deadline.isoformat() if deadline else None,
        "advisor": contact.advisor,
        "hermelding": earlier is not None,
        "repeat_of": earlier.id if earlier is not None else None,
        "transcript": list(contact.transcript),
        "notes": list(contact.notes),
        "crisis": contact.crisis,
        **contact.extra,
    }
    await conn.execute(
        insert(handoffs).values(
            id=handoff_id,
            source=contact.source,
            source_id=contact.source_id,
            kind=kind,
            urgency=urgency,
            gemeente=contact.outcome.get("gemeente"),
            caller_type=contact.caller_type,
            received_at=contact.received_at,
            deadline=deadline,
            agent_id=contact.advisor.get("id"),
            hermelding=earlier is not None,
            repeat_of=earlier.id if earlier is not None else None,
            payload=payload,
            status="pending" if webhook else "registered",
            tries=0,
            next_try_at=now,
            created_at=now,
            delivered_at=None if webhook else now,
        )
    )
    for h in hashes:
        await conn.execute(insert(handoff_contacts).values(handoff_id=handoff_id, contact_hash=h, at=now))
    await record_audit(
        conn,
        at=now,
        action="handoff_created",
        actor="system",
        handoff_id=handoff_id,
        source=contact.source,
        kind=kind,
        hermelding=earlier is not None,
    )
    return handoff_id
