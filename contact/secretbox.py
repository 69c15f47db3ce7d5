"""Small secrets the server must read back (the agents' TOTP secrets), sealed at rest.

A secret is sealed with AES-256-GCM (`cryptography`) under a subkey derived with HKDF-SHA256
from `VT_SECRET_KEY`, so a copy of the database alone does not give away anyone's second
factor. A sealed value reads `enc1:<key id>:<base64url(nonce | ciphertext | tag)>`; the key id
(8 hex characters of a hash of the subkey, which reveals nothing of it) says which key sealed
it, so the secret key can be rotated: the new one in `VT_SECRET_KEY`, the old ones in
`VT_SECRET_KEY_OLD`; values sealed with an old key are opened with it and sealed again with
the new one at their next use (or all at once by `vt-contact agent encrypt-2fa`).

The associated data binds a value to its row and column (`agent:<id>:totp_secret`): a sealed
secret copied into another agent's row does not open.

A value without the prefix is a secret stored before sealing existed: it is read as it is and
sealed at its next use (docs/privacy.md)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "enc1:"
_INFO = b"vt-contact totp-secret box v1"


class SecretBoxError(Exception):
    """A sealed value that cannot be opened: sealed with a key that is not configured, or changed."""


def _subkey(secret: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret)


def _key_id(subkey: bytes) -> str:
    return hashlib.sha256(b"vt-contact secret box key id\0" + subkey).hexdigest()[:8]


def is_sealed(value: str | None) -> bool:
    return bool(value) and str(value).startswith(PREFIX)


class SecretBox:
    """Seals and opens small secrets. Empty until `load` (at start-up: from the configured secret
    key, or under a single process without one from a key kept in the database)."""

    def __init__(self, secret: bytes | str | None = None, old: Iterable[bytes | str] = ()) -> None:
        self._keys: dict[str, AESGCM] = {}
        self.current: str | None = None
        if secret:
            self.load(secret, old)

    @property
    def ready(self) -> bool:
        return self.current is not None

    def load(self, secret: bytes | str, old: Iterable[bytes | str] = ()) -> None:
        keys: dict[str, AESGCM] = {}
        for raw in [*old, secret]:
            material = raw.encode() if isinstance(raw, str) else raw
            subkey = _subkey(material)
            keys[_key_id(subkey)] = AESGCM(subkey)
        self._keys = keys
        self.current = _key_id(_subkey(secret.encode() if isinstance(secret, str) else secret))

    def seal(self, value: str, context: str) -> str:
        if self.current is None:
            raise SecretBoxError("no key loaded")
        nonce = os.urandom(12)
        sealed = self._keys[self.current].encrypt(nonce, value.encode(), context.encode())
        return f"{PREFIX}{self.current}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, stored: str, context: str) -> str:
        """The secret of a stored value; a value stored before sealing is returned as it is."""
        if not is_sealed(stored):
            return stored
        kid, _, body = stored.removeprefix(PREFIX).partition(":")
        key = self._keys.get(kid)
        if key is None:
            raise SecretBoxError(f"sealed with key {kid}, which is not configured (VT_SECRET_KEY or VT_SECRET_KEY_OLD)")
        try:
            raw = base64.urlsafe_b64decode(body.encode())
            return key.decrypt(raw[:12], raw[12:], context.encode()).decode()
        except (InvalidTag, binascii.Error, ValueError, UnicodeDecodeError):
            raise SecretBoxError(f"a value sealed with key {kid} does not open (changed or moved)") from None

    def stale(self, stored: str | None) -> bool:
        """Whether a stored value should be sealed (again): in the clear, or under an old key."""
        if not stored:
            return False
        return not stored.startswith(f"{PREFIX}{self.current}:")
