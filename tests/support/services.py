"""Real throwaway Redis and PostgreSQL server processes for integration tests."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import pytest

START_ATTEMPTS = 3
REDIS_READY_TIMEOUT = 15.0
POSTGRES_READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
POSTGRES_USER = "vt"
POSTGRES_SYSTEM_USER = "postgres"
_TRUE = {"1", "true", "yes", "on"}
_DB_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_PORT_CLASH = ("Address already in use", "could not bind", "could not create any TCP/IP sockets")


class PortClash(RuntimeError):
    """The server could not bind its port because something else took it first."""


def service_missing(what: str) -> NoReturn:
    """Fail the test under CI or VT_REQUIRE_SERVICES=1, otherwise skip it, because a service is not installed."""
    required = any(os.environ.get(name, "").strip().lower() in _TRUE for name in ("VT_REQUIRE_SERVICES", "CI"))
    if required:
        pytest.fail(f"{what} is required for these tests but was not found (CI / VT_REQUIRE_SERVICES is set)")
    pytest.skip(f"{what} is not installed; set VT_REQUIRE_SERVICES=1 to make this a failure")


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _looks_like_port_clash(log: Path) -> bool:
    tail = _log_tail(log, 50)
    return any(marker in tail for marker in _PORT_CLASH)


def _stop_process(proc: subprocess.Popen[bytes], first: int = signal.SIGTERM) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(first)
    try:
        proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait(timeout=STOP_TIMEOUT)


# --------------------------------------------------------------------------- Redis


def _redis_command(port: int, payload: bytes, timeout: float = 1.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(payload)
        chunks: list[bytes] = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
            data = b"".join(chunks)
            if data.startswith(b"+") or data.startswith(b"-"):
                if data.endswith(b"\r\n"):
                    return data
            elif data.startswith(b"$"):
                header, _, rest = data.partition(b"\r\n")
                if int(header[1:]) < 0 or len(rest) >= int(header[1:]) + 2:
                    return data
        return b"".join(chunks)


def _redis_answers(port: int, pid: int) -> bool:
    """True when *our* redis-server (checked by process id) answers PING on the port."""
    try:
        if not _redis_command(port, b"*1\r\n$4\r\nPING\r\n").startswith(b"+PONG"):
            return False
        info = _redis_command(port, b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n")
    except OSError:
        return False
    return f"process_id:{pid}\r\n".encode() in info


def _start_redis(binary: str, workdir: Path, attempt: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    log = workdir / f"redis-{attempt}.log"
    args = [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--protected-mode",
        "yes",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(workdir),
        "--daemonize",
        "no",
        "--loglevel",
        "warning",
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            args, cwd=workdir, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + REDIS_READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            if _looks_like_port_clash(log):
                raise PortClash(port)
            raise RuntimeError(f"redis-server exited with code {proc.returncode}:\n{_log_tail(log)}")
        if _redis_answers(port, proc.pid):
            return proc, port
        time.sleep(0.05)
    _stop_process(proc, signal.SIGKILL)
    raise RuntimeError(f"redis-server did not answer PING within {REDIS_READY_TIMEOUT:.0f}s:\n{_log_tail(log)}")


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """Run a throwaway redis-server on a free loopback port and yield its redis:// URL."""
    binary = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.access("/usr/bin/redis-server", os.X_OK) else None
    )
    if binary is None:
        service_missing("redis-server")
    workdir = Path(tempfile.mkdtemp(prefix="vt-redis-"))
    proc: subprocess.Popen[bytes] | None = None
    try:
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                proc, port = _start_redis(binary, workdir, attempt)
                break
            except PortClash:
                if attempt == START_ATTEMPTS:
                    raise RuntimeError(
                        f"redis-server could not find a free port in {START_ATTEMPTS} attempts"
                    ) from None
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        if proc is not None:
            _stop_process(proc)
        shutil.rmtree(workdir, ignore_errors=True)


# --------------------------------------------------------------------------- PostgreSQL


@dataclass
class PostgresServer:
    """A running throwaway PostgreSQL server that accepts the user 'vt' without a password on loopback."""

    host: str
    port: int
    user: str
    createdb: str = field(repr=False)

    def create_database(self, name: str) -> str:
        """Create a new database on this server and return its postgresql+asyncpg:// SQLAlchemy URL."""
        if not _DB_NAME.match(name):
            raise ValueError(f"database name must be a plain identifier, got {name!r}")
        result = subprocess.run(
            [
                self.createdb,
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-E",
                "UTF8",
                "-T",
                "template0",
                name,
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env=_client_env(),
            timeout=30,
            check=False,
        )
        if result.returncode != 0:
            message = result.stderr.decode(errors="replace").strip()
            raise RuntimeError(f"createdb {name} failed (exit {result.returncode}): {message}")
        return f"postgresql+asyncpg://{self.user}@{self.host}:{self.port}/{name}"


def _client_env() -> dict[str, str]:
    """The environment without PG* variables, so no outside setting redirects the client tools."""
    return {key: value for key, value in os.environ.items() if not key.startswith("PG")}


def _postgres_bindirs() -> list[Path]:
    dirs: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, timeout=10, check=True)
            dirs.append(Path(out.stdout.decode().strip()))

    def version(path: str) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", Path(path).parent.name))

    dirs.extend(Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True))
    return dirs


def _find_postgres_tool(name: str) -> str | None:
    for directory in _postgres_bindirs():
        candidate = directory / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which(name)


def _as_postgres_user(args: list[str], runuser: str | None) -> list[str]:
    return [runuser, "-u", POSTGRES_SYSTEM_USER, "--", *args] if runuser else args


def _initdb(initdb: str, data: Path, log: Path, runuser: str | None) -> None:
    for locale in ("C.UTF-8", "C"):
        args = [
            initdb,
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            POSTGRES_USER,
            "--no-sync",
            "-E",
            "UTF8",
            f"--locale={locale}",
        ]
        with open(log, "ab") as out:
            result = subprocess.run(
                _as_postgres_user(args, runuser),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=_client_env(),
                cwd=data.parent,
                timeout=120,
                check=False,
            )
        if result.returncode == 0:
            return
        if data.exists():
            shutil.rmtree(data, ignore_errors=True)
    raise RuntimeError(f"initdb failed:\n{_log_tail(log)}")


def _postmaster_pid(data: Path) -> int | None:
    try:
        return int((data / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


def _stop_postgres(proc: subprocess.Popen[bytes], data: Path) -> None:
    """Immediate shutdown (SIGQUIT) of the postmaster, then SIGKILL if it does not go away."""
    if proc.poll() is not None:
        return
    pid = _postmaster_pid(data)
    if pid is None:
        _stop_process(proc)
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGQUIT)
    try:
        proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
        _stop_process(proc, signal.SIGKILL)


def _start_postgres(
    postgres: str,
    pg_isready: str,
    workdir: Path,
    runuser: str | None,
    attempt: int,
    port: int | None = None,
    durable: bool = False,
) -> tuple[subprocess.Popen[bytes], int]:
    port = port or free_port()
    data, sockets = workdir / "data", workdir / "sock"
    log = workdir / f"postgres-{attempt}.log"
    args = [
        postgres,
        "-D",
        str(data),
        "-p",
        str(port),
        "-k",
        str(sockets),
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        "fsync=off",
        "-c",
        # Durable: a commit is in the WAL (the OS's cache of it) before it is acknowledged, so an
        # immediate shutdown loses none; otherwise the last commits may be gone after a restart.
        f"synchronous_commit={'on' if durable else 'off'}",
        "-c",
        "full_page_writes=off",
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            _as_postgres_user(args, runuser),
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_client_env(),
            start_new_session=True,
        )
    probe = [pg_isready, "-q", "-h", "127.0.0.1", "-p", str(port), "-U", POSTGRES_USER, "-d", "postgres", "-t", "2"]
    deadline = time.monotonic() + POSTGRES_READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            if _looks_like_port_clash(log):
                raise PortClash(port)
            raise RuntimeError(f"postgres exited with code {proc.returncode}:\n{_log_tail(log)}")
        ready = subprocess.run(probe, stdin=subprocess.DEVNULL, capture_output=True, env=_client_env(), check=False)
        if ready.returncode == 0 and proc.poll() is None and _postmaster_pid(data) is not None:
            return proc, port
        time.sleep(0.1)
    _stop_postgres(proc, data)
    raise RuntimeError(f"postgres did not accept connections within {POSTGRES_READY_TIMEOUT:.0f}s:\n{_log_tail(log)}")


class PostgresProcess:
    """A throwaway PostgreSQL cluster (trust auth, user 'vt', loopback) whose server can be
    stopped and started again on the same port and data directory."""

    def __init__(self, durable: bool = False) -> None:
        self.durable = durable
        tools = {name: _find_postgres_tool(name) for name in ("initdb", "postgres", "pg_isready", "createdb")}
        missing = sorted(name for name, path in tools.items() if path is None)
        if missing:
            service_missing(f"PostgreSQL ({', '.join(missing)})")
        self.tools: dict[str, str] = {name: path for name, path in tools.items() if path is not None}
        self.runuser: str | None = None
        owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            # PostgreSQL refuses to run as root: run it as the 'postgres' system user.
            try:
                owner = pwd.getpwnam(POSTGRES_SYSTEM_USER)
            except KeyError:
                service_missing(f"PostgreSQL (system user {POSTGRES_SYSTEM_USER!r})")
            self.runuser = shutil.which("runuser") or service_missing("runuser (util-linux)")
        base = Path("/tmp") if owner is not None else Path(tempfile.gettempdir())
        base.mkdir(mode=0o755, parents=True, exist_ok=True)
        self.workdir = Path(tempfile.mkdtemp(prefix="vt-pg-", dir=base))
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self._starts = 0
        try:
            sockets = self.workdir / "sock"
            sockets.mkdir(mode=0o700)
            if owner is not None:
                self.workdir.chmod(0o755)
                for path in (self.workdir, sockets):
                    os.chown(path, owner.pw_uid, owner.pw_gid)
            _initdb(self.tools["initdb"], self.workdir / "data", self.workdir / "initdb.log", self.runuser)
        except BaseException:
            self.remove()
            raise

    def start(self) -> PostgresServer:
        """Start the server: on a free port the first time, on the same port after that."""
        for attempt in range(1, START_ATTEMPTS + 1):
            self._starts += 1
            try:
                self.proc, self.port = _start_postgres(
                    self.tools["postgres"],
                    self.tools["pg_isready"],
                    self.workdir,
                    self.runuser,
                    self._starts,
                    self.port,
                    self.durable,
                )
                break
            except PortClash:
                if attempt == START_ATTEMPTS or self.port:
                    raise RuntimeError(f"postgres could not bind a port in {attempt} attempts") from None
        return PostgresServer(host="127.0.0.1", port=self.port, user=POSTGRES_USER, createdb=self.tools["createdb"])

    def stop(self) -> None:
        """Immediate shutdown: every connection is cut, as when the database server goes down."""
        if self.proc is not None:
            _stop_postgres(self.proc, self.workdir / "data")
            self.proc = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """Run a throwaway PostgreSQL server (trust auth, user 'vt') on a free loopback port and yield it."""
    with postgres_process() as process:
        yield process.start()


@contextlib.contextmanager
def postgres_process(durable: bool = False) -> Iterator[PostgresProcess]:
    """A PostgreSQL cluster the test starts, stops and starts again itself; removed afterwards."""
    process = PostgresProcess(durable)
    try:
        yield process
    finally:
        process.remove()
