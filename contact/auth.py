"""Agents and their login: argon2 password hashes and signed, expiring bearer tokens."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import URLSafeSerializer
from sqlalchemy import Table, insert, select, update
from sqlalchemy.exc import IntegrityError

from contact.clock import Clock, SystemClock
from contact.db import Database
from contact.errors import DomainError
from contact.store import ROLES, Agent, record_audit
from contact.validation import id_ok, text_ok

_hasher = PasswordHasher()
# Verified when the username is unknown, so that a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-password-of-anyone")
agents: Table = Agent.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class AgentIdentity:
    id: str
    username: str
    name: str
    role: str
    teams: tuple[str, ...]
    max_concurrent: int | None

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.strip() else ""

    @property
    def is_supervisor(self) -> bool:
        return self.role in ("supervisor", "admin")

    def public(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "role": self.role, "teams": list(self.teams)}


def _identity(row: Any) -> AgentIdentity:
    return AgentIdentity(row.id, row.username, row.name, row.role, tuple(row.teams or ()), row.max_concurrent)


class TokenSigner:
    """Bearer tokens: the agent id and an expiry, signed with the secret key (HMAC). The
    expiry is read on the injected clock, like every other time in vt-contact."""

    def __init__(self, secret: str, ttl_s: int, clock: Clock | None = None) -> None:
        self._serializer = URLSafeSerializer(secret, salt="vt-contact.agent-token")
        self.ttl_s = ttl_s
        self.clock = clock or SystemClock()

    def issue(self, agent_id: str) -> str:
        expires = int(self.clock.now().timestamp()) + self.ttl_s
        return self._serializer.dumps({"sub": agent_id, "exp": expires})

    def verify(self, token: object) -> str:
        """The agent id of a valid token; for anything else `unauthorized`, never another error
        (lone surrogates, non-ASCII, huge, wrong base64 or JSON inside)."""
        if not isinstance(token, str) or not token or len(token) > 512 or not token.isascii():
            raise DomainError("unauthorized")
        if not token.isprintable():
            raise DomainError("unauthorized")
        try:
            data = self._serializer.loads(token)
        except Exception:  # BadSignature, and whatever a signed but odd payload could raise
            raise DomainError("unauthorized") from None
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("sub"), str)
            or not isinstance(data.get("exp"), int)
            or data["exp"] <= self.clock.now().timestamp()
        ):
            raise DomainError("unauthorized")
        return data["sub"]


class AgentService:
    """Creating agents, logging them in, and finding who a token belongs to."""

    def __init__(self, db: Database, signer: TokenSigner) -> None:
        self.db = db
        self.signer = signer

    async def add(
        self,
        *,
        username: str,
        name: str,
        role: str,
        teams: list[str],
        password: str,
        now: datetime,
        expertise: list[str] | None = None,
    ) -> AgentIdentity:
        if role not in ROLES:
            raise DomainError("invalid_input", field="role")
        if not username or len(username) > 64 or not name or len(password) < 10:
            raise DomainError("invalid_input", field="username/name/password")
        if not id_ok(username) or not text_ok(name) or not text_ok(password) or not all(map(id_ok, teams)):
            raise DomainError("invalid_input", field="username/name/password/teams")
        password_hash = await asyncio.to_thread(_hasher.hash, password)
        agent_id = str(uuid.uuid4())
        try:
            async with self.db.write() as conn:
                await conn.execute(
                    insert(agents).values(
                        id=agent_id,
                        username=username,
                        name=name,
                        role=role,
                        teams=list(teams),
                        expertise=list(expertise) if expertise else None,
                        password_hash=password_hash,
                        active=True,
                        created_at=now,
                    )
                )
                await record_audit(conn, at=now, action="agent_added", actor="cli", agent_id=agent_id, role=role)
        except IntegrityError:
            raise DomainError("conflict") from None
        return AgentIdentity(agent_id, username, name, role, tuple(teams), None)

    async def upsert(
        self, *, username: str, name: str, role: str, teams: list[str], password: str, now: datetime
    ) -> None:
        """Create the agent, or give an existing one these details and a new password (demo set-up)."""
        async with self.db.read() as conn:
            existing = await conn.scalar(select(agents.c.id).where(agents.c.username == username))
        if existing is None:
            await self.add(username=username, name=name, role=role, teams=teams, password=password, now=now)
            return
        password_hash = await asyncio.to_thread(_hasher.hash, password)
        async with self.db.write() as conn:
            await conn.execute(
                update(agents)
                .where(agents.c.id == existing)
                .values(name=name, role=role, teams=list(teams), password_hash=password_hash, active=True)
            )
            await record_audit(conn, at=now, action="agent_reset", actor="cli", agent_id=existing, role=role)

    async def login(self, username: str, password: str) -> tuple[str, AgentIdentity]:
        async with self.db.read() as conn:
            row = (await conn.execute(select(agents).where(agents.c.username == username))).first()
        stored = row.password_hash if row is not None and row.active else _DUMMY_HASH
        try:
            await asyncio.to_thread(_hasher.verify, stored, password)
        except (VerificationError, InvalidHashError):
            raise DomainError("invalid_credentials") from None
        if row is None or not row.active:
            raise DomainError("invalid_credentials")
        return self.signer.issue(row.id), _identity(row)

    async def from_token(self, token: object) -> AgentIdentity:
        agent_id = self.signer.verify(token)
        identity = await self.get(agent_id)
        if identity is None:
            raise DomainError("unauthorized")
        return identity

    async def get(self, agent_id: str) -> AgentIdentity | None:
        async with self.db.read() as conn:
            row = (await conn.execute(select(agents).where(agents.c.id == agent_id, agents.c.active.is_(True)))).first()
        return _identity(row) if row is not None else None
