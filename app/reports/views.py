"""Pure: each report's row as a JSON object and as a CSV line (same facts, both formats).

JSON nests (an owner, an identity); CSV flattens the same facts into named
columns, multi-valued ones joined with ``;`` and before/after values as JSON.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from app.domain.audit import Recorded
from app.domain.reports import Expiring, Governed, Holder, Orphan, Owned
from app.scim.codec import format_datetime


def _when(value: dt.datetime | None) -> str | None:
    return format_datetime(value) if value is not None else None


def holder(h: Holder) -> dict[str, Any]:
    return {"id": h.id, "type": h.type, "display": h.display, "status": h.status}


def governed(g: Governed) -> dict[str, Any]:
    return {
        "id": g.id,
        "resourceType": g.type,
        "name": g.name,
        "kind": g.kind,
        "purpose": g.purpose,
        "scopes": list(g.scopes),
        "environment": g.environment,
        "expiresAt": _when(g.expires_at),
        "state": g.state,
        "created": _when(g.created),
        "deletedAt": _when(g.deleted_at),
    }


_IDENTITY = ["identity_id", "identity_type", "identity_name", "kind", "purpose", "scopes",
             "environment", "expires_at", "state", "created", "deleted_at"]  # fmt: skip


def _identity_cells(g: Governed) -> list[Any]:
    return [g.id, g.type, g.name, g.kind, g.purpose, ";".join(g.scopes), g.environment,
            _when(g.expires_at), g.state, _when(g.created), _when(g.deleted_at)]  # fmt: skip


def _holders_cell(holders: tuple[Holder, ...]) -> str:
    return ";".join(f"{h.type}:{h.id}:{h.display or ''}:{h.status}" for h in holders)


OWNERSHIP = ["owner_id", "owner_type", "owner_display", "owner_status", "relation", *_IDENTITY]


def ownership(o: Owned) -> dict[str, Any]:
    return {"owner": holder(o.owner), "relation": o.relation, "identity": governed(o.identity)}


def ownership_cells(o: Owned) -> list[Any]:
    h = o.owner
    return [h.id, h.type, h.display, h.status, o.relation, *_identity_cells(o.identity)]


EXPIRING = [*_IDENTITY, "owners", "warned_at", "warned_days_ahead"]


def expiring(e: Expiring) -> dict[str, Any]:
    return {
        "identity": governed(e.identity),
        "owners": [holder(h) for h in e.owners],
        "warned": e.warned_at is not None,
        "warnedAt": _when(e.warned_at),
        "warnedDaysAhead": e.warned_days,
    }


def expiring_cells(e: Expiring) -> list[Any]:
    return [*_identity_cells(e.identity), _holders_cell(e.owners), _when(e.warned_at),
            e.warned_days]  # fmt: skip


ORPHANS = [*_IDENTITY, "owners", "orphaned_since", "next_step", "next_at"]


def orphan(o: Orphan) -> dict[str, Any]:
    return {
        "identity": governed(o.identity),
        "owners": [holder(h) for h in o.owners],
        "orphanedSince": _when(o.since),
        "nextStep": o.next_step,
        "nextAt": _when(o.next_at),
    }


def orphan_cells(o: Orphan) -> list[Any]:
    return [*_identity_cells(o.identity), _holders_cell(o.owners), _when(o.since), o.next_step,
            _when(o.next_at)]  # fmt: skip


AUDIT = ["seq", "at", "actor_token", "actor_name", "actor_roles", "action", "resource_type",
         "resource_id", "resource_name", "decision", "policy_ids", "changed", "before", "after",
         "reason", "detail", "request_id", "client", "hash"]  # fmt: skip
_json = msgspec.json.Encoder(order="sorted")


def audit_event(r: Recorded) -> dict[str, Any]:
    e = r.event
    return {
        "seq": r.seq,
        "at": format_datetime(e.at),
        "actor": {"token": e.actor_token, "name": e.actor_name, "roles": list(e.actor_roles)},
        "actions": e.action.split(","),
        "resource": {"type": e.resource_type, "id": e.resource_id, "name": e.resource_name},
        "decision": e.decision,
        "policyIds": list(e.policy_ids),
        "changed": list(e.changed),
        "before": e.before,
        "after": e.after,
        "reason": e.reason,
        "detail": e.detail,
        "requestId": e.request_id,
        "client": e.client,
        "prevHash": r.prev_hash,
        "hash": r.hash,
    }


def audit_cells(r: Recorded) -> list[Any]:
    e = r.event
    return [r.seq, format_datetime(e.at), e.actor_token, e.actor_name, ";".join(e.actor_roles),
            e.action, e.resource_type, e.resource_id, e.resource_name, e.decision,
            ";".join(e.policy_ids), ";".join(e.changed), _json.encode(e.before).decode(),
            _json.encode(e.after).decode(), e.reason, e.detail, e.request_id, e.client,
            r.hash]  # fmt: skip


SUMMARY = ["section", "key", "count"]


def summary_cells(summary: dict[str, Any]) -> list[list[Any]]:
    """The summary's counts as (section, key, count) lines."""
    lines: list[list[Any]] = []
    identities = summary["identities"]
    lines.append(["identities", "total", identities["total"]])
    for section in ("byType", "byKind", "byState", "byEnvironment"):
        for key, count in identities[section].items():
            lines.append([section, key, count])
    lines.append(["withoutExpiry", "", summary["withoutExpiry"]])
    lines.append(["pastMaxLifetime", "", summary["pastMaxLifetime"]])
    for key, count in summary["denials"]["byPolicy"].items():
        lines.append(["denialsByPolicy", key, count])
    for reason, steps in summary["teardowns"]["byReason"].items():
        for step, count in steps.items():
            lines.append(["teardownsByReason", f"{reason}:{step}", count])
    return lines
