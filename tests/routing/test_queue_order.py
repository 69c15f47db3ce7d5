"""Queue order, visibility, overflow, queue position and push offers, with a fixed `now`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from routing.queue_order import (
    AgentView,
    Waiting,
    order,
    overflowing,
    position,
    push_candidate,
    visible_to,
)
from routing.rules import RoutingRules

NOW = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)

RULES_TOML = """\
default_team = "volwassenen"

[teams.jeugd]
name = "Jeugd"
overflow_after_s = 120

[teams.volwassenen]
name = "Volwassenen"
overflow_after_s = 60

[teams.crisis]
name = "Crisisdienst"
overflow_after_s = 30
push = true
"""


@pytest.fixture(scope="module")
def rules() -> RoutingRules:
    return RoutingRules.parse(RULES_TOML, source="queue.toml")


def waiting(cid: str, team: str, seconds_ago: float, priority: int = 10, danger: bool = False) -> Waiting:
    return Waiting(cid, team, priority, NOW - timedelta(seconds=seconds_ago), danger, ())


def ids(items: list[Waiting]) -> list[str]:
    return [w.conversation_id for w in items]


def test_order_crisis_then_priority_then_oldest_then_id() -> None:
    queue = [
        waiting("adult-old", "volwassenen", 50, priority=10),
        waiting("child-new", "jeugd", 5, priority=20),
        waiting("child-old", "jeugd", 40, priority=20),
        waiting("crisis-new", "crisis", 1, priority=100),
        waiting("danger-elsewhere", "volwassenen", 2, priority=10, danger=True),
        waiting("b-same", "volwassenen", 10, priority=10),
        waiting("a-same", "volwassenen", 10, priority=10),
    ]
    assert ids(order(queue)) == [
        "crisis-new",
        "danger-elsewhere",
        "child-old",
        "child-new",
        "adult-old",
        "a-same",
        "b-same",
    ]
    assert ids(order(reversed(queue))) == ids(order(queue))


def test_order_honours_a_configured_crisis_team() -> None:
    queue = [waiting("adult", "volwassenen", 50, priority=50), waiting("spoed", "spoed", 1, priority=1)]
    assert ids(order(queue)) == ["adult", "spoed"]
    assert ids(order(queue, crisis_team="spoed")) == ["spoed", "adult"]


QUEUE = [
    waiting("j-fresh", "jeugd", 30, priority=20),
    waiting("j-long", "jeugd", 121, priority=20),
    waiting("v-fresh", "volwassenen", 60),  # exactly at the limit: not yet overflowing
    waiting("v-long", "volwassenen", 61),
    waiting("c-1", "crisis", 5, priority=100, danger=True),
    waiting("gone-team", "opgeheven", 1),
]


def test_overflowing_uses_each_teams_limit(rules: RoutingRules) -> None:
    assert overflowing(QUEUE, NOW, rules) == {"j-long", "v-long", "gone-team"}
    assert overflowing(QUEUE, NOW + timedelta(seconds=30), rules) == {"j-long", "v-fresh", "v-long", "c-1", "gone-team"}
    assert overflowing(QUEUE, NOW - timedelta(seconds=100), rules) == {"gone-team"}


def test_agent_sees_own_team_plus_overflow(rules: RoutingRules) -> None:
    jeugd = AgentView("a1", ("jeugd",), (), "advisor", 0, 2, True)
    assert ids(visible_to(jeugd, QUEUE, NOW, rules)) == ["j-long", "j-fresh", "v-long", "gone-team"]


def test_unavailable_agent_sees_only_own_team(rules: RoutingRules) -> None:
    away = AgentView("a1", ("jeugd",), (), "advisor", 0, 2, False)
    assert ids(visible_to(away, QUEUE, NOW, rules)) == ["j-long", "j-fresh"]


def test_supervisor_and_admin_see_everything(rules: RoutingRules) -> None:
    for role in ("supervisor", "admin"):
        boss = AgentView("s1", (), (), role, 0, 0, False)
        assert ids(visible_to(boss, QUEUE, NOW, rules)) == ids(order(QUEUE))


def test_crisis_role_sees_crisis_team_without_membership(rules: RoutingRules) -> None:
    crisis = AgentView("c1", (), (), "crisis", 0, 1, False)
    assert ids(visible_to(crisis, QUEUE, NOW, rules)) == ["c-1"]
    advisor = AgentView("a2", ("volwassenen",), (), "advisor", 0, 1, False)
    assert "c-1" not in ids(visible_to(advisor, QUEUE, NOW, rules))


def test_position_counts_only_the_serving_team() -> None:
    assert position("j-long", QUEUE) == 1
    assert position("j-fresh", QUEUE) == 2
    assert position("v-long", QUEUE) == 1
    assert position("v-fresh", QUEUE) == 2
    assert position("c-1", QUEUE) == 1
    assert position("nobody", QUEUE) is None
    newer_child = [*QUEUE, waiting("j-urgent", "jeugd", 1, priority=90)]
    assert position("j-long", newer_child) == 2


AGENTS = [
    AgentView("c-busy", ("crisis",), (), "advisor", 1, 2, True),
    AgentView("c-b", ("crisis",), (), "advisor", 0, 2, True),
    AgentView("c-a", ("crisis",), (), "advisor", 0, 1, True),
    AgentView("c-away", ("crisis",), (), "advisor", 0, 2, False),
    AgentView("c-full", ("crisis",), (), "advisor", 2, 2, True),
    AgentView("v-idle", ("volwassenen",), (), "advisor", 0, 3, True),
]


def test_push_offers_longest_waiting_to_least_busy_agent() -> None:
    queue = [waiting("c-new", "crisis", 1), waiting("c-old", "crisis", 20), waiting("v-1", "volwassenen", 99)]
    offer = push_candidate("crisis", queue, AGENTS, {})
    assert offer is not None
    assert (offer[0].conversation_id, offer[1].id) == ("c-old", "c-a")  # tie on 0 active: lowest id


def test_push_skips_agents_who_declined_then_next_conversation() -> None:
    queue = [waiting("c-new", "crisis", 1), waiting("c-old", "crisis", 20)]
    offer = push_candidate("crisis", queue, AGENTS, {"c-old": {"c-a"}})
    assert offer is not None and (offer[0].conversation_id, offer[1].id) == ("c-old", "c-b")
    offer = push_candidate("crisis", queue, AGENTS, {"c-old": {"c-a", "c-b"}})
    assert offer is not None and (offer[0].conversation_id, offer[1].id) == ("c-old", "c-busy")
    everyone = {"c-old": {"c-a", "c-b", "c-busy"}}
    offer = push_candidate("crisis", queue, AGENTS, everyone)
    assert offer is not None and (offer[0].conversation_id, offer[1].id) == ("c-new", "c-a")


def test_push_none_without_free_agent_or_conversation() -> None:
    queue = [waiting("c-old", "crisis", 20)]
    only_unavailable = [a for a in AGENTS if a.id in ("c-away", "c-full", "v-idle")]
    assert push_candidate("crisis", queue, only_unavailable, {}) is None
    assert push_candidate("crisis", [waiting("v-1", "volwassenen", 5)], AGENTS, {}) is None
    assert push_candidate("crisis", queue, AGENTS, {"c-old": {"c-a", "c-b", "c-busy"}}) is None


def test_push_prefers_the_expertise_asked_for_among_the_least_busy() -> None:
    item = Waiting("c-1", "crisis", 20, NOW, expertise=("stalking",))
    plain = AgentView("a-1", ("crisis",), (), "advisor", 0, 2, True)
    expert = AgentView("z-9", ("crisis",), ("stalking",), "advisor", 0, 2, True)
    busy_expert = AgentView("b-2", ("crisis",), ("stalking",), "advisor", 1, 2, True)
    offer = push_candidate("crisis", [item], [plain, busy_expert, expert], {})
    assert offer is not None and offer[1].id == "z-9"
    # Expertise does not beat being free: the least busy still goes first.
    offer = push_candidate("crisis", [item], [plain, busy_expert], {})
    assert offer is not None and offer[1].id == "a-1"


def test_push_to_crisis_role_agent() -> None:
    crisis_role = AgentView("r1", (), (), "crisis", 0, 1, True)
    offer = push_candidate("crisis", [waiting("c-old", "crisis", 20)], [crisis_role], {})
    assert offer is not None and offer[1].id == "r1"
