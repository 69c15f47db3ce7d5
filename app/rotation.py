"""`vt-contact keys rotate`: every stored contact hash made with an old key (VT_HASH_KEY_OLD)
is made again with the new one (VT_HASH_KEY): from the number where it is still kept (open and
not yet purged callbacks), else wrapped in the new key (the links of repeat reports, whose
numbers are gone). Lookups keep finding both (contact/keys.py), so links of repeat reports
survive; it is idempotent and can run while the servers run with the new key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update

from callback.store import callbacks
from cases.store import handoff_contacts
from contact.db import Database
from contact.keys import Keys, key_id
from contact.store import record_audit, server_secrets


async def rotate_hash_keys(db: Database, keys: Keys, now: datetime) -> dict[str, int]:
    """How many callback hashes were made again and how many repeat-report hashes wrapped."""
    if not keys.old:
        raise ValueError("set the new key in VT_HASH_KEY and the one it replaces in VT_HASH_KEY_OLD")
    current = f"v{key_id(keys.contact_hash)}:"
    done = {"callbacks": 0, "hermelding_links": 0, "database_key_removed": 0}
    async with db.write() as conn:
        rows = (
            await conn.execute(
                select(callbacks.c.id, callbacks.c.phone).where(
                    callbacks.c.phone != "", callbacks.c.phone_hash.not_like(current + "%")
                )
            )
        ).all()
        for row in rows:
            await conn.execute(
                update(callbacks).where(callbacks.c.id == row.id).values(phone_hash=keys.hash(row.phone))
            )
        done["callbacks"] = len(rows)
        links = (await conn.execute(select(handoff_contacts.c.handoff_id, handoff_contacts.c.contact_hash))).all()
        for link in links:
            wrapped = keys.rewrap(link.contact_hash)
            if wrapped is None:
                continue
            await conn.execute(
                update(handoff_contacts)
                .where(
                    handoff_contacts.c.handoff_id == link.handoff_id,
                    handoff_contacts.c.contact_hash == link.contact_hash,
                )
                .values(contact_hash=wrapped)
            )
            done["hermelding_links"] += 1
        # A key an older version kept in the database is rotated away from: it goes with it.
        stored = await conn.scalar(select(server_secrets.c.value).where(server_secrets.c.name == "contact_hash"))
        if stored is not None and bytes.fromhex(stored) in keys.old:
            await conn.execute(delete(server_secrets).where(server_secrets.c.name == "contact_hash"))
            done["database_key_removed"] = 1
        await record_audit(
            conn, at=now, action="hash_keys_rotated", actor="cli", callbacks=done["callbacks"],
            hermelding_links=done["hermelding_links"], database_key_removed=done["database_key_removed"],
        )  # fmt: skip
    return done
