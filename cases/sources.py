"""The contact sources (chat, callback) as the case register knows them. Each source hands its
contacts off itself, through the outbox (`cases.outbox.create_handoff`, with `Contact.source`
its name), and registers here how its own records of a handed-off contact are purged once the
retention time has passed. The tables stay the source's own: cases never touches them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncConnection


class ContactSource(Protocol):
    """One kind of contact that can end as a handoff."""

    @property
    def name(self) -> str:
        """The `source` of its handoffs: `chat` or `callback`."""
        ...

    async def purge(self, conn: AsyncConnection, source_id: str) -> None:
        """Inside the caller's transaction: remove what people wrote or said and their contact
        details from the source's own records of contact `source_id`; what was decided stays."""
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
