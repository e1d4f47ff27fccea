"""Audit events as plain data, and their hash chain.

Each tenant's events form a chain: an event's hash covers the hash before it,
its sequence number and its canonical encoding, so an edit or a deletion of
any event shows when the chain is walked again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import msgspec

GENESIS = "0" * 64


class AuditEvent(msgspec.Struct, frozen=True, kw_only=True):
    tenant_id: str
    at: dt.datetime
    actor_token: str
    actor_name: str
    actor_roles: tuple[str, ...]
    action: str  # the Cedar actions, e.g. "update,extend"
    resource_type: str
    resource_id: str
    resource_name: str | None
    decision: str  # "allow" | "deny"
    policy_ids: tuple[str, ...]
    changed: tuple[str, ...] = ()
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    reason: str | None = None  # the scheduler's, or "cascade"
    detail: str | None = None  # a deny's explanation
    request_id: str | None = None
    client: str | None = None


_canonical = msgspec.json.Encoder(order="sorted")


def chain_hash(prev_hash: str, seq: int, item: Any) -> str:
    """SHA-256 over the previous hash, the sequence number and the canonical event.

    The canonical encoding is a JSON object with sorted keys, so an event, its
    fields as a dict, or a ``Canonical`` of them all hash the same.
    """
    digest = hashlib.sha256()
    digest.update(prev_hash.encode())
    digest.update(str(seq).encode())
    digest.update(_canonical.encode(item))
    return digest.hexdigest()


class Recorded(msgspec.Struct, frozen=True, kw_only=True):
    """An event as stored: its place in the chain and the hashes that bind it there."""

    seq: int
    prev_hash: str
    hash: str
    event: AuditEvent


# An event's fields in sorted order, as verification rebuilds them from stored rows
# (positionally: it does so a million times); it encodes exactly as the event does.
CANONICAL_FIELDS = tuple(sorted(AuditEvent.__struct_fields__))
Canonical = msgspec.defstruct("Canonical", [(name, Any) for name in CANONICAL_FIELDS], gc=False)
