"""Rules of the chat that need no server."""

from __future__ import annotations

import pytest

from chat.model import check_outcome, estimate_wait_s
from contact.errors import DomainError


def test_melding_needs_summary_urgency_and_gemeente():
    with pytest.raises(DomainError) as e:
        check_outcome({"kind": "melding", "summary": "  ", "urgency": None, "gemeente": "Gouda"})
    assert e.value.code == "outcome_incomplete" and e.value.extra["missing"] == ["summary", "urgency"]
    ok = check_outcome(
        {"kind": "melding", "summary": "zorgen", "urgency": "spoed", "gemeente": "Gouda", "expertise": None}
    )
    assert ok == {"kind": "melding", "summary": "zorgen", "urgency": "spoed", "gemeente": "Gouda"}


def test_advies_and_geen_need_nothing_more():
    assert check_outcome({"kind": "advies"}) == {"kind": "advies"}
    assert check_outcome({"kind": "geen", "summary": None}) == {"kind": "geen"}


def test_wait_estimate_uses_recent_pace_when_there_is_one():
    assert estimate_wait_s(0, 10, 1800, 120) == 0
    assert estimate_wait_s(2, 0, 1800, 120) == 240  # no history: the configured default
    assert estimate_wait_s(2, 18, 1800, 120) == 200  # 18 accepted in 30 min: 100 s per place
    assert estimate_wait_s(1, 10_000, 1800, 120) == 20  # never promises less than 20 s a place
