#!/usr/bin/env python
"""Chat relay benchmark of vt-contact on loopback (see docs/performance.md).

    .venv/bin/python bench/chat_relay.py [--pairs 500] [--rate 1.0] [--duration 20] [--saturation 10]
    .venv/bin/python bench/chat_relay.py --mode idle [--sockets 2000]

`relay` starts the real server (`vt-contact serve --migrate`, one process, a fresh SQLite file
in a temporary folder) and, as a baseline, a bare aiohttp WebSocket relay (this script with
`--serve-bare PORT`), each in its own process. One client process (this one) drives both with
the same load: visitor sockets that send chat messages and agent sockets that receive them.
It reports visitor→agent latency at a fixed rate and the throughput of a closed loop.

`idle` opens many idle visitor sockets and reports the server's resident memory per socket.

The clients speak Engine.IO v4 / Socket.IO v5 directly over aiohttp's WebSocket client: a
python-socketio AsyncClient per socket would make the client, not the server, the bottleneck.
Everything runs on 127.0.0.1; every loop is bounded in count and time; the child processes are
ended when this script ends, also on errors, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_FILE = Path(__file__).resolve()
ROOT = BENCH_FILE.parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402

try:
    import psutil
except ImportError:  # pragma: no cover - psutil comes with the test extras
    psutil = None  # type: ignore[assignment]

HOST = "127.0.0.1"
SECRET = "bench-secret-key-0123456789abcdef"  # 32 characters, only for this throw-away server
AGENT_PASSWORD = "bench-password-1234"
TARGET_P99_MS = 50.0
TARGET_RATIO = 0.25
TARGET_IDLE_KIB = 25.0
TARGET_IDLE_START_MS = 100.0
FILLER = "x" * 64  # messages of ~100 characters, a typical chat line
now = time.perf_counter


# ---------------------------------------------------------------- processes and limits --


def raise_nofile(want: int = 65536) -> int:
    """Raise the open-files limit (inherited by the servers started after this)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


try:  # resolved here, not in the forked child: the child may only call it
    import ctypes

    _prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl
except (ImportError, OSError):  # pragma: no cover - not Linux
    _prctl = None


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the bench dies, even by SIGKILL (Linux). The raised
    open-files limit is inherited from this process."""
    if _prctl is not None:
        _prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Children:
    """Every process this bench starts; `stop_all()` ends them (terminate, then kill)."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, args: list[str], log: Path | None = None, **kw: Any) -> subprocess.Popen[bytes]:
        out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(args, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent, **kw)
        if log:
            out.close()  # the child holds its own descriptor
        self.procs.append(proc)
        return proc

    @staticmethod
    def stop(proc: subprocess.Popen[bytes], grace: float = 10) -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            with contextlib.suppress(Exception):
                self.stop(proc)
        self.procs.clear()


VT_COMMAND: list[str] = []  # --vt-command, to measure a variant of the server
DEFLATE = [0]  # --deflate: the client offers permessage-deflate, as browsers do


def cli_command() -> list[str]:
    if VT_COMMAND:
        return list(VT_COMMAND)
    # `-m` from this checkout (the children run in ROOT): the code measured is the code beside
    # this bench, also when the virtual environment was installed from another checkout.
    return [sys.executable, "-m", "app.cli"]


EXTRA_SERVER_ENV: dict[str, str] = {}  # --server-env, for experiments
DISK: dict[str, Any] = {}  # what the disk had left to write when the run began (settle_disk)


def server_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VT_")}
    env.update(
        VT_SECRET_KEY=SECRET,
        VT_HASH_KEY="bench-hash-key-" + SECRET,  # required outside --demo
        VT_CHAT_HOURS="24/7",
        VT_START_LIMIT_PER_IP="1000000",
        VT_VISITOR_MESSAGE_LIMIT="1000000",
        VT_MAX_CONCURRENT_CHATS="1000000",
        VT_MAX_CONNECTIONS_PER_ADDRESS="1000000",  # every client of this bench is 127.0.0.1
        VT_LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    env.update(EXTRA_SERVER_ENV)
    return env


async def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path | None, timeout: float = 60) -> None:
    deadline = now() + timeout
    while now() < deadline:
        if proc.poll() is not None:
            tail = log_tail(log, 3000)
            raise RuntimeError(f"server exited early ({proc.returncode}):\n{tail}")
        try:
            ok = await asyncio.to_thread(_get_status, url)
            if ok == 200:
                return
        except OSError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def log_tail(log: Path | None, chars: int) -> str:
    return log.read_text(errors="replace")[-chars:] if log is not None and log.exists() else ""


def write_json(path: str, results: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(results, indent=2))


def _get_status(url: str) -> int:
    with urllib.request.urlopen(url, timeout=1) as r:
        return int(r.status)


@dataclass
class VtServer:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    db: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


async def start_vt(children: Children, tmp: Path, n_agents: int) -> tuple[VtServer, list[str]]:
    """`vt-contact serve --migrate` on a fresh SQLite file, n agents added with the CLI; their tokens."""
    port = free_port()
    db = tmp / "bench.db"
    url = f"sqlite+aiosqlite:///{db}"
    log = tmp / "vt-contact.log"
    proc = children.start(
        [*cli_command(), "serve", "--host", HOST, "--port", str(port), "--database-url", url, "--migrate"],
        log=log,
        env=server_env(),
    )
    server = VtServer(proc, port, log, db)
    await wait_http(f"{server.url}/healthz", proc, log)

    # `agent add` hashes with argon2: run them side by side (SQLite waits for its write lock).
    async def add_agent(i: int) -> None:
        proc = await asyncio.create_subprocess_exec(
            *cli_command(),
            "agent",
            "add",
            f"bench{i}",
            "--name",
            f"Bench {i}",
            "--role",
            "advisor",
            "--team",
            "jeugd",
            "--database-url",
            url,
            cwd=ROOT,
            env=server_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate((AGENT_PASSWORD + "\n").encode()), 120)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        if proc.returncode != 0:
            raise RuntimeError(f"vt-contact agent add failed: {out.decode(errors='replace')}")

    await asyncio.gather(*(add_agent(i) for i in range(n_agents)))

    tokens = []
    async with aiohttp.ClientSession() as http:
        for i in range(n_agents):
            async with http.post(
                f"{server.url}/api/agent/login", json={"username": f"bench{i}", "password": AGENT_PASSWORD}
            ) as r:
                body = await r.json()
                if r.status != 200:
                    raise RuntimeError(f"login failed: {r.status} {body}")
                tokens.append(body["token"])
    return server, tokens


SIO_TOKEN = "sio-baseline-token"


async def start_bare(children: Children, tmp: Path, kind: str = "bare") -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = tmp / f"{kind}.log"
    proc = children.start([sys.executable, str(BENCH_FILE), f"--serve-{kind}", str(port)], log=log)
    await wait_http(f"http://{HOST}:{port}/healthz", proc, log)
    return proc, f"http://{HOST}:{port}"


# ----------------------------------------------------------------- the bare relay server --


def serve_bare(port: int) -> None:
    """The baseline: a visitor socket's text frames go unchanged to its agent's socket, and the
    visitor gets a Socket.IO-shaped ack, so the client does exactly the same work as against
    vt-contact. No parsing of the payload, no database, no Socket.IO."""
    raise_nofile()
    agents: dict[str, web.WebSocketResponse] = {}

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def relay(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=64 * 1024)
        await ws.prepare(request)
        role = request.query.get("role")
        key = request.query.get("agent", "")
        if role == "agent":
            agents[key] = ws
            await ws.send_str("40/agent,{}")
            async for _ in ws:
                pass
            if agents.get(key) is ws:
                del agents[key]
            return ws
        await ws.send_str("40/visitor,{}")
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            data: str = msg.data
            # 42/visitor,<id>[...]: the ack id sits between the first comma and the "[".
            start = data.find(",") + 1
            end = data.find("[", start)
            ack_id = data[start:end]
            target = agents.get(key)
            if target is None or target.closed:
                await ws.send_str(f'43/visitor,{ack_id}[{{"error":{{"code":"not_found"}}}}]')
                continue
            await target.send_str(data)
            await ws.send_str(f"43/visitor,{ack_id}[{{}}]")
        return ws

    app = web.Application()
    app.add_routes([web.get("/healthz", healthz), web.get("/relay", relay)])
    web.run_app(app, host=HOST, port=port, print=None, access_log=None, shutdown_timeout=1)


def serve_sio(port: int) -> None:
    """A second baseline: the same Socket.IO events as vt-contact on python-socketio, kept in
    memory with no validation and no database. What Socket.IO itself costs, which no change
    of ours can go below."""
    import socketio

    raise_nofile()
    sio = socketio.AsyncServer(async_mode="aiohttp", logger=False, engineio_logger=False, cors_allowed_origins=None)
    holders: dict[str, str] = {}  # conversation id -> agent room
    seqs: dict[str, int] = {}
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    bound: dict[str, str] = {}

    @sio.on("connect", namespace="/agent")
    async def agent_connect(sid: str, environ: Any, auth: Any = None) -> None:
        if not isinstance(auth, dict) or auth.get("token") != SIO_TOKEN:
            raise socketio.exceptions.ConnectionRefusedError("unauthorized")
        await sio.enter_room(sid, f"a:{sid}", namespace="/agent")

    @sio.on("start", namespace="/visitor")
    async def start(sid: str, data: Any) -> dict[str, Any]:
        cid = f"c{len(seqs)}"
        seqs[cid] = 0
        bound[sid] = cid
        return {
            "conversation_id": cid,
            "resume_token": cid,
            "status": "waiting",
            "queue": {"position": 1, "estimated_wait_s": 1},
        }

    @sio.on("accept", namespace="/agent")
    async def accept(sid: str, data: Any) -> dict[str, Any]:
        holders[data["conversation_id"]] = f"a:{sid}"
        return {"conversation": {"id": data["conversation_id"], "status": "active", "messages": []}}

    @sio.on("message", namespace="/visitor")
    async def message(sid: str, data: Any) -> dict[str, Any]:
        cid = bound[sid]
        key = (cid, data["client_id"])
        if key in seen:
            return seen[key]
        seqs[cid] += 1
        ack = {"id": f"{cid}-{seqs[cid]}", "seq": seqs[cid], "at": "2026-01-01T00:00:00+00:00"}
        seen[key] = ack
        event = {**ack, "sender": "visitor", "text": data["text"], "conversation_id": cid}
        await sio.emit("message", event, room=holders[cid], namespace="/agent")
        return ack

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    sio.attach(app)
    app.add_routes([web.get("/healthz", healthz)])
    web.run_app(app, host=HOST, port=port, print=None, access_log=None, shutdown_timeout=1)


# ------------------------------------------------------- a small Engine.IO / Socket.IO client --


class SioError(RuntimeError):
    pass


class Sock:
    """One WebSocket speaking Engine.IO v4 / Socket.IO v5 on one namespace (text packets only)."""

    def __init__(self, namespace: str, on_event: Callable[[str, Any], None] | None = None) -> None:
        self.ns = namespace
        self.on_event = on_event
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self._acks: dict[int, asyncio.Future[Any]] = {}
        self._next = 0
        self._connected: asyncio.Future[Any] | None = None
        self._reader: asyncio.Task[None] | None = None

    async def connect(self, session: aiohttp.ClientSession, base: str, auth: Any = None, timeout: float = 15) -> Sock:
        self.ws = await session.ws_connect(
            f"{base}/socket.io/?EIO=4&transport=websocket",
            max_msg_size=0,
            timeout=aiohttp.ClientWSTimeout(ws_close=2),
            compress=DEFLATE[0],
        )
        opening = await self.ws.receive(timeout=timeout)
        if opening.type != aiohttp.WSMsgType.TEXT or not opening.data.startswith("0"):
            raise SioError(f"no Engine.IO open packet: {opening!r}")
        await self._start(timeout, f"40{self.ns}," + (json.dumps(auth) if auth is not None else ""))
        return self

    async def connect_bare(self, session: aiohttp.ClientSession, url: str, timeout: float = 15) -> Sock:
        self.ws = await session.ws_connect(
            url, max_msg_size=0, timeout=aiohttp.ClientWSTimeout(ws_close=2), compress=DEFLATE[0]
        )
        await self._start(timeout, None)  # the bare server says "40..." once it registered us
        return self

    async def _start(self, timeout: float, hello: str | None) -> None:
        self._connected = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read())
        if hello is not None:
            assert self.ws is not None
            await self.ws.send_str(hello)
        await asyncio.wait_for(asyncio.shield(self._connected), timeout)

    async def _read(self) -> None:
        assert self.ws is not None
        ws = self.ws
        try:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                data: str = msg.data
                if data == "2":  # Engine.IO ping
                    await ws.send_str("3")
                    continue
                if not data.startswith("4"):
                    continue
                kind = data[1]
                rest = data[2:]
                if rest.startswith("/"):
                    comma = rest.find(",")
                    rest = rest[comma + 1 :] if comma >= 0 else ""
                i = 0
                while i < len(rest) and rest[i].isdigit():
                    i += 1
                packet_id = int(rest[:i]) if i else None
                payload = rest[i:]
                if kind == "2":
                    if self.on_event is not None:
                        args = json.loads(payload)
                        self.on_event(args[0], args[1] if len(args) > 1 else None)
                elif kind == "3":
                    fut = self._acks.pop(packet_id, None) if packet_id is not None else None
                    if fut is not None and not fut.done():
                        args = json.loads(payload)
                        fut.set_result(args[0] if args else None)
                elif kind == "0":
                    if self._connected is not None and not self._connected.done():
                        self._connected.set_result(json.loads(payload) if payload else {})
                elif kind == "4":
                    if self._connected is not None and not self._connected.done():
                        self._connected.set_exception(SioError(f"connect refused: {payload}"))
                elif kind == "1":
                    break
        except (aiohttp.ClientError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            err = SioError("socket closed")
            if self._connected is not None and not self._connected.done():
                self._connected.set_exception(err)
            for fut in self._acks.values():
                if not fut.done():
                    fut.set_exception(err)
            self._acks.clear()

    async def emit(self, event: str, data: Any) -> asyncio.Future[Any]:
        """Send an event that asks for an ack; the future gets the ack's first argument."""
        assert self.ws is not None
        self._next += 1
        packet_id = self._next
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._acks[packet_id] = fut
        await self.ws.send_str(f"42{self.ns},{packet_id}{json.dumps([event, data], separators=(',', ':'))}")
        return fut

    async def call(self, event: str, data: Any, timeout: float = 30) -> Any:
        fut = await self.emit(event, data)
        return await asyncio.wait_for(fut, timeout)

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 2)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader


async def gather_limited(factories: list[Callable[[], Awaitable[Any]]], limit: int) -> list[Any]:
    sem = asyncio.Semaphore(limit)

    async def run(f: Callable[[], Awaitable[Any]]) -> Any:
        async with sem:
            return await f()

    return await asyncio.gather(*(run(f) for f in factories))


async def run_all(coros: list[Awaitable[Any]], timeout: float) -> None:
    """Run the coroutines side by side; fail after `timeout`; never leave one running."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        done, pending = await asyncio.wait(tasks, timeout=timeout)
        if pending:
            raise RuntimeError(f"{len(pending)} of {len(tasks)} clients did not finish within {timeout:.0f} s")
        for t in done:
            t.result()
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def is_error(ack: Any) -> bool:
    return isinstance(ack, dict) and "error" in ack


# --------------------------------------------------------------------------- measuring --


@dataclass
class PhaseStats:
    name: str
    sent: int = 0
    received: int = 0
    duplicates: int = 0
    acked: int = 0
    ack_errors: int = 0
    ack_error_kinds: dict[str, int] = field(default_factory=dict)  # error code, exception or "cancelled"
    stalled: int = 0  # closed loop: a message that did not arrive within the timeout
    latencies: list[float] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)  # when each latency was measured
    send_lag: list[float] = field(default_factory=list)  # rate mode: actual send time - planned time
    seen: set[tuple[int, int]] = field(default_factory=set)
    waiters: dict[int, tuple[int, asyncio.Future[None]]] = field(default_factory=dict)
    elapsed: float = 0.0
    cpu_server: float = 0.0
    cpu_client: float = 0.0
    cpu_other: float = 0.0

    @property
    def lost(self) -> int:
        return self.sent - self.received

    @property
    def rate(self) -> float:
        return self.received / self.elapsed if self.elapsed else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        data = sorted(self.latencies)
        return data[min(len(data) - 1, int(q * len(data)))] * 1000

    def summary(self) -> dict[str, Any]:
        lag = sorted(self.send_lag)
        return {
            "sent": self.sent,
            "received": self.received,
            "lost": self.lost,
            "duplicates": self.duplicates,
            "ack_errors": self.ack_errors,
            "ack_error_kinds": dict(self.ack_error_kinds),
            "stalled": self.stalled,
            "elapsed_s": round(self.elapsed, 2),
            "msgs_per_s": round(self.rate, 1),
            "p50_ms": round(self.pct(0.50), 2),
            "p99_ms": round(self.pct(0.99), 2),
            "max_ms": round(max(self.latencies) * 1000, 2) if self.latencies else None,
            "client_send_lag_p99_ms": round(lag[int(0.99 * (len(lag) - 1))] * 1000, 2) if lag else None,
            "cpu_server_pct": round(self.cpu_server, 1),
            "cpu_client_pct": round(self.cpu_client, 1),
            "cpu_other_pct": round(self.cpu_other, 1),
        }

    def timeline(self, step: float = 1.0) -> list[dict[str, float]]:
        """Per `step` seconds: messages received, p50 and max latency (for spotting stalls)."""
        if not self.arrivals:
            return []
        t0 = self.arrivals[0]
        buckets: dict[int, list[float]] = {}
        for at, lat in zip(self.arrivals, self.latencies, strict=True):
            buckets.setdefault(int((at - t0) / step), []).append(lat)
        return [
            {
                "t": k * step,
                "n": len(v),
                "p50_ms": round(sorted(v)[len(v) // 2] * 1000, 1),
                "max_ms": round(max(v) * 1000, 1),
            }
            for k, v in sorted(buckets.items())
        ]


class Recorder:
    """Turns the agents' `message` events into latencies; one PhaseStats per phase tag."""

    def __init__(self) -> None:
        self.phases: dict[str, PhaseStats] = {}
        self.foreign = 0

    def on_agent_event(self, event: str, data: Any) -> None:
        if event != "message":
            return
        arrived = now()
        try:
            _, tag, pair_s, n_s, sent_s = data["text"].split(" ", 5)[:5]
        except (KeyError, TypeError, ValueError):
            self.foreign += 1
            return
        stats = self.phases.get(tag)
        if stats is None:
            self.foreign += 1
            return
        key = (int(pair_s), int(n_s))
        if key in stats.seen:
            stats.duplicates += 1
            return
        stats.seen.add(key)
        stats.received += 1
        stats.latencies.append(arrived - float(sent_s))
        stats.arrivals.append(arrived)
        waiter = stats.waiters.get(key[0])
        if waiter is not None and waiter[0] == key[1] and not waiter[1].done():
            waiter[1].set_result(None)


@dataclass
class Pair:
    index: int
    visitor: Sock
    agent_index: int
    conversation_id: str | None = None


class CpuMeter:
    """CPU use of the server and of this client process over one phase, in % of one core."""

    def __init__(self, server_pid: int) -> None:
        self.server = psutil.Process(server_pid) if psutil else None
        self.client = psutil.Process() if psutil else None

    def _times(self) -> tuple[float, float, float]:
        if self.server is None or self.client is None:
            return 0.0, 0.0, 0.0
        s, c, m = self.server.cpu_times(), self.client.cpu_times(), psutil.cpu_times()
        busy = m.user + m.nice + m.system + getattr(m, "irq", 0) + getattr(m, "softirq", 0) + getattr(m, "steal", 0)
        return s.user + s.system, c.user + c.system, busy

    def __enter__(self) -> CpuMeter:
        self.t0 = now()
        self.s0, self.c0, self.m0 = self._times()
        return self

    def __exit__(self, *exc: Any) -> None:
        s1, c1, m1 = self._times()
        wall = max(now() - self.t0, 1e-9)
        self.server_pct = 100 * (s1 - self.s0) / wall
        self.client_pct = 100 * (c1 - self.c0) / wall
        # Everything else on the machine (kernel network work, other programs): noise to watch.
        self.other_pct = max(0.0, 100 * (m1 - self.m0) / wall - self.server_pct - self.client_pct)


async def send_message(pair: Pair, stats: PhaseStats, n: int) -> None:
    stats.sent += 1
    text = f"bench {stats.name} {pair.index} {n} {now():.6f} {FILLER}"
    fut = await pair.visitor.emit("message", {"client_id": f"{stats.name}-{pair.index}-{n}", "text": text})

    def done(f: asyncio.Future[Any]) -> None:
        if f.cancelled():
            kind = "cancelled"  # the socket closed before the ack came
        elif f.exception() is not None:
            kind = type(f.exception()).__name__
        elif is_error(f.result()):
            kind = str(f.result()["error"].get("code"))
        else:
            stats.acked += 1
            return
        stats.ack_errors += 1
        stats.ack_error_kinds[kind] = stats.ack_error_kinds.get(kind, 0) + 1

    fut.add_done_callback(done)


async def drain(stats: PhaseStats, timeout: float = 10) -> None:
    """Until every message reached its agent and every ack came back (or `timeout`). The acks
    too: the server sends the agent's copy before the visitor's ack, and a socket closed before
    its ack came counted as an ack error (the closed loop's "ack errors of unknown kind")."""
    deadline = now() + timeout
    while now() < deadline and (  # noqa: ASYNC110 - a bounded poll
        stats.received < stats.sent or stats.acked + stats.ack_errors < stats.sent
    ):
        await asyncio.sleep(0.05)


async def rate_phase(
    pairs: list[Pair], rec: Recorder, tag: str, rate: float, duration: float, server_pid: int
) -> PhaseStats:
    """Each pair sends `rate` messages a second at its own random phase for `duration` seconds."""
    stats = rec.phases[tag] = PhaseStats(tag)
    period = 1.0 / rate
    per_pair = max(1, int(duration * rate))

    async def run(pair: Pair, t0: float) -> None:
        offset = random.random() * period
        for n in range(per_pair):
            planned = t0 + offset + n * period
            delay = planned - now()
            if delay > 0:
                await asyncio.sleep(delay)
            stats.send_lag.append(max(0.0, now() - planned))
            await send_message(pair, stats, n)

    with CpuMeter(server_pid) as cpu:
        t0 = now() + 0.2
        await run_all([run(p, t0) for p in pairs], duration + 60)
        await drain(stats)
    stats.elapsed = per_pair * period  # the sending window: every message of it was sent within it
    stats.cpu_server, stats.cpu_client, stats.cpu_other = cpu.server_pct, cpu.client_pct, cpu.other_pct
    return stats


async def closed_phase(
    pairs: list[Pair],
    rec: Recorder,
    tag: str,
    duration: float,
    server_pid: int,
    timeout: float = 10,
    max_per_pair: int = 1_000_000,
) -> PhaseStats:
    """Each pair sends its next message as soon as the previous one reached the agent."""
    stats = rec.phases[tag] = PhaseStats(tag)
    loop = asyncio.get_running_loop()

    async def run(pair: Pair, t_end: float) -> None:
        n = 0
        while now() < t_end and n < max_per_pair:
            fut: asyncio.Future[None] = loop.create_future()
            stats.waiters[pair.index] = (n, fut)
            await send_message(pair, stats, n)
            try:
                await asyncio.wait_for(fut, timeout)
            except TimeoutError:
                stats.stalled += 1
                return
            n += 1

    with CpuMeter(server_pid) as cpu:
        t0 = now()
        await run_all([run(p, t0 + duration) for p in pairs], duration + timeout + 30)
        stats.elapsed = now() - t0
    await drain(stats, 2)
    stats.cpu_server, stats.cpu_client, stats.cpu_other = cpu.server_pct, cpu.client_pct, cpu.other_pct
    return stats


async def warm_up(pairs: list[Pair], rec: Recorder, server_pid: int) -> None:
    """One message per pair, closed loop: every path is used once before anything is measured."""
    stats = await closed_phase(pairs, rec, "w", 60, server_pid, max_per_pair=1)
    if stats.received != len(pairs) or stats.ack_errors or stats.stalled:
        raise RuntimeError(f"warm-up failed: {stats.summary()}")


# ------------------------------------------------------------------------- relay mode --


async def verify_vt(pair: Pair, agent: Sock, events: list[tuple[str, Any]]) -> None:
    """Check the client against the real protocol: ack shape, event shape, same seq."""
    ack = await pair.visitor.call("message", {"client_id": "verify-1", "text": "verificatie"})
    if is_error(ack) or not {"id", "seq", "at"} <= set(ack):
        raise RuntimeError(f"unexpected message ack: {ack}")
    again = await pair.visitor.call("message", {"client_id": "verify-1", "text": "verificatie"})
    if again != ack:
        raise RuntimeError(f"client_id is not idempotent: {ack} vs {again}")
    deadline = now() + 5
    while now() < deadline:
        for event, data in events:
            if event == "message" and isinstance(data, dict) and data.get("id") == ack["id"]:
                if data.get("conversation_id") != pair.conversation_id or data.get("seq") != ack["seq"]:
                    raise RuntimeError(f"agent event does not match the ack: {data} vs {ack}")
                if data.get("sender") != "visitor" or data.get("text") != "verificatie":
                    raise RuntimeError(f"agent event has wrong content: {data}")
                return
        await asyncio.sleep(0.02)
    raise RuntimeError("the agent did not receive the verification message")


async def setup_vt_pairs(
    session: aiohttp.ClientSession, url: str, tokens: list[str], n_pairs: int, rec: Recorder, batch: int
) -> tuple[list[Pair], list[Sock], dict[str, float]]:
    timings: dict[str, float] = {}
    first_agent_events: list[tuple[str, Any]] = []

    def agent_handler(i: int) -> Callable[[str, Any], None]:
        def handle(event: str, data: Any) -> None:
            if i == 0 and len(first_agent_events) < 10_000:
                first_agent_events.append((event, data))
            rec.on_agent_event(event, data)

        return handle

    agents = [await Sock("/agent", agent_handler(i)).connect(session, url, {"token": t}) for i, t in enumerate(tokens)]
    # A refused connect must be refused: the server's auth really runs.
    intruder = Sock("/agent")
    try:
        await intruder.connect(session, url, {"token": "not-a-token"}, timeout=5)
        raise RuntimeError("/agent accepted a bad token")
    except SioError:
        pass
    finally:
        await intruder.close()

    t0 = now()
    visitors = await gather_limited([lambda: Sock("/visitor").connect(session, url) for _ in range(n_pairs)], 50)
    timings["connect_s"] = now() - t0
    pairs = [Pair(i, v, i % len(agents)) for i, v in enumerate(visitors)]

    # start + accept in batches: the queue stays short while setting up (see docs/performance.md).
    t0 = now()
    start = {"caller_type": "jongere", "intent": "advies", "topic": "bench"}
    for lo in range(0, n_pairs, batch):
        chunk = pairs[lo : lo + batch]
        acks = await asyncio.gather(*(p.visitor.call("start", start) for p in chunk))
        for p, ack in zip(chunk, acks, strict=True):
            if is_error(ack) or ack.get("status") != "waiting":
                raise RuntimeError(f"start failed: {ack}")
            p.conversation_id = ack["conversation_id"]
        accepted = await asyncio.gather(
            *(agents[p.agent_index].call("accept", {"conversation_id": p.conversation_id}) for p in chunk)
        )
        for ack in accepted:
            if is_error(ack) or ack["conversation"]["status"] != "active":
                raise RuntimeError(f"accept failed: {ack}")
    timings["start_accept_s"] = now() - t0
    await verify_vt(pairs[0], agents[0], first_agent_events)
    first_agent_events.clear()
    return pairs, agents, timings


async def setup_bare_pairs(
    session: aiohttp.ClientSession, url: str, n_agents: int, n_pairs: int, rec: Recorder
) -> tuple[list[Pair], list[Sock]]:
    ws_url = url.replace("http://", "ws://") + "/relay"
    agents = [
        await Sock("/agent", rec.on_agent_event).connect_bare(session, f"{ws_url}?role=agent&agent={i}")
        for i in range(n_agents)
    ]
    visitors = await gather_limited(
        [
            lambda i=i: Sock("/visitor").connect_bare(session, f"{ws_url}?role=visitor&agent={i % n_agents}")
            for i in range(n_pairs)
        ],
        50,
    )
    return [Pair(i, v, i % n_agents) for i, v in enumerate(visitors)], agents


async def measure(
    pairs: list[Pair], rec: Recorder, prefix: str, args: argparse.Namespace, pid: int
) -> tuple[PhaseStats, PhaseStats]:
    await warm_up(pairs, rec, pid)
    rate = await rate_phase(pairs, rec, f"{prefix}r", args.rate, args.duration, pid)
    await asyncio.sleep(1)
    closed = await closed_phase(pairs, rec, f"{prefix}c", args.saturation, pid)
    return rate, closed


async def close_all(socks: list[Sock]) -> None:
    await gather_limited([s.close for s in socks], 200)


def start_py_spy(children: Children, pid: int, out: str, seconds: float) -> subprocess.Popen[bytes] | None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        print(f"py-spy not found; install it with {sys.executable} -m pip install py-spy", file=sys.stderr)
        return None
    fmt = "raw" if out.endswith((".txt", ".raw")) else ("speedscope" if out.endswith(".json") else "flamegraph")
    return children.start(
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--rate",
            "100",
            "--gil",
            "--format",
            fmt,
            "--duration",
            str(int(seconds)),
            "--output",
            out,
        ],
        log=Path(out + ".log"),
    )


async def relay_mode(args: argparse.Namespace, children: Children, tmp: Path) -> int:
    results: dict[str, Any] = {
        "pairs": args.pairs,
        "rate": args.rate,
        "duration": args.duration,
        "saturation": args.saturation,
    }
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        # ---- vt-contact
        print(f"starting vt-contact ({args.agents} agents) …", flush=True)
        vt, tokens = await start_vt(children, tmp, args.agents)
        rec = Recorder()
        t0 = now()
        pairs, agents, timings = await setup_vt_pairs(session, vt.url, tokens, args.pairs, rec, args.setup_batch)
        print(
            f"  {args.pairs} pairs ready in {now() - t0:.1f} s "
            f"(connect {timings['connect_s']:.1f} s, start+accept {timings['start_accept_s']:.1f} s); "
            "client verified",
            flush=True,
        )
        spy = None
        if args.py_spy:
            spy = start_py_spy(children, vt.proc.pid, args.py_spy, args.duration + args.saturation + 8)
        vt_rate, vt_closed = await measure(pairs, rec, "v", args, vt.proc.pid)
        rss = psutil.Process(vt.proc.pid).memory_info().rss if psutil else 0
        print(f"  rate: {vt_rate.summary()}\n  closed loop: {vt_closed.summary()}", flush=True)
        if spy is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                await asyncio.to_thread(spy.wait, 30)
            Children.stop(spy)
            print(f"  py-spy profile written to {args.py_spy}", flush=True)
        await close_all([p.visitor for p in pairs] + agents)
        Children.stop(vt.proc)
        results["vt"] = {
            "setup": timings,
            "rate": vt_rate.summary(),
            "closed": vt_closed.summary(),
            "server_rss_mib": round(rss / 2**20, 1),
            "rate_timeline": vt_rate.timeline(0.5),
            # The timeline's 0 on the machine's monotonic clock (time.perf_counter): to line up
            # a stall with what the server logged at that moment.
            "rate_timeline_t0": vt_rate.arrivals[0] if vt_rate.arrivals else None,
        }

        # ---- bare aiohttp relay
        bare_rate = bare_closed = sio_rate = sio_closed = None
        if not args.skip_bare:
            print("starting the bare aiohttp relay …", flush=True)
            bare_proc, bare_url = await start_bare(children, tmp)
            rec_b = Recorder()
            pairs_b, agents_b = await setup_bare_pairs(session, bare_url, args.agents, args.pairs, rec_b)
            bare_rate, bare_closed = await measure(pairs_b, rec_b, "b", args, bare_proc.pid)
            print(f"  rate: {bare_rate.summary()}\n  closed loop: {bare_closed.summary()}", flush=True)
            await close_all([p.visitor for p in pairs_b] + agents_b)
            Children.stop(bare_proc)
            results["bare"] = {"rate": bare_rate.summary(), "closed": bare_closed.summary()}

            print("starting the python-socketio relay (no database, no validation) …", flush=True)
            sio_proc, sio_url = await start_bare(children, tmp, "sio")
            rec_s = Recorder()
            pairs_s, agents_s, _ = await setup_vt_pairs(
                session, sio_url, [SIO_TOKEN] * args.agents, args.pairs, rec_s, args.setup_batch
            )
            sio_rate, sio_closed = await measure(pairs_s, rec_s, "s", args, sio_proc.pid)
            print(f"  rate: {sio_rate.summary()}\n  closed loop: {sio_closed.summary()}", flush=True)
            await close_all([p.visitor for p in pairs_s] + agents_s)
            Children.stop(sio_proc)
            results["sio"] = {"rate": sio_rate.summary(), "closed": sio_closed.summary()}

    phases = [s for s in (vt_rate, vt_closed, bare_rate, bare_closed, sio_rate, sio_closed) if s is not None]
    lost = sum(s.lost for s in phases)
    errors = sum(s.ack_errors + s.stalled for s in phases)
    p99_ok = vt_rate.pct(0.99) < TARGET_P99_MS

    def row(name: str, s: PhaseStats) -> str:
        worst = max(s.latencies, default=0) * 1000
        return (
            f"{name:<26}{s.rate:>9.0f}{s.pct(0.5):>9.1f}{s.pct(0.99):>9.1f}{worst:>9.1f}"
            f"{s.lost:>6}{s.cpu_server:>9.0f}%{s.cpu_client:>9.0f}%{s.cpu_other:>9.0f}%"
        )

    print()
    print(
        f"chat relay, {args.pairs} pairs over {args.agents} agent sockets, loopback, {os.cpu_count()} cores, "
        f"SQLite (rate: {args.rate:g} msg/s per pair for {args.duration:g} s; closed loop: {args.saturation:g} s)"
    )
    print(
        f"{'':<26}{'msgs/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'lost':>6}"
        f"{'srv CPU':>10}{'cli CPU':>10}{'other':>10}"
    )
    print(row("vt-contact  rate", vt_rate))
    if bare_rate is not None:
        print(row("bare relay  rate", bare_rate))
    print(row("vt-contact  closed loop", vt_closed))
    if bare_closed is not None:
        print(row("bare relay  closed loop", bare_closed))
    if sio_closed is not None:
        print(row("socketio-only closed loop", sio_closed))
    print("(CPU in % of one core over each run; 'other' = the rest of the machine: kernel, other programs)")
    print()
    print(
        f"target p99 < {TARGET_P99_MS:.0f} ms at {args.pairs} pairs x {args.rate:g} msg/s: "
        f"{'MET' if p99_ok else 'MISSED'} ({vt_rate.pct(0.99):.1f} ms)"
    )
    if bare_closed is not None:
        ratio = vt_closed.rate / bare_closed.rate if bare_closed.rate else 0.0
        results["throughput_ratio"] = round(ratio, 4)
        print(f"throughput vt-contact / bare: {100 * ratio:.1f} %")
        print(
            f"target throughput >= {100 * TARGET_RATIO:.0f} % of bare: "
            f"{'MET' if ratio >= TARGET_RATIO else 'MISSED'} ({100 * ratio:.1f} %)"
        )
    if sio_closed is not None and bare_closed is not None and bare_closed.rate:
        print(
            f"python-socketio alone (no database, no checks) / bare: {100 * sio_closed.rate / bare_closed.rate:.1f} %; "
            f"vt-contact / python-socketio alone: {100 * vt_closed.rate / sio_closed.rate:.1f} %"
        )
    print(f"lost messages: {lost}; ack errors/stalls: {errors}")
    for s in phases:
        if s.ack_errors:
            # Counted until the end: "cancelled" came after the phase's figures, when its sockets closed.
            print(f"  ack errors of phase {s.name}: {s.ack_error_kinds}")
    if args.json:
        write_json(args.json, {**results, "disk": DISK})
    return 0 if lost == 0 and errors == 0 else 1


# -------------------------------------------------------------------------- idle mode --


def rss_kib(pid: int) -> int:
    if psutil is not None:
        return psutil.Process(pid).memory_info().rss // 1024
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("cannot read RSS")


async def settled_rss(pid: int, settle: float) -> int:
    await asyncio.sleep(settle)
    return rss_kib(pid)


IDLE_START = {"caller_type": "jongere", "intent": "advies", "topic": "bench"}  # the bench agents' team


async def start_probe(session: aiohttp.ClientSession, url: str, count: int) -> dict[str, Any]:
    """`count` new visitors connect and send `start`, 5 at a time, while the idle sockets stay
    connected: how fast a new visitor is answered on a process full of idle sockets."""
    latencies: list[float] = []
    socks: list[Sock] = []

    async def one() -> None:
        sock = await Sock("/visitor").connect(session, url)
        socks.append(sock)
        t0 = now()
        ack = await sock.call("start", IDLE_START, 30)
        latencies.append(now() - t0)
        if is_error(ack):
            raise RuntimeError(f"start failed: {ack}")

    await gather_limited([one for _ in range(count)], 5)
    await close_all(socks)
    data = sorted(latencies)
    return {
        "starts": len(data),
        "start_p50_ms": round(data[len(data) // 2] * 1000, 1),
        "start_p99_ms": round(data[min(len(data) - 1, int(0.99 * len(data)))] * 1000, 1),
        "start_max_ms": round(data[-1] * 1000, 1),
    }


async def idle_server(
    args: argparse.Namespace,
    session: aiohttp.ClientSession,
    pid: int,
    url: str,
    agents: list[Sock],
    connect: Callable[[], Awaitable[Sock]],
    start: bool,
) -> dict[str, Any]:
    """The RSS of one server before and after `args.sockets` idle sockets (and, with `start`,
    after a conversation was started and accepted on each); the server's and the machine's other
    CPU use over the whole measurement."""
    n = args.sockets
    out: dict[str, Any] = {}
    with CpuMeter(pid) as cpu:
        # A few sockets first, so that one-off allocations (imports, caches) are not counted.
        probe = await gather_limited([connect for _ in range(20)], 20)
        base = await settled_rss(pid, args.settle)
        t0 = now()
        socks = await gather_limited([connect for _ in range(n)], 100)
        out["connect_s"] = round(now() - t0, 2)
        connected = await settled_rss(pid, args.settle)
        out.update(rss_base_kib=base, rss_connected_kib=connected)
        out["kib_per_socket_connected"] = round((connected - base) / n, 1)
        if start:
            out.update(await start_probe(session, url, args.start_probe))
            t0 = now()
            for lo in range(0, n, args.setup_batch):
                chunk = socks[lo : lo + args.setup_batch]
                acks = await asyncio.gather(*(v.call("start", IDLE_START, 60) for v in chunk))
                if any(is_error(a) for a in acks):
                    raise RuntimeError(f"start failed: {acks[0]}")
                acc = await asyncio.gather(
                    *(
                        agents[(lo + i) % len(agents)].call("accept", {"conversation_id": a["conversation_id"]}, 60)
                        for i, a in enumerate(acks)
                    )
                )
                if any(is_error(a) for a in acc):
                    raise RuntimeError(f"accept failed: {acc[0]}")
            out["start_accept_s"] = round(now() - t0, 2)
            started = await settled_rss(pid, args.settle)
            out["rss_started_kib"] = started
            out["kib_per_socket_started"] = round((started - base) / n, 1)
        await close_all(socks + probe)
    out.update(cpu_server_pct=round(cpu.server_pct, 1), cpu_other_pct=round(cpu.other_pct, 1))
    return out


async def idle_mode(args: argparse.Namespace, children: Children, tmp: Path) -> int:
    n = args.sockets
    results: dict[str, Any] = {"sockets": n, "loadavg": os.getloadavg()}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        print(f"starting vt-contact ({args.agents} agents) …", flush=True)
        t_start = now()
        vt, tokens = await start_vt(children, tmp, args.agents)
        agents = [await Sock("/agent").connect(session, vt.url, {"token": t}) for t in tokens]
        # The first round of the server's periodic jobs loads what it needs once (the callbacks
        # job loads the `holidays` calendars, ~4 MB): after it, so it is not counted per socket.
        await asyncio.sleep(max(0.0, args.warm - (now() - t_start)))
        results["vt"] = await idle_server(
            args, session, vt.proc.pid, vt.url, agents, lambda: Sock("/visitor").connect(session, vt.url), True
        )
        await close_all(agents)
        Children.stop(vt.proc)

        print("starting the python-socketio relay …", flush=True)
        sio_proc, sio_url = await start_bare(children, tmp, "sio")
        agents = [await Sock("/agent").connect(session, sio_url, {"token": SIO_TOKEN}) for _ in range(args.agents)]
        results["sio"] = await idle_server(
            args, session, sio_proc.pid, sio_url, agents, lambda: Sock("/visitor").connect(session, sio_url), True
        )
        await close_all(agents)
        Children.stop(sio_proc)

        print("starting the bare aiohttp relay …", flush=True)
        bare_proc, bare_url = await start_bare(children, tmp)
        ws_url = bare_url.replace("http://", "ws://") + "/relay?role=visitor&agent=0"
        results["bare"] = await idle_server(
            args, session, bare_proc.pid, bare_url, [], lambda: Sock("/visitor").connect_bare(session, ws_url), False
        )
        Children.stop(bare_proc)

    v, s, b = results["vt"], results["sio"], results["bare"]
    print()
    load = " ".join(f"{x:.2f}" for x in results["loadavg"])
    print(f"idle sockets: {n}, server RSS (KiB), {args.settle:g} s settle before each reading; load average {load}")
    print(f"{'':<38}{'RSS before':>12}{'RSS after':>12}{'KiB/socket':>12}{'server CPU':>12}{'other CPU':>11}")
    for label, r, after, per in (
        ("vt-contact  connected to /visitor", v, v["rss_connected_kib"], v["kib_per_socket_connected"]),
        ("vt-contact  + conversation started", v, v["rss_started_kib"], v["kib_per_socket_started"]),
        ("python-socketio  connected", s, s["rss_connected_kib"], s["kib_per_socket_connected"]),
        ("python-socketio  + started", s, s["rss_started_kib"], s["kib_per_socket_started"]),
        ("bare aiohttp WebSocket", b, b["rss_connected_kib"], b["kib_per_socket_connected"]),
    ):
        print(
            f"{label:<38}{r['rss_base_kib']:>12}{after:>12}{per:>12.1f}"
            f"{r['cpu_server_pct']:>11.0f}%{r['cpu_other_pct']:>10.0f}%"
        )
    print(f"(connect {v['connect_s']:.1f} s, start+accept {v['start_accept_s']:.1f} s for {n} sockets)")
    print(
        f"start -> ack of a new visitor with {n} idle sockets connected ({v['starts']} starts, 5 at a time): "
        f"p50 {v['start_p50_ms']:.1f} ms, p99 {v['start_p99_ms']:.1f} ms, max {v['start_max_ms']:.1f} ms "
        f"(python-socketio: p99 {s['start_p99_ms']:.1f} ms)"
    )
    met_kib = "MET" if v["kib_per_socket_connected"] < TARGET_IDLE_KIB else "MISSED"
    met_ms = "MET" if v["start_p99_ms"] < TARGET_IDLE_START_MS else "MISSED"
    print(
        f"target < {TARGET_IDLE_KIB:.0f} KiB per idle socket: {met_kib} "
        f"({v['kib_per_socket_connected']:.1f} connected, {v['kib_per_socket_started']:.1f} started); "
        f"start p99 < {TARGET_IDLE_START_MS:.0f} ms: {met_ms}"
    )
    if args.json:
        write_json(args.json, {**results, "disk": DISK})
    return 0


# ------------------------------------------------------------------------------- main --


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--mode", choices=["relay", "idle"], default="relay")
    p.add_argument("--pairs", type=int, default=500, help="visitor/agent conversation pairs (relay)")
    p.add_argument("--rate", type=float, default=1.0, help="messages per second per pair (relay)")
    p.add_argument("--duration", type=float, default=20, help="seconds of the fixed-rate run (relay)")
    p.add_argument("--saturation", type=float, default=10, help="seconds of the closed-loop run (relay)")
    p.add_argument("--agents", type=int, default=10, help="agent sockets; conversations are spread over them")
    p.add_argument("--sockets", type=int, default=2000, help="idle visitor sockets (idle)")
    p.add_argument("--setup-batch", type=int, default=25, help="conversations started+accepted at a time")
    p.add_argument("--settle", type=float, default=3, help="seconds to wait before each RSS reading (idle)")
    p.add_argument(
        "--warm", type=float, default=65, help="seconds after vt-contact's start before the first reading (idle)"
    )
    p.add_argument(
        "--start-probe", type=int, default=100, help="new visitors timed start -> ack beside the idle sockets (idle)"
    )
    p.add_argument("--py-spy", metavar="OUT", help="profile vt-contact during the measured runs (.svg, .json or .txt)")
    p.add_argument("--json", metavar="OUT", help="also write the figures as JSON")
    p.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="VT_X=VALUE",
        help="extra environment for vt-contact, e.g. VT_SQLITE_SYNCHRONOUS=NORMAL (repeatable)",
    )
    p.add_argument(
        "--vt-command",
        metavar="CMD",
        help="run this instead of `vt-contact` (same arguments), e.g. a wrapper that patches the server",
    )
    p.add_argument(
        "--deflate",
        action="store_true",
        help="the client offers permessage-deflate, as browsers do (a server accepting it keeps zlib state per socket)",
    )
    p.add_argument("--skip-bare", action="store_true", help="measure vt-contact only (relay)")
    p.add_argument(
        "--max-dirty-mib",
        type=float,
        default=64,
        help="wait until the kernel has at most this much left to write to disk before measuring",
    )
    p.add_argument("--disk-wait", type=float, default=180, help="wait at most this many seconds for the disk")
    p.add_argument("--timeout", type=float, default=900, help="give up after this many seconds")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (database, server logs)")
    p.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    p.add_argument("--serve-sio", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if not (1 <= args.pairs <= 20_000 and 1 <= args.sockets <= 50_000 and 0 < args.rate <= 1000):
        p.error("pairs 1..20000, sockets 1..50000, rate 0..1000")
    if not (
        0 < args.duration <= 600 and 0 < args.saturation <= 600 and 1 <= args.agents <= 200 and args.setup_batch >= 1
    ):
        p.error("duration and saturation 0..600 s, agents 1..200, setup-batch >= 1")
    if not 1 <= args.start_probe <= 10_000:
        p.error("start-probe 1..10000")
    DEFLATE[0] = 15 if args.deflate else 0
    if args.vt_command:
        import shlex

        VT_COMMAND[:] = shlex.split(args.vt_command)
    for item in args.server_env:
        key, sep, value = item.partition("=")
        if not sep or not key.startswith("VT_"):
            p.error("--server-env takes VT_NAME=VALUE")
        EXTRA_SERVER_ENV[key] = value
    return args


def disk_backlog_mib() -> float | None:
    """What the kernel still has to write to disk (Dirty + Writeback in /proc/meminfo), in MiB; None off Linux."""
    try:
        fields = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines() if ":" in line)
        return sum(int(fields[k].split()[0]) for k in ("Dirty", "Writeback")) / 1024
    except (OSError, KeyError, ValueError, IndexError):
        return None


def settle_disk(limit_mib: float, wait_s: float) -> dict[str, float | None]:
    """Wait (bounded) until the disk has caught up before measuring: every commit waits for its fsync, and a
    backlog left by whatever ran before (a test suite writes gigabytes) makes those fsyncs queue behind it. Session
    8's first rate run, 20 s after the test suite, had p99 310 ms where the next three had 11-47 ms."""
    t0 = now()
    backlog = before = disk_backlog_mib()
    while backlog is not None and backlog > limit_mib and now() - t0 < wait_s:
        time.sleep(2)
        backlog = disk_backlog_mib()
    waited = now() - t0
    if backlog is None:
        print("disk before the run: unknown (no /proc/meminfo)", flush=True)
    else:
        state = "still busy: figures include its writes" if backlog > limit_mib else "settled"
        print(
            f"disk before the run: {before:.0f} MiB waiting to be written, {backlog:.0f} MiB after {waited:.0f} s "
            f"({state}; limit {limit_mib:g} MiB)",
            flush=True,
        )
    return {"backlog_mib_before": before, "backlog_mib": backlog, "waited_s": round(waited, 1)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_sio is not None:
        serve_sio(args.serve_sio)
        return 0
    if args.serve_bare is not None:
        serve_bare(args.serve_bare)
        return 0
    DISK.update(settle_disk(args.max_dirty_mib, args.disk_wait))
    limit = raise_nofile()
    need = (args.sockets if args.mode == "idle" else args.pairs + args.agents) + 200
    if limit < need:
        print(f"warning: open-files limit {limit} is below the {need} sockets needed", file=sys.stderr)
    children = Children()
    tmp = Path(tempfile.mkdtemp(prefix="vt-bench-"))
    run = relay_mode if args.mode == "relay" else idle_mode

    async def bounded() -> int:
        # SIGTERM and Ctrl-C cancel the run; the clean-up below ends the servers.
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)  # type: ignore[union-attr]
        return await asyncio.wait_for(run(args, children, tmp), args.timeout)

    try:
        return asyncio.run(bounded())
    except (asyncio.CancelledError, KeyboardInterrupt):
        print("bench interrupted", file=sys.stderr)
        return 130
    except (TimeoutError, RuntimeError, OSError, aiohttp.ClientError) as exc:
        print(f"bench failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        for log in sorted(tmp.glob("*.log")):
            tail = log.read_text(errors="replace")[-2000:]
            if tail.strip():
                print(f"--- {log.name} (tail)\n{tail}", file=sys.stderr)
        return 1
    finally:
        children.stop_all()
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
