"""The shape machinery of server→client events (contact/events.py): the checks the test
servers apply to every emitted event, and the constructor's namespace rule."""

from __future__ import annotations

import pytest

import callback.outbound  # noqa: F401  (registers its events)
from chat import outbound as out
from contact.emits import ToAgent, ToCrisisAudience, ToVisitor
from contact.events import AGENT_NS, REGISTRY, VISITOR_NS, ServerEvent, check_emitted, server_event

MESSAGE = {"id": "m1", "seq": 1, "sender": "visitor", "text": "hoi", "at": "2026-11-30T09:00:00+00:00"}


def test_optional_keys_are_absent_unless_given_and_a_given_none_stays_null() -> None:
    assert out.VisitorChatMessage.model_validate(MESSAGE).wire() == MESSAGE
    named = {**MESSAGE, "sender": "agent", "name": None}
    assert out.VisitorChatMessage.model_validate(named).wire() == named
    assert out.Closed(reason="visitor_left").wire() == {"reason": "visitor_left"}


def test_an_aliased_field_goes_out_under_its_wire_name() -> None:
    moved = out.Transferred.model_validate({"conversation_id": "c1", "from": "Anouk"})
    assert moved.to(ToAgent("a1")).data == {"conversation_id": "c1", "from": "Anouk"}


def test_the_constructor_refuses_the_wrong_namespace() -> None:
    with pytest.raises(ValueError, match="/visitor"):
        out.VisitorTyping(typing=True).to(ToAgent("a1"))
    with pytest.raises(ValueError, match="/agent"):
        out.AgentTyping(conversation_id="c1", typing=True).to(ToVisitor("c1"))


def test_a_crisis_alert_goes_to_the_audience_of_its_round() -> None:
    alert = out.CrisisAlert(
        conversation_id="c1", reason="r", escalated_at=None, by="system", by_name=None, round=2,
        audience="everyone", caller_type="kind", status="waiting", holder_id=None,
    )  # fmt: skip
    assert alert.emit().target == ToCrisisAudience("everyone") and alert.emit().event == "crisis_alert"


@pytest.mark.parametrize(
    ("namespace", "event", "data", "why"),
    [
        (VISITOR_NS, "no_such_event", {}, "no ServerEvent model"),
        (AGENT_NS, "crisis", {}, "no ServerEvent model"),  # /visitor only
        (VISITOR_NS, "message", {**MESSAGE, "extra": 1}, "does not match"),
        (VISITOR_NS, "message", {**MESSAGE, "seq": "one"}, "does not match"),
        (VISITOR_NS, "closed", {"outcome": "geen", "reason": "agent_closed"}, "gives"),  # key order
    ],
)
def test_what_the_test_servers_refuse(namespace: str, event: str, data: dict, why: str) -> None:
    fault = check_emitted(namespace, event, data)
    assert fault is not None and why in fault


def test_every_registered_event_is_one_model_per_name_and_namespace() -> None:
    assert {("/visitor", "crisis"), ("/agent", "crisis_alert"), ("/agent", "tijdvak_started")} <= set(REGISTRY)
    with pytest.raises(ValueError, match="two models"):

        @server_event
        class Another(ServerEvent):
            event = "crisis_alert"
            namespace = AGENT_NS


def test_trusted_gives_the_same_wire_form_as_the_model() -> None:
    view = {"id": "m1", "seq": 3, "at": "2026-12-01T14:00:00+00:00", "sender": "agent", "text": "hoi", "name": "Sam"}
    for model, data, target in (
        (out.VisitorChatMessage, view, ToVisitor("c1")),
        (out.AgentChatMessage, {**view, "conversation_id": "c1"}, ToAgent("a1")),
    ):
        fast = model.trusted(data, target)
        checked = model.model_validate(data).to(target)
        assert fast == checked
        assert list(fast.data) == list(checked.data)  # the same key order on the wire
        assert check_emitted(model.namespace, model.event, fast.data) is None
    with pytest.raises(ValueError):
        out.VisitorChatMessage.trusted({**view, "extra": 1}, ToVisitor("c1"))
    with pytest.raises(ValueError):
        out.VisitorChatMessage.trusted(view, ToAgent("a1"))
