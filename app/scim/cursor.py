"""Opaque cursors (RFC 9865): signed, bound to the tenant and to the query they page.

A cursor carries a position, never a snapshot, so it does not expire: a
client may come back to it later and carry on from where it was.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import msgspec

from app.scim.errors import InvalidCursor


class Position(msgspec.Struct, frozen=True, array_like=True):
    """``after``/``before`` a row's sequence number (default order) or an ``offset`` (sorted)."""

    kind: str  # "after" | "before" | "offset"
    value: int


class _Payload(msgspec.Struct, frozen=True, array_like=True):
    tenant: str
    query: str  # fingerprint of the query being paged
    position: Position


def fingerprint(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


class _Keyset(msgspec.Struct, frozen=True, array_like=True):
    tenant: str
    query: str
    key: tuple[str | int, ...]  # the last row's sort key: the next page starts after it


def _seal(key: bytes, body: bytes) -> str:
    mac = hmac.new(key, body, hashlib.sha256).digest()[:12]
    # base64url: only RFC 3986 unreserved characters, as RFC 9865 §2 asks.
    return base64.urlsafe_b64encode(mac + body).rstrip(b"=").decode()


def _open(key: bytes, text: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        raise InvalidCursor("the cursor is not one this server issued") from None
    mac, body = raw[:12], raw[12:]
    if not hmac.compare_digest(mac, hmac.new(key, body, hashlib.sha256).digest()[:12]):
        raise InvalidCursor("the cursor is not one this server issued")
    return body


def _checked(payload: _Payload | _Keyset, tenant: str, query: str) -> None:
    # A foreign tenant's cursor reads exactly like a forged one (RFC 9865 §5.2).
    if payload.tenant != tenant:
        raise InvalidCursor("the cursor is not one this server issued")
    if payload.query != query:
        raise InvalidCursor("the cursor belongs to a different query; repeat the same parameters")


def encode(key: bytes, tenant: str, query: str, position: Position) -> str:
    return _seal(key, msgspec.msgpack.encode(_Payload(tenant, query, position)))


def decode(key: bytes, text: str, tenant: str, query: str) -> Position:
    """The position in ``text``; InvalidCursor if forged, foreign or for another query."""
    try:
        payload = msgspec.msgpack.decode(_open(key, text), type=_Payload)
    except msgspec.MsgspecError:
        raise InvalidCursor("the cursor is not one this server issued") from None
    _checked(payload, tenant, query)
    return payload.position


def encode_keyset(key: bytes, tenant: str, query: str, last: tuple[str | int, ...]) -> str:
    """A cursor after the row whose sort key is ``last`` (reports page by keyset)."""
    return _seal(key, msgspec.msgpack.encode(_Keyset(tenant, query, last)))


def decode_keyset(key: bytes, text: str, tenant: str, query: str) -> tuple[str | int, ...]:
    try:
        payload = msgspec.msgpack.decode(_open(key, text), type=_Keyset)
    except msgspec.MsgspecError:
        raise InvalidCursor("the cursor is not one this server issued") from None
    _checked(payload, tenant, query)
    return payload.key
