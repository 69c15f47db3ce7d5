"""The conversation's statuses and which may follow which (chat/model.py)."""

from __future__ import annotations

import json

import pytest

from chat.model import OPEN_STATUSES, TRANSITIONS, ConversationStatus, may_move

W, A, C = ConversationStatus.WAITING, ConversationStatus.ACTIVE, ConversationStatus.CLOSED


def test_the_database_values_stay_the_strings():
    assert [s.value for s in ConversationStatus] == ["waiting", "active", "closed"]
    assert W == "waiting" and A == "active" and C == "closed"
    assert json.dumps({"status": C}) == '{"status": "closed"}'
    assert set(OPEN_STATUSES) == {"waiting", "active"}


@pytest.mark.parametrize(
    ("current", "new"),
    [
        (W, A),  # accepted: by the queue, a push offer, or acknowledging its crisis
        (W, C),  # left or gone while waiting
        (A, W),  # transferred to a team's queue
        (A, C),  # left by the visitor, closed by the advisor, outcome overdue
        (C, W),  # the visitor whose connection was lost is back in time
    ],
)
def test_allowed_moves(current, new):
    assert may_move(current, new)
    assert may_move(str(current), str(new))  # as read from the database


@pytest.mark.parametrize(
    ("current", "new"),
    [
        (C, A),  # an ended conversation is never taken again: it waits first
        (W, W),
        (A, A),  # a transfer to a colleague changes the holder, not the status
        (C, C),
    ],
)
def test_refused_moves(current, new):
    assert not may_move(current, new)


@pytest.mark.parametrize(("current", "new"), [("open", "active"), ("waiting", "done"), ("", ""), ("WAITING", "active")])
def test_unknown_statuses_never_move(current, new):
    assert not may_move(current, new)


def test_every_status_has_its_row():
    assert set(TRANSITIONS) == set(ConversationStatus)
    assert all(set(targets) <= set(ConversationStatus) for targets in TRANSITIONS.values())
