"""The real aiohttp app on a loopback port, and real python-socketio clients that talk to it."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import pyotp
import socketio
from aiohttp import ClientSession, web

from app import lifecycles
from app.bootstrap import create_app
from contact.auth import AgentIdentity, AgentService, TokenSigner
from contact.clock import Clock, ManualClock
from contact.db import Database
from contact.events import check_emitted
from contact.migrate import upgrade
from contact.serving import ContactAppRunner
from contact.settings import Settings

SECRET = "test-secret-key-that-is-long-enough"
HASH_KEY = "test-hash-key-that-is-long-enough"
_counter = itertools.count(1)

# Every server→client event any test server emits is checked against its model
# (contact/events.py REGISTRY); what does not match is collected here and fails the test that
# was running (tests/conftest.py), whichever task emitted it.
EVENT_FAULTS: list[str] = []
EMITTED: set[tuple[str, str]] = set()  # (namespace, event) seen this session


def validate_emits(sio: socketio.AsyncServer) -> None:
    """Wrap the server's `emit` (the one every namespace and the dispatcher go through)."""
    emit = sio.emit

    async def checked(event: str, data: Any = None, *args: Any, **kwargs: Any) -> Any:
        namespace = kwargs.get("namespace") or "/"
        EMITTED.add((namespace, event))
        fault = check_emitted(namespace, event, data)
        if fault is not None:
            EVENT_FAULTS.append(fault)
        return await emit(event, data, *args, **kwargs)

    sio.emit = checked  # type: ignore[method-assign]


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "secret_key": SECRET,
        "hash_key": HASH_KEY,
        "chat_hours": "24/7",
        "start_limit_per_ip": 100_000,
        # Every test logs in from 127.0.0.1 on the shared server; the per-address limit has its own test.
        "login_max_per_address": 100_000,
        "log_format": "console",
        # Tests move the clock by hours to reach a deadline; only the idle tests want it short.
        "idle_timeout_s": 30 * 86400,
    }
    values.update(overrides)
    return Settings(**values)


class RunningServer:
    """One app on 127.0.0.1; `restart()` stops it and starts a new app on the same port."""

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.runner: web.AppRunner | None = None
        self.port = 0
        self.app: web.Application | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> RunningServer:
        self.app = create_app(self.settings, self.clock)
        validate_emits(self.app[lifecycles.SIO])
        self.runner = ContactAppRunner(self.app, header_timeout=self.settings.header_timeout_s, shutdown_timeout=2)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        self.port = self.runner.addresses[0][1]
        # Always set or cleared: the port may be one a stopped server with a manual clock had.
        if self.clock is not None:
            _CLOCKS[self.url] = self.clock
        else:
            _CLOCKS.pop(self.url, None)
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
            _CLOCKS.pop(self.url, None)

    async def restart(self) -> None:
        await self.stop()
        await self.start()


async def migrated_sqlite(path: str) -> str:
    url = f"sqlite+aiosqlite:///{path}"
    await asyncio.to_thread(upgrade, url)
    return url


async def add_agent(
    database_url: str,
    role: str = "advisor",
    teams: tuple[str, ...] = ("jeugd", "volwassenen", "professionals", "crisis"),
    name: str | None = None,
) -> tuple[AgentIdentity, str]:
    """A fresh agent in the database and its password."""
    db = Database(database_url)
    try:
        n = next(_counter)
        password = f"pw-{uuid.uuid4().hex}"
        agent = await AgentService(db, TokenSigner(SECRET, 60)).add(
            username=f"agent{n}-{uuid.uuid4().hex[:6]}",
            name=name or f"Test{n} Agent",
            role=role,
            teams=list(teams),
            password=password,
            now=datetime.now(UTC),
        )
    finally:
        await db.dispose()
    return agent, password


# The second factor of the test agents, as their authenticator app would keep it: the
# secret per username and the last 30-second step whose code was used (each is used once).
TOTP_SECRETS: dict[str, str] = {}
_last_step: dict[str, int] = {}
# The injected clock of each running server, by URL: codes are made on the server's time.
_CLOCKS: dict[str, Clock] = {}


async def totp_code(base_url: str, username: str) -> str:
    """A code of `username`'s authenticator not used before (waits for the next 30 seconds
    when this step and the next are used up on a real clock)."""
    clock = _CLOCKS.get(base_url)
    while True:
        now = (clock.now() if clock is not None else datetime.now(UTC)).timestamp()
        current = int(now) // 30
        # On a real clock this step first (a step boundary passing before the server checks
        # leaves it the previous one, still accepted), then the next one; a clock that stands
        # still has no boundary to pass, so the previous step is used too.
        first = current - 1 if isinstance(clock, ManualClock) else current
        step = max(first, _last_step.get(username, -1) + 1)
        if step <= current + 1:
            _last_step[username] = step
            return pyotp.TOTP(TOTP_SECRETS[username]).generate_otp(step)
        assert not isinstance(clock, ManualClock), "three logins in one 30-second step: move the clock on"
        await asyncio.sleep(30 - now % 30 + 0.05)


async def login_answer(base_url: str, username: str, password: str) -> dict[str, Any]:
    """The answer of a successful login; a second factor is handled as the console does it
    (enrolled with pyotp the first time, a fresh code afterwards)."""
    async with ClientSession() as http:
        body: dict[str, Any] = {"username": username, "password": password}
        if username in TOTP_SECRETS:
            body["totp"] = await totp_code(base_url, username)
        async with http.post(f"{base_url}/api/agent/login", json=body) as r:
            answer = await r.json()
        if r.status == 401 and answer["error"]["code"] == "second_factor_required" and answer["error"].get("enroll"):
            enrolment = answer["error"]["enrollment_token"]
            async with http.post(f"{base_url}/api/agent/2fa/enroll", json={"enrollment_token": enrolment}) as r:
                secret = (await r.json())["secret"]
                assert r.status == 200
            TOTP_SECRETS[username] = secret
            code = await totp_code(base_url, username)
            async with http.post(
                f"{base_url}/api/agent/2fa/confirm", json={"enrollment_token": enrolment, "totp": code}
            ) as r:
                answer = await r.json()
        assert r.status == 200, answer
        return answer


async def login(base_url: str, username: str, password: str) -> str:
    return str((await login_answer(base_url, username, password))["token"])


async def clocked_server(database_url: str, at: datetime, **overrides: Any) -> RunningServer:
    """A server on a database of the test's own (so its scheduler wins the election) with a
    `ManualClock` at `at` that the test moves (`server.clock.advance(...)`)."""
    clock = ManualClock(at)
    server = await RunningServer(make_settings(database_url, **overrides), clock).start()
    server.clock = clock
    return server


async def signed_in_agent(
    server: RunningServer,
    role: str = "advisor",
    teams: tuple[str, ...] = ("jeugd",),
    name: str | None = None,
) -> tuple[AgentIdentity, str, Client]:
    """A fresh agent, its password, and its console connected to `server`."""
    identity, password = await add_agent(server.settings.database_url, role=role, teams=teams, name=name)
    return identity, password, await agent_client(server.url, await login(server.url, identity.username, password))


class Client:
    """A python-socketio client on one namespace that records every event it receives."""

    def __init__(self, namespace: str, reconnection: bool = False) -> None:
        self.namespace = namespace
        self.sio = socketio.AsyncClient(reconnection=reconnection, reconnection_delay=0.1, reconnection_delay_max=0.5)
        self.events: dict[str, list[Any]] = defaultdict(list)
        self._arrived = asyncio.Condition()
        self.connect_error: Any = None

        @self.sio.on("*", namespace=namespace)
        async def _any(event: str, data: Any = None) -> None:
            async with self._arrived:
                self.events[event].append(data)
                self._arrived.notify_all()

        @self.sio.on("connect_error", namespace=namespace)
        async def _refused(data: Any) -> None:
            self.connect_error = data

    async def connect(
        self, url: str, auth: Any = None, transports: list[str] | None = None, headers: dict[str, str] | None = None
    ) -> Client:
        await self.sio.connect(
            url,
            namespaces=[self.namespace],
            auth=auth,
            transports=transports or ["websocket"],
            headers=headers or {},
            wait_timeout=5,
        )
        return self

    async def call(self, event: str, data: Any = None, timeout: float = 10) -> Any:
        if data is None:
            return await self.sio.call(event, namespace=self.namespace, timeout=timeout)
        return await self.sio.call(event, data, namespace=self.namespace, timeout=timeout)

    async def wait_for(self, event: str, predicate: Any = None, timeout: float = 5) -> Any:
        """The first received `event` (already or soon) whose data satisfies `predicate`."""

        def found() -> Any:
            for data in self.events.get(event, []):
                if predicate is None or predicate(data):
                    return data
            return None

        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: found() is not None), timeout)
        return found()

    async def disconnect(self) -> None:
        await self.sio.disconnect()

    async def wait_disconnected(self, timeout: float = 5) -> None:
        """Until the server has let this socket go (AssertionError after `timeout`)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self.sio.connected and self.namespace in self.sio.namespaces:
            assert asyncio.get_running_loop().time() < deadline, "still connected"
            await asyncio.sleep(0.05)


async def visitor(url: str, **kw: Any) -> Client:
    return await Client("/visitor", **kw).connect(url)


async def agent_client(url: str, token: str, **kw: Any) -> Client:
    return await Client("/agent", **kw).connect(url, auth={"token": token})


def start_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"caller_type": "jongere", "intent": "advies", "topic": "thuis"}
    payload.update(overrides)
    return payload
