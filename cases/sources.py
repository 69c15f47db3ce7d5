"""The contact sources (chat, callback) as the case register knows them. Each source hands its
contacts off itself, through the outbox (`cases.outbox.create_handoff`, with `Contact.source`
its name), and registers here how its own records are purged: every contact it holds, however
it ended (handed off or not, left, gone, cancelled, not reached), once its retention time after
that end has passed. The tables stay the source's own: cases never touches them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

# What of an outcome may stay after the purge: what was decided, not who or what was told.
OUTCOME_KEPT = ("kind", "urgency", "gemeente", "expertise")


def decided_only(outcome: dict[str, Any] | None) -> dict[str, Any] | None:
    """An outcome without its summary, phone number and e-mail address."""
    if outcome is None:
        return None
    return {k: v for k, v in outcome.items() if k in OUTCOME_KEPT}


# Ages of stored personal data in the privacy report (days since the contact was made).
AGES = ((1, "<1"), (7, "1-7"), (30, "7-30"), (90, "30-90"), (365, "90-365"))


def age_label(made: datetime | None, now: datetime) -> str:
    if made is None:
        return "unknown"
    days = (now - made).total_seconds() / 86400
    return next((label for limit, label in AGES if days < limit), ">=365")


class Tally:
    """Counts for the privacy report, per how a contact ended: kept, due for the next purge,
    and by age. Counts only: nothing that was said or who said it."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.counts: dict[str, dict[str, Any]] = {}

    def add(self, ending: str, made: datetime | None, due: bool) -> None:
        entry = self.counts.setdefault(ending, {"kept": 0, "due": 0, "age_days": {}})
        entry["kept"] += 1
        entry["due"] += 1 if due else 0
        label = age_label(made, self.now)
        entry["age_days"][label] = entry["age_days"].get(label, 0) + 1

    def result(self) -> dict[str, dict[str, Any]]:
        return {key: self.counts[key] for key in sorted(self.counts)}


@dataclass(frozen=True)
class Retention:
    """How long personal data is kept. `by_source`: after a contact of that source ended (its
    outcome recorded, the call ended, the request cancelled); `handoff`: a handoff's payload
    after it was delivered (or discarded); `hermelding`: the keyed hashes that link repeat
    reports, after the handoff was made. A source without its own entry uses `general`."""

    general: timedelta
    handoff: timedelta
    hermelding: timedelta
    by_source: Mapping[str, timedelta] = field(default_factory=dict)

    def of(self, source: str) -> timedelta:
        return self.by_source.get(source, self.general)


class ContactSource(Protocol):
    """One kind of contact: it may end as a handoff, and its records are purged."""

    @property
    def name(self) -> str:
        """The `source` of its handoffs: `chat` or `callback`."""
        ...

    async def purge(self, conn: AsyncConnection, source_id: str, now: datetime) -> None:
        """Inside the caller's transaction: remove what people wrote or said and their contact
        details from the source's own records of contact `source_id`; what was decided stays."""
        ...

    async def purge_ended(self, conn: AsyncConnection, cutoff: datetime, now: datetime, limit: int) -> int:
        """Inside the caller's transaction: purge up to `limit` of its contacts that ended at or
        before `cutoff` and were not purged yet; how many were purged."""
        ...

    async def stored(self, conn: AsyncConnection, cutoff: datetime, now: datetime) -> dict[str, dict[str, Any]]:
        """Counts only, by how the contact ended: `kept` (personal data still stored), `due`
        (of those, ended at or before `cutoff`: the next purge removes them) and `age_days`
        (days since the contact was made), as `Tally` makes them."""
        ...


class ContactSources(Mapping[str, ContactSource]):
    """The registered sources by name; a name registered twice is a mistake at start-up."""

    def __init__(self, sources: Iterable[ContactSource]) -> None:
        self._by_name: dict[str, ContactSource] = {}
        for source in sources:
            if source.name in self._by_name:
                raise ValueError(f"contact source {source.name!r} registered twice")
            self._by_name[source.name] = source

    def __getitem__(self, name: str) -> ContactSource:
        return self._by_name[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)
