"""Never oversold, never split: 200 requests at once for the last place of a tijdvak over two
`vt-contact serve` processes give exactly one booking, on SQLite and on PostgreSQL; requests
for one number racing on both processes end as one callback."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiohttp import ClientSession, TCPConnector

from tests.callback.conftest import Api
from tests.support.processes import ServerProcess, run_cli
from tests.support.server import login


@pytest.fixture(params=["sqlite", "postgres"])
def two_processes(request, tmp_path, redis_url):
    if request.param == "sqlite":
        database_url = f"sqlite+aiosqlite:///{tmp_path / 'race.db'}"
    else:
        database_url = request.getfixturevalue("postgres").create_database(f"race_{uuid.uuid4().hex[:8]}")
    assert run_cli("db", "upgrade", "--database-url", database_url).returncode == 0
    env = {
        "VT_REDIS_CHANNEL": f"vt-race-{uuid.uuid4().hex[:6]}",
        "VT_CALLBACK_CAPACITY": "3",
        "VT_CALLBACK_LIMIT_PER_IP": "100000",
        "VT_HASH_KEY": "k" * 32,
    }
    a = ServerProcess(database_url, redis_url, tmp_path, "a", **env)
    try:
        b = ServerProcess(database_url, redis_url, tmp_path, "b", **env)
    except Exception:
        a.stop()
        raise
    yield database_url, a, b
    a.stop()
    b.stop()
    for p in (a, b):
        text = p.log_path.read_text(errors="replace")
        assert "Traceback" not in text, text[-3000:]
        assert "0612" not in text and "+3161" not in text  # no phone number in the logs


def _body(slot, phone):
    return {"kind": "terugbellen", "slot_start": slot, "phone": phone, "caller_type": "volwassene",
            "safe_to_leave_voicemail": False}  # fmt: skip


async def test_the_last_place_goes_once_and_one_number_merges(two_processes):
    database_url, a, b = two_processes
    async with ClientSession(connector=TCPConnector(limit=0)) as http:
        api_a, api_b = Api(a.url, http), Api(b.url, http)
        _, listed = await api_a.call("GET", "/api/callbacks/slots?kind=terugbellen&days=28")
        first, second = listed["slots"][0]["start"], listed["slots"][1]["start"]
        for i in range(2):  # two of the three places go the normal way
            assert (await api_a.call("POST", "/api/callbacks", _body(first, f"06100000{i:02d}")))[0] == 201
        race = [
            (api_a if i % 2 else api_b).call("POST", "/api/callbacks", _body(first, f"0620{i:06d}")) for i in range(200)
        ]
        results = await asyncio.gather(*race)
        statuses = sorted(s for s, _ in results)
        assert statuses.count(201) == 1, statuses
        assert statuses.count(409) == 199
        assert all(body["error"]["code"] == "slot_full" for s, body in results if s == 409)
        _, after = await api_b.call("GET", "/api/callbacks/slots?kind=terugbellen&days=28")
        assert first not in [s["start"] for s in after["slots"]]

        # One number, three requests at once over both processes: three answers, one callback.
        same = await asyncio.gather(
            api_a.call("POST", "/api/callbacks", _body(second, "0612345678")),
            api_b.call("POST", "/api/callbacks", _body(second, "06-12345678")),
            api_a.call("POST", "/api/callbacks", _body(second, "+31612345678")),
        )
        assert [s for s, _ in same] == [201, 201, 201]
        assert len({body["manage_token"] for _, body in same}) == 3
        username, password = f"r{uuid.uuid4().hex[:8]}", f"pw-{uuid.uuid4().hex}"
        # In the team of these callers: an advisor sees only their own teams' cards (need to know).
        added = run_cli("agent", "add", username, "--name", "Rik", "--role", "advisor", "--team", "volwassenen",
                        "--database-url", database_url, stdin=password + "\n")  # fmt: skip
        assert added.returncode == 0
        token = await login(a.url, username, password)
        day = second[:10]  # the UTC date is the local date in working hours
        _, work = await api_b.call("GET", f"/api/agent/callbacks?date={day}", token=token)
        calls = [c for tv in work["tijdvakken"] for c in tv["callbacks"] if c["phone"] == "06 12345678"]
        assert len(calls) == 1 and len(calls[0]["requests"]) == 3
