"""What a refused request must leave behind: nothing, on either backend.

``snapshot`` reads, straight from the database, every row a tenant's requests
can write (resources, memberships, owners, counts, the audit trail and its
head, tokens, settings, outbox); two snapshots around a refused request must
be equal. ``error_of`` checks a response is an RFC 7644 §3.12 Error body.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import Harness, TenantAccess
from tests.samples import ERROR

# (table, columns): every column a write can change, ordered by a stable key.
_TENANT_ROWS = (
    (
        "resources",
        "id, resource_type, name_norm, external_id, active, version, created, last_modified,"
        " deleted_at, doc, expires_at, parent_id, lifecycle_state, due_at, attest_by",
        "id",
    ),
    ("group_members", "group_id, member_id, member_type, display", "group_id, member_id"),
    ("nhi_owners", "nhi_id, relation, owner_id, owner_type, display", "nhi_id, owner_id"),
    ("resource_counts", "resource_type, shard, live", "resource_type, shard"),
    (
        "audit_events",
        "seq, action, resource_type, resource_id, decision, policy_ids, changed, hash",
        "seq",
    ),
    ("audit_heads", "seq, hash", "seq"),
    # last_used_at moves on every authenticated request; it is not a change of state.
    ("tokens", "id, name, roles, expires_at, revoked_at, owner_id, purpose", "id"),
    ("outbox", "dedup_key, kind, state, attempts, payload", "dedup_key"),
)


def snapshot(harness: Harness, tenant: TenantAccess) -> dict[str, list[Any]]:
    """Every row of ``tenant`` that a request could write, as plain tuples."""
    found: dict[str, list[Any]] = {}
    for table, columns, order in _TENANT_ROWS:
        rows = harness.sql(
            f"SELECT {columns} FROM {table} WHERE tenant_id = :tenant ORDER BY {order}",
            tenant=tenant.id,
        )
        found[table] = [tuple(row) for row in rows]
    found["tenants"] = [
        tuple(row)
        for row in harness.sql(
            "SELECT name, settings, policies, webhook_url, smtp FROM tenants WHERE id = :tenant",
            tenant=tenant.id,
        )
    ]
    return found


def error_of(response: Any) -> dict[str, Any]:
    """The RFC 7644 §3.12 Error body of a 4xx ``response``: schemas, status, detail."""
    where = f"{response.request.method} {response.request.url} → {response.status_code}"
    assert response.headers.get("content-type", "").startswith("application/scim+json"), (
        where,
        response.headers.get("content-type"),
        response.text[:300],
    )
    body = response.json()
    assert body.get("schemas") == [ERROR], (where, body)
    assert body.get("status") == str(response.status_code), (where, body)
    assert isinstance(body.get("detail"), str) and body["detail"], (where, body)
    return body  # type: ignore[no-any-return]
