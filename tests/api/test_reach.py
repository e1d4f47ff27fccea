"""Who reaches what: delegation only under an Agent the caller manages, in its parent's
environment; identity providers read the directory, not the non-human identities; a
kind is one of the kinds; a User is governed or carries no governance at all."""

from __future__ import annotations

from typing import Any

from tests.conftest import Harness, TenantAccess
from tests.samples import OWNERS, assert_error, user

AGENT = "urn:ietf:params:scim:schemas:core:2.0:Agent"
GOV = "urn:tenure:params:scim:schemas:extension:nhi:1.0:Governance"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def post(harness: Harness, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    return harness.client.post(f"/scim/v2/{path}", json=body, headers=headers)


def created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def denied(response: Any, policy: str) -> None:
    assert policy in assert_error(response, 403)["detail"]


def another_platform(harness: Harness, tenant: TenantAccess, **extra: Any) -> dict[str, str]:
    issued = harness.client.post(
        "/admin/tokens",
        json={"name": "other platform", "roles": "platform", "owner": tenant.owner(),
              "purpose": "elsewhere", **extra},
        headers=tenant.headers("admin"),
    )  # fmt: skip
    assert issued.status_code == 201, issued.text
    return {"Authorization": f"Bearer {issued.json()['token']}"}


def test_a_child_only_under_an_agent_the_caller_manages(
    harness: Harness, tenant: TenantAccess
) -> None:
    platform = tenant.headers("platform")
    theirs = created(post(harness, "Agents", {"name": "theirs"}, platform))
    stranger = another_platform(harness, tenant)
    planted = post(harness, "Agents", {"name": "planted", "parent": {"value": theirs["id"]}},
                   stranger)  # fmt: skip
    denied(planted, "tenure.delegation.parent_managed")
    assert harness.client.get("/scim/v2/Agents", headers=platform).json()["totalResults"] == 1

    # So the owner of the parent can still shorten and narrow it, and suspend it alone.
    shortened = harness.client.patch(
        f"/scim/v2/Agents/{theirs['id']}",
        json={"schemas": [PATCH_OP], "Operations": [
            {"op": "replace", "path": f"{GOV}:expiresAt", "value": "2026-12-01T00:00:00Z"}]},
        headers=platform,
    )  # fmt: skip
    assert shortened.status_code == 200, shortened.text

    # Its own registrant, an admin, and the agent's own credential may delegate.
    mine = created(post(harness, "Agents", {"name": "mine", "parent": {"value": theirs["id"]}},
                        platform))  # fmt: skip
    assert mine["parent"]["value"] == theirs["id"]
    by_admin = post(harness, "Agents", {"name": "by-admin", "parent": {"value": theirs["id"]},
                                        "owners": [{"value": tenant.owner()}],
                                        GOV: {"purpose": "by hand"}},
                    tenant.headers("admin"))  # fmt: skip
    created(by_admin)
    credential = another_platform(harness, tenant, agent=theirs["id"])
    own_child = post(harness, "Agents", {"name": "own-child", "parent": {"value": theirs["id"]}},
                     credential)  # fmt: skip
    created(own_child)


def test_a_child_stays_in_its_parents_environment(harness: Harness, tenant: TenantAccess) -> None:
    platform = tenant.headers("platform")
    staging = created(
        post(harness, "Agents", {"name": "staging-root", GOV: {"environment": "staging"}}, platform)
    )
    escaping = post(
        harness,
        "Agents",
        {
            "name": "escaping",
            "parent": {"value": staging["id"]},
            GOV: {"environment": "production"},
        },
        platform,
    )
    denied(escaping, "tenure.delegation.environment")
    # Named without one, it inherits its parent's.
    inherits = created(
        post(harness, "Agents", {"name": "inherits", "parent": {"value": staging["id"]}}, platform)
    )
    assert inherits[GOV]["environment"] == "staging"
    # A tenant may allow otherwise.
    allowed = harness.client.patch(
        "/admin/settings", json={"delegationAcrossEnvironments": True},
        headers=tenant.headers("admin"),
    )  # fmt: skip
    assert allowed.status_code == 200 and allowed.json()["delegationAcrossEnvironments"] is True
    crossing = created(
        post(
            harness,
            "Agents",
            {
                "name": "crossing",
                "parent": {"value": staging["id"]},
                GOV: {"environment": "production"},
            },
            platform,
        )
    )
    assert crossing[GOV]["environment"] == "production"


def test_an_identity_provider_reads_the_directory_not_the_identities(
    harness: Harness, tenant: TenantAccess
) -> None:
    """README "Tenants, tokens and roles": idp reads and writes Users and Groups."""
    bot = created(post(harness, "Agents", {"name": "bot"}, tenant.headers("platform")))
    account = created(post(harness, "ServiceAccounts", {"name": "ci"}, tenant.headers("platform")))
    idp = tenant.headers("idp")
    for path in ("Agents", f"Agents/{bot['id']}", "ServiceAccounts",
                 f"ServiceAccounts/{account['id']}"):  # fmt: skip
        assert_error(harness.client.get(f"/scim/v2/{path}", headers=idp), 403)
    for path in ("Agents/.search", "ServiceAccounts/.search"):
        assert_error(harness.client.post(f"/scim/v2/{path}", json={}, headers=idp), 403)
    # The root search spans only what it may read.
    everything = harness.client.post("/scim/v2/.search", json={}, headers=idp).json()
    assert {r["meta"]["resourceType"] for r in everything["Resources"]} == {"User"}
    assert harness.client.get("/scim/v2/Users", headers=idp).status_code == 200
    for roles in ("platform", "auditor", "admin"):
        assert (
            harness.client.get("/scim/v2/Agents", headers=tenant.headers(roles)).json()[
                "totalResults"
            ]
            == 1
        )
        seen = harness.client.post("/scim/v2/.search", json={}, headers=tenant.headers(roles))
        assert {"Agent", "ServiceAccount"} <= {
            r["meta"]["resourceType"] for r in seen.json()["Resources"]
        }


def test_a_kind_is_one_of_the_kinds(harness: Harness, tenant: TenantAccess) -> None:
    schema = harness.client.get(f"/scim/v2/Schemas/{GOV}", headers=tenant.headers()).json()
    kind = next(a for a in schema["attributes"] if a["name"] == "kind")
    assert kind["canonicalValues"] == ["agent", "service_account", "workload", "bot"]
    platform = tenant.headers("platform")
    robot = post(harness, "Agents", {"name": "r2", GOV: {"kind": "robot"}}, platform)
    assert "kind" in assert_error(robot, 400, "invalidValue")["detail"]
    as_user = post(harness, "Users", {"userName": "r2", GOV: {"kind": "robot"}},
                   tenant.headers("admin"))  # fmt: skip
    assert_error(as_user, 400, "invalidValue")
    for kind_name in kind["canonicalValues"]:
        created(post(harness, "Agents", {"name": f"a-{kind_name}", GOV: {"kind": kind_name}},
                     platform))  # fmt: skip
    token = harness.client.post(
        "/admin/tokens", json={"name": "x", "roles": "platform", "kinds": ["agent", "robot"]},
        headers=tenant.headers("admin"),
    )  # fmt: skip
    assert "robot" in assert_error(token, 400, "invalidValue")["detail"]
    assert harness.client.get("/scim/v2/Agents", headers=platform).json()["totalResults"] == 4


def test_a_user_is_governed_or_carries_no_governance(
    harness: Harness, tenant: TenantAccess
) -> None:
    admin = tenant.headers("admin")
    inert = post(harness, "Users", user("half", **{GOV: {"purpose": "billing"}}), admin)
    assert f"{GOV}:kind" in assert_error(inert, 400, "invalidValue")["detail"]
    ownerless = post(harness, "Users", user("owned", **{OWNERS: {"owners": [
        {"value": tenant.owner()}]}}), admin)  # fmt: skip
    assert_error(ownerless, 400, "invalidValue")

    # A write that gives a User a kind registers it then: the defaults of a registration.
    plain = created(post(harness, "Users", user("ticket-bot"), tenant.headers("idp,platform")))
    harness.clock.advance(__import__("datetime").timedelta(days=10))
    enrolled = harness.client.patch(
        f"/scim/v2/Users/{plain['id']}",
        json={"schemas": [PATCH_OP], "Operations": [
            {"op": "add", "path": f"{GOV}:kind", "value": "bot"}]},
        headers=tenant.headers("idp,platform"),
    )  # fmt: skip
    assert enrolled.status_code == 200, enrolled.text
    body = enrolled.json()
    assert body[GOV]["kind"] == "bot" and body[GOV]["lifecycleState"] == "active"
    assert body[GOV]["purpose"] == "automated tests"  # the token's
    assert [o["value"] for o in body[OWNERS]["owners"]] == [tenant.owner()]
    assert body[GOV]["registeredAt"] == "2026-12-08T09:00:00.000Z"  # counted from now
    assert body[GOV]["expiresAt"] == "2027-03-08T09:00:00.000Z"  # a bot's default lifetime

    # Its owners are the Owners extension's: read, replaced and filtered there.
    other = created(post(harness, "Users", user("olivia"), admin))
    moved = harness.client.patch(
        f"/scim/v2/Users/{plain['id']}",
        json={"schemas": [PATCH_OP], "Operations": [
            {"op": "replace", "path": f"{OWNERS}:owners", "value": [{"value": other["id"]}]}]},
        headers=admin,
    )  # fmt: skip
    assert moved.status_code == 200, moved.text
    assert [o["value"] for o in moved.json()[OWNERS]["owners"]] == [other["id"]]
    found = harness.client.get(
        "/scim/v2/Users", params={"filter": f'{OWNERS}:owners.value eq "{other["id"]}"'},
        headers=admin,
    ).json()  # fmt: skip
    assert [r["id"] for r in found["Resources"]] == [plain["id"]]


def test_a_governed_identity_keeps_its_active_and_its_end(
    harness: Harness, tenant: TenantAccess
) -> None:
    platform = tenant.headers("platform")
    bot = created(post(harness, "Agents", {"name": "bot"}, platform))

    def remove(path: str) -> Any:
        return harness.client.patch(
            f"/scim/v2/Agents/{bot['id']}",
            json={"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": path}]},
            headers=platform,
        )

    assert "lifecycle" in assert_error(remove("active"), 400, "mutability")["detail"]
    denied(remove(f"{GOV}:expiresAt"), "tenure.expiry.required")
    shown = harness.client.get(f"/scim/v2/Agents/{bot['id']}", headers=platform).json()
    assert shown["active"] is True and shown[GOV]["expiresAt"] == bot[GOV]["expiresAt"]


def test_references_by_ref(harness: Harness, tenant: TenantAccess) -> None:
    """RFC 7643 §2.3.7: an owner or parent named by its URI alone, or by both agreeing."""
    platform = tenant.headers("platform")
    owner = tenant.owner()
    location = f"http://testserver.local/scim/v2/Users/{owner}"
    by_ref = created(post(harness, "Agents", {"name": "by-ref", "owners": [{"$ref": location}]},
                          platform))  # fmt: skip
    assert [o["value"] for o in by_ref["owners"]] == [owner]
    child = created(post(harness, "Agents", {"name": "child", "parent": {
        "$ref": by_ref["meta"]["location"]}}, platform))  # fmt: skip
    assert child["parent"] == {"value": by_ref["id"], "$ref": by_ref["meta"]["location"]}
    clash = post(harness, "Agents", {"name": "clash", "owners": [
        {"value": owner, "$ref": f"http://testserver.local/scim/v2/Users/{by_ref['id']}"}]},
        platform)  # fmt: skip
    assert "$ref" in assert_error(clash, 400, "invalidValue")["detail"]
