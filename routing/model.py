"""Which team serves a new conversation and how urgent it is in the queue.

The first, fixed rules; the configurable routing file of teams and expertise builds on these."""

from __future__ import annotations

CALLER_TYPES = ("kind", "jongere", "volwassene", "professional")
INTENTS = ("advies", "melding", "weet_niet")

_TEAM_BY_CALLER = {"kind": "jeugd", "jongere": "jeugd", "volwassene": "volwassenen", "professional": "professionals"}

PRIORITY_DANGER = 100
PRIORITY_CHILD = 20
PRIORITY_DEFAULT = 10


def team_for(caller_type: str, intent: str, danger_now: bool) -> str:
    if danger_now:
        return "crisis"
    return _TEAM_BY_CALLER[caller_type]


def priority_for(caller_type: str, danger_now: bool) -> int:
    """Higher first: acute danger, then children and young people, then everyone else."""
    if danger_now:
        return PRIORITY_DANGER
    if caller_type in ("kind", "jongere"):
        return PRIORITY_CHILD
    return PRIORITY_DEFAULT
