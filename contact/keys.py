"""Keys the server needs to keep stable: configured (preferred), or made once and kept in the
database so that every process and every restart uses the same one."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from contact.db import Database
from contact.store import server_secrets


async def stored_key(db: Database, name: str) -> bytes:
    """The key called `name`, made on first use (32 random bytes); a race between processes
    making it at once ends with the one that was written first."""
    async with db.read() as conn:
        value = await conn.scalar(select(server_secrets.c.value).where(server_secrets.c.name == name))
    if value is None:
        try:
            async with db.write() as conn:
                await conn.execute(insert(server_secrets).values(name=name, value=secrets.token_hex(32)))
        except IntegrityError:
            pass
        async with db.read() as conn:
            value = await conn.scalar(select(server_secrets.c.value).where(server_secrets.c.name == name))
    assert value is not None
    return bytes.fromhex(value)


class Keys:
    """The keys services share, filled in at start-up (before the first request)."""

    def __init__(self, contact_hash: bytes = b"") -> None:
        self.contact_hash = contact_hash


def hash_token(token: str) -> str:
    """What the database keeps of a bearer token given to a visitor or caller (resume, manage):
    its SHA-256, so a copy of the database unlocks nothing."""
    return hashlib.sha256(token.encode()).hexdigest()
