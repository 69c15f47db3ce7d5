"""The gemeente of a melding: the CBS list shipped as data, everyday names recognised, anything
else refused, on the server as well as in the console's list."""

from __future__ import annotations

import pytest
from aiohttp import ClientSession

from chat.model import check_outcome
from contact.errors import DomainError
from contact.gemeenten import all_gemeenten, as_of, official
from tests.support.server import add_agent, agent_client, login, start_payload, visitor

MELDING = {"kind": "melding", "summary": "zorgen", "urgency": "hoog"}


def test_the_list_is_the_cbs_division_of_2025():
    names = all_gemeenten()
    assert len(names) == 342 and len(set(names)) == 342
    assert as_of() == "2025-01-01"
    for name in ("Amsterdam", "'s-Gravenhage", "Súdwest-Fryslân", "Voorne aan Zee", "Land van Cuijk", "Maashorst"):
        assert name in names
    # Merged away before 2025: no longer a gemeente.
    for gone in ("Weesp", "Beemster", "Brielle", "Boxmeer", "Uden", "Heerhugowaard"):
        assert official(gone) is None


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Utrecht", "Utrecht"),
        ("  utrecht ", "Utrecht"),
        ("Den Haag", "'s-Gravenhage"),
        ("den bosch", "'s-Hertogenbosch"),
        ("\u2019s-Hertogenbosch", "'s-Hertogenbosch"),
        ("Sudwest-Fryslan", "Súdwest-Fryslân"),
        ("Bergen (NH)", "Bergen (NH.)"),
        ("bergen (l.)", "Bergen (L.)"),
        ("Nuenen", "Nuenen, Gerwen en Nederwetten"),
    ],
)
def test_a_typed_name_is_stored_in_the_cbs_spelling(typed, stored):
    assert official(typed) == stored
    assert check_outcome({**MELDING, "gemeente": typed})["gemeente"] == stored


@pytest.mark.parametrize("typed", ["Utreht", "Bergen", "Brussel", "Amsterdam-Noord", "x" * 100, "\u0000"])
def test_anything_else_is_refused(typed):
    with pytest.raises(DomainError) as refused:
        check_outcome({**MELDING, "gemeente": typed})
    assert refused.value.code == "invalid_input" and refused.value.extra["field"] == "outcome.gemeente"


async def test_the_console_gets_the_list_and_a_close_with_an_unknown_gemeente_changes_nothing(server):
    async with ClientSession() as http:
        async with http.get(f"{server.url}/api/agent/gemeenten") as r:
            assert r.status == 401 and (await r.json())["error"]["code"] == "unauthorized"
        me, password = await add_agent(server.settings.database_url)
        token = await login(server.url, me.username, password)
        async with http.get(f"{server.url}/api/agent/gemeenten", headers={"Authorization": f"Bearer {token}"}) as r:
            body = await r.json()
            assert r.status == 200 and len(body["gemeenten"]) == 342 and body["as_of"] == "2025-01-01"
            assert body["gemeenten"][0] == "Aa en Hunze"
            assert body["gemeenten"].index("'s-Gravenhage") > body["gemeenten"].index("Goes")
    agent = await agent_client(server.url, token)
    v = await visitor(server.url)
    cid = (await v.call("start", start_payload()))["conversation_id"]
    await agent.call("accept", {"conversation_id": cid})
    refused = await agent.call("close", {"conversation_id": cid, "outcome": {**MELDING, "gemeente": "Utreht"}})
    assert refused["error"]["code"] == "invalid_input" and refused["error"]["field"] == "outcome.gemeente"
    assert "lijst" in refused["error"]["message"]
    assert "closed" not in v.events
    done = await agent.call("close", {"conversation_id": cid, "outcome": {**MELDING, "gemeente": "den haag"}})
    assert done["ok"] is True and done["handoff_id"]
    for c in (v, agent):
        await c.disconnect()
