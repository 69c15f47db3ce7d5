"""Agents and their login: argon2 password hashes, a second factor (TOTP with single-use
codes, hashed recovery codes), and sessions on the server that a signed bearer token refers to
(logout, idle timeout, absolute limit, revocation when an account changes)."""

from __future__ import annotations

import asyncio
import hmac
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pyotp
import segno
import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import URLSafeSerializer
from sqlalchemy import Table, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from contact import access_log
from contact.access_log import Reader
from contact.clock import Clock, SystemClock, iso
from contact.db import Database
from contact.errors import DomainError
from contact.keys import keyed_hash
from contact.secretbox import SecretBox, SecretBoxError
from contact.store import ROLES, Agent, agent_sessions, record_audit
from contact.validation import id_ok, text_ok

log = structlog.get_logger(__name__)
_hasher = PasswordHasher()
# Recovery codes are 50 random bits: a lighter argon2 is plenty, and ten are hashed at once.
_code_hasher = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
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


# The access log names a change as the admin endpoint does (`/api/admin/agents/{username}/<name>`).
_CHANGE_NAMES = {
    "agent_disabled": "disable",
    "agent_enabled": "enable",
    "agent_password_reset": "reset-password",
    "agent_role_changed": "role",
    "agent_teams_changed": "teams",
    "agent_2fa_reset": "reset-2fa",
}


async def _log_change(
    conn: Any, reader: Reader, now: datetime, username: str, agent_id: str, change: str, detail: dict[str, Any]
) -> None:
    """The NEN 7513 entry of an account change, in the change's own transaction (`role` there is
    the actor's: the role given is `new_role`)."""
    detail = {("new_role" if key == "role" else key): value for key, value in detail.items()}
    await access_log.record(
        conn,
        at=now,
        action="account_change",
        agent_id=reader.agent_id,
        role=reader.role,
        address_hash=reader.address_hash,
        target=username,
        target_agent_id=agent_id,
        change=change,
        **detail,
    )


class TokenSigner:
    """Bearer tokens: a session id and an expiry, signed with the secret key (HMAC). Opaque to
    clients; the session row decides whether it still works. The expiry is read on the
    injected clock, like every other time in vt-contact."""

    def __init__(self, secret: str, ttl_s: int, clock: Clock | None = None) -> None:
        self._serializer = URLSafeSerializer(secret, salt="vt-contact.agent-token")
        self._enrolment = URLSafeSerializer(secret, salt="vt-contact.totp-enrolment")
        self.ttl_s = ttl_s
        self.clock = clock or SystemClock()

    def issue(self, session_id: str) -> str:
        expires = int(self.clock.now().timestamp()) + self.ttl_s
        return self._serializer.dumps({"sid": session_id, "exp": expires})

    def enrolment_token(self, agent_id: str, ttl_s: int = 600) -> str:
        expires = int(self.clock.now().timestamp()) + ttl_s
        return self._enrolment.dumps({"enr": agent_id, "exp": expires})

    def verify(self, token: object) -> str:
        """The session id of a valid token; for anything else `unauthorized`, never another error
        (lone surrogates, non-ASCII, huge, wrong base64 or JSON inside)."""
        return self._load(self._serializer, token, "sid")

    def verify_enrolment(self, token: object) -> str:
        return self._load(self._enrolment, token, "enr")

    def _load(self, serializer: URLSafeSerializer, token: object, key: str) -> str:
        if not isinstance(token, str) or not token or len(token) > 512 or not token.isascii():
            raise DomainError("unauthorized")
        if not token.isprintable():
            raise DomainError("unauthorized")
        try:
            data = serializer.loads(token)
        except Exception:  # BadSignature, and whatever a signed but odd payload could raise
            raise DomainError("unauthorized") from None
        if (
            not isinstance(data, dict)
            or not isinstance(data.get(key), str)
            or not isinstance(data.get("exp"), int)
            or data["exp"] <= self.clock.now().timestamp()
        ):
            raise DomainError("unauthorized")
        return str(data[key])


@dataclass(frozen=True)
class AuthPolicy:
    """How long sessions live and who needs a second factor (from the settings)."""

    idle_timeout_s: float = 1800
    totp_roles: frozenset[str] = frozenset({"supervisor", "admin"})
    # Last-seen is written at most this often per session (not on every event).
    touch_every_s: float = 60
    # How long this process trusts what it read of a session; a signal clears it sooner.
    cache_ttl_s: float = 5
    issuer: str = "Veilig Thuis"


@dataclass
class _Cached:
    identity: AgentIdentity
    created_at: datetime
    last_seen_at: datetime
    ended: bool
    read_at: float


@dataclass(frozen=True)
class Session:
    id: str
    agent: AgentIdentity


@dataclass(frozen=True)
class LoginResult:
    token: str
    agent: AgentIdentity
    session_id: str
    factor: str
    recovery_codes: list[str] = field(default_factory=list)


SECOND_FACTOR = (
    "Vul de code uit je authenticator-app in.",
    "Enter the code from your authenticator app.",
)
ENROL = (
    "Stel eerst een tweede stap in: scan de QR-code met je authenticator-app.",
    "Set up a second factor first: scan the QR code with your authenticator app.",
)

SELF_CHANGE = (
    "Je kunt je eigen account niet uitzetten en je eigen rol niet veranderen. Vraag een andere beheerder.",
    "You cannot disable your own account or change your own role. Ask another admin.",
)
LAST_ADMIN = (
    "Er moet minstens één actieve beheerder blijven. Maak eerst iemand anders beheerder.",
    "At least one active admin must remain. Make someone else admin first.",
)
FACTOR_KEY = (
    "Je tweede stap kan nu niet worden gecontroleerd. Neem contact op met de beheerder.",
    "Your second factor cannot be checked right now. Contact the administrator.",
)
USERNAME_TAKEN = ("Deze gebruikersnaam bestaat al. Kies een andere.", "This username is already taken.")

SessionsEnded = Callable[[str], Awaitable[None]]


def new_password() -> str:
    """A password made by the server for a new account or a reset (shown once to the admin):
    16 URL-safe characters, about 96 random bits."""
    return secrets.token_urlsafe(12)


class AgentService:
    """Creating and managing agents, logging them in and out, and finding the session (and
    agent) a token belongs to."""

    def __init__(
        self,
        db: Database,
        signer: TokenSigner,
        policy: AuthPolicy | None = None,
        address_key: Callable[[], bytes] = lambda: b"",
        box: SecretBox | None = None,
    ) -> None:
        self.db = db
        self.signer = signer
        self.policy = policy or AuthPolicy()
        self.address_key = address_key
        # Seals the TOTP secrets at rest (contact/secretbox.py). None only in tools that never
        # touch them (adding, listing, changing accounts): sealing then refuses, and a sealed
        # secret reads as `unavailable`.
        self.box = box
        self._cache: dict[str, _Cached] = {}
        # Called with an agent id after their sessions ended (disconnect their sockets; tell
        # the other processes).
        self.on_ended: list[SessionsEnded] = []

    @property
    def clock(self) -> Clock:
        return self.signer.clock

    def address_hash(self, address: str) -> str:
        """What the login limits keep of a client address: a keyed hash, never the address."""
        return keyed_hash(self.address_key(), "login-address:" + address)[:32]

    # -- accounts ---------------------------------------------------------------------------

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
        actor: str = "cli",
        reader: Reader | None = None,
        logged: dict[str, Any] | None = None,
    ) -> AgentIdentity:
        """A new active agent, audited; with `reader` also in the access log (same transaction)."""
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
                await record_audit(conn, at=now, action="agent_added", actor=actor, agent_id=agent_id, role=role)
                if reader is not None:
                    await _log_change(conn, reader, now, username, agent_id, "add", {**(logged or {}), "role": role})
        except IntegrityError:
            raise DomainError("conflict", USERNAME_TAKEN) from None
        return AgentIdentity(agent_id, username, name, role, tuple(teams), None)

    async def upsert(
        self, *, username: str, name: str, role: str, teams: list[str], password: str, now: datetime
    ) -> str:
        """Create the agent, or give an existing one these details and a new password (demo
        set-up); returns the agent id."""
        async with self.db.read() as conn:
            existing = await conn.scalar(select(agents.c.id).where(agents.c.username == username))
        if existing is None:
            return (await self.add(username=username, name=name, role=role, teams=teams, password=password, now=now)).id
        password_hash = await asyncio.to_thread(_hasher.hash, password)
        async with self.db.write() as conn:
            await conn.execute(
                update(agents)
                .where(agents.c.id == existing)
                .values(name=name, role=role, teams=list(teams), password_hash=password_hash, active=True)
            )
            await record_audit(conn, at=now, action="agent_reset", actor="cli", agent_id=existing, role=role)
        await self.end_sessions(existing, "password_reset")
        return str(existing)

    async def demo_second_factor(self, agent_id: str) -> str:
        """A fresh confirmed TOTP secret for a demo agent (printed by `serve --demo`, never in
        production: a real agent enrols with the console)."""
        secret = pyotp.random_base32()
        async with self.db.write() as conn:
            await conn.execute(
                update(agents)
                .where(agents.c.id == agent_id)
                .values(
                    totp_secret=self._seal(agent_id, "totp_secret", secret),
                    totp_pending=None,
                    totp_last_step=None,
                    recovery_hashes=[],
                )
            )
        return secret

    async def list_agents(self) -> list[dict[str, Any]]:
        """Every account with its role, teams, status, whether a second factor is set and when
        it last logged in (never a hash or a secret)."""
        last_login = (
            select(agent_sessions.c.agent_id, func.max(agent_sessions.c.created_at).label("at"))
            .group_by(agent_sessions.c.agent_id)
            .subquery()
        )
        async with self.db.read() as conn:
            rows = (
                await conn.execute(
                    select(agents, last_login.c.at.label("last_login"))
                    .outerjoin(last_login, last_login.c.agent_id == agents.c.id)
                    .order_by(agents.c.username)
                )
            ).all()
        return [
            {
                "id": r.id,
                "username": r.username,
                "name": r.name,
                "role": r.role,
                "teams": list(r.teams or ()),
                "active": bool(r.active),
                "second_factor": r.totp_secret is not None,
                "last_login": iso(r.last_login) if r.last_login is not None else None,
            }
            for r in rows
        ]

    async def _agent_id(self, username: str) -> str:
        async with self.db.read() as conn:
            agent_id = await conn.scalar(select(agents.c.id).where(agents.c.username == username))
        if agent_id is None:
            raise DomainError("not_found")
        return str(agent_id)

    async def change(
        self,
        username: str,
        *,
        actor: str,
        action: str,
        reader: Reader | None = None,
        force: bool = False,
        logged: dict[str, Any] | None = None,
        **values: Any,
    ) -> str:
        """One account change (disable, enable, role, teams, password, second factor reset),
        audited, and with `reader` written to the access log in the same transaction (no
        entry, no change); every change but enabling ends the agent's sessions. Nobody
        disables or demotes themselves, and the last active admin stays (`conflict`), unless
        `force` (the command line's way back in). Returns the agent id."""
        if "role" in values and values["role"] not in ROLES:
            raise DomainError("invalid_input", field="role")
        if "teams" in values and not all(map(id_ok, values["teams"])):
            raise DomainError("invalid_input", field="teams")
        if "password" in values:
            password = values.pop("password")
            if len(password) < 10 or not text_ok(password):
                raise DomainError("invalid_input", field="password")
            values["password_hash"] = await asyncio.to_thread(_hasher.hash, password)
        agent_id = await self._agent_id(username)
        now = self.clock.now()
        removes_admin = values.get("active") is False or ("role" in values and values["role"] != "admin")
        async with self.db.write() as conn:
            if removes_admin and not force:
                if actor == f"agent:{agent_id}":
                    raise DomainError("conflict", SELF_CHANGE)
                # The admins' rows are locked (PostgreSQL; SQLite holds its write lock): two
                # admins removing each other at once cannot both see the other still there.
                admins = (
                    (
                        await conn.execute(
                            select(agents.c.id)
                            .where(agents.c.role == "admin", agents.c.active.is_(True))
                            .with_for_update()
                        )
                    )
                    .scalars()
                    .all()
                )
                if agent_id in admins and len(admins) == 1:
                    raise DomainError("conflict", LAST_ADMIN)
            await conn.execute(update(agents).where(agents.c.id == agent_id).values(**values))
            detail = {k: v for k, v in values.items() if k in ("role", "teams", "active")}
            await record_audit(conn, at=now, action=action, actor=actor, agent_id=agent_id, **detail)
            if reader is not None:
                change = _CHANGE_NAMES.get(action, action.removeprefix("agent_"))
                await _log_change(conn, reader, now, username, agent_id, change, {**(logged or {}), **detail})
        if action != "agent_enabled":
            await self.end_sessions(agent_id, action.removeprefix("agent_"))
        return agent_id

    async def disable(self, username: str, actor: str, **how: Any) -> str:
        return await self.change(username, actor=actor, action="agent_disabled", active=False, **how)

    async def enable(self, username: str, actor: str, **how: Any) -> str:
        return await self.change(username, actor=actor, action="agent_enabled", active=True, **how)

    async def set_role(self, username: str, role: str, actor: str, **how: Any) -> str:
        return await self.change(username, actor=actor, action="agent_role_changed", role=role, **how)

    async def set_teams(self, username: str, teams: list[str], actor: str, **how: Any) -> str:
        return await self.change(username, actor=actor, action="agent_teams_changed", teams=list(teams), **how)

    async def reset_password(self, username: str, password: str, actor: str, **how: Any) -> str:
        return await self.change(username, actor=actor, action="agent_password_reset", password=password, **how)

    async def reset_second_factor(self, username: str, actor: str, **how: Any) -> str:
        return await self.change(
            username,
            actor=actor,
            action="agent_2fa_reset",
            totp_secret=None,
            totp_pending=None,
            totp_last_step=None,
            recovery_hashes=None,
            **how,
        )

    # -- login ------------------------------------------------------------------------------

    def needs_second_factor(self, role: str, enrolled: bool) -> bool:
        return enrolled or role in self.policy.totp_roles

    async def login(
        self,
        username: str,
        password: str,
        *,
        totp: str | None = None,
        recovery_code: str | None = None,
    ) -> LoginResult:
        """A new session, or `invalid_credentials` (unknown name, wrong password, disabled: one
        answer), or `second_factor_required` (with `enroll` and an `enrollment_token` when the
        account has no factor yet). Nothing is issued before every factor is checked."""
        async with self.db.read() as conn:
            row = (await conn.execute(select(agents).where(agents.c.username == username))).first()
        stored = row.password_hash if row is not None and row.active else _DUMMY_HASH
        try:
            await asyncio.to_thread(_hasher.verify, stored, password)
        except (VerificationError, InvalidHashError):
            await self._audit_failure(row, "password")
            raise DomainError("invalid_credentials") from None
        if row is None or not row.active:
            raise DomainError("invalid_credentials")
        factor = "password"
        if self.needs_second_factor(row.role, row.totp_secret is not None):
            if row.totp_secret is None:
                raise DomainError(
                    "second_factor_required",
                    ENROL,
                    enroll=True,
                    enrollment_token=self.signer.enrolment_token(row.id),
                )
            if totp is not None and await self._use_totp(row.id, row.totp_secret, totp):
                factor = "totp"
                await self._reseal(row.id, row.totp_secret)
            elif recovery_code is not None and await self._use_recovery_code(row.id, recovery_code):
                factor = "recovery"
            else:
                if totp is not None or recovery_code is not None:
                    await self._audit_failure(row, "second_factor")
                raise DomainError("second_factor_required", SECOND_FACTOR, enroll=False)
        identity = _identity(row)
        session_id, token = await self._open_session(identity, factor)
        log.info("agent_logged_in", agent_id=identity.id, factor=factor)
        return LoginResult(token, identity, session_id, factor)

    async def _audit_failure(self, row: Any, step: str) -> None:
        # Only for existing accounts: an unknown name is nobody's entry (and never stored).
        if row is None:
            return
        async with self.db.write() as conn:
            await record_audit(
                conn, at=self.clock.now(), action="login_failed", actor=f"agent:{row.id}", agent_id=row.id, step=step
            )

    async def _open_session(self, identity: AgentIdentity, factor: str) -> tuple[str, str]:
        now = self.clock.now()
        session_id = str(uuid.uuid4())
        async with self.db.write() as conn:
            await conn.execute(
                insert(agent_sessions).values(
                    id=session_id, agent_id=identity.id, created_at=now, last_seen_at=now, factor=factor
                )
            )
            await record_audit(
                conn,
                at=now,
                action="login",
                actor=f"agent:{identity.id}",
                agent_id=identity.id,
                session_id=session_id,
                factor=factor,
            )
        return session_id, self.signer.issue(session_id)

    # -- second factor ----------------------------------------------------------------------

    def _step(self) -> int:
        return int(self.clock.now().timestamp()) // 30

    def _seal(self, agent_id: str, column: str, secret: str) -> str:
        if self.box is None or not self.box.ready:
            raise RuntimeError("the TOTP secret box was not loaded")
        return self.box.seal(secret, f"agent:{agent_id}:{column}")

    def _open(self, agent_id: str, column: str, stored: str) -> str:
        """The secret of a stored value (sealed, or from before sealing), or `unavailable` with a
        clear text when it cannot be opened: the key it was sealed with is not configured."""
        try:
            if self.box is None:
                raise SecretBoxError("no secret box")
            return self.box.open(stored, f"agent:{agent_id}:{column}")
        except SecretBoxError as exc:
            log.error("totp_secret_unreadable", agent_id=agent_id, problem=str(exc))
            raise DomainError("unavailable", FACTOR_KEY) from None

    async def _reseal(self, agent_id: str, stored: str) -> None:
        """Seal a secret stored in the clear or under an old key with the current key, at its
        first use (compare-and-set on the value read: a concurrent change wins)."""
        if self.box is None or not self.box.ready or not self.box.stale(stored):
            return
        sealed = self._seal(agent_id, "totp_secret", self._open(agent_id, "totp_secret", stored))
        async with self.db.write() as conn:
            await conn.execute(
                update(agents).where(agents.c.id == agent_id, agents.c.totp_secret == stored).values(totp_secret=sealed)
            )

    async def seal_stored_secrets(self) -> dict[str, int]:
        """Seal every TOTP secret (confirmed and pending) still in the clear or under an old key
        with the current key (`vt-contact agent encrypt-2fa`). Values that do not open are
        counted, left alone and logged."""
        done = {"sealed": 0, "current": 0, "unreadable": 0}
        async with self.db.read() as conn:
            rows = (await conn.execute(select(agents.c.id, agents.c.totp_secret, agents.c.totp_pending))).all()
        for row in rows:
            for column in ("totp_secret", "totp_pending"):
                stored = getattr(row, column)
                if not stored:
                    continue
                assert self.box is not None
                if not self.box.stale(stored):
                    done["current"] += 1
                    continue
                try:
                    sealed = self._seal(row.id, column, self._open(row.id, column, stored))
                except DomainError:
                    done["unreadable"] += 1
                    continue
                async with self.db.write() as conn:
                    result = await conn.execute(
                        update(agents).where(agents.c.id == row.id, agents.c[column] == stored).values({column: sealed})
                    )
                done["sealed"] += int(result.rowcount == 1)
        return done

    async def _use_totp(self, agent_id: str, stored: str, code: str) -> bool:
        """Whether `code` is the code of this or a neighbouring 30-second step that was not used
        yet; the step is then marked used (compare-and-set: two logins with one code, one wins)."""
        if not isinstance(code, str) or len(code) != 6 or not code.isascii() or not code.isdigit():
            return False
        totp = pyotp.TOTP(self._open(agent_id, "totp_secret", stored))
        now_step = self._step()
        for step in (now_step - 1, now_step, now_step + 1):
            if hmac.compare_digest(totp.generate_otp(step), code):
                async with self.db.write() as conn:
                    result = await conn.execute(
                        update(agents)
                        .where(
                            agents.c.id == agent_id,
                            or_(agents.c.totp_last_step.is_(None), agents.c.totp_last_step < step),
                        )
                        .values(totp_last_step=step)
                    )
                return bool(result.rowcount == 1)
        return False

    async def _use_recovery_code(self, agent_id: str, code: str) -> bool:
        code = code.strip().lower()
        if not code or len(code) > 32 or not code.isascii():
            return False
        async with self.db.write() as conn:
            stored = await conn.scalar(
                select(agents.c.recovery_hashes).where(agents.c.id == agent_id).with_for_update()
            )
            hashes = list(stored or ())

            def find() -> int | None:
                for i, h in enumerate(hashes):
                    try:
                        if _code_hasher.verify(h, code):
                            return i
                    except (VerificationError, InvalidHashError):
                        continue
                return None

            index = await asyncio.to_thread(find)
            if index is None:
                return False
            del hashes[index]
            await conn.execute(update(agents).where(agents.c.id == agent_id).values(recovery_hashes=hashes))
            await record_audit(
                conn, at=self.clock.now(), action="recovery_code_used", actor=f"agent:{agent_id}", left=len(hashes)
            )
        return True

    async def enrol(self, enrollment_token: object) -> dict[str, str]:
        """A new TOTP secret for an account without one (kept pending until confirmed)."""
        agent_id = self.signer.verify_enrolment(enrollment_token)
        async with self.db.read() as conn:
            row = (await conn.execute(select(agents).where(agents.c.id == agent_id))).first()
        if row is None or not row.active or row.totp_secret is not None:
            raise DomainError("unauthorized")
        secret = pyotp.random_base32()
        async with self.db.write() as conn:
            await conn.execute(
                update(agents)
                .where(agents.c.id == agent_id, agents.c.totp_secret.is_(None))
                .values(totp_pending=self._seal(agent_id, "totp_pending", secret))
            )
        uri = pyotp.TOTP(secret).provisioning_uri(name=row.username, issuer_name=self.policy.issuer)
        # Made here, never by a third-party service: the secret must not leave the server.
        qr = segno.make(uri, error="m")
        return {"secret": secret, "otpauth_uri": uri, "qr_svg": qr.svg_data_uri(scale=4)}

    async def confirm(self, enrollment_token: object, totp: object) -> LoginResult:
        """The pending secret becomes the account's factor when `totp` matches it; a first
        session and ten recovery codes (shown this once) are the answer."""
        agent_id = self.signer.verify_enrolment(enrollment_token)
        async with self.db.read() as conn:
            row = (await conn.execute(select(agents).where(agents.c.id == agent_id))).first()
        if row is None or not row.active or row.totp_secret is not None or row.totp_pending is None:
            raise DomainError("unauthorized")
        code = totp if isinstance(totp, str) else ""
        pending = self._open(agent_id, "totp_pending", row.totp_pending)
        totp_ = pyotp.TOTP(pending)
        now_step = self._step()
        step = next(
            (s for s in (now_step - 1, now_step, now_step + 1) if hmac.compare_digest(totp_.generate_otp(s), code)),
            None,
        )
        if step is None or len(code) != 6:
            raise DomainError("second_factor_required", SECOND_FACTOR, enroll=True)
        codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(10)]
        hashes = await asyncio.to_thread(lambda: [_code_hasher.hash(c) for c in codes])
        now = self.clock.now()
        async with self.db.write() as conn:
            result = await conn.execute(
                update(agents)
                .where(
                    agents.c.id == agent_id,
                    agents.c.totp_secret.is_(None),
                    agents.c.totp_pending == row.totp_pending,
                )
                .values(
                    totp_secret=self._seal(agent_id, "totp_secret", pending),
                    totp_pending=None,
                    totp_last_step=step,
                    recovery_hashes=hashes,
                )
            )
            if result.rowcount != 1:
                raise DomainError("unauthorized")
            await record_audit(conn, at=now, action="agent_2fa_enrolled", actor=f"agent:{agent_id}", agent_id=agent_id)
        identity = _identity(row)
        session_id, token = await self._open_session(identity, "totp")
        return LoginResult(token, identity, session_id, "totp", codes)

    # -- sessions ---------------------------------------------------------------------------

    async def session(self, token: object) -> Session:
        """The live session of a token (and its agent as they are now), or `unauthorized`:
        forged, expired, logged out, idle too long, past the absolute limit, agent disabled."""
        session_id = self.signer.verify(token)
        return await self.session_by_id(session_id)

    async def session_by_id(self, session_id: str, *, touch: bool = True) -> Session:
        """`touch`: this is the agent's own activity (a request, an event), which keeps the
        session from going idle; a check by the server is not."""
        cached = self._cache.get(session_id)
        if cached is None or time.monotonic() - cached.read_at > self.policy.cache_ttl_s:
            cached = await self._read(session_id)
        now = self.clock.now()
        if cached is None or cached.ended:
            raise DomainError("unauthorized")
        if now - cached.last_seen_at >= timedelta(seconds=self.policy.idle_timeout_s):
            await self._end(session_id, "idle")
            raise DomainError("unauthorized")
        if now - cached.created_at >= timedelta(seconds=self.signer.ttl_s):
            await self._end(session_id, "expired")
            raise DomainError("unauthorized")
        if touch and now - cached.last_seen_at >= timedelta(seconds=self.policy.touch_every_s):
            cached.last_seen_at = now
            async with self.db.write() as conn:
                await conn.execute(
                    update(agent_sessions)
                    .where(agent_sessions.c.id == session_id, agent_sessions.c.ended_at.is_(None))
                    .values(last_seen_at=now)
                )
        return Session(session_id, cached.identity)

    async def _read(self, session_id: str) -> _Cached | None:
        found = await self._read_many([session_id])
        return found.get(session_id)

    async def _read_many(self, session_ids: list[str]) -> dict[str, _Cached]:
        async with self.db.read() as conn:
            rows = (
                await conn.execute(
                    select(agent_sessions, agents)
                    .join(agents, agents.c.id == agent_sessions.c.agent_id)
                    .where(agent_sessions.c.id.in_(session_ids))
                )
            ).all()
        read_at = time.monotonic()
        found: dict[str, _Cached] = {}
        for row in rows:
            # The join's first `id` column is the session's.
            sid = row[0]
            identity = AgentIdentity(
                row.agent_id, row.username, row.name, row.role, tuple(row.teams or ()), row.max_concurrent
            )
            found[sid] = _Cached(
                identity=identity,
                created_at=row.created_at,
                last_seen_at=row.last_seen_at,
                ended=row.ended_at is not None or not row.active,
                read_at=read_at,
            )
        for sid in session_ids:
            if sid in found:
                self._cache[sid] = found[sid]
            else:
                self._cache.pop(sid, None)
        if len(self._cache) > 10_000:
            oldest = sorted(self._cache.items(), key=lambda kv: kv[1].read_at)[:5_000]
            for key, _ in oldest:
                self._cache.pop(key, None)
        return found

    async def _end(self, session_id: str, reason: str) -> None:
        self._cache.pop(session_id, None)
        now = self.clock.now()
        async with self.db.write() as conn:
            result = await conn.execute(
                update(agent_sessions)
                .where(agent_sessions.c.id == session_id, agent_sessions.c.ended_at.is_(None))
                .values(ended_at=now, end_reason=reason)
            )
            if result.rowcount == 1 and reason != "logout":
                await record_audit(conn, at=now, action="session_ended", actor="system", session_id=session_id,
                                   reason=reason)  # fmt: skip

    async def logout(self, token: object) -> None:
        current = await self.session(token)
        now = self.clock.now()
        await self._end(current.id, "logout")
        async with self.db.write() as conn:
            await record_audit(
                conn, at=now, action="logout", actor=f"agent:{current.agent.id}", agent_id=current.agent.id,
                session_id=current.id,
            )  # fmt: skip
        await self._notify(current.agent.id)

    async def end_sessions(self, agent_id: str, reason: str) -> int:
        """End every open session of the agent (here and, through `on_ended`, elsewhere)."""
        now = self.clock.now()
        async with self.db.write() as conn:
            result = await conn.execute(
                update(agent_sessions)
                .where(agent_sessions.c.agent_id == agent_id, agent_sessions.c.ended_at.is_(None))
                .values(ended_at=now, end_reason=reason[:30])
            )
        self.forget(agent_id)
        await self._notify(agent_id)
        return int(result.rowcount or 0)

    def forget(self, agent_id: str) -> None:
        """Drop what this process cached of the agent's sessions (a signal from another process)."""
        for key in [k for k, v in self._cache.items() if v.identity.id == agent_id]:
            self._cache.pop(key, None)

    async def _notify(self, agent_id: str) -> None:
        for listener in list(self.on_ended):
            try:
                await listener(agent_id)
            except Exception as exc:  # a listener's failure must not undo the ending
                log.error("sessions_ended_listener_failed", error=type(exc).__name__)

    async def ended_among(self, session_ids: list[str]) -> set[str]:
        """Which of these sessions no longer work: the periodic check of open sockets, one
        query for all of them (the fallback that catches a missed signal)."""
        if not session_ids:
            return set()
        await self._read_many(session_ids)
        gone: set[str] = set()
        for sid in session_ids:
            try:
                await self.session_by_id(sid, touch=False)
            except DomainError:
                gone.add(sid)
        return gone

    async def from_token(self, token: object) -> AgentIdentity:
        return (await self.session(token)).agent

    async def get(self, agent_id: str) -> AgentIdentity | None:
        async with self.db.read() as conn:
            row = (await conn.execute(select(agents).where(agents.c.id == agent_id, agents.c.active.is_(True)))).first()
        return _identity(row) if row is not None else None
