"""deploy/nginx/vt-contact.conf, as shipped, in Debian's nginx in front of two `vt-contact
serve` processes (PostgreSQL, Redis): a visitor chats through the proxy over WebSocket and over
long-polling (every poll of a session must reach the process that holds it), with the advisor
on the other process; messages go both ways. nginx runs unprivileged with its own prefix,
config and ephemeral port."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import socketio
from aiohttp import ClientSession

from tests.support.processes import ROOT, ServerProcess, run_cli
from tests.support.server import Client, agent_client, login, start_payload
from tests.support.services import free_port, service_missing

CONF = ROOT / "deploy" / "nginx" / "vt-contact.conf"
# Socket.IO connections per client address per process, small for the spoofing test.
CAP = 3


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    if found is None:
        service_missing("nginx (Debian: apt-get install nginx-light)")
    return found


def site_config(upstreams: list[int], port: int, prefix: Path) -> str:
    """The shipped file with only what differs on a test machine changed: the upstream ports,
    plain http on a loopback port instead of TLS on 443, and the error log's place."""
    text = CONF.read_text()
    upstream_lines = "".join(f"    server 127.0.0.1:{p} max_fails=3 fail_timeout=10s;\n" for p in upstreams)
    text, n = re.subn(r"(    server 127\.0\.0\.1:\d+ [^\n]*\n)+", upstream_lines, text, count=1)
    assert n == 1
    text, n = re.subn(r"    listen 443 ssl[^\n]*\n", f"    listen 127.0.0.1:{port};\n", text)
    assert n == 1
    text = re.sub(r"    ssl_certificate[^\n]*\n", "", text)
    text = re.sub(r"    error_log [^\n]*\n", f"    error_log {prefix}/site-error.log warn;\n", text)
    # The port-80 redirect is for production only.
    text, n = re.subn(r"\nserver \{\n    listen 80;.*?\n\}\n", "\n", text, flags=re.S)
    assert n == 1
    return text


@contextlib.contextmanager
def nginx(upstreams: list[int]) -> Iterator[str]:
    binary = nginx_binary()
    # Its own prefix in /tmp (pytest's folders are root's only), removed afterwards.
    prefix = Path(tempfile.mkdtemp(prefix="vt-nginx-", dir="/tmp"))
    prefix.chmod(0o755)
    port = free_port()
    (prefix / "vt-contact.conf").write_text(site_config(upstreams, port, prefix))
    temp = "\n".join(
        f"    {kind}_temp_path {prefix}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (prefix / "nginx.conf").write_text(
        f"worker_processes 1;\ndaemon off;\npid {prefix}/nginx.pid;\nerror_log {prefix}/error.log warn;\n"
        f"events {{ worker_connections 256; }}\n"
        f"http {{\n{temp}\n    include {prefix}/vt-contact.conf;\n}}\n"
    )
    command = [binary, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log")]
    if os.geteuid() == 0:
        # Unprivileged, as it should be tried: as `nobody`, owning only its own prefix.
        nobody = pwd.getpwnam("nobody")
        os.chown(prefix, nobody.pw_uid, nobody.pw_gid)
        for written in prefix.iterdir():
            os.chown(written, nobody.pw_uid, nobody.pw_gid)
        runuser = shutil.which("runuser") or service_missing("runuser (util-linux)")
        command = [runuser, "-u", "nobody", "--", *command]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
    if checked.returncode != 0:
        shutil.rmtree(prefix, ignore_errors=True)
        raise AssertionError(checked.stderr)
    log = open(prefix / "stderr.log", "wb")
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            assert proc.poll() is None, (prefix / "error.log").read_text(errors="replace")
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=1) as r:
                    if r.status == 200:
                        break
            except (OSError, urllib.error.URLError):
                assert time.monotonic() < deadline, "nginx did not answer"
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()
        shutil.rmtree(prefix, ignore_errors=True)


async def where_is_the_visitor(processes: list[ServerProcess]) -> int:
    """Which process holds the visitor's connection (its own /metrics, asked directly)."""
    from tests.app.test_metrics import scrape, value

    for _ in range(50):
        counts = [value(await scrape(p.url, token=None), "vt_connections", namespace="visitor") for p in processes]
        if sum(counts) == 1:
            return counts.index(1)
        await asyncio.sleep(0.1)
    raise AssertionError(f"visitor connections per process: {counts}")


@pytest.fixture(scope="module")
def proxied(tmp_path_factory, postgres, redis_url):
    workdir = tmp_path_factory.mktemp("proxy")
    database_url = postgres.create_database(f"proxy_{uuid.uuid4().hex[:8]}")
    assert run_cli("db", "upgrade", "--database-url", database_url).returncode == 0
    username, password = f"x{uuid.uuid4().hex[:8]}", f"pw-{uuid.uuid4().hex}"
    added = run_cli(
        "agent", "add", username, "--name", "Pien Proxy", "--role", "advisor", "--team", "jeugd",
        "--database-url", database_url, stdin=password + "\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    env = {
        "VT_REDIS_CHANNEL": f"vt-proxy-{uuid.uuid4().hex[:6]}",
        "VT_FORWARDED_ALLOW_IPS": "127.0.0.1",
        "VT_MAX_CONNECTIONS_PER_ADDRESS": str(CAP),
    }
    processes: list[ServerProcess] = []
    try:
        for name in ("a", "b"):
            processes.append(ServerProcess(database_url, redis_url, workdir, name, **env))
        with nginx([p.port for p in processes]) as url:
            yield url, processes, username, password
    finally:
        for p in processes:
            p.stop()


async def test_a_client_cannot_choose_its_address(proxied):
    """The proxy sets X-Forwarded-For to the address it sees, and the servers believe only the
    proxy (VT_FORWARDED_ALLOW_IPS): an address a client writes in the header counts for nothing.
    Here every client is 127.0.0.1, so the per-address cap counts them all together, whatever
    each claims (first in this module: no other connection is open yet)."""
    url = proxied[0]
    opened = []
    try:
        for n in range(CAP):
            opened.append(await Client("/visitor").connect(url, headers={"X-Forwarded-For": f"203.0.113.{n + 1}"}))
        refused = Client("/visitor")
        with pytest.raises(socketio.exceptions.ConnectionError):
            await refused.connect(url, headers={"X-Forwarded-For": "198.51.100.77"})
        assert refused.connect_error["data"]["error"]["code"] == "rate_limited"
    finally:
        for c in opened:
            await c.disconnect()


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_a_chat_through_the_proxy(proxied, transport):
    url, processes, username, password = proxied
    # A browser's handshake carries its page's origin: the proxy passes Host and scheme so the
    # server recognises its own site.
    v = await Client("/visitor").connect(url, transports=[transport], headers={"Origin": url})
    assert v.sio.transport() == transport
    here = await where_is_the_visitor(processes)
    other = processes[1 - here]
    agent = await agent_client(other.url, await login(other.url, username, password))
    try:
        cid = (await v.call("start", start_payload(caller_type="jongere")))["conversation_id"]
        assert "conversation" in await agent.call("accept", {"conversation_id": cid})
        for n in range(5):
            # Several rounds: over long-polling each is a new request that must reach the same process.
            sent = await v.call("message", {"client_id": f"v{n}", "text": f"via de proxy {n}"})
            assert "error" not in sent, sent
            await agent.wait_for("message", lambda m, n=n: m.get("text") == f"via de proxy {n}")
            answered = await agent.call("message", {"conversation_id": cid, "client_id": f"a{n}", "text": f"terug {n}"})
            assert "error" not in answered, answered
            await v.wait_for("message", lambda m, n=n: m.get("text") == f"terug {n}")
        await agent.call("close", {"conversation_id": cid, "outcome": {"kind": "geen"}})
        await v.wait_for("closed")
    finally:
        await v.disconnect()
        await agent.disconnect()


async def test_metrics_are_not_served_through_the_proxy(proxied):
    url = proxied[0]
    async with ClientSession() as http:
        async with http.get(f"{url}/metrics") as r:
            assert r.status == 404
        # The API is there, with the server's own headers.
        async with http.get(f"{url}/api/status") as r:
            assert r.status == 200 and r.headers["X-Content-Type-Options"] == "nosniff"
