"""Orphans: when an identity provider deactivates or deletes an owner, what it owned is
handed over or flagged at once, and suspended after the grace unless someone takes it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.lifecycle.sweeper import Sweeper
from tests.conftest import Harness, TenantAccess
from tests.samples import ENTERPRISE, stamp, user

AGENT = "urn:ietf:params:scim:schemas:core:2.0:Agent"
GOV = "urn:tenure:params:scim:schemas:extension:nhi:1.0:Governance"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def person(harness: Harness, tenant: TenantAccess, name: str, **extra: Any) -> Any:
    created = harness.client.post(
        "/scim/v2/Users", json=user(f"{name}@example.com", **extra), headers=tenant.headers()
    )
    assert created.status_code == 201, created.text
    return created.json()


def owned(harness: Harness, tenant: TenantAccess, name: str, owner: str, **extra: Any) -> Any:
    body = {"schemas": [AGENT, GOV], "name": name, "owners": [{"value": owner}],
            GOV: {"purpose": "ci", **extra}}  # fmt: skip
    created = harness.client.post("/scim/v2/Agents", json=body, headers=tenant.headers("admin"))
    assert created.status_code == 201, created.text
    return created.json()


def deactivate(harness: Harness, tenant: TenantAccess, user_id: str, active: bool = False) -> None:
    changed = harness.client.patch(
        f"/scim/v2/Users/{user_id}",
        json={"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active",
                                                     "value": active}]},
        headers=tenant.headers(),
    )  # fmt: skip
    assert changed.status_code == 200, changed.text


def read(harness: Harness, tenant: TenantAccess, agent_id: str) -> Any:
    found = harness.client.get(f"/scim/v2/Agents/{agent_id}", headers=tenant.headers("admin"))
    assert found.status_code == 200, found.text
    return found.json()


def trail(harness: Harness, agent_id: str) -> list[tuple[str, str, str | None, str]]:
    rows = harness.sql(
        "SELECT action, actor_token, reason, decision FROM audit_events "
        "WHERE resource_id = :r ORDER BY seq",
        r=agent_id,
    )
    return [tuple(row) for row in rows]


def sweep(harness: Harness) -> list[Any]:
    sweeper: Sweeper = harness.client.app.state.sweeper
    return harness.run(sweeper.sweep())  # type: ignore[no-any-return]


def test_an_orphan_is_flagged_at_once_then_suspended_after_the_grace(
    harness: Harness, tenant: TenantAccess
) -> None:
    leaver = person(harness, tenant, "leaver")
    bot = owned(harness, tenant, "bot", leaver["id"])
    deactivate(harness, tenant, leaver["id"])
    flagged = read(harness, tenant, bot["id"])[GOV]
    now = harness.clock.now()
    assert flagged["orphanedAt"] == stamp(now)
    assert flagged["suspendAt"] == stamp(now + dt.timedelta(hours=72))
    assert "no_active_owner" in flagged["complianceIssues"]
    assert trail(harness, bot["id"])[-1] == ("flag", "scheduler", "orphaned", "allow")

    harness.clock.advance(dt.timedelta(hours=71))
    assert sweep(harness) == []
    harness.clock.advance(dt.timedelta(hours=2))
    assert [(o.action, o.reason, o.done) for o in sweep(harness)] == [("suspend", "orphaned", True)]
    suspended = read(harness, tenant, bot["id"])
    assert suspended["active"] is False and suspended[GOV]["suspendedReason"] == "orphaned"
    harness.clock.advance(dt.timedelta(days=7, minutes=1))
    assert [(o.action, o.reason, o.done) for o in sweep(harness)] == [
        ("teardown", "orphaned", True)
    ]
    gone = harness.client.get(f"/scim/v2/Agents/{bot['id']}", headers=tenant.headers("admin"))
    assert gone.status_code == 404


def test_an_owner_coming_back_or_a_new_owner_clears_the_flag(
    harness: Harness, tenant: TenantAccess
) -> None:
    away = person(harness, tenant, "away")
    first = owned(harness, tenant, "first", away["id"])
    second = owned(harness, tenant, "second", away["id"])
    deactivate(harness, tenant, away["id"])
    assert "orphanedAt" in read(harness, tenant, first["id"])[GOV]
    # An admin gives the second one a new owner: no orphan any more.
    newcomer = person(harness, tenant, "newcomer")
    taken = harness.client.patch(
        f"/scim/v2/Agents/{second['id']}",
        json={"schemas": [PATCH_OP], "Operations": [
            {"op": "replace", "path": "owners", "value": [{"value": newcomer["id"]}]}]},
        headers=tenant.headers("admin"),
    )  # fmt: skip
    assert taken.status_code == 200, taken.text
    assert "orphanedAt" not in taken.json()[GOV] and "suspendAt" not in taken.json()[GOV]
    # The first one's owner comes back.
    deactivate(harness, tenant, away["id"], active=True)
    back = read(harness, tenant, first["id"])[GOV]
    assert "orphanedAt" not in back and "complianceIssues" not in back
    assert trail(harness, first["id"])[-1] == ("flag", "scheduler", "owner_returned", "allow")
    harness.clock.advance(dt.timedelta(days=4))
    assert sweep(harness) == []


def test_an_orphan_goes_to_its_sponsor_or_the_departed_owners_manager(
    harness: Harness, tenant: TenantAccess
) -> None:
    boss = person(harness, tenant, "boss")
    worker = person(harness, tenant, "worker", **{ENTERPRISE: {"manager": {"value": boss["id"]}}})
    deputy = person(harness, tenant, "deputy")
    sponsored = owned(
        harness, tenant, "sponsored", worker["id"], sponsors=[{"value": deputy["id"]}]
    )
    managed = owned(harness, tenant, "managed", worker["id"])
    gone = harness.client.delete(f"/scim/v2/Users/{worker['id']}", headers=tenant.headers())
    assert gone.status_code == 204

    to_sponsor = read(harness, tenant, sponsored["id"])
    assert [o["value"] for o in to_sponsor["owners"]] == [deputy["id"]]
    assert "orphanedAt" not in to_sponsor[GOV]
    to_manager = read(harness, tenant, managed["id"])
    assert [o["value"] for o in to_manager["owners"]] == [boss["id"]]
    for agent in (sponsored, managed):
        assert trail(harness, agent["id"])[-1] == (
            "transferOwnership", "scheduler", "orphaned", "allow",
        )  # fmt: skip


def test_a_tenant_can_refuse_the_managers_hand_over_and_a_refused_heir_is_passed_over(
    harness: Harness, tenant: TenantAccess
) -> None:
    assert (
        harness.client.put(
            "/admin/settings", json={"orphanHandover": False}, headers=tenant.headers("admin")
        ).json()["orphanHandover"]
        is False
    )
    boss = person(harness, tenant, "boss2")
    worker = person(harness, tenant, "worker2", **{ENTERPRISE: {"manager": {"value": boss["id"]}}})
    managed = owned(harness, tenant, "kept", worker["id"])
    # A sponsor the scopes exceed (policy tenure.scopes.entitled) is no heir either.
    narrow = person(harness, tenant, "narrow", entitlements=[{"value": "read"}])
    scoped = owned(harness, tenant, "scoped", worker["id"], scopes=["write"],
                   sponsors=[{"value": narrow["id"]}])  # fmt: skip
    deactivate(harness, tenant, worker["id"])
    for agent in (managed, scoped):
        governance = read(harness, tenant, agent["id"])[GOV]
        assert "orphanedAt" in governance, agent["name"]
    actions = [row[0] for row in trail(harness, scoped["id"])]
    decisions = [row[3] for row in trail(harness, scoped["id"])]
    assert actions[-2:] == ["transferOwnership", "flag"] and decisions[-2:] == ["deny", "allow"]


def test_a_team_emptied_of_members_orphans_what_it_owned(
    harness: Harness, tenant: TenantAccess
) -> None:
    member = person(harness, tenant, "member")
    team = harness.client.post(
        "/scim/v2/Groups",
        json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
              "displayName": "Platform", "members": [{"value": member["id"]}]},
        headers=tenant.headers(),
    ).json()  # fmt: skip
    bot = owned(harness, tenant, "team-bot", team["id"])
    assert read(harness, tenant, bot["id"])["owners"][0]["status"] == "active"

    def members(*ids: str) -> None:
        changed = harness.client.patch(
            f"/scim/v2/Groups/{team['id']}",
            json={"schemas": [PATCH_OP], "Operations": [
                {"op": "replace", "path": "members", "value": [{"value": i} for i in ids]}]},
            headers=tenant.headers(),
        )  # fmt: skip
        assert changed.status_code == 200, changed.text

    members()
    emptied = read(harness, tenant, bot["id"])
    assert emptied["owners"][0]["status"] == "inactive"
    assert "orphanedAt" in emptied[GOV] and "no_active_owner" in emptied[GOV]["complianceIssues"]
    members(member["id"])
    assert "orphanedAt" not in read(harness, tenant, bot["id"])[GOV]
