"""The access log (NEN 7513): who saw which contact's content, and every login, logout, failed
login and account change. Append-only; each entry is chained to the one before by SHA-256 over
a canonical serialisation of the entry and the previous hash, so a changed, deleted or
reordered entry breaks the chain (`vt-contact audit verify`). Appends are serialised on one
chain-head row (a row lock on PostgreSQL, the write lock on SQLite), so concurrent writers
never fork the chain.

Writing the entry is part of the read: a service records it in the transaction that reads, or
before it reads; if the entry cannot be written the read fails too.

Old entries are purged after `VT_ACCESS_LOG_RETENTION_DAYS`; the last purged entry's hash is
kept in a checkpoint signed with the log's key, so the rest stays verifiable."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Column, Table, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import Field, SQLModel

from contact.clock import Clock, iso
from contact.db import Database, UTCDateTime
from contact.permissions import allowed

GENESIS = "0" * 64
# The actions an entry may name. Reads of a contact's content, then accounts, then the log itself.
ACTIONS = frozenset(
    {
        "conversation_history",  # an agent reads a conversation's messages (history)
        "conversation_accept",  # the snapshot an agent gets when taking a conversation
        "read_along",  # a supervisor or crisis worker reads along (reason)
        "take_over",  # a conversation taken over (reason)
        "case_view",  # a handoff (dossier) read whole
        "case_list",  # the register's list
        "callback_list",  # the callback work list of one day (one entry per card shown)
        "export",  # anything taken out (CSV of the access log, a case)
        "login",
        "login_failed",
        "logout",
        "account_change",
        "access_log_search",
        "access_log_export",
        "visitor_block",  # a supervisor blocks a conversation's visitor (reason)
        "visitor_unblock",  # a block lifted
        "visitor_block_list",  # the list of active blocks (with their reasons)
    }
)


def may_read_access_log(role: str) -> bool:
    return allowed(role, "access_log")


class AccessLogEntry(SQLModel, table=True):
    """One access: who (agent and role), what (action, contact), when, from where (keyed hash of
    the address), why (reason), chained to the entry before."""

    __tablename__ = "access_log"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    agent_id: str | None = Field(default=None, index=True, max_length=36)
    role: str | None = Field(default=None, max_length=20)
    action: str = Field(max_length=40)
    contact_type: str | None = Field(default=None, max_length=20)
    contact_id: str | None = Field(default=None, index=True, max_length=64)
    address_hash: str | None = Field(default=None, max_length=64)
    reason: str | None = Field(default=None, max_length=500)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AccessLogHead(SQLModel, table=True):
    """The chain's head (one row, id 1): the last sequence number and hash. Every append locks
    it; after a purge `checkpoint_*` is the last purged entry, signed."""

    __tablename__ = "access_log_head"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    seq: int = Field(default=0)
    hash: str = Field(default=GENESIS, max_length=64)
    checkpoint_seq: int = Field(default=0)
    checkpoint_hash: str = Field(default=GENESIS, max_length=64)
    checkpoint_signature: str | None = Field(default=None, max_length=64)


access_log: Table = AccessLogEntry.__table__  # type: ignore[attr-defined]
access_log_head: Table = AccessLogHead.__table__  # type: ignore[attr-defined]

_FIELDS = ("seq", "at", "agent_id", "role", "action", "contact_type", "contact_id", "address_hash", "reason", "detail")


def _utc(moment: datetime) -> datetime:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def canonical(entry: dict[str, Any]) -> bytes:
    """The bytes an entry's hash covers: its fields as sorted, compact JSON (times in UTC with
    microseconds), so the same entry always serialises the same on every database."""
    values = {name: entry.get(name) for name in _FIELDS}
    values["at"] = _utc(entry["at"]).isoformat(timespec="microseconds")
    values["detail"] = values["detail"] or {}
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(prev_hash: str, entry: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical(entry)).hexdigest()


def address_hash(key: bytes, address: str | None) -> str | None:
    """A keyed hash of a client address: the same address is recognised again, never readable."""
    if not address:
        return None
    if not key:
        raise RuntimeError("the hash key was not loaded")
    return hmac.new(key, b"vt-contact access-log address\0" + address.encode(), hashlib.sha256).hexdigest()


def _sign(key: bytes, seq: int, hash_: str) -> str:
    return hmac.new(key, f"vt-contact access-log checkpoint\0{seq}\0{hash_}".encode(), hashlib.sha256).hexdigest()


async def record(
    conn: AsyncConnection,
    *,
    at: datetime,
    action: str,
    agent_id: str | None,
    role: str | None,
    contact_type: str | None = None,
    contact_id: str | None = None,
    address_hash: str | None = None,
    reason: str | None = None,
    **detail: Any,
) -> int:
    """Append one entry in the caller's transaction (it commits or rolls back with the caller's
    change) and return its sequence number. For logins, logouts, failed logins and account
    changes too: `action` one of "login", "login_failed", "logout", "account_change", with the
    address hashed by `address_hash(keys.contact_hash, ip)`. Never message text or contact
    details in `detail`."""
    if action not in ACTIONS:
        raise ValueError(f"unknown access-log action {action!r}")
    # The row lock on the head serialises appends on PostgreSQL (SQLite holds its write lock).
    head = (
        await conn.execute(
            select(access_log_head.c.seq, access_log_head.c.hash).where(access_log_head.c.id == 1).with_for_update()
        )
    ).first()
    if head is None:
        raise RuntimeError("the access log has no head row: run `vt-contact db upgrade`")
    entry: dict[str, Any] = {
        "seq": head.seq + 1,
        "at": _utc(at),
        "agent_id": agent_id,
        "role": role,
        "action": action,
        "contact_type": contact_type,
        "contact_id": contact_id,
        "address_hash": address_hash,
        "reason": reason,
        "detail": detail,
    }
    digest = chain_hash(head.hash, entry)
    await conn.execute(insert(access_log).values(**entry, prev_hash=head.hash, hash=digest))
    await conn.execute(update(access_log_head).where(access_log_head.c.id == 1).values(seq=entry["seq"], hash=digest))
    return int(entry["seq"])


@dataclass(frozen=True)
class Reader:
    """Who reads, and from where: the agent, their role and the keyed hash of their address."""

    agent_id: str | None
    role: str | None
    address_hash: str | None = None


@dataclass(frozen=True)
class Verdict:
    ok: bool
    entries: int
    first_broken: int | None = None
    problem: str | None = None


class AccessLog:
    """The access log of one process: recording reads and searching the log."""

    def __init__(self, db: Database, clock: Clock, key: Any) -> None:
        self.db = db
        self.clock = clock
        # `key` is the kernel's Keys (filled in at start-up): its contact-hash key hashes addresses.
        self._keys = key

    @property
    def key(self) -> bytes:
        return bytes(self._keys.contact_hash)

    def reader(self, agent_id: str | None, role: str | None, address: str | None) -> Reader:
        return Reader(agent_id, role, address_hash(self.key, address) if address else None)

    async def record(
        self,
        conn: AsyncConnection,
        reader: Reader,
        action: str,
        *,
        contact_type: str | None = None,
        contact_id: str | None = None,
        reason: str | None = None,
        **detail: Any,
    ) -> int:
        """One entry for `reader` in the caller's transaction."""
        return await record(
            conn,
            at=self.clock.now(),
            action=action,
            agent_id=reader.agent_id,
            role=reader.role,
            contact_type=contact_type,
            contact_id=contact_id,
            address_hash=reader.address_hash,
            reason=reason,
            **detail,
        )

    async def write(self, reader: Reader, action: str, **fields: Any) -> int:
        """One entry in its own transaction, before the read it records (log first)."""
        async with self.db.write() as conn:
            return await self.record(conn, reader, action, **fields)

    async def search(
        self,
        *,
        contact_id: str | None = None,
        agent_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after_seq: int = 0,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        query = select(access_log).where(access_log.c.seq > after_seq)
        if contact_id is not None:
            query = query.where(access_log.c.contact_id == contact_id)
        if agent_id is not None:
            query = query.where(access_log.c.agent_id == agent_id)
        if since is not None:
            query = query.where(access_log.c.at >= since)
        if until is not None:
            query = query.where(access_log.c.at < until)
        async with self.db.read() as conn:
            rows = (await conn.execute(query.order_by(access_log.c.seq).limit(limit))).all()
        return [entry_view(r) for r in rows]

    async def purge(self, retention_days: float) -> int:
        """Delete entries older than the retention; the last one deleted becomes the signed
        checkpoint the chain now starts from. Returns how many were deleted."""
        cutoff = self.clock.now() - timedelta(days=retention_days)
        async with self.db.write() as conn:
            head = (
                await conn.execute(select(access_log_head).where(access_log_head.c.id == 1).with_for_update())
            ).first()
            last = (
                await conn.execute(
                    select(access_log.c.seq, access_log.c.hash)
                    .where(access_log.c.at < cutoff)
                    .order_by(access_log.c.seq.desc())
                    .limit(1)
                )
            ).first()
            if head is None or last is None:
                return 0
            # Never the newest entry: the head must stay reachable from a row.
            if last.seq >= head.seq:
                last = (
                    await conn.execute(
                        select(access_log.c.seq, access_log.c.hash).where(access_log.c.seq == head.seq - 1)
                    )
                ).first()
                if last is None:
                    return 0
            gone = await conn.execute(delete(access_log).where(access_log.c.seq <= last.seq))
            await conn.execute(
                update(access_log_head)
                .where(access_log_head.c.id == 1)
                .values(
                    checkpoint_seq=last.seq,
                    checkpoint_hash=last.hash,
                    checkpoint_signature=_sign(self.key, last.seq, last.hash),
                )
            )
            return int(gone.rowcount or 0)


def entry_view(r: Any) -> dict[str, Any]:
    return {
        "seq": r.seq,
        "at": iso(r.at),
        "agent_id": r.agent_id,
        "role": r.role,
        "action": r.action,
        "contact_type": r.contact_type,
        "contact_id": r.contact_id,
        "address_hash": r.address_hash,
        "reason": r.reason,
        "detail": r.detail or {},
        "hash": r.hash,
    }


async def _rows(conn: AsyncConnection, through: int, batch: int = 1000) -> AsyncIterator[Any]:
    after: int | None = None
    while True:
        query = select(access_log).where(access_log.c.seq <= through).order_by(access_log.c.seq).limit(batch)
        if after is not None:
            query = query.where(access_log.c.seq > after)
        rows = (await conn.execute(query)).all()
        if not rows:
            return
        for r in rows:
            yield r
        after = rows[-1].seq


async def verify(db: Database, key: bytes) -> Verdict:
    """Walk the chain from the checkpoint (or the start) to the head: every entry's hash must be
    that of its fields and the hash before it, the sequence numbers without gaps, the head the
    last entry, and a checkpoint signed with `key`."""
    async with db.read() as conn:
        head = (await conn.execute(select(access_log_head).where(access_log_head.c.id == 1))).first()
        if head is None:
            return Verdict(False, 0, None, "no chain head")
        expected_seq, prev = head.checkpoint_seq + 1, head.checkpoint_hash
        if head.checkpoint_seq:
            signature = head.checkpoint_signature or ""
            if not hmac.compare_digest(signature, _sign(key, head.checkpoint_seq, head.checkpoint_hash)):
                return Verdict(False, 0, head.checkpoint_seq, "checkpoint signature does not match")
        count = 0
        # Only up to the head read above: entries appended while we walk are checked next time.
        async for r in _rows(conn, head.seq):
            if r.seq != expected_seq:
                what = "missing entry" if r.seq > expected_seq else "entry out of order"
                return Verdict(False, count, expected_seq, what)
            if r.prev_hash != prev:
                return Verdict(False, count, r.seq, "previous hash does not match")
            entry = {name: getattr(r, name) for name in _FIELDS}
            if chain_hash(prev, entry) != r.hash:
                return Verdict(False, count, r.seq, "entry was changed")
            prev, expected_seq, count = r.hash, expected_seq + 1, count + 1
        if head.seq != expected_seq - 1 or head.hash != prev:
            return Verdict(False, count, expected_seq, "entries after this one are missing")
        # A row beyond the head was not appended through it. The last row is read before the
        # head: an append commits its row and the head together, so a real one is never beyond.
        last_row = await conn.scalar(select(func.max(access_log.c.seq)))
        now_head = await conn.scalar(select(access_log_head.c.seq).where(access_log_head.c.id == 1))
        if last_row is not None and last_row > (now_head or 0):
            return Verdict(False, count, int((now_head or 0) + 1), "entry beyond the chain head")
    return Verdict(True, count)
