"""Each default Cedar policy through HTTP, allowed and denied (policies/*.cedar).

A deny is a 403 RFC 7644 Error naming the deciding policy ids with their
reasons, and it writes nothing: every deny here is followed by a read that
shows the identity as it was.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import msgspec
from litestar.testing import TestClient

from app.config import Settings, data_dir
from app.domain.clock import FixedClock
from app.main import create_app
from tests.conftest import Harness, TenantAccess, create
from tests.samples import assert_error, group, stamp, user

AGENT = "urn:ietf:params:scim:schemas:core:2.0:Agent"
GOV = "urn:tenure:params:scim:schemas:extension:nhi:1.0:Governance"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def later(harness: Harness, **delta: float) -> str:
    return stamp(harness.clock.now() + dt.timedelta(**delta))


def agent(name: str, **governance: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"schemas": [AGENT], "name": name}
    owners = governance.pop("owners", None)
    parent = governance.pop("parent", None)
    if owners is not None:
        body["owners"] = [{"value": o} for o in owners]
    if parent is not None:
        body["parent"] = {"value": parent}
    if governance:
        body["schemas"].append(GOV)
        body[GOV] = governance
    return body


def token(harness: Harness, tenant: TenantAccess, **request: Any) -> dict[str, str]:
    """A platform token with an accountable owner and purpose, plus ``request``'s fields."""
    body = {"name": "scoped", "roles": "platform", "owner": tenant.owner(), "purpose": "tests"}
    issued = harness.client.post(
        "/admin/tokens", json=body | request, headers=tenant.headers("admin")
    )
    assert issued.status_code == 201, issued.text
    return {"Authorization": f"Bearer {issued.json()['token']}"}


def register(
    harness: Harness, tenant: TenantAccess, body: dict[str, Any], headers: Any = None
) -> dict[str, Any]:
    created = harness.client.post(
        "/scim/v2/Agents", json=body, headers=headers or tenant.headers("platform")
    )
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


def read(harness: Harness, tenant: TenantAccess, agent_id: str) -> dict[str, Any]:
    found = harness.client.get(f"/scim/v2/Agents/{agent_id}", headers=tenant.headers("admin"))
    assert found.status_code == 200, found.text
    return found.json()  # type: ignore[no-any-return]


def patch(harness: Harness, agent_id: str, headers: Any, *operations: dict[str, Any]) -> Any:
    return harness.client.patch(
        f"/scim/v2/Agents/{agent_id}",
        json={"schemas": [PATCH_OP], "Operations": list(operations)},
        headers=headers,
    )


def replace(path: str, value: Any) -> dict[str, Any]:
    return {"op": "replace", "path": path, "value": value}


def denied(response: Any, *policy_ids: str) -> str:
    """A 403 naming exactly these policies; its detail."""
    detail: str = assert_error(response, 403)["detail"]
    assert detail.startswith("denied by "), detail
    forbids = detail.removeprefix("denied by ").split("; and ")[0]
    named = [part.split(" (", 1)[0] for part in forbids.split("; ")]
    assert named == sorted(policy_ids), detail
    return detail


def count(harness: Harness, tenant: TenantAccess, endpoint: str = "Agents") -> int:
    listed = harness.client.get(f"/scim/v2/{endpoint}", headers=tenant.headers("admin"))
    return listed.json()["totalResults"]  # type: ignore[no-any-return]


# --- 1 and 2: who writes what --------------------------------------------------


def test_roles_decide_who_writes_what(harness: Harness, tenant: TenantAccess) -> None:
    assert (
        harness.client.post("/scim/v2/Users", json=user(), headers=tenant.headers()).status_code
        == 201
    )
    by_idp = harness.client.post(
        "/scim/v2/Agents", json=agent("x", owners=[tenant.owner()]), headers=tenant.headers()
    )
    assert assert_error(by_idp, 403)["detail"] == (
        "denied by tenure.accountability.purpose (a governed identity states its purpose); "
        "and no policy permits create"
    )
    mine = register(harness, tenant, agent("mine"))
    other = token(harness, tenant, name="another platform")
    # A platform changes only what its own token registered; an admin changes anything.
    denied_other = patch(harness, mine["id"], other, replace("displayName", "taken"))
    assert assert_error(denied_other, 403)["detail"] == "no policy permits update"
    assert read(harness, tenant, mine["id"]) == mine
    by_admin = patch(harness, mine["id"], tenant.headers("admin"), replace("displayName", "ok"))
    assert by_admin.status_code == 200 and by_admin.json()["displayName"] == "ok"
    by_owner = patch(harness, mine["id"], tenant.headers("platform"), replace("description", "d"))
    assert by_owner.status_code == 200


def test_auditors_read_and_never_write(harness: Harness, tenant: TenantAccess) -> None:
    existing = register(harness, tenant, agent("watched"))
    auditor = tenant.headers("auditor")
    assert (
        harness.client.get(f"/scim/v2/Agents/{existing['id']}", headers=auditor).status_code == 200
    )
    denied(
        harness.client.post("/scim/v2/Users", json=user(), headers=auditor), "tenure.roles.auditor"
    )
    denied(
        patch(harness, existing["id"], auditor, replace("displayName", "x")), "tenure.roles.auditor"
    )
    noop = patch(harness, existing["id"], auditor, replace("name", existing["name"]))
    denied(noop, "tenure.roles.auditor")
    denied(
        harness.client.delete(f"/scim/v2/Agents/{existing['id']}", headers=auditor),
        "tenure.roles.auditor",
    )
    bulk = harness.client.post(
        "/scim/v2/Bulk",
        json={"Operations": [{"method": "POST", "path": "/Users", "bulkId": "u", "data": user()}]},
        headers=auditor,
    ).json()
    assert bulk["Operations"][0]["status"] == "403"
    assert "tenure.roles.auditor" in bulk["Operations"][0]["response"]["detail"]
    assert count(harness, tenant, "Users") == 1  # the platform token's accountable owner only
    assert read(harness, tenant, existing["id"]) == existing


def test_tokens_reach_only_their_kinds_and_environments(
    harness: Harness, tenant: TenantAccess
) -> None:
    bots = token(harness, tenant, kinds="bot", environments=["staging"])
    denied(
        harness.client.post(
            "/scim/v2/Agents", json=agent("a", kind="agent", environment="staging"), headers=bots
        ),
        "tenure.platform.reach",
    )
    denied(
        harness.client.post(
            "/scim/v2/Agents", json=agent("b", kind="bot", environment="prod"), headers=bots
        ),
        "tenure.platform.reach",
    )
    bot = register(harness, tenant, agent("c", kind="bot", environment="staging"), bots)
    assert bot[GOV]["kind"] == "bot"
    # Reach bounds admins too: a staging admin token leaves production alone.
    prod = register(harness, tenant, agent("d", environment="prod"))
    staging_admin = token(harness, tenant, roles="admin", environments="staging")
    denied(
        patch(harness, prod["id"], staging_admin, replace("displayName", "x")),
        "tenure.platform.reach",
    )
    assert read(harness, tenant, prod["id"]) == prod
    fine = patch(harness, bot["id"], staging_admin, replace("displayName", "staging bot"))
    assert fine.status_code == 200, fine.text
    listed = harness.client.get("/admin/tokens", headers=tenant.headers("admin")).json()["items"]
    scoped = next(t for t in listed if t["kinds"])
    assert scoped["kinds"] == ["bot"] and scoped["environments"] == ["staging"]


# --- 3 and 8: accountability -------------------------------------------------------


def test_an_identity_keeps_an_active_owner_and_a_purpose(
    harness: Harness, tenant: TenantAccess
) -> None:
    denied(
        harness.client.post(
            "/scim/v2/Agents", json=agent("nobody", owners=[]), headers=tenant.headers("platform")
        ),
        "tenure.accountability.owner",
    )
    no_purpose = token(harness, tenant, purpose=None)
    denied(
        harness.client.post("/scim/v2/Agents", json=agent("why"), headers=no_purpose),
        "tenure.accountability.purpose",
    )
    assert count(harness, tenant) == 0
    leaver = create(harness, tenant, "Users", user("leaver@example.com"))
    owned = register(harness, tenant, agent("owned", owners=[leaver["id"]], purpose="builds"))
    assert [o["value"] for o in owned["owners"]] == [leaver["id"]]
    off = harness.client.patch(
        f"/scim/v2/Users/{leaver['id']}",
        json={"schemas": [PATCH_OP], "Operations": [replace("active", False)]},
        headers=tenant.headers(),
    )
    assert off.status_code == 200
    # Handing it to an inactive owner, or dropping its purpose, is refused.
    stranger = create(harness, tenant, "Users", user("gone@example.com", active=False))
    platform = tenant.headers("platform")
    denied(
        patch(harness, owned["id"], platform, replace("owners", [{"value": stranger["id"]}])),
        "tenure.accountability.owner",
    )
    # Its only owner left: until someone takes it over, no other change passes either.
    denied(
        patch(harness, owned["id"], platform, {"op": "remove", "path": f"{GOV}:purpose"}),
        "tenure.accountability.owner",
        "tenure.accountability.purpose",
    )
    before = read(harness, tenant, owned["id"])
    assert before[GOV]["purpose"] == "builds"
    moved = patch(harness, owned["id"], platform, replace("owners", [{"value": tenant.owner()}]))
    assert moved.status_code == 200, moved.text
    assert [o["value"] for o in moved.json()["owners"]] == [tenant.owner()]


def test_scopes_stay_within_the_owners_entitlements(harness: Harness, tenant: TenantAccess) -> None:
    lead = create(
        harness,
        tenant,
        "Users",
        user("lead@example.com", entitlements=[{"value": "repo:read"}, {"value": "ci:run"}]),
    )
    body = agent("scoped", owners=[lead["id"]], purpose="ci", scopes=["repo:read", "repo:admin"])
    denied(
        harness.client.post("/scim/v2/Agents", json=body, headers=tenant.headers("platform")),
        "tenure.scopes.entitled",
    )
    within = register(
        harness, tenant, agent("scoped", owners=[lead["id"]], purpose="ci", scopes=["repo:read"])
    )
    widened = patch(
        harness, within["id"], tenant.headers("platform"),
        replace(f"{GOV}:scopes", ["repo:read", "repo:admin"]),
    )  # fmt: skip
    denied(widened, "tenure.scopes.entitled")
    assert read(harness, tenant, within["id"])[GOV]["scopes"] == ["repo:read"]
    # Owners without entitlements bound nothing.
    free = register(harness, tenant, agent("free", scopes=["anything"]))
    assert free[GOV]["scopes"] == ["anything"]


# --- 4 and 7: bounded expiry, renewal on attestation -----------------------------------


def test_expiry_is_bounded(harness: Harness, tenant: TenantAccess) -> None:
    platform = tenant.headers("platform")
    for body, policy in [
        (agent("past", expiresAt=later(harness, hours=-1)), "tenure.expiry.future"),
        (agent("long", expiresAt=later(harness, days=91)), "tenure.expiry.max_lifetime"),
        (
            agent(
                "capped", expiresAt=later(harness, days=20), hardExpiresAt=later(harness, days=10)
            ),
            "tenure.expiry.hard_cap",
        ),
        (agent("forever", hardExpiresAt=later(harness, days=3000)), "tenure.expiry.hard_cap"),
    ]:
        denied(harness.client.post("/scim/v2/Agents", json=body, headers=platform), policy)
    assert count(harness, tenant) == 0
    ninety = register(harness, tenant, agent("ninety", expiresAt=later(harness, days=90)))
    assert ninety[GOV]["expiresAt"] == later(harness, days=90)


def test_renewal_needs_a_recent_attestation(harness: Harness, tenant: TenantAccess) -> None:
    platform = tenant.headers("platform")
    renewed = register(harness, tenant, agent("renewed", expiresAt=later(harness, days=10)))
    extend = replace(f"{GOV}:expiresAt", later(harness, days=60))
    denied(patch(harness, renewed["id"], platform, extend), "tenure.renewal.attested")
    assert read(harness, tenant, renewed["id"]) == renewed
    # Shortening is no renewal.
    shorter = patch(
        harness, renewed["id"], platform, replace(f"{GOV}:expiresAt", later(harness, days=5))
    )
    assert shorter.status_code == 200, shorter.text
    future = replace(f"{GOV}:lastAttestedAt", later(harness, days=1))
    denied(patch(harness, renewed["id"], platform, future), "tenure.attestation.truthful")
    attest = replace(f"{GOV}:lastAttestedAt", later(harness))
    done = patch(harness, renewed["id"], platform, attest, extend)
    assert done.status_code == 200, done.text
    assert done.json()[GOV]["expiresAt"] == later(harness, days=60)
    # The attestation counts for the tenant's period (90 days), then a renewal needs another.
    harness.clock.advance(dt.timedelta(days=50))
    again = patch(
        harness, renewed["id"], platform, replace(f"{GOV}:expiresAt", later(harness, days=30))
    )
    assert again.status_code == 200, again.text
    harness.clock.advance(dt.timedelta(days=41))
    stale = patch(
        harness, renewed["id"], platform, replace(f"{GOV}:expiresAt", later(harness, days=20))
    )
    denied(stale, "tenure.renewal.attested")


# --- 5 and 6: delegation, no self-escalation -------------------------------------------


def test_delegation_is_bounded_by_an_active_parent(harness: Harness, tenant: TenantAccess) -> None:
    platform = tenant.headers("platform")
    parent = register(
        harness, tenant, agent("parent", expiresAt=later(harness, days=20), scopes=["a", "b"])
    )
    for body, policy in [
        (
            agent("c1", parent=parent["id"], expiresAt=later(harness, days=21)),
            "tenure.delegation.lifetime",
        ),
        (agent("c2", parent=parent["id"], scopes=["a", "z"]), "tenure.delegation.scopes"),
    ]:
        denied(harness.client.post("/scim/v2/Agents", json=body, headers=platform), policy)
    child = register(harness, tenant, agent("child", parent=parent["id"], scopes=["a"]))
    assert child[GOV]["expiresAt"] == parent[GOV]["expiresAt"]
    off = patch(harness, parent["id"], platform, replace("active", False))
    assert off.status_code == 200 and off.json()[GOV]["suspendedAt"] == later(harness)
    denied(
        harness.client.post(
            "/scim/v2/Agents", json=agent("c3", parent=parent["id"]), headers=platform
        ),
        "tenure.delegation.parent_active",
    )
    assert count(harness, tenant) == 2


def test_delegation_depth_follows_the_tenant_setting(
    harness: Harness, tenant: TenantAccess
) -> None:
    shallow = harness.client.put(
        "/admin/settings", json={"delegationMaxDepth": 2}, headers=tenant.headers("admin")
    )
    assert shallow.status_code == 200
    root = register(harness, tenant, agent("root"))
    middle = register(harness, tenant, agent("middle", parent=root["id"]))
    deep = harness.client.post(
        "/scim/v2/Agents",
        json=agent("deep", parent=middle["id"]),
        headers=tenant.headers("platform"),
    )
    denied(deep, "tenure.delegation.depth")


def test_an_agent_cannot_escalate_itself_or_its_children(
    harness: Harness, tenant: TenantAccess
) -> None:
    me = register(harness, tenant, agent("me", scopes=["a"]))
    mine = token(harness, tenant, agent=me["id"], name="me's credential")
    denied(
        patch(harness, me["id"], mine, replace("displayName", "boss")), "tenure.self.no_escalation"
    )
    child = register(harness, tenant, agent("my-child", parent=me["id"], scopes=["a"]), mine)
    assert child["parent"]["value"] == me["id"]
    described = patch(harness, child["id"], mine, replace("description", "helper"))
    assert described.status_code == 200, described.text
    renew = (
        replace(f"{GOV}:lastAttestedAt", later(harness)),
        replace(f"{GOV}:expiresAt", later(harness, days=40)),
    )
    shorter = patch(harness, child["id"], mine, replace(f"{GOV}:expiresAt", later(harness, days=1)))
    assert shorter.status_code == 200
    denied(patch(harness, child["id"], mine, *renew), "tenure.self.no_escalation")
    denied(
        patch(
            harness,
            child["id"],
            mine,
            replace(
                "owners",
                [
                    {"value": tenant.owner()},
                    {"value": create(harness, tenant, "Users", user("x@example.com"))["id"]},
                ],
            ),
        ),
        "tenure.self.no_escalation",
    )
    # The agent's platform (not the agent) may renew it.
    assert patch(harness, child["id"], tenant.headers("admin"), *renew).status_code == 200
    unknown = harness.client.post(
        "/admin/tokens",
        json={"name": "x", "roles": "platform", "agent": "no-such-agent"},
        headers=tenant.headers("admin"),
    )
    assert_error(unknown, 400, "invalidValue")


# --- 9 and 10: disable before delete, a scheduler that acts only when due ---------------


def test_a_deleted_identity_is_torn_down_only_after_the_grace_period(
    harness: Harness, tenant: TenantAccess
) -> None:
    """Policy tenure.teardown.disable_first: a DELETE revokes at once (404 from then on)
    and the teardown, final, waits for the grace; a dry run as the scheduler shows why."""
    platform = tenant.headers("platform")
    doomed = register(harness, tenant, agent("doomed"))
    url = f"/scim/v2/Agents/{doomed['id']}"
    assert harness.client.delete(url, headers=platform).status_code == 204
    assert harness.client.get(url, headers=platform).status_code == 404

    def teardown() -> dict[str, Any]:
        response = harness.client.post(
            "/admin/policies/evaluate",
            json={"method": "TEARDOWN", "path": f"/Agents/{doomed['id']}",
                  "principal": {"roles": ["scheduler"]}, "reason": "deleted"},
            headers=tenant.headers("admin"),
        )  # fmt: skip
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    harness.clock.advance(dt.timedelta(days=6))
    early = teardown()
    assert early["decision"] == "deny", early
    assert [p["id"] for d in early["decisions"] for p in d["policies"]] == [
        "tenure.teardown.disable_first"
    ]
    harness.clock.advance(dt.timedelta(days=1))
    assert teardown()["decision"] == "allow"
    swept = harness.run(harness.client.app.state.sweeper.sweep())
    assert [(o.resource_id, o.action, o.done) for o in swept] == [(doomed["id"], "teardown", True)]
    state = "SELECT lifecycle_state FROM resources WHERE id = :id"
    assert harness.sql(state, id=doomed["id"])[0][0] == "deprovisioned"


def test_the_scheduler_acts_only_on_due_identities(harness: Harness, tenant: TenantAccess) -> None:
    """Policy 10, through the dry-run API until the sweeper arrives: nothing is written."""
    due = register(harness, tenant, agent("due", expiresAt=later(harness, days=2)))

    def as_scheduler(method: str, reason: str) -> dict[str, Any]:
        response = harness.client.post(
            "/admin/policies/evaluate",
            json={
                "method": method,
                "path": f"/Agents/{due['id']}",
                "principal": {"roles": ["scheduler"]},
                "reason": reason,
            },
            headers=tenant.headers("admin"),
        )
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    early = as_scheduler("SUSPEND", "expired")
    assert early["decision"] == "deny"
    assert [p["id"] for p in early["decisions"][0]["policies"]] == ["tenure.scheduler.due"]
    assert as_scheduler("SUSPEND", "unattested")["decision"] == "deny"
    harness.clock.advance(dt.timedelta(days=3))
    assert as_scheduler("SUSPEND", "expired")["decision"] == "allow"
    # Expired two days ago counts as suspended since then: teardown waits out the grace.
    assert as_scheduler("TEARDOWN", "expired")["decision"] == "deny"
    harness.clock.advance(dt.timedelta(days=6))
    assert as_scheduler("TEARDOWN", "expired")["decision"] == "allow"
    edit = harness.client.post(
        "/admin/policies/evaluate",
        json={
            "method": "PATCH",
            "path": f"/Agents/{due['id']}",
            "data": {"schemas": [PATCH_OP], "Operations": [replace("displayName", "x")]},
            "principal": {"roles": ["scheduler"]},
            "reason": "expired",
        },
        headers=tenant.headers("admin"),
    ).json()
    assert edit["decision"] == "deny"
    assert [p["id"] for p in edit["decisions"][0]["policies"]] == ["tenure.scheduler.due"]
    assert read(harness, tenant, due["id"])["meta"]["version"] == due["meta"]["version"]


def test_writes_no_policy_permits_are_403_and_write_nothing(
    harness: Harness, tenant: TenantAccess
) -> None:
    denied_idp = harness.client.post(
        "/scim/v2/Agents", json={"name": "bot"}, headers=tenant.headers("idp")
    )
    detail = assert_error(denied_idp, 403)["detail"]
    assert detail.endswith("; and no policy permits create"), detail
    bulk = harness.client.post(
        "/scim/v2/Bulk",
        json={
            "Operations": [
                {"method": "POST", "path": "/Agents", "bulkId": "a", "data": {"name": "b"}}
            ]
        },
        headers=tenant.headers("idp"),
    ).json()
    assert bulk["Operations"][0]["status"] == "403"
    for endpoint in ("Users", "Agents"):
        assert count(harness, tenant, endpoint) == 0


def test_an_operator_policy_is_enforced_on_every_path(
    settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(data_dir("policies"), policies)
    (policies / "local.cedar").write_text(
        """
// Closes: a client deleting what the HR system owns.
@id("local.keep-groups")
@reason("groups are retired by the HR system, never deleted by a client")
forbid (principal, action == Tenure::Action::"delete", resource)
when { resource.resourceType == "Group" };
"""
    )
    local = msgspec.structs.replace(settings, policies_dir=str(policies))
    with TestClient(create_app(local, clock=clock)) as client:
        harness = Harness(client, local, clock)
        tenant = harness.tenant()
        team: dict[str, Any] = create(harness, tenant, "Groups", group("Team"))
        url = f"/scim/v2/Groups/{team['id']}"
        for roles in ("idp", "admin"):
            assert assert_error(client.delete(url, headers=tenant.headers(roles)), 403)[
                "detail"
            ] == (
                "denied by local.keep-groups (groups are retired by the HR system, never deleted by a client)"
            )
        bulk = client.post(
            "/scim/v2/Bulk",
            json={"Operations": [{"method": "DELETE", "path": f"/Groups/{team['id']}"}]},
            headers=tenant.headers("idp"),
        ).json()
        assert bulk["Operations"][0]["status"] == "403"
        assert client.get(url, headers=tenant.headers()).json() == team
        renamed = client.put(url, json=group("Team 2"), headers=tenant.headers())
        assert renamed.status_code == 200


def test_a_subtree_is_torn_down_with_its_parent_in_one_decision(
    harness: Harness, tenant: TenantAccess
) -> None:
    platform = tenant.headers("platform")
    parent = register(harness, tenant, agent("parent"))
    child = register(harness, tenant, agent("child", parent=parent["id"]))
    grandchild = register(harness, tenant, agent("grandchild", parent=child["id"]))
    url = f"/scim/v2/Agents/{parent['id']}"
    assert patch(harness, parent["id"], platform, replace("active", False)).status_code == 200
    harness.clock.advance(dt.timedelta(days=8))
    # Suspending the parent suspended its subtree; deleting it takes the subtree along.
    assert read(harness, tenant, child["id"])["active"] is False
    assert harness.client.delete(url, headers=platform).status_code == 204
    for gone in (parent, child, grandchild):
        assert (
            harness.client.get(f"/scim/v2/Agents/{gone['id']}", headers=platform).status_code == 404
        )


def test_a_parent_keeps_covering_its_children(harness: Harness, tenant: TenantAccess) -> None:
    platform = tenant.headers("platform")
    parent = register(
        harness, tenant, agent("parent", expiresAt=later(harness, days=30), scopes=["a", "b"])
    )
    child = register(
        harness,
        tenant,
        agent("child", parent=parent["id"], expiresAt=later(harness, days=20), scopes=["b"]),
    )
    shorter = replace(f"{GOV}:expiresAt", later(harness, days=10))
    denied(patch(harness, parent["id"], platform, shorter), "tenure.delegation.children")
    narrower = replace(f"{GOV}:scopes", ["a"])
    denied(patch(harness, parent["id"], platform, narrower), "tenure.delegation.children")
    assert read(harness, tenant, parent["id"]) == parent
    # Children first, then the parent.
    child_change = patch(
        harness, child["id"], platform,
        replace(f"{GOV}:expiresAt", later(harness, days=5)), replace(f"{GOV}:scopes", ["a"]),
    )  # fmt: skip
    assert child_change.status_code == 200, child_change.text
    assert patch(harness, parent["id"], platform, shorter, narrower).status_code == 200
    # An unrelated change of the parent needs no look at its children.
    assert patch(harness, parent["id"], platform, replace("description", "d")).status_code == 200


def test_a_token_is_owned_by_a_user_or_group_only(harness: Harness, tenant: TenantAccess) -> None:
    bot = register(harness, tenant, agent("bot"))
    refused = harness.client.post(
        "/admin/tokens",
        json={"name": "x", "roles": "platform", "owner": bot["id"], "purpose": "p"},
        headers=tenant.headers("admin"),
    )
    assert "is not a User or Group" in assert_error(refused, 400, "invalidValue")["detail"]
