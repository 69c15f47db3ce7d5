"""Ready texts (snelteksten): short texts an advisor puts in a chat with a few keys, shared by
every team (team NULL) or for one team, in Dutch or English. Supervisors and admins manage them;
the default safety texts (112, "Ben je nu veilig?", how to clear your history, 0800-2000, the
closing time) come with the migration, marked as default, and may be edited like any other.

Placeholders are filled in the console with the values this service hands out beside the
texts (`values`): `{voornaam}` the advisor's first name, `{telefoon}` 0800-2000, `{noodnummer}`
112, `{sluitingstijd}` today's closing time of the chat. A text with any other `{...}` is refused.

Each text has a `version` (a fingerprint of its content, also the ETag of a change's answer): a
change or deletion made on an older version is refused as `conflict`, so one supervisor's save
never silently undoes a colleague's."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from chat.desk_store import ready_texts
from contact.auth import AgentIdentity
from contact.clock import Clock, iso
from contact.db import Database
from contact.errors import DomainError
from contact.opening import OpeningHours
from contact.phone import HELPLINE
from contact.store import record_audit
from routing.rules import RoutingRules

PLACEHOLDERS = ("voornaam", "telefoon", "noodnummer", "sluitingstijd")
LANGS = ("nl", "en")
_PLACEHOLDER = re.compile(r"\{([^{}\s]*)\}")

# Two supervisors with the same text open: the second save would silently undo the first.
CHANGED_MEANWHILE = (
    "Een collega heeft deze tekst net veranderd. Bekijk de nieuwe tekst en probeer het opnieuw.",
    "A colleague has just changed this text. Look at the new text and try again.",
)


def placeholders_in(text: str) -> list[str]:
    """The names between braces, in order."""
    return _PLACEHOLDER.findall(text)


def unknown_placeholder(text: str) -> str | None:
    """The first `{name}` that is not one of PLACEHOLDERS, or None."""
    return next((name for name in placeholders_in(text) if name not in PLACEHOLDERS), None)


def text_version(row: Any) -> str:
    """A short fingerprint of a text's content; of the content, so an edit undone is no conflict."""
    canon = json.dumps([row.team, row.lang, row.title, row.shortcut, row.text], separators=(",", ":"))
    return hashlib.sha256(canon.encode()).hexdigest()[:16]


def view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "team": row.team,
        "lang": row.lang,
        "title": row.title,
        "shortcut": row.shortcut,
        "text": row.text,
        "default": bool(row.is_default),
        "updated_at": iso(row.updated_at),
        "version": text_version(row),
    }


class ReadyTexts:
    """Read (every console role), create, change and delete (supervisors and admins)."""

    def __init__(self, db: Database, clock: Clock, hours: OpeningHours, rules: RoutingRules) -> None:
        self.db = db
        self.clock = clock
        self.hours = hours
        self.rules = rules

    async def closing_time(self, agent: AgentIdentity) -> str | None:
        """Today's closing time of the chat (HH:MM, local) for this agent's teams (the latest of
        those open now; every team for an agent without one), while one is open; None when they
        are closed now or never close (24/7). The one place ready texts read the opening hours."""
        states = await self.hours.states()
        teams = [team for team in agent.teams if team in states] or list(states)
        ends = [states[t].closes_at for t in teams if states[t].open and states[t].closes_at is not None]
        if not ends:
            return None
        return max(e for e in ends if e is not None).astimezone(self.hours.tz).strftime("%H:%M")

    async def values(self, agent: AgentIdentity) -> dict[str, str | None]:
        return {
            "voornaam": agent.first_name or None,
            "telefoon": HELPLINE["advice"],
            "noodnummer": HELPLINE["emergency"],
            "sluitingstijd": await self.closing_time(agent),
        }

    async def for_agent(self, agent: AgentIdentity) -> dict[str, Any]:
        """The texts this agent may use (shared, and their teams'; supervisors and admins see
        every team's) with the values of the placeholders, shared texts and Dutch first."""
        query = select(ready_texts)
        if not agent.is_supervisor:
            query = query.where(or_(ready_texts.c.team.is_(None), ready_texts.c.team.in_(list(agent.teams))))
        async with self.db.read() as conn:
            found = (await conn.execute(query)).all()
        rows = sorted(found, key=lambda r: (r.team is not None, r.team or "", r.lang != "nl", r.shortcut, r.id))
        return {"texts": [view(r) for r in rows], "values": await self.values(agent)}

    def _check(self, body: Mapping[str, Any]) -> None:
        team = body.get("team")
        if team is not None and team not in self.rules.teams:
            raise DomainError("invalid_input", field="team")
        name = unknown_placeholder(body["text"])
        if name is not None:
            raise DomainError(
                "invalid_input",
                (
                    f"Onbekend invulveld {{{name}}}. "
                    "Gebruik {voornaam}, {telefoon}, {noodnummer} of {sluitingstijd}.",
                    f"Unknown placeholder {{{name}}}.",
                ),
                field="text",
                placeholder=name,
            )

    async def create(self, agent: AgentIdentity, body: Mapping[str, Any]) -> dict[str, Any]:
        self._check(body)
        now = self.clock.now()
        text_id = str(uuid.uuid4())
        async with self.db.write() as conn:
            await conn.execute(
                ready_texts.insert().values(id=text_id, **body, is_default=False, updated_at=now, updated_by=agent.id)
            )
            await record_audit(conn, at=now, action="ready_text_created", actor=agent.id, ready_text_id=text_id)
            return view(await self._row(conn, text_id))

    async def update(
        self, agent: AgentIdentity, text_id: str, body: Mapping[str, Any], based_on: str | None = None
    ) -> dict[str, Any]:
        """`based_on`: the `version` the change was made on (If-Match); None or "*": no check."""
        self._check(body)
        now = self.clock.now()
        async with self.db.write() as conn:
            await self._unchanged_since(conn, text_id, based_on)
            result = await conn.execute(
                ready_texts.update()
                .where(ready_texts.c.id == text_id)
                .values(**body, updated_at=now, updated_by=agent.id)
            )
            if not result.rowcount:
                raise DomainError("not_found")
            await record_audit(conn, at=now, action="ready_text_changed", actor=agent.id, ready_text_id=text_id)
            return view(await self._row(conn, text_id))

    async def delete(self, agent: AgentIdentity, text_id: str, based_on: str | None = None) -> None:
        now = self.clock.now()
        async with self.db.write() as conn:
            await self._unchanged_since(conn, text_id, based_on)
            result = await conn.execute(ready_texts.delete().where(ready_texts.c.id == text_id))
            if not result.rowcount:
                raise DomainError("not_found")
            await record_audit(conn, at=now, action="ready_text_deleted", actor=agent.id, ready_text_id=text_id)

    @staticmethod
    async def _unchanged_since(conn: AsyncConnection, text_id: str, based_on: str | None) -> None:
        """Refuse a change made on another version than the stored one. The row is locked
        (PostgreSQL; SQLite's write transaction already holds the database), so no change
        can come between this check and the write."""
        if based_on is None or based_on == "*":
            return
        row = (
            await conn.execute(select(ready_texts).where(ready_texts.c.id == text_id).with_for_update())
        ).one_or_none()
        if row is None:
            raise DomainError("not_found")
        if text_version(row) != based_on:
            raise DomainError("conflict", CHANGED_MEANWHILE)

    @staticmethod
    async def _row(conn: AsyncConnection, text_id: str) -> Any:
        return (await conn.execute(select(ready_texts).where(ready_texts.c.id == text_id))).one()
