"""The chat's use cases, one module each by who acts: the visitor (chat/visitor.py), the advisor
(chat/agent_side.py), ending with an outcome (chat/closing.py), the queue (chat/queue.py), feedback
on risk signals (chat/risk_feedback.py), and what they share (chat/base.py). Each state change
happens in one function that writes, records the audit entry and returns the events to send once
the transaction has committed. `ChatService` is all of
them in one object, for the adapters (chat/sockets.py, chat/http.py) and the composition root."""

from __future__ import annotations

from chat.agent_side import AgentUseCases
from chat.away import AwayUseCases
from chat.base import ChatLimits
from chat.closing import ClosingUseCases
from chat.risk_feedback import RiskFeedbackUseCases
from chat.visitor import VisitorUseCases

__all__ = ["ChatLimits", "ChatService"]


class ChatService(VisitorUseCases, AgentUseCases, ClosingUseCases, RiskFeedbackUseCases, AwayUseCases):
    """The chat's use cases (see the modules above)."""
