"""What each role may do, in one table: action -> roles. The socket and HTTP adapters ask
`allowed(role, action)` before they call a service; the services keep their finer rules (whose
conversation it is, which crisis round). docs/protocol.md lists the same table for people.

- advisor: chats, notes, callbacks and the handoff of their own contacts.
- crisis: as advisor, and crisis alerts (acknowledge, read along, take over a crisis they took).
- supervisor: as crisis, and monitors and intervenes: reads along, takes over, sees every
  case and the dead-lettered handoffs.
- admin: as supervisor, and manages accounts (list, add, disable, enable, reset, role, teams,
  second factor), the callback roster and settings.
- supervisor and admin also search the access log and read the risk-signal figures, and set
  each team's opening hours.
- supervisor and admin manage the ready texts (everyone in the console uses them) and block
  abusive visitors (and list and lift the blocks).
- privacy_officer: reads the access log, nothing else of contacts (no console, no cases).
"""

from __future__ import annotations

from collections.abc import Mapping

from contact.errors import DomainError

ADVISOR, CRISIS, SUPERVISOR, ADMIN, PRIVACY_OFFICER = "advisor", "crisis", "supervisor", "admin", "privacy_officer"
CONSOLE_ROLES = frozenset({ADVISOR, CRISIS, SUPERVISOR, ADMIN})
MONITORS = frozenset({SUPERVISOR, ADMIN})

PERMISSIONS: Mapping[str, frozenset[str]] = {
    # The console and its conversations (Socket.IO /agent and the console's HTTP reads).
    "console": CONSOLE_ROLES,
    "chat": CONSOLE_ROLES,
    "crisis_acknowledge": CONSOLE_ROLES,  # who of them may, per round, decides routing/crisis.py
    "read_along": frozenset({CRISIS}) | MONITORS,  # crisis: only a crisis they took (chat/takeover.py)
    "take_over": frozenset({CRISIS}) | MONITORS,
    "colleagues": CONSOLE_ROLES,
    "callbacks": CONSOLE_ROLES,
    "cases": CONSOLE_ROLES,
    "routing_view": CONSOLE_ROLES,
    # Planning: the callback roster is the admin's (issue 16: admin manages accounts, roster
    # and settings; supervisors monitor and intervene).
    "roster": frozenset({ADMIN}),
    # Accounts and settings.
    "accounts": frozenset({ADMIN}),
    "settings": frozenset({ADMIN}),
    # The NEN 7513 access log: supervisors, admins and the privacy officer search it.
    "access_log": MONITORS | {PRIVACY_OFFICER},
    # The risk-signal figures and the marked examples (routing/risk feedback).
    "risk_figures": MONITORS,
    # Opening hours per team: week pattern, exceptions, "closed now until" (contact/opening.py).
    "opening_hours": MONITORS,
    # The management figures (counts per day and team, no contact's content).
    "figures": MONITORS,
    # Everyone with an account.
    "own_session": CONSOLE_ROLES | {PRIVACY_OFFICER},
    # Ready texts (snelteksten): every console role uses them, supervisors and admins manage them.
    "ready_texts": CONSOLE_ROLES,
    "ready_texts_manage": MONITORS,
    # Blocking abusive visitors: block, list and lift.
    "block_visitor": MONITORS,
    # The workplace (issue 17): one's own status (a colleague's: supervisors, checked in
    # chat/status.py), the supervisors' board, whispers to the holder of a conversation.
    "agent_status": CONSOLE_ROLES,
    "board": MONITORS,
    "whisper": frozenset({CRISIS}) | MONITORS,  # crisis: only a crisis they took (chat/takeover.py)
}

# Socket.IO events of /agent -> action.
SOCKET_ACTIONS: Mapping[str, str] = {
    "sync": "console",
    "accept": "chat",
    "message": "chat",
    "typing": "chat",
    "note": "chat",
    "close": "chat",
    "transfer": "chat",
    "history": "chat",
    "escalate": "chat",
    "pass": "chat",
    "take_over_answer": "chat",
    "ack_crisis": "crisis_acknowledge",
    "read_along": "read_along",
    "take_over": "take_over",
    "risk_feedback": "chat",
    "block_visitor": "block_visitor",
    "set_status": "agent_status",
    "board": "board",
    "whisper": "whisper",
    "read_along_stop": "read_along",
}

# HTTP routes (method, canonical path) that need a logged-in agent -> action. A route missing
# here counts as "console" (any console role, never the privacy officer); give a new endpoint
# its own action here when it needs fewer roles.
HTTP_ACTIONS: Mapping[tuple[str, str], str] = {
    ("GET", "/api/agent/colleagues"): "colleagues",
    ("GET", "/api/agent/gemeenten"): "console",
    ("GET", "/api/agent/config"): "console",
    ("GET", "/api/agent/routing"): "routing_view",
    ("GET", "/api/agent/cases"): "cases",
    ("GET", "/api/agent/cases/{id}"): "cases",
    ("GET", "/api/agent/callbacks"): "callbacks",
    ("POST", "/api/agent/callbacks/{id}/claim"): "callbacks",
    ("POST", "/api/agent/callbacks/{id}/attempts"): "callbacks",
    ("POST", "/api/agent/callbacks/{id}/close"): "callbacks",
    ("PUT", "/api/admin/roster"): "roster",
    ("POST", "/api/agent/logout"): "own_session",
    ("GET", "/api/agent/session"): "own_session",
    ("GET", "/api/admin/agents"): "accounts",
    ("POST", "/api/admin/agents/{username}/disable"): "accounts",
    ("POST", "/api/admin/agents/{username}/enable"): "accounts",
    ("POST", "/api/admin/agents/{username}/reset-password"): "accounts",
    ("POST", "/api/admin/agents/{username}/role"): "accounts",
    ("POST", "/api/admin/agents/{username}/teams"): "accounts",
    ("POST", "/api/admin/agents/{username}/reset-2fa"): "accounts",
    ("GET", "/api/audit"): "access_log",
    ("POST", "/api/admin/agents"): "accounts",
    ("GET", "/api/supervisor/risk/concepts"): "risk_figures",
    ("GET", "/api/supervisor/risk/feedback"): "risk_figures",
    ("GET", "/api/agent/ready-texts"): "ready_texts",
    ("GET", "/api/supervisor/ready-texts"): "ready_texts_manage",
    ("POST", "/api/supervisor/ready-texts"): "ready_texts_manage",
    ("PUT", "/api/supervisor/ready-texts/{id}"): "ready_texts_manage",
    ("DELETE", "/api/supervisor/ready-texts/{id}"): "ready_texts_manage",
    ("GET", "/api/supervisor/blocks"): "block_visitor",
    ("DELETE", "/api/supervisor/blocks/{id}"): "block_visitor",
    ("POST", "/api/supervisor/blocks/{id}/lift"): "block_visitor",
    ("GET", "/api/supervisor/hours"): "opening_hours",
    ("GET", "/api/supervisor/hours/{team}"): "opening_hours",
    ("PUT", "/api/supervisor/hours/{team}/pattern"): "opening_hours",
    ("DELETE", "/api/supervisor/hours/{team}/pattern"): "opening_hours",
    ("GET", "/api/supervisor/hours/{team}/exceptions"): "opening_hours",
    ("POST", "/api/supervisor/hours/{team}/exceptions"): "opening_hours",
    ("DELETE", "/api/supervisor/hours/{team}/exceptions/{id}"): "opening_hours",
    ("POST", "/api/supervisor/hours/{team}/close"): "opening_hours",
    ("GET", "/api/supervisor/figures"): "figures",
}


def allowed(role: str, action: str) -> bool:
    return role in PERMISSIONS.get(action, frozenset())


def require(role: str, action: str) -> None:
    """`forbidden` unless `role` may do `action` (an unknown action is nobody's)."""
    if not allowed(role, action):
        raise DomainError("forbidden")


def socket_action(event: str) -> str:
    return SOCKET_ACTIONS.get(event, "console")


def http_action(method: str, path: str) -> str:
    return HTTP_ACTIONS.get((method.upper(), path), "console")
