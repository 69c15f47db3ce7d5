"""HTTP route of the access log: `GET /api/audit`, for supervisors, admins and the privacy
officer. A search is itself an entry in the log (and a CSV export too), written before the
answer."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web

from contact.access_log import may_read_access_log
from contact.errors import DomainError
from contact.http import ACCESS_LOG, SETTINGS, agent_from_request, reader_of
from contact.validation import id_ok
from contact.web import query_int, single_query

CSV_COLUMNS = ("seq", "at", "agent_id", "role", "action", "contact_type", "contact_id", "address_hash", "reason",
               "detail", "hash")  # fmt: skip


def _day(request: web.Request, name: str) -> date | None:
    value = single_query(request, name)
    if value is None:
        return None
    try:
        if len(value) == 10 and value.isascii():
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise DomainError("invalid_input", field=name)


def _id(request: web.Request, name: str) -> str | None:
    value = single_query(request, name)
    if value is not None and (not 1 <= len(value) <= 64 or not id_ok(value)):
        raise DomainError("invalid_input", field=name)
    return value


def _cell(value: object) -> object:
    """No spreadsheet formula from a free-text field (a reason) when the CSV is opened."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


async def search(request: web.Request) -> web.StreamResponse:
    """`?contact=ID` or `?agent=ID` (or both), `from`/`to` (local dates, inclusive),
    `after_seq` and `limit` for paging, `format=json|csv`."""
    agent = await agent_from_request(request)
    if not may_read_access_log(agent.role):
        raise DomainError("forbidden")
    contact_id, agent_id = _id(request, "contact"), _id(request, "agent")
    if contact_id is None and agent_id is None:
        raise DomainError("invalid_input", field="contact")
    first, last = _day(request, "from"), _day(request, "to")
    fmt = single_query(request, "format") or "json"
    if fmt not in ("json", "csv"):
        raise DomainError("invalid_input", field="format")
    after_seq = query_int(request, "after_seq", default=0) or 0
    limit = query_int(request, "limit", default=100, minimum=1, maximum=1000 if fmt == "json" else 100_000) or 100
    log = request.app[ACCESS_LOG]
    tz = ZoneInfo(request.app[SETTINGS].timezone)
    since = datetime.combine(first, time(0), tz) if first else None
    until = datetime.combine(last + timedelta(days=1), time(0), tz) if last else None
    # Log first: who searched for whom (no entry, no answer).
    await log.write(
        reader_of(request, agent),
        "access_log_export" if fmt == "csv" else "access_log_search",
        searched_contact=contact_id,
        searched_agent=agent_id,
        date_from=first.isoformat() if first else None,
        date_to=last.isoformat() if last else None,
    )
    entries = await log.search(
        contact_id=contact_id, agent_id=agent_id, since=since, until=until, after_seq=after_seq, limit=limit
    )
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for e in entries:
            writer.writerow([_cell(json.dumps(e[c], sort_keys=True) if c == "detail" else e[c]) for c in CSV_COLUMNS])
        return web.Response(
            text=out.getvalue(),
            content_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="toegangslog.csv"'},
        )
    more = len(entries) == limit
    return web.json_response({"entries": entries, "next_after_seq": entries[-1]["seq"] if more else None})


def routes() -> list[web.RouteDef]:
    return [web.get("/api/audit", search)]
