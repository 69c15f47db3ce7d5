"""The webhook per the Standard Webhooks spec: a real receiver verifies every delivery with the
`standardwebhooks` library (`whsec_<base64 of the secret>`), refuses one whose timestamp is
older than its tolerance (a replay), and during a rotation both the old and the new secret
verify. A short or empty secret and plain http (without the explicit setting) stop the start."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from app.bootstrap import ConfigError, create_app
from cases.delivery import standard_signature
from contact.clock import ManualClock
from tests.cases.test_webhook import _outbox, _wait_status
from tests.support.server import RunningServer, make_settings, migrated_sqlite
from tests.support.services import free_port

OLD = "old-webhook-secret-0123456789"
NEW = "new-webhook-secret-9876543210"


def whsec(secret: str) -> str:
    return "whsec_" + base64.b64encode(secret.encode()).decode()


class StandardReceiver:
    """A case system that checks deliveries with the standardwebhooks library and one secret."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.port = free_port()
        self.accepted: list[tuple[dict[str, str], bytes]] = []
        self.refused: list[str] = []
        self.runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = dict(request.headers)
        try:
            Webhook(whsec(self.secret)).verify(body, headers)
        except WebhookVerificationError as exc:
            self.refused.append(str(exc))
            return web.Response(status=401)
        self.accepted.append((headers, body))
        return web.json_response({"ok": True})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


async def _server(tmp_path, receiver: StandardReceiver, clock: ManualClock, **settings: object) -> RunningServer:
    url = await migrated_sqlite(str(tmp_path / "std.db"))
    values: dict[str, object] = {
        "case_webhook_url": receiver.url,
        "case_webhook_secret": OLD,
        "case_webhook_allow_http": True,
        "case_retry_base_s": 1,
        "case_retry_max_s": 2,
        "case_poll_s": 0.05,
        "case_timeout_s": 1,
        "hash_key": "h" * 32,
    }
    values.update(settings)
    return await RunningServer(make_settings(url, **values), clock).start()


async def test_deliveries_verify_with_the_library_and_a_replay_is_refused(tmp_path):
    receiver = StandardReceiver(OLD)
    await receiver.start()
    # The server's clock is 10 minutes behind the receiver's: what it sends looks like a
    # request captured 10 minutes ago and played again.
    clock = ManualClock(datetime.now(UTC) - timedelta(minutes=10))
    server = await _server(tmp_path, receiver, clock)
    try:
        url = server.settings.database_url
        (one,) = await _outbox(url, 1, clock.now())
        await _wait_status(url, one, "pending", error="http_401")
        assert receiver.refused and "too old" in receiver.refused[0]
        # Now the server's time is right: the next try carries a fresh timestamp and verifies.
        clock.set(datetime.now(UTC))
        await _wait_status(url, one, "delivered")
    finally:
        await server.stop()
        await receiver.stop()
    (headers, body) = receiver.accepted[0]
    assert headers["webhook-id"] == one == headers["Idempotency-Key"]
    # The old header is unchanged next to the new ones.
    assert headers["X-VT-Signature"] == "sha256=" + hmac.new(OLD.encode(), body, hashlib.sha256).hexdigest()
    # The same request played again after the receiver's tolerance (5 minutes) is refused.
    stamp = int(headers["webhook-timestamp"]) - 6 * 60
    replay = {**headers, "webhook-timestamp": str(stamp)}
    replay["webhook-signature"] = standard_signature((OLD.encode(),), one, stamp, body)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(whsec(OLD)).verify(body, replay)
    # And a changed body never verifies.
    with pytest.raises(WebhookVerificationError):
        Webhook(whsec(OLD)).verify(body.replace(b"melding", b"advies"), headers)


@pytest.mark.parametrize("receiver_secret", [OLD, NEW])
async def test_during_a_rotation_old_and_new_secret_both_verify(tmp_path, receiver_secret):
    receiver = StandardReceiver(receiver_secret)
    await receiver.start()
    clock = ManualClock(datetime.now(UTC))
    server = await _server(tmp_path, receiver, clock, case_webhook_secret=None, case_webhook_secrets=f"{NEW}, {OLD}")
    try:
        url = server.settings.database_url
        (one,) = await _outbox(url, 1, clock.now())
        await _wait_status(url, one, "delivered")
    finally:
        await server.stop()
        await receiver.stop()
    (headers, body) = receiver.accepted[0]
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert receiver.refused == []
    # X-VT-Signature (one secret only) uses the newest when only the list is set.
    assert headers["X-VT-Signature"] == "sha256=" + hmac.new(NEW.encode(), body, hashlib.sha256).hexdigest()


async def test_weak_secrets_and_plain_http_refuse_to_start(tmp_path):
    url = await migrated_sqlite(str(tmp_path / "cfg.db"))
    https = "https://cases.example/hook"
    for secret in ("", "short", "x" * 23):
        with pytest.raises(ConfigError, match="at least 24 bytes"):
            create_app(make_settings(url, case_webhook_url=https, case_webhook_secret=secret))
    with pytest.raises(ConfigError, match="at least 24 bytes"):
        create_app(make_settings(url, case_webhook_url=https, case_webhook_secrets=f"{NEW},tiny"))
    with pytest.raises(ConfigError, match="must be https"):
        create_app(make_settings(url, case_webhook_url="http://cases.example/hook", case_webhook_secret=OLD))
    create_app(make_settings(url, case_webhook_url=https, case_webhook_secret=OLD))
    create_app(
        make_settings(
            url, case_webhook_url="http://127.0.0.1:9/hook", case_webhook_secret=OLD, case_webhook_allow_http=True
        )
    )
    await asyncio.sleep(0)
