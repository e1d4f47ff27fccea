"""Every decided change leaves one audit event — a deny included — hash-chained per tenant.

Read straight from the table here; the auditor's API over it is its own issue.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from app.domain.audit import GENESIS, AuditEvent, chain_hash
from tests.conftest import Harness, TenantAccess
from tests.samples import assert_error, user

AGENT = "urn:ietf:params:scim:schemas:core:2.0:Agent"
GOV = "urn:tenure:params:scim:schemas:extension:nhi:1.0:Governance"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
COLUMNS = (
    "seq, at, actor_token, actor_name, actor_roles, action, resource_type, resource_id, "
    "resource_name, decision, policy_ids, changed, before, after, reason, detail, "
    "request_id, client, prev_hash, hash, tenant_id"
)


def events(harness: Harness, tenant: TenantAccess, *, admin: bool = False) -> list[dict[str, Any]]:
    """The tenant's events about identities (``admin``: its configuration's too)."""
    rows = harness.sql(
        f"SELECT {COLUMNS} FROM audit_events WHERE tenant_id = :t "
        f"{'' if admin else 'AND resource_type IN (:u, :g, :a, :s) '}ORDER BY seq",
        t=tenant.id, u="User", g="Group", a="Agent", s="ServiceAccount",
    )  # fmt: skip
    out = []
    for row in rows:
        item = dict(row._mapping)
        for key in ("policy_ids", "changed", "before", "after"):
            if isinstance(item[key], str):  # SQLite hands JSON back as text
                item[key] = json.loads(item[key])
        out.append(item)
    return out


def patch(harness: Harness, url: str, headers: Any, *operations: dict[str, Any]) -> Any:
    return harness.client.patch(
        url, json={"schemas": [PATCH_OP], "Operations": list(operations)}, headers=headers
    )


def test_each_allowed_change_is_one_event_with_what_it_changed(
    harness: Harness, tenant: TenantAccess
) -> None:
    platform = tenant.headers("platform")
    owner_events = len(events(harness, tenant))  # the platform token's owner User
    created = harness.client.post(
        "/scim/v2/Agents",
        json={"schemas": [AGENT], "name": "deployer", "displayName": "Deployer"},
        headers={**platform, "X-Request-Id": "req-create-1"},
    )
    assert created.status_code == 201
    agent = created.json()
    url = f"/scim/v2/Agents/{agent['id']}"
    renamed = patch(harness, url, platform, {"op": "replace", "path": "displayName", "value": "D2"})
    assert renamed.status_code == 200

    trail = events(harness, tenant)[owner_events:]
    assert [(e["action"], e["decision"], e["resource_id"]) for e in trail] == [
        ("create", "allow", agent["id"]),
        ("update", "allow", agent["id"]),
    ]
    made, change = trail
    assert made["policy_ids"] == ["tenure.roles.platform"]
    assert made["request_id"] == "req-create-1" and made["client"]
    assert made["actor_name"] == "platform client" and made["actor_roles"] == "platform"
    assert made["resource_type"] == "Agent" and made["resource_name"] == "deployer"
    assert change["changed"] == ["displayName"]
    assert change["before"] == {"displayName": "Deployer"}
    assert change["after"] == {"displayName": "D2"}
    assert change["reason"] is None and change["detail"] is None


def test_a_denied_attempt_is_recorded_and_changes_nothing(
    harness: Harness, tenant: TenantAccess
) -> None:
    platform = tenant.headers("platform")
    soon = (harness.clock.now() + dt.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    agent = harness.client.post(
        "/scim/v2/Agents",
        json={"schemas": [AGENT, GOV], "name": "renewer", GOV: {"expiresAt": soon}},
        headers=platform,
    ).json()
    url = f"/scim/v2/Agents/{agent['id']}"
    later = (harness.clock.now() + dt.timedelta(days=60)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    before = len(events(harness, tenant))
    refused = patch(
        harness, url, platform, {"op": "replace", "path": f"{GOV}:expiresAt", "value": later}
    )
    detail = assert_error(refused, 403)["detail"]
    assert harness.client.get(url, headers=platform).json() == agent

    trail = events(harness, tenant)
    assert len(trail) == before + 1
    denial = trail[-1]
    assert denial["decision"] == "deny" and denial["action"] == "extend"
    assert denial["policy_ids"] == ["tenure.renewal.attested"]
    assert denial["detail"] == detail
    assert denial["changed"] == [f"{GOV}:expiresAt"]
    assert denial["before"] == {f"{GOV}:expiresAt": soon}
    assert denial["after"] == {f"{GOV}:expiresAt": later}

    auditor = harness.client.post("/scim/v2/Users", json=user(), headers=tenant.headers("auditor"))
    assert_error(auditor, 403)
    last = events(harness, tenant)[-1]
    assert (last["decision"], last["actor_roles"], last["policy_ids"]) == (
        "deny",
        "auditor",
        ["tenure.roles.auditor"],
    )


def test_secrets_are_named_never_copied(harness: Harness, tenant: TenantAccess) -> None:
    created = harness.client.post(
        "/scim/v2/Users", json=user(password="first-Secret-1"), headers=tenant.headers()
    )
    assert created.status_code == 201
    url = f"/scim/v2/Users/{created.json()['id']}"
    changed = patch(
        harness, url, tenant.headers(),
        {"op": "replace", "path": "password", "value": "second-Secret-2"},
        {"op": "replace", "path": "title", "value": "Tour Guide"},
    )  # fmt: skip
    assert changed.status_code == 200
    trail = events(harness, tenant)
    # The server keeps no password at all (RFC 7643 writeOnly), so none can be copied.
    assert trail[-1]["changed"] == ["title"]
    assert trail[-1]["after"] == {"title": "Tour Guide"}
    everything = json.dumps(
        [list(r) for r in harness.sql("SELECT * FROM audit_events")], default=str
    )
    assert "Secret-1" not in everything and "Secret-2" not in everything


def test_bulk_cascades_and_dry_runs(harness: Harness, tenant: TenantAccess) -> None:
    platform = tenant.headers("platform")
    start = len(events(harness, tenant))
    bulk = harness.client.post(
        "/scim/v2/Bulk",
        json={
            "Operations": [
                {"method": "POST", "path": "/Agents", "bulkId": "p",
                 "data": {"schemas": [AGENT], "name": "parent"}},
                {"method": "POST", "path": "/Agents", "bulkId": "c",
                 "data": {"schemas": [AGENT], "name": "child", "parent": {"value": "bulkId:p"}}},
            ]
        },
        headers=platform,
    ).json()  # fmt: skip
    assert [op["status"] for op in bulk["Operations"]] == ["201", "201"]
    parent_id = bulk["Operations"][0]["location"].rsplit("/", 1)[1]
    assert [e["action"] for e in events(harness, tenant)[start:]] == ["create", "create"]

    dry = harness.client.post(
        "/admin/policies/evaluate",
        json={"method": "DELETE", "path": f"/Agents/{parent_id}"},
        headers=tenant.headers("admin"),
    )
    assert dry.status_code == 200 and dry.json()["decision"] == "allow", dry.text
    # The DELETE as asked, and its cascade as the scheduler's consequence.
    assert [d["actions"] for d in dry.json()["decisions"]] == [["delete"], ["suspend"]]
    assert len(events(harness, tenant)) == start + 2  # a dry run records nothing

    off = patch(harness, f"/scim/v2/Agents/{parent_id}", platform,
                {"op": "replace", "path": "active", "value": False})  # fmt: skip
    assert off.status_code == 200
    harness.clock.advance(dt.timedelta(days=8))
    gone = harness.client.delete(f"/scim/v2/Agents/{parent_id}", headers=platform)
    assert gone.status_code == 204
    tail = events(harness, tenant)[start + 2 :]
    assert [(e["action"], e["actor_token"], e["reason"]) for e in tail] == [
        ("suspend", tail[0]["actor_token"], None),
        ("suspend", "scheduler", "cascade"),  # the child, with its parent
        ("delete", tail[0]["actor_token"], None),
        ("suspend", "scheduler", "cascade"),  # the child goes with its deleted parent
    ]


def test_the_chain_links_every_event_of_a_tenant(harness: Harness, tenant: TenantAccess) -> None:
    for index in range(3):
        created = harness.client.post(
            "/scim/v2/Users", json=user(f"u{index}@example.com"), headers=tenant.headers()
        )
        assert created.status_code == 201
    assert_error(
        harness.client.post("/scim/v2/Users", json=user(), headers=tenant.headers("auditor")), 403
    )
    other = harness.tenant()
    assert (
        harness.client.post("/scim/v2/Users", json=user(), headers=other.headers()).status_code
        == 201
    )
    trail = events(harness, tenant, admin=True)  # the tokens' issue is in the chain too
    assert [e["seq"] for e in trail] == list(range(1, len(trail) + 1))
    assert [e["action"] for e in trail if e["resource_type"] == "User"] == ["create"] * 4
    assert {e["action"] for e in trail if e["resource_type"] == "Token"} == {"token.issue"}
    prev = GENESIS
    for row in trail:
        assert row["prev_hash"] == prev
        item = AuditEvent(
            tenant_id=row["tenant_id"],
            at=_utc(row["at"]),
            actor_token=row["actor_token"],
            actor_name=row["actor_name"],
            actor_roles=tuple(filter(None, row["actor_roles"].split(","))),
            action=row["action"],
            resource_type=row["resource_type"],
            resource_id=row["resource_id"],
            resource_name=row["resource_name"],
            decision=row["decision"],
            policy_ids=tuple(row["policy_ids"]),
            changed=tuple(row["changed"]),
            before=row["before"],
            after=row["after"],
            reason=row["reason"],
            detail=row["detail"],
            request_id=row["request_id"],
            client=row["client"],
        )
        assert chain_hash(prev, row["seq"], item) == row["hash"]
        prev = row["hash"]
    assert [e["action"] for e in events(harness, other)] == ["create"]


def _utc(value: Any) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
