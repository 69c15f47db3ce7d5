"""Tables of the shared kernel: agents, their login sessions and the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Table, insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import Field, SQLModel

from contact.db import HAPPENED_KEY, UTCDateTime
from contact.logs import happened

ROLES = ("advisor", "crisis", "supervisor", "admin", "privacy_officer")
TEAMS = ("jeugd", "volwassenen", "professionals", "crisis")


class Agent(SQLModel, table=True):
    __tablename__ = "agent"

    id: str = Field(primary_key=True, max_length=36)
    username: str = Field(unique=True, index=True, max_length=64)
    name: str = Field(max_length=120)
    role: str = Field(max_length=20)
    teams: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    expertise: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    password_hash: str = Field(max_length=255)
    max_concurrent: int | None = Field(default=None)
    active: bool = Field(default=True)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # The second factor: the TOTP secret once confirmed, the one being enrolled, the last
    # time step used (a code is accepted once), and the argon2 hashes of unused recovery codes.
    # Both secrets are sealed with AES-GCM (contact/secretbox.py), hence the length.
    totp_secret: str | None = Field(default=None, max_length=255)
    totp_pending: str | None = Field(default=None, max_length=255)
    totp_last_step: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    recovery_hashes: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class AgentSession(SQLModel, table=True):
    """One login: its token refers to this row, so logging out or disabling the agent ends it
    at once. `factor` is how it was made (password, totp, recovery)."""

    __tablename__ = "agent_session"

    id: str = Field(primary_key=True, max_length=36)
    agent_id: str = Field(index=True, max_length=36)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_seen_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    factor: str = Field(max_length=20)
    ended_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    end_reason: str | None = Field(default=None, max_length=30)


class AuditEvent(SQLModel, table=True):
    """Who did what to which conversation, when. Never message text or contact details."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    action: str = Field(max_length=40)
    actor: str = Field(max_length=80)
    conversation_id: str | None = Field(default=None, index=True, max_length=36)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class ServerSecret(SQLModel, table=True):
    """Random keys the server made for itself when none was configured (e.g. the hash key)."""

    __tablename__ = "server_secret"

    name: str = Field(primary_key=True, max_length=40)
    value: str = Field(max_length=128)


audit_events: Table = AuditEvent.__table__  # type: ignore[attr-defined]
server_secrets: Table = ServerSecret.__table__  # type: ignore[attr-defined]
agent_sessions: Table = AgentSession.__table__  # type: ignore[attr-defined]


# Actions kept out of the log of what happened: that a visitor was blocked stays between the
# supervisors, the audit trail and the access log (docs/privacy.md: nothing in a log says "blocked").
UNLOGGED_ACTIONS = frozenset({"visitor_blocked", "visitor_unblocked"})


async def record_audit(
    conn: AsyncConnection,
    *,
    at: datetime,
    action: str,
    actor: str,
    conversation_id: str | None = None,
    **detail: Any,
) -> None:
    """Write one audit entry in the caller's transaction, so it commits or rolls back with the change.
    Its action, ids and codes are logged (`vt.happened`) once the transaction committed."""
    await conn.execute(
        insert(audit_events).values(at=at, action=action, actor=actor, conversation_id=conversation_id, detail=detail)
    )
    if action in UNLOGGED_ACTIONS:
        return
    pending = conn.info.get(HAPPENED_KEY)
    fields = {**detail, "actor": actor, "conversation_id": conversation_id}
    if actor.startswith("agent:") and "agent_id" not in detail:
        fields["agent_id"] = actor.removeprefix("agent:")
    if pending is not None:
        pending.append((action, fields))
    else:  # a transaction not from Database.write: it is the caller's to commit
        happened(action, **fields)
