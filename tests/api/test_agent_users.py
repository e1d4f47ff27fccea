"""Agents arriving as Users: a tenant's ``agentUsers`` rule makes them governed identities,
with owners, an end and a teardown like any Agent."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.conftest import Harness, TenantAccess
from tests.samples import ENTERPRISE, OWNERS, assert_error, group, stamp, user

GOV = "urn:tenure:params:scim:schemas:extension:nhi:1.0:Governance"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
NOW = dt.datetime(2026, 11, 28, 9, tzinfo=dt.UTC)


def settings(harness: Harness, tenant: TenantAccess, **rule: Any) -> Any:
    return harness.client.put(
        "/admin/settings", json={"agentUsers": rule}, headers=tenant.headers("admin")
    )


def post(harness: Harness, tenant: TenantAccess, endpoint: str, body: Any) -> Any:
    made = harness.client.post(f"/scim/v2/{endpoint}", json=body, headers=tenant.headers())
    assert made.status_code == 201, made.text
    return made.json()


def read(harness: Harness, tenant: TenantAccess, user_id: str) -> Any:
    return harness.client.get(f"/scim/v2/Users/{user_id}", headers=tenant.headers())


def test_a_user_of_type_agent_is_governed_end_to_end(
    harness: Harness, tenant: TenantAccess
) -> None:
    team = post(harness, tenant, "Groups", group("AI Platform"))
    ana = post(harness, tenant, "Users", user("ana@example.com"))
    post(harness, tenant, "Groups", group("AI Platform members", members=[ana["id"]]))
    made = settings(harness, tenant, userType="Agent", owner=team["id"])
    assert made.status_code == 200, made.text
    assert made.json()["agentUsers"] == {
        "kind": "agent", "userType": "Agent", "userNamePattern": None, "group": None,
        "owner": team["id"],
    }  # fmt: skip
    # The team owns nothing until it has members; give it one so it counts as active.
    joined = harness.client.patch(
        f"/scim/v2/Groups/{team['id']}",
        json={"schemas": [PATCH_OP], "Operations": [
            {"op": "add", "path": "members", "value": [{"value": ana["id"]}]}]},
        headers=tenant.headers(),
    )  # fmt: skip
    assert joined.status_code == 200

    human = post(harness, tenant, "Users", user("bob@example.com", userType="Employee"))
    assert GOV not in human
    bot = post(harness, tenant, "Users", user("triage-bot", userType="agent"))
    assert bot[GOV]["kind"] == "agent"
    assert bot[GOV]["lifecycleState"] == "active"
    assert bot[GOV]["expiresAt"] == stamp(NOW + dt.timedelta(days=90))
    assert [o["value"] for o in bot[OWNERS]["owners"]] == [team["id"]]
    assert bot["active"] is True
    # A User naming its manager is that person's.
    managed = post(
        harness, tenant, "Users",
        user("deploy-bot", userType="Agent", **{ENTERPRISE: {"manager": {"value": ana["id"]}}}),
    )  # fmt: skip
    assert [o["value"] for o in managed[OWNERS]["owners"]] == [ana["id"]]

    # Torn down like any Agent: suspended at its end, deprovisioned after the grace.
    sweeper = harness.client.app.state.sweeper
    harness.clock.advance(dt.timedelta(days=91))
    swept = harness.run(sweeper.sweep())
    assert {(o.resource_type, o.resource_id, o.action) for o in swept} == {
        ("User", bot["id"], "suspend"), ("User", managed["id"], "suspend")
    }  # fmt: skip
    shown = read(harness, tenant, bot["id"]).json()
    assert shown["active"] is False and shown[GOV]["suspendedReason"] == "expired"
    harness.clock.advance(dt.timedelta(days=8))
    assert {o.action for o in harness.run(sweeper.sweep())} == {"teardown"}
    assert_error(read(harness, tenant, bot["id"]), 404)
    assert read(harness, tenant, human["id"]).json()["active"] is True
    owned = harness.client.get(
        f"/reports/ownership?owner={team['id']}", headers=tenant.headers("auditor")
    ).json()["items"]
    assert [(r["identity"]["id"], r["identity"]["state"]) for r in owned] == [
        (bot["id"], "deprovisioned")
    ]


def test_a_pattern_a_group_or_a_later_change_picks_users_out(
    harness: Harness, tenant: TenantAccess
) -> None:
    owner = post(harness, tenant, "Users", user("owner@example.com"))
    made = settings(harness, tenant, userNamePattern="^svc-", group="AI Agents", kind="bot",
                    owner=owner["id"])  # fmt: skip
    assert made.status_code == 200, made.text
    svc = post(harness, tenant, "Users", user("svc-build"))
    assert svc[GOV]["kind"] == "bot"
    helper = post(harness, tenant, "Users", user("helper"))
    other = post(harness, tenant, "Users", user("person"))
    assert GOV not in helper
    # Added to the configured Group (by displayName) days later: governed from then on,
    # its bounds counted from then (registeredAt), not from the User's creation.
    harness.clock.advance(dt.timedelta(days=30))
    agents = post(harness, tenant, "Groups", group("AI Agents", members=[helper["id"]]))
    shown = read(harness, tenant, helper["id"]).json()
    assert shown[GOV]["kind"] == "bot" and [o["value"] for o in shown[OWNERS]["owners"]] == [
        owner["id"]
    ]
    assert shown[GOV]["registeredAt"] == stamp(NOW + dt.timedelta(days=30))
    assert shown[GOV]["expiresAt"] == stamp(NOW + dt.timedelta(days=120))
    added = harness.client.patch(
        f"/scim/v2/Groups/{agents['id']}",
        json={"schemas": [PATCH_OP], "Operations": [
            {"op": "add", "path": "members", "value": [{"value": other["id"]}]}]},
        headers=tenant.headers(),
    )  # fmt: skip
    assert added.status_code == 200, added.text
    assert read(harness, tenant, other["id"]).json()[GOV]["lifecycleState"] == "active"
    # A later change that makes a User match: governed in the same request's answer.
    settings(harness, tenant, userType="Agent", owner=owner["id"])
    late = post(harness, tenant, "Users", user("late"))
    changed = harness.client.patch(
        f"/scim/v2/Users/{late['id']}",
        json={"schemas": [PATCH_OP], "Operations": [
            {"op": "replace", "path": "userType", "value": "Agent"}]},
        headers=tenant.headers(),
    )  # fmt: skip
    assert changed.status_code == 200, changed.text
    assert changed.json()[GOV]["kind"] == "agent"
    assert (
        changed.json()["meta"]["version"]
        == read(harness, tenant, late["id"]).json()["meta"]["version"]
    )
    events = harness.client.get(
        f"/reports/identities/{late['id']}/history", headers=tenant.headers("auditor")
    ).json()["items"]
    assert [e["actions"] for e in events] == [["create"], ["update"], ["create"]]


def test_without_an_accountable_owner_a_mapped_user_is_refused(
    harness: Harness, tenant: TenantAccess
) -> None:
    earlier = post(harness, tenant, "Users", user("earlier-bot", userType="Agent"))
    assert settings(harness, tenant, userType="Agent").status_code == 200
    # A User that matches a rule set after it was made: its own changes still go through;
    # the refused adoption is audited and it stays as it was.
    renamed = harness.client.patch(
        f"/scim/v2/Users/{earlier['id']}",
        json={"schemas": [PATCH_OP], "Operations": [
            {"op": "replace", "path": "displayName", "value": "Earlier"}]},
        headers=tenant.headers(),
    )  # fmt: skip
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["displayName"] == "Earlier" and GOV not in renamed.json()
    denied = harness.client.get(
        f"/audit?decision=deny&resourceId={earlier['id']}", headers=tenant.headers("auditor")
    ).json()["items"]
    assert [(e["actions"], e["policyIds"]) for e in denied] == [
        (["create"], ["tenure.accountability.owner"])
    ]
    refused = harness.client.post(
        "/scim/v2/Users", json=user("stray-bot", userType="Agent"), headers=tenant.headers()
    )
    assert_error(refused, 403)
    assert "tenure.accountability.owner" in refused.json()["detail"]
    listed = harness.client.get(
        '/scim/v2/Users?filter=userName eq "stray-bot"', headers=tenant.headers()
    ).json()
    assert listed["totalResults"] == 0


def test_bad_rules_and_profiles_are_refused_and_change_nothing(
    harness: Harness, tenant: TenantAccess
) -> None:
    admin = tenant.headers("admin")
    before = harness.client.get("/admin/settings", headers=admin).json()
    for bad, words in (
        ({"agentUsers": {"kind": "robot", "userType": "Agent"}}, "agentUsers.kind"),
        ({"agentUsers": {"kind": "agent"}}, "needs userType"),
        ({"agentUsers": {"userNamePattern": "(unclosed"}}, "regular expression"),
        ({"agentUsers": {"userType": "Agent", "colour": "red"}}, "colour"),
        ({"identityProvider": "myspace"}, "identityProvider must be one of"),
    ):
        refused = harness.client.put("/admin/settings", json=bad, headers=admin)
        assert_error(refused, 400, "invalidValue")
        assert words in refused.json()["detail"]
    assert harness.client.get("/admin/settings", headers=admin).json() == before
    assert before["identityProvider"] == "generic" and before["agentUsers"] is None


def test_patch_settings_changes_only_what_it_names(harness: Harness, tenant: TenantAccess) -> None:
    admin = tenant.headers("admin")
    first = harness.client.put(
        "/admin/settings", json={"identityProvider": "okta", "agentLifetimeDays": 30},
        headers=admin,
    )  # fmt: skip
    assert first.status_code == 200, first.text
    merged = harness.client.patch(
        "/admin/settings", json={"agentUsers": {"userType": "Agent"}}, headers=admin
    )
    assert merged.status_code == 200, merged.text
    shown = merged.json()
    assert shown["identityProvider"] == "okta" and shown["agentLifetimeDays"] == 30
    assert shown["agentUsers"]["userType"] == "Agent"
    cleared = harness.client.patch("/admin/settings", json={"agentLifetimeDays": None},
                                   headers=admin).json()  # fmt: skip
    assert cleared["agentLifetimeDays"] == 90 and cleared["identityProvider"] == "okta"
    assert_error(
        harness.client.patch("/admin/settings", json={"warningDays": "soon"}, headers=admin),
        400,
        "invalidValue",
    )
    assert harness.client.get("/admin/settings", headers=admin).json() == cleared
