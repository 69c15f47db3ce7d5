"""`vt-contact` as separate OS processes, as an operator runs it: for the several-process tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

from tests.support.server import HASH_KEY, SECRET
from tests.support.services import free_port

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "app.cli"]


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VT_")}
    env.update({"VT_SECRET_KEY": SECRET, "VT_HASH_KEY": HASH_KEY, "VT_CHAT_HOURS": "24/7", "VT_LOG_LEVEL": "WARNING"})
    env.update(extra)
    return env


def run_cli(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], input=stdin, capture_output=True, text=True, cwd=ROOT, env=env or cli_env(), timeout=60
    )


def cli_add_agent(database_url: str, role: str, name: str, prefix: str = "a") -> tuple[str, str]:
    """`vt-contact agent add` as an operator runs it: a new agent's username and password."""
    username, password = f"{prefix}{uuid.uuid4().hex[:10]}", f"pw-{uuid.uuid4().hex}"
    added = run_cli(
        "agent", "add", username, "--name", name, "--role", role, "--database-url", database_url, stdin=password + "\n"
    )
    assert added.returncode == 0, added.stderr
    return username, password


class ServerProcess:
    """`vt-contact serve` on a free loopback port; its output goes to a log file."""

    # Every process started, so that one a test forgot to stop (a failed start of its second process, an
    # exception between start and `try`) is stopped when its module ends rather than outliving the run.
    started: list[ServerProcess] = []

    def __init__(
        self, database_url: str, redis_url: str | None, log_dir: Path, name: str, *extra: str, **env: str
    ) -> None:
        self.port = free_port()
        self.log_path = log_dir / f"{name}.log"
        args = ["serve", "--port", str(self.port), "--database-url", database_url]
        if redis_url:
            args += ["--redis-url", redis_url]
        args += extra
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [*CLI, *args], cwd=ROOT, env=cli_env(**env), stdout=self._log, stderr=subprocess.STDOUT
        )
        ServerProcess.started.append(self)
        self._wait_ready()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"vt-contact exited early:\n{self.log_path.read_text(errors='replace')[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"vt-contact did not get ready:\n{self.log_path.read_text(errors='replace')[-3000:]}")

    @classmethod
    def stop_leftovers(cls) -> list[str]:
        """Stop every process still running and forget all; the log names of those that were left running."""
        left = [p for p in cls.started if p.proc.poll() is None]
        for p in left:
            p.stop()
        cls.started.clear()
        return [p.log_path.name for p in left]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
