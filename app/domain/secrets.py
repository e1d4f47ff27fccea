"""Bearer token secrets: random, shown once, kept only as an HMAC-SHA-256 keyed hash.

A token reads ``tnr_<id>.<secret>``: the id finds the row without an index on
the secret, and the secret is checked against the stored hash in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

_FORMAT = re.compile(r"^tnr_([0-9a-f]{16})\.([A-Za-z0-9_-]{43,128})$")
# Checked against when the id is unknown, so a miss costs what a hit costs.
_DUMMY_HASH = "0" * 64


class IssuedSecret:
    """A freshly minted token: the plaintext exists only in this object."""

    __slots__ = ("plaintext", "token_id")

    def __init__(self, token_id: str, plaintext: str) -> None:
        self.token_id = token_id
        self.plaintext = plaintext

    def __repr__(self) -> str:  # never let the secret reach a log by accident
        return f"IssuedSecret(token_id={self.token_id!r})"


def mint() -> IssuedSecret:
    token_id = secrets.token_hex(8)
    return IssuedSecret(token_id, f"tnr_{token_id}.{secrets.token_urlsafe(32)}")


def keyed_hash(key: bytes, plaintext: str) -> str:
    # hmac.digest: the one-shot form, without building an HMAC object per request.
    return hmac.digest(key, plaintext.encode(), hashlib.sha256).hex()


def token_id_of(plaintext: str) -> str | None:
    """The id part of a well-formed token, else None."""
    match = _FORMAT.match(plaintext)
    return match.group(1) if match else None


def matches(key: bytes, plaintext: str, stored_hash: str | None) -> bool:
    """Constant-time comparison of ``plaintext``'s keyed hash with ``stored_hash``."""
    return hmac.compare_digest(keyed_hash(key, plaintext), stored_hash or _DUMMY_HASH)
