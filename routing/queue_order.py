"""Queue order, what each agent sees, overflow and push offers: pure functions over plain snapshots.

The chat service builds `Waiting` and `AgentView` from the database; nothing here does I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass
from datetime import datetime

from routing.rules import RoutingRules

CRISIS_TEAM = "crisis"
SEE_ALL_ROLES = frozenset({"supervisor", "admin"})
CRISIS_ROLE = "crisis"


@dataclass(frozen=True)
class Waiting:
    conversation_id: str
    team: str
    priority: int
    waiting_since: datetime
    danger_now: bool = False
    expertise: tuple[str, ...] = ()
    # False while the visitor's connection is gone (they may come back within the grace period).
    present: bool = True


@dataclass(frozen=True)
class AgentView:
    id: str
    teams: tuple[str, ...]
    expertise: tuple[str, ...] = ()
    role: str = "advisor"
    active_count: int = 0
    max_concurrent: int = 1
    available: bool = True


def order(waiting: Iterable[Waiting], crisis_team: str = CRISIS_TEAM) -> list[Waiting]:
    """Visitors who are there before those whose connection is gone; then crisis (team or acute
    danger), higher priority, oldest, and id so equal entries never swap."""
    return sorted(
        waiting,
        key=lambda w: (
            not w.present,
            not (w.danger_now or w.team == crisis_team),
            -w.priority,
            w.waiting_since,
            w.conversation_id,
        ),
    )


def is_overflowing(item: Waiting, now: datetime, rules: RoutingRules) -> bool:
    limit = rules.overflow_after_s(item.team)
    if limit is None:
        # A team removed from the file has nobody left to serve it: offer its conversations to everyone.
        return True
    return (now - item.waiting_since).total_seconds() > limit


def overflowing(waiting: Iterable[Waiting], now: datetime, rules: RoutingRules) -> set[str]:
    """Ids of conversations that waited longer than their team's limit, for supervisors to see highlighted."""
    return {w.conversation_id for w in waiting if is_overflowing(w, now, rules)}


def serves(agent: AgentView, team: str, crisis_team: str = CRISIS_TEAM) -> bool:
    """Whether the agent belongs to the team's own queue; a crisis-role agent always serves the crisis team."""
    return team in agent.teams or (agent.role == CRISIS_ROLE and team == crisis_team)


def visible_to(agent: AgentView, waiting: Iterable[Waiting], now: datetime, rules: RoutingRules) -> list[Waiting]:
    """The conversations this agent sees and may accept, in queue order.

    Own teams always; everything that overflowed when the agent is available; supervisors and admins see all."""
    items = list(waiting)
    if agent.role in SEE_ALL_ROLES:
        return order(items, rules.crisis_team)
    seen = [
        w
        for w in items
        if serves(agent, w.team, rules.crisis_team) or (agent.available and is_overflowing(w, now, rules))
    ]
    return order(seen, rules.crisis_team)


def position(conversation_id: str, waiting: Iterable[Waiting], crisis_team: str = CRISIS_TEAM) -> int | None:
    """Place (from 1) in the queue of the team that serves the conversation; None when it is not waiting."""
    items = list(waiting)
    mine = next((w for w in items if w.conversation_id == conversation_id), None)
    if mine is None:
        return None
    same_team = order((w for w in items if w.team == mine.team), crisis_team)
    return next(i for i, w in enumerate(same_team, start=1) if w.conversation_id == conversation_id)


def push_candidate(
    team: str,
    waiting: Iterable[Waiting],
    agents: Sequence[AgentView],
    declined: Mapping[str, Set[str]],
    crisis_team: str = CRISIS_TEAM,
) -> tuple[Waiting, AgentView] | None:
    """The next offer in a push-mode team: its longest-waiting conversation to its least-busy free agent.

    An agent who let a conversation pass is not offered it again; when everyone passed on the first
    conversation the next one is offered, so one refused contact does not block the team (it overflows)."""
    free = [a for a in agents if a.available and a.active_count < a.max_concurrent and serves(a, team, crisis_team)]
    if not free:
        return None
    # Nobody is offered a visitor who is not there.
    for item in order((w for w in waiting if w.team == team and w.present), crisis_team):
        passed = declined.get(item.conversation_id, set())
        eligible = [a for a in free if a.id not in passed]
        if eligible:
            # Among the least busy, one with the expertise the conversation asks for comes first.
            wanted = set(item.expertise)
            return item, min(eligible, key=lambda a: (a.active_count, not wanted & set(a.expertise), a.id))
    return None
