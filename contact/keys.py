"""Keys the server needs to keep stable, and the keyed hashes of phone numbers and e-mail
addresses made with them.

The hash key is configured (`VT_HASH_KEY`, required outside `--demo`: a key kept in the same
database as the hashes would let a copy of the database test all ~10⁸ Dutch mobile numbers in
seconds). Only `--demo` makes one and keeps it in the database.

Every stored hash carries the id of the key(s) it was made with: `v<id>:<hex>`. Rotation
(`vt-contact keys rotate`, with the new key in `VT_HASH_KEY` and the old one in
`VT_HASH_KEY_OLD`) makes each stored hash again from the number where it is still kept, and
otherwise (the links of repeat reports outlive the numbers) wraps the old hash in the new key:
`v<old>.<new>:HMAC(new, old hex)`. A copy of the database and the old key alone then no longer
reveal anything; the old key stays configured, for looking these up, until the wrapped hashes
have passed their retention (docs/privacy.md)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import secrets

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from contact.db import Database
from contact.store import server_secrets

HOW_TO_MAKE_A_KEY = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'


async def stored_key(db: Database, name: str) -> bytes:
    """The key called `name`, made on first use (32 random bytes); a race between processes
    making it at once ends with the one that was written first. Only for `--demo`."""
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


def key_bytes(configured: str) -> bytes:
    """A configured key: its text, or with `hex:` the bytes it spells (the key an older version
    made and kept in the database, `server_secret` `contact_hash`, to rotate away from)."""
    if configured.startswith("hex:"):
        return bytes.fromhex(configured.removeprefix("hex:"))
    return configured.encode()


def key_id(key: bytes) -> str:
    """A short id of a key, stored with each hash (it reveals nothing of the key)."""
    return hashlib.sha256(b"vt-contact hash key id\0" + key).hexdigest()[:8]


def _hmac(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def keyed_hash(key: bytes, value: str) -> str:
    """A keyed hash (HMAC-SHA256, hex) of a value that must be recognised again, never read: e.g. a
    client address as a rate-limit key. Not for contact hashes, which carry their key id (`Keys`)."""
    return _hmac(key, value)


class Keys:
    """The keys services share, filled in at start-up (before the first request). `old`: keys
    this one replaced, oldest first (`VT_HASH_KEY_OLD`, comma-separated)."""

    def __init__(self, contact_hash: bytes = b"", old: tuple[bytes, ...] = ()) -> None:
        self.contact_hash = contact_hash
        self.old = old

    @property
    def loaded(self) -> bool:
        return bool(self.contact_hash)

    def _require(self) -> None:
        if not self.contact_hash:
            raise RuntimeError("the hash key was not loaded")

    def hash(self, normalised: str) -> str:
        """The hash to store now: HMAC-SHA256 with the current key, with its key id."""
        self._require()
        return f"v{key_id(self.contact_hash)}:{_hmac(self.contact_hash, normalised)}"

    def matches(self, normalised: str) -> list[str]:
        """Every form a stored hash of `normalised` may have: the current one, one made with an
        old key before the rotation ran, and old hashes wrapped in later keys by a rotation."""
        self._require()
        chain = [*self.old, self.contact_hash]
        # Hashes stored before they carried a key id (plain hex), with whichever key made them.
        found = [_hmac(key, normalised) for key in chain]
        for size in range(1, len(chain) + 1):
            for keys in itertools.combinations(chain, size):  # in order: oldest key innermost
                value = _hmac(keys[0], normalised)
                for key in keys[1:]:
                    value = _hmac(key, value)
                found.append(f"v{'.'.join(key_id(k) for k in keys)}:{value}")
        return found

    def rewrap(self, stored: str) -> str | None:
        """A stored hash made with an old key, wrapped in the current one; None when it is
        already current or made with a key not configured here."""
        self._require()
        current = key_id(self.contact_hash)
        if ":" not in stored:
            # Made before hashes carried a key id: by the key this one replaces (the last old one).
            if not self.old or not stored:
                return None
            return f"v{key_id(self.old[-1])}.{current}:{_hmac(self.contact_hash, stored)}"
        version, _, value = stored.partition(":")
        ids = version.removeprefix("v").split(".")
        if not value or ids[-1] == current or ids[-1] not in {key_id(k) for k in self.old}:
            return None
        return f"v{'.'.join([*ids, current])}:{_hmac(self.contact_hash, value)}"


def hash_token(token: str) -> str:
    """What the database keeps of a bearer token given to a visitor or caller (resume, manage):
    its SHA-256, so a copy of the database unlocks nothing."""
    return hashlib.sha256(token.encode()).hexdigest()
