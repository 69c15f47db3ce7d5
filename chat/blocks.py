"""Blocking abusive visitors without ever showing (or storing) their address.

When a conversation starts, keyed hashes of the visitor's address and of the widget's
per-browser value (a random value kept only in the tab's sessionStorage) are remembered beside
it (`visitor_mark`). A supervisor may block "the visitor of this conversation" for a number of
hours: the block copies those hashes. A new `start` that matches an active block gets the
ordinary `closed` answer, the same as outside opening hours: nothing tells the visitor, or
whoever reads the logs, that it was a block.

Which start a block stops (`stops_start`) is chosen so that a shared address (a school, a
shelter, a family) does not lock everyone out: see docs/privacy.md, "Blocking a visitor"."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chat.desk_store import visitor_blocks, visitor_marks
from chat.store import conversations
from contact.access_log import AccessLog, Reader
from contact.auth import AgentIdentity, agents
from contact.clock import Clock, iso
from contact.db import Database
from contact.errors import CONVERSATION_ENDED, DomainError
from contact.keys import Keys
from contact.store import record_audit

MIN_HOURS, MAX_HOURS = 1, 720
# Blocking a whole address stops everyone behind it (a school, a shelter): never for long.
MAX_WHOLE_ADDRESS_HOURS = 24


@dataclass(frozen=True)
class VisitorHashes:
    """How a visitor is recognised: keyed hashes, never the values themselves."""

    address: str | None
    browser: str | None


def visitor_hashes(key: bytes, address: str | None, browser: str | None) -> VisitorHashes:
    """Keyed hashes (HMAC-SHA256 with the hash key, one domain each) of the address the server
    saw and of the per-browser value, if the client sent one."""

    def keyed(domain: bytes, value: str | None) -> str | None:
        if not value or value == "unknown":
            return None
        if not key:
            raise RuntimeError("the hash key was not loaded")
        return hmac.new(key, domain + b"\0" + value.encode(), hashlib.sha256).hexdigest()

    return VisitorHashes(keyed(b"vt-contact visitor address", address), keyed(b"vt-contact visitor browser", browser))


def stops_start(
    *,
    block_address: str | None,
    block_browser: str | None,
    whole_address: bool,
    start: VisitorHashes,
) -> bool:
    """Whether a block stops this start. The same browser value: always. The same address:
    only when the start sent no browser value (a client without one; the widget always sends
    one), or when the supervisor chose to block the whole address. So another browser behind
    a shared address may still start a chat."""
    if block_browser is not None and start.browser == block_browser:
        return True
    if block_address is not None and start.address == block_address:
        return whole_address or start.browser is None
    return False


async def is_blocked(conn: AsyncConnection, now: datetime, start: VisitorHashes) -> bool:
    """An active block (not lifted, not run out) stops this start."""
    matches = []
    if start.address is not None:
        matches.append(visitor_blocks.c.address_hash == start.address)
    if start.browser is not None:
        matches.append(visitor_blocks.c.browser_hash == start.browser)
    if not matches:
        return False
    b = visitor_blocks.c
    rows = await conn.execute(
        select(b.address_hash, b.browser_hash, b.whole_address).where(
            b.lifted_at.is_(None), b.until > now, or_(*matches)
        )
    )
    return any(
        stops_start(
            block_address=r.address_hash, block_browser=r.browser_hash, whole_address=r.whole_address, start=start
        )
        for r in rows
    )


async def remember_visitor(conn: AsyncConnection, conversation_id: str, hashes: VisitorHashes) -> None:
    """Keep the visitor's hashes with a new conversation, in its transaction."""
    await conn.execute(
        visitor_marks.insert().values(
            conversation_id=conversation_id, address_hash=hashes.address, browser_hash=hashes.browser
        )
    )


async def forget_ended_blocks(conn: AsyncConnection, now: datetime) -> int:
    """Empty the hashes and reason of blocks that ran out (lifting empties them at once)."""
    b = visitor_blocks.c
    result = await conn.execute(
        update(visitor_blocks)
        .where(b.until <= now, or_(b.address_hash.is_not(None), b.browser_hash.is_not(None), b.reason.is_not(None)))
        .values(address_hash=None, browser_hash=None, reason=None)
    )
    return int(result.rowcount or 0)


class VisitorBlocks:
    """Block, list and lift; each block and lift is in the audit trail and the access log."""

    def __init__(self, db: Database, clock: Clock, keys: Keys, access_log: AccessLog, outcome_grace_s: float) -> None:
        """`outcome_grace_s`: how long after it closed a conversation's visitor may still be
        blocked (as long as its holder may record the outcome)."""
        self.db = db
        self.clock = clock
        self.keys = keys
        self.access_log = access_log
        self.outcome_grace_s = outcome_grace_s

    def hashes(self, address: str | None, browser: str | None) -> VisitorHashes:
        return visitor_hashes(self.keys.contact_hash, address, browser)

    async def block(
        self,
        agent: AgentIdentity,
        reader: Reader,
        conversation_id: str,
        hours: int,
        reason: str,
        whole_address: bool = False,
    ) -> dict[str, Any]:
        """Block the visitor of a conversation that is open, or closed within the outcome grace.
        `not_found` for an unknown conversation, `closed` for one past its grace."""
        if not agent.is_supervisor:
            raise DomainError("forbidden")
        if not MIN_HOURS <= hours <= MAX_HOURS or (whole_address and hours > MAX_WHOLE_ADDRESS_HOURS):
            raise DomainError("invalid_input", field="hours")
        now = self.clock.now()
        block_id = str(uuid.uuid4())
        until = now + timedelta(hours=hours)
        async with self.db.write() as conn:
            conv = (
                await conn.execute(
                    select(conversations.c.status, conversations.c.closed_at).where(
                        conversations.c.id == conversation_id
                    )
                )
            ).first()
            if conv is None:
                raise DomainError("not_found")
            if conv.status == "closed" and (
                conv.closed_at is None or conv.closed_at + timedelta(seconds=self.outcome_grace_s) < now
            ):
                raise DomainError("closed", CONVERSATION_ENDED)
            mark = (
                await conn.execute(select(visitor_marks).where(visitor_marks.c.conversation_id == conversation_id))
            ).first()
            if mark is None or (mark.address_hash is None and mark.browser_hash is None):
                # Started before visitors were remembered, or already purged: nobody to recognise.
                raise DomainError("closed", CONVERSATION_ENDED)
            await conn.execute(
                visitor_blocks.insert().values(
                    id=block_id,
                    conversation_id=conversation_id,
                    address_hash=mark.address_hash,
                    browser_hash=mark.browser_hash,
                    whole_address=whole_address,
                    reason=reason,
                    created_by=agent.id,
                    created_at=now,
                    until=until,
                )
            )
            detail = {"block_id": block_id, "hours": hours, "whole_address": whole_address}
            await record_audit(
                conn, at=now, action="visitor_blocked", actor=agent.id, conversation_id=conversation_id, **detail
            )
            await self.access_log.record(
                conn, reader, "visitor_block", contact_type="conversation", contact_id=conversation_id,
                reason=reason, **detail,
            )  # fmt: skip
        return {"block_id": block_id, "until": iso(until)}

    async def lift(self, agent: AgentIdentity, reader: Reader, block_id: str) -> dict[str, Any]:
        """Lift a block at once (its hashes are emptied). Lifting one that was already lifted
        or ran out changes nothing; `not_found` for an unknown id."""
        if not agent.is_supervisor:
            raise DomainError("forbidden")
        now = self.clock.now()
        b = visitor_blocks.c
        async with self.db.write() as conn:
            row = (await conn.execute(select(b.conversation_id).where(b.id == block_id))).first()
            if row is None:
                raise DomainError("not_found")
            result = await conn.execute(
                update(visitor_blocks)
                .where(b.id == block_id, b.lifted_at.is_(None), b.until > now)
                .values(lifted_at=now, lifted_by=agent.id, address_hash=None, browser_hash=None)
            )
            lifted = bool(result.rowcount)
            if lifted:
                await record_audit(
                    conn, at=now, action="visitor_unblocked", actor=agent.id, conversation_id=row.conversation_id,
                    block_id=block_id,
                )  # fmt: skip
                await self.access_log.record(
                    conn, reader, "visitor_unblock", contact_type="conversation", contact_id=row.conversation_id,
                    block_id=block_id,
                )  # fmt: skip
        return {"ok": True, "lifted": lifted}

    async def active(self, agent: AgentIdentity, reader: Reader) -> list[dict[str, Any]]:
        """The blocks in force now, soonest to end first: never a hash or an address."""
        if not agent.is_supervisor:
            raise DomainError("forbidden")
        now = self.clock.now()
        b = visitor_blocks.c
        query = (
            select(
                b.id, b.conversation_id, b.reason, b.created_by, b.created_at, b.until, b.whole_address,
                agents.c.name.label("by_name"),
            )
            .select_from(visitor_blocks.outerjoin(agents, agents.c.id == b.created_by))
            .where(and_(b.lifted_at.is_(None), b.until > now))
            .order_by(b.until, b.id)
        )  # fmt: skip
        async with self.db.write() as conn:
            rows = (await conn.execute(query)).all()
            # The reasons say something about visitors: reading them is an access.
            await self.access_log.record(conn, reader, "visitor_block_list", count=len(rows))
        return [
            {
                "id": r.id,
                "conversation_id": r.conversation_id,
                "reason": r.reason,
                "by": r.created_by,
                "by_name": r.by_name,
                "until": iso(r.until),
                "created_at": iso(r.created_at),
                "whole_address": r.whole_address,
            }
            for r in rows
        ]
