"""DELETE of an Agent or ServiceAccount (RFC 7644 §3.6): revoked at once, restorable by an
admin within the tenant's teardown grace, deprovisioned for good after it.

An agent platform that starts an agent per task ends it with the protocol's own verb;
nothing asks it to suspend first and come back a week later.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.conftest import Harness, TenantAccess
from tests.samples import assert_error, group, user

AGENT = "urn:ietf:params:scim:schemas:core:2.0:Agent"
GOV = "urn:tenure:params:scim:schemas:extension:nhi:1.0:Governance"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
GRACE = dt.timedelta(hours=168)


def register(
    harness: Harness, tenant: TenantAccess, name: str, headers: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:  # fmt: skip
    response = harness.client.post(
        "/scim/v2/Agents",
        json={"schemas": [AGENT], "name": name, **extra},
        headers=headers or tenant.headers("platform"),
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def delete(harness: Harness, tenant: TenantAccess, agent_id: str, roles: str = "platform") -> Any:
    return harness.client.delete(f"/scim/v2/Agents/{agent_id}", headers=tenant.headers(roles))


def restore(harness: Harness, tenant: TenantAccess, agent_id: str, roles: str = "admin") -> Any:
    return harness.client.post(
        f"/admin/identities/{agent_id}/restore", headers=tenant.headers(roles)
    )


def read(harness: Harness, tenant: TenantAccess, path: str) -> Any:
    return harness.client.get(f"/scim/v2/{path}", headers=tenant.headers("admin"))


def members(harness: Harness, tenant: TenantAccess, group_id: str) -> set[str]:
    shown = read(harness, tenant, f"Groups/{group_id}").json()
    return {m["value"] for m in shown.get("members", [])}


def audit(harness: Harness, tenant: TenantAccess, resource_id: str) -> list[dict[str, Any]]:
    response = harness.client.get(
        "/audit", params={"resourceId": resource_id}, headers=tenant.headers("auditor")
    )
    assert response.status_code == 200, response.text
    return list(reversed(response.json()["items"]))  # oldest first


def test_a_hundred_agents_are_created_and_deleted_in_a_row(
    harness: Harness, tenant: TenantAccess
) -> None:
    """The short-lived agent: one per task, ended by DELETE when the task ends."""
    ids = []
    for _ in range(100):
        # The same name each time: a deleted agent's name is free at once.
        created = register(harness, tenant, "task-agent")
        deleted = delete(harness, tenant, created["id"])
        assert deleted.status_code == 204, deleted.text
        assert deleted.content == b""
        ids.append(created["id"])
    assert len(set(ids)) == 100
    listed = read(harness, tenant, "Agents").json()
    assert listed["totalResults"] == 0
    for agent_id in (ids[0], ids[-1]):
        assert_error(read(harness, tenant, f"Agents/{agent_id}"), 404)
        assert [e["actions"] for e in audit(harness, tenant, agent_id)] == [["create"], ["delete"]]
    # Tombstones and history kept, each suspended until its teardown.
    rows = harness.sql(
        "SELECT lifecycle_state, count(*) FROM resources WHERE tenant_id = :t "
        "AND resource_type = 'Agent' AND deleted_at IS NOT NULL GROUP BY lifecycle_state",
        t=tenant.id,
    )
    assert [tuple(r) for r in rows] == [("suspended", 100)]


def test_a_deleted_agent_is_revoked_at_once(harness: Harness, tenant: TenantAccess) -> None:
    """Suspended, out of its Groups, its delegated subtree with it, 404 on every verb."""
    parent = register(harness, tenant, "parent")
    child = register(harness, tenant, "child", parent={"value": parent["id"]})
    team = harness.client.post(
        "/scim/v2/Groups", json=group("Agents", [parent["id"], child["id"]]),
        headers=tenant.headers(),
    ).json()  # fmt: skip
    webhook = harness.client.put(
        "/admin/webhook", json={"url": "http://127.0.0.1:9/hooks"}, headers=tenant.headers("admin")
    )
    assert webhook.status_code == 200, webhook.text

    assert delete(harness, tenant, parent["id"]).status_code == 204
    assert members(harness, tenant, team["id"]) == set()
    for gone in (parent, child):
        path = f"/scim/v2/Agents/{gone['id']}"
        headers = tenant.headers("platform")
        assert_error(harness.client.get(path, headers=headers), 404)
        assert_error(harness.client.put(path, json={"name": "x"}, headers=headers), 404)
        patched = harness.client.patch(
            path,
            json={"schemas": [PATCH_OP],
                  "Operations": [{"op": "replace", "path": "description", "value": "x"}]},
            headers=headers,
        )  # fmt: skip
        assert_error(patched, 404)
        assert_error(harness.client.delete(path, headers=headers), 404)
        search = harness.client.post(
            "/scim/v2/Agents/.search", json={"filter": f'id eq "{gone["id"]}"'}, headers=headers
        )
        assert search.json()["totalResults"] == 0
    bulk = harness.client.post(
        "/scim/v2/Bulk",
        json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
              "Operations": [{"method": "DELETE", "path": f"/Agents/{child['id']}"}]},
        headers=tenant.headers("platform"),
    ).json()  # fmt: skip
    assert bulk["Operations"][0]["status"] == "404"

    parent_events = audit(harness, tenant, parent["id"])
    assert [(e["actions"], e["reason"]) for e in parent_events][-1] == (["delete"], None)
    assert parent_events[-1]["after"][f"{GOV}:suspendedReason"] == "deleted"
    child_events = audit(harness, tenant, child["id"])
    assert [(e["actions"], e["actor"]["name"], e["reason"]) for e in child_events][-1] == (
        ["suspend"], "scheduler", "cascade",
    )  # fmt: skip
    # Its owners hear of it: planned in the DELETE's own transaction.
    outbox = harness.client.get("/admin/outbox", headers=tenant.headers("admin")).json()
    told = {
        (m["payload"]["data"]["identity"]["id"], m["payload"]["data"]["reason"])
        for m in outbox["items"]
        if m["kind"] == "suspended"
    }
    assert told == {(parent["id"], "deleted"), (child["id"], "cascade")}


def test_an_admin_restores_it_within_the_grace(harness: Harness, tenant: TenantAccess) -> None:
    """POST /admin/identities/{id}/restore: as it was, with its Groups and subtree."""
    parent = register(harness, tenant, "parent", description="kept")
    child = register(harness, tenant, "child", parent={"value": parent["id"]})
    grandchild = register(harness, tenant, "grandchild", parent={"value": child["id"]})
    resting = register(harness, tenant, "resting", parent={"value": parent["id"]})
    off = harness.client.patch(
        f"/scim/v2/Agents/{resting['id']}",
        json={"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active",
                                                     "value": False}]},
        headers=tenant.headers("platform"),
    )  # fmt: skip
    assert off.status_code == 200, off.text
    team = harness.client.post(
        "/scim/v2/Groups", json=group("Agents", [parent["id"], grandchild["id"]]),
        headers=tenant.headers(),
    ).json()  # fmt: skip
    gone_team = harness.client.post(
        "/scim/v2/Groups", json=group("Temporary", [child["id"]]), headers=tenant.headers()
    ).json()
    assert delete(harness, tenant, parent["id"]).status_code == 204
    # A Group deleted meanwhile is not brought back; the others are rejoined.
    assert (
        harness.client.delete(
            f"/scim/v2/Groups/{gone_team['id']}", headers=tenant.headers()
        ).status_code
        == 204
    )
    harness.clock.advance(GRACE - dt.timedelta(minutes=1))

    # Cedar decides: a platform may not restore, not even what it deleted (audited).
    refused = restore(harness, tenant, parent["id"], roles="platform")
    assert "tenure.restore.admin" in assert_error(refused, 403)["detail"]
    assert audit(harness, tenant, parent["id"])[-1]["decision"] == "deny"
    # Only the identity whose DELETE it was: its subtree comes back with it.
    assert "restore that one" in assert_error(restore(harness, tenant, child["id"]), 409)["detail"]

    restored = restore(harness, tenant, parent["id"])
    assert restored.status_code == 200, restored.text
    assert restored.headers["content-type"].startswith("application/scim+json")
    body = restored.json()
    assert body["id"] == parent["id"] and body["description"] == "kept"
    assert body["active"] is True and body[GOV]["lifecycleState"] == "active"
    assert "suspendedReason" not in body[GOV] and "teardownAt" not in body[GOV]
    assert read(harness, tenant, f"Agents/{parent['id']}").json()["active"] is True
    assert read(harness, tenant, f"Agents/{child['id']}").json()["active"] is True
    assert read(harness, tenant, f"Agents/{grandchild['id']}").json()["active"] is True
    # As it was: suspended before the DELETE, suspended again (on request).
    back = read(harness, tenant, f"Agents/{resting['id']}").json()
    assert back["active"] is False and back[GOV]["suspendedReason"] == "requested"
    assert members(harness, tenant, team["id"]) == {parent["id"], grandchild["id"]}
    assert read(harness, tenant, "Agents").json()["totalResults"] == 4
    assert [e["actions"] for e in audit(harness, tenant, parent["id"])][-1] == [
        "restore", "reactivate",
    ]  # fmt: skip
    assert audit(harness, tenant, child["id"])[-1]["reason"] == "cascade"
    # Nothing is left to tear down: the sweeper, later, leaves them alone.
    harness.clock.advance(GRACE)
    swept = harness.run(harness.client.app.state.sweeper.sweep())
    assert {o.action for o in swept} <= {"suspend"}  # their ends, not a teardown
    # Restoring what is not deleted is nothing to restore.
    assert_error(restore(harness, tenant, parent["id"]), 404)


def test_after_the_grace_it_is_deprovisioned_for_good(
    harness: Harness, tenant: TenantAccess
) -> None:
    agent = register(harness, tenant, "short-lived")
    assert delete(harness, tenant, agent["id"]).status_code == 204
    harness.clock.advance(GRACE)
    # Past the grace, before the sweeper's turn: no longer restorable.
    late = restore(harness, tenant, agent["id"])
    assert "can no longer be restored" in assert_error(late, 409)["detail"]
    swept = harness.run(harness.client.app.state.sweeper.sweep())
    assert [(o.resource_id, o.action, o.reason, o.done) for o in swept] == [
        (agent["id"], "teardown", "deleted", True)
    ]
    state = "SELECT lifecycle_state FROM resources WHERE id = :id"
    assert harness.sql(state, id=agent["id"])[0][0] == "deprovisioned"
    assert_error(restore(harness, tenant, agent["id"]), 404)
    assert [e["actions"] for e in audit(harness, tenant, agent["id"])] == [
        ["create"], ["delete"], ["teardown"],
    ]  # fmt: skip


def test_a_restore_meets_the_rules_of_a_life_that_restarts(
    harness: Harness, tenant: TenantAccess
) -> None:
    """Back as it was, no more: an end that passed meanwhile has passed (it reads as
    expired and inactive, for its owners to renew); its name must still be free."""
    soon = register(harness, tenant, "soon", **{GOV: {"expiresAt": "2026-11-30T09:00:00Z"}})
    assert delete(harness, tenant, soon["id"]).status_code == 204
    harness.clock.advance(dt.timedelta(days=3))
    expired = restore(harness, tenant, soon["id"])
    assert expired.status_code == 200, expired.text
    assert expired.json()["active"] is False
    assert expired.json()[GOV]["complianceIssues"] == ["expired"]
    assert [e["actions"] for e in audit(harness, tenant, soon["id"])][-1] == ["restore"]

    named = register(harness, tenant, "reused-name")
    assert delete(harness, tenant, named["id"]).status_code == 204
    register(harness, tenant, "reused-name")
    assert_error(restore(harness, tenant, named["id"]), 409, "uniqueness")
    listed = read(harness, tenant, "Agents").json()["Resources"]
    assert sorted(r["name"] for r in listed) == ["reused-name", "soon"]
    assert named["id"] not in {r["id"] for r in listed}

    # Another tenant's admin finds nothing to restore.
    other = harness.tenant()
    assert_error(restore(harness, other, named["id"]), 404)


def test_who_may_delete_is_cedars_to_decide(harness: Harness, tenant: TenantAccess) -> None:
    """The platform that registered it, an admin; not another platform, nor an auditor,
    nor an identity provider."""
    mine = register(harness, tenant, "mine")
    other = harness.client.post(
        "/admin/tokens",
        json={"name": "other platform", "roles": "platform", "owner": tenant.owner(),
              "purpose": "elsewhere"},
        headers=tenant.headers("admin"),
    ).json()  # fmt: skip
    stranger = {"Authorization": f"Bearer {other['token']}"}
    refused = harness.client.delete(f"/scim/v2/Agents/{mine['id']}", headers=stranger)
    assert_error(refused, 403)
    for roles in ("auditor", "idp"):
        assert_error(delete(harness, tenant, mine["id"], roles=roles), 403)
    assert read(harness, tenant, f"Agents/{mine['id']}").json()["active"] is True
    by_admin = register(harness, tenant, "by-admin-later")
    assert delete(harness, tenant, by_admin["id"], roles="admin").status_code == 204
    assert delete(harness, tenant, mine["id"]).status_code == 204
    # A plain User is deleted for good at once, as before.
    plain = harness.client.post("/scim/v2/Users", json=user("plain"), headers=tenant.headers())
    assert (
        harness.client.delete(
            f"/scim/v2/Users/{plain.json()['id']}", headers=tenant.headers()
        ).status_code
        == 204
    )
    assert_error(restore(harness, tenant, plain.json()["id"]), 404)
