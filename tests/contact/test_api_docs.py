"""The generated API documents (issue 14): `GET /api/openapi.json` (OpenAPI 3.1) and
`GET /api/asyncapi.json` (AsyncAPI 3.0), checked against the running server: every route under
/api/ is in the OpenAPI document and nothing else is, every outbound event model is in the
AsyncAPI document, and both are structurally valid."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
from aiohttp import ClientSession
from openapi_spec_validator import validate

from app import lifecycles
from app.api_docs import INBOUND, OPERATIONS, Error
from contact.events import AGENT_NS, REGISTRY, VISITOR_NS
from tests.support.server import RunningServer, add_agent, agent_client, login, start_payload, visitor


async def _get(server: RunningServer, path: str) -> dict[str, Any]:
    async with ClientSession() as http, http.get(server.url + path) as resp:
        assert resp.status == 200
        assert resp.headers["Cache-Control"] == "no-store"
        body: dict[str, Any] = await resp.json()
        return body


def _served_api_routes(server: RunningServer) -> set[tuple[str, str]]:
    assert server.app is not None
    found = set()
    for route in server.app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter") or ""
        if path.startswith("/api/") and route.method != "HEAD":
            found.add((route.method.lower(), re.sub(r"\{(\w+)(:[^}]*)?\}", r"{\1}", path)))
    return found


async def test_the_openapi_document_lists_exactly_the_routes_under_api(server: RunningServer) -> None:
    doc = await _get(server, "/api/openapi.json")
    documented = {(method, path) for path, item in doc["paths"].items() for method in item}
    served = _served_api_routes(server)
    assert served - documented == set(), "served but not documented"
    assert documented - served == set(), "documented but not served"


async def test_the_openapi_document_is_valid_openapi_3_1(server: RunningServer) -> None:
    doc = await _get(server, "/api/openapi.json")
    assert doc["openapi"].startswith("3.1")
    validate(doc)
    assert doc["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    login = doc["paths"]["/api/agent/login"]["post"]
    body_ref = login["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = doc["components"]["schemas"][body_ref.rsplit("/", 1)[1]]
    assert set(body["required"]) == {"username", "password"}
    assert login["responses"]["401"] == {"$ref": "#/components/responses/Error"}
    assert doc["paths"]["/api/agent/colleagues"]["get"]["security"] == [{"bearer": []}]


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [r for k, v in node.items() for r in ([v] if k == "$ref" else _refs(v))]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part]
    return _resolve(doc, node["$ref"]) if isinstance(node, dict) and "$ref" in node else node


async def test_the_asyncapi_document_has_every_outbound_event_and_is_well_formed(server: RunningServer) -> None:
    doc = await _get(server, "/api/asyncapi.json")
    assert doc["asyncapi"] == "3.0.0"
    assert {c["address"] for c in doc["channels"].values()} == {"/visitor", "/agent"}
    sent = {
        (doc["channels"][op["channel"]["$ref"].rsplit("/", 1)[1]]["address"], _resolve(doc, m["$ref"])["name"])
        for op in doc["operations"].values()
        if op["action"] == "send"
        for m in op["messages"]
    }
    assert set(REGISTRY) <= sent
    received = {m["name"] for m in doc["components"]["messages"].values() if "client → server" in m["title"]}
    assert {"start", "message", "accept", "close", "ack_crisis", "take_over_answer"} <= received
    # Structure: PyPI has no well-kept AsyncAPI validator, so the official JSON Schema of
    # AsyncAPI 3.0.0 (tests/data/asyncapi-3.0.0.schema.json, from asyncapi/spec-json-schemas,
    # Apache-2.0) checks it; and every reference resolves, which that schema does not check.
    official = json.loads((Path(__file__).parents[1] / "data" / "asyncapi-3.0.0.schema.json").read_text())
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in jsonschema.Draft7Validator(official).iter_errors(doc)]
    assert errors == []
    for ref in _refs(doc):
        _resolve(doc, ref)
    # Every inbound event answers with an ack: the answer or the error shape.
    for op in doc["operations"].values():
        assert ("reply" in op) == (op["action"] == "receive")


async def test_the_test_servers_check_every_emit(server: RunningServer) -> None:
    assert server.app is not None
    assert server.app[lifecycles.SIO].emit.__name__ == "checked"


async def test_real_acks_match_their_documented_models(server: RunningServer) -> None:
    me, password = await add_agent(server.settings.database_url, teams=("jeugd",))
    console = await agent_client(server.url, await login(server.url, me.username, password))
    v = await visitor(server.url)
    try:
        answers = {}
        answers[(VISITOR_NS, "start")] = started = await v.call("start", start_payload())
        cid = started["conversation_id"]
        answers[(VISITOR_NS, "message")] = await v.call("message", {"client_id": "c1", "text": "hoi"})
        answers[(AGENT_NS, "accept")] = await console.call("accept", {"conversation_id": cid})
        answers[(AGENT_NS, "message")] = await console.call(
            "message", {"conversation_id": cid, "client_id": "a1", "text": "dag"}
        )
        answers[(AGENT_NS, "note")] = await console.call("note", {"conversation_id": cid, "text": "notitie"})
        answers[(AGENT_NS, "sync")] = await console.call("sync", {})
        again = await visitor(server.url)
        answers[(VISITOR_NS, "resume")] = await again.call("resume", {"resume_token": started["resume_token"]})
        await again.disconnect()
        answers[(AGENT_NS, "close")] = await console.call(
            "close", {"conversation_id": cid, "outcome": {"kind": "geen"}}
        )
        for key, answer in answers.items():
            assert "error" not in answer, (key, answer)
            INBOUND[key][1].model_validate(answer)
        # The error shape of an ack is the documented Error.
        refused = await console.call("close", {"conversation_id": cid, "outcome": {"kind": "geen"}})
        Error.model_validate(refused)
    finally:
        await v.disconnect()
        await console.disconnect()


async def test_real_answers_of_the_get_endpoints_match_their_documented_models(server: RunningServer) -> None:
    me, password = await add_agent(server.settings.database_url, role="supervisor")
    token = await login(server.url, me.username, password)
    checked = []
    async with ClientSession() as http:
        for op in OPERATIONS:
            if op.method != "get" or "{" in op.path or op.answer is None or op.media != "application/json":
                continue
            if op.path.startswith("/api/admin/"):  # an admin's: refused to a supervisor
                continue
            headers = {"Authorization": f"Bearer {token}"} if op.auth else {}
            query = {name: "terugbellen" for name in op.required_query}  # kind, the only one
            if op.path == "/api/audit":  # one of contact or agent is required
                query = {"agent": me.id}
            async with http.get(server.url + op.path, headers=headers, params=query) as resp:
                assert resp.status == op.status, (op.path, resp.status)
                op.answer.model_validate(await resp.json())
                checked.append(op.path)
    assert "/api/agent/config" in checked and "/api/agent/cases" in checked and "/api/status" in checked
