"""Agents and ServiceAccounts over HTTP (DESIGN.md "Identity model"), on SQLite and PostgreSQL.

Governed non-human identities: defaults from the registering platform token,
owners and sponsors that must be Users or Groups of the tenant, delegation
that never outlives or out-scopes its parent, immutable governance facts,
lifecycle driven by ``active``, effective state past ``expiresAt`` without a
sweep, and soft delete. Cedar decides every write on the identity as it would
be after it (``policies/*.cedar``); a deny is a 403 naming the deciding policies.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

from tests.conftest import Harness, TenantAccess, create
from tests.samples import LIST, OWNERS, USER, assert_error, group, stamp, user

BASE = "http://testserver.local/scim/v2"
AGENT = "urn:ietf:params:scim:schemas:core:2.0:Agent"
SERVICE_ACCOUNT = "urn:tenure:params:scim:schemas:core:1.0:ServiceAccount"
GOV = "urn:tenure:params:scim:schemas:extension:nhi:1.0:Governance"
# The harness clock (tests/conftest.py ``clock``) starts here.
NOW = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
# The purpose tests/conftest.py gives the tenant's platform token.
PURPOSE = "automated tests"
# The server's default teardown grace (tenant setting ``teardownGraceHours``).
GRACE = dt.timedelta(hours=168)

Headers = dict[str, str]


# --- helpers -----------------------------------------------------------------


def days(n: float, start: dt.datetime = NOW) -> str:
    return stamp(start + dt.timedelta(days=n))


def agent(name: str = "deploy-bot", **extra: Any) -> dict[str, Any]:
    return {"schemas": [AGENT], "name": name, **extra}


def service_account(name: str = "billing-sync", **extra: Any) -> dict[str, Any]:
    return {"schemas": [SERVICE_ACCOUNT], "name": name, **extra}


def governed(body: dict[str, Any], **governance: Any) -> dict[str, Any]:
    """``body`` with the Governance extension carrying ``governance``."""
    return {**body, "schemas": [*body["schemas"], GOV], GOV: governance}


def issue_token(
    harness: Harness,
    tenant: TenantAccess,
    roles: str,
    *,
    owner: str | None = None,
    purpose: str | None = None,
    name: str = "ci pipeline",
) -> tuple[Headers, str]:
    """A token issued by the tenant's admin, optionally with an accountable owner and purpose."""
    request: dict[str, Any] = {"name": name, "roles": roles}
    if owner is not None:
        request["owner"] = owner
    if purpose is not None:
        request["purpose"] = purpose
    response = harness.client.post("/admin/tokens", json=request, headers=tenant.headers("admin"))
    assert response.status_code == 201, response.text
    issued = response.json()
    assert issued["owner"] == owner
    return {"Authorization": f"Bearer {issued['token']}"}, issued["id"]


def platform_token(
    harness: Harness,
    tenant: TenantAccess,
    *,
    owner: str | None = None,
    purpose: str | None = None,
    name: str = "ci pipeline",
) -> tuple[Headers, str]:
    """A platform token of the tenant's, with the accountable owner and purpose given."""
    return issue_token(harness, tenant, "platform", owner=owner, purpose=purpose, name=name)


def assert_denied(response: Any, *policies: str, unpermitted: str | None = None) -> dict[str, Any]:
    """A policy deny: 403 whose detail names exactly ``policies`` ("denied by <id> (<reason>); …").

    ``unpermitted``: the action the detail says no policy permits, when no permit matched.
    """
    error = assert_error(response, 403)
    detail = error["detail"]
    named = set(re.findall(r"(tenure\.[a-z_.]+) \(", detail))
    assert named == set(policies), detail
    if policies:
        assert detail.startswith("denied by "), detail
    if unpermitted is not None:
        assert f"no policy permits {unpermitted}" in detail, detail
    return error


def register(
    harness: Harness,
    tenant: TenantAccess,
    body: dict[str, Any],
    endpoint: str = "Agents",
    headers: Headers | None = None,
) -> dict[str, Any]:
    """POST a non-human identity that must be created (platform role by default)."""
    response = harness.client.post(
        f"/scim/v2/{endpoint}", json=body, headers=headers or tenant.headers("platform")
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def fetch(
    harness: Harness, tenant: TenantAccess, endpoint: str, resource_id: str
) -> dict[str, Any]:
    response = harness.client.get(
        f"/scim/v2/{endpoint}/{resource_id}", headers=tenant.headers("platform")
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def patch(
    harness: Harness,
    tenant: TenantAccess,
    resource_id: str,
    *operations: dict[str, Any],
    endpoint: str = "Agents",
    headers: Headers | None = None,
) -> Any:
    return harness.client.patch(
        f"/scim/v2/{endpoint}/{resource_id}",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": list(operations),
        },
        headers=headers or tenant.headers("platform"),
    )


def put(
    harness: Harness,
    tenant: TenantAccess,
    resource_id: str,
    body: dict[str, Any],
    endpoint: str = "Agents",
    headers: Headers | None = None,
) -> Any:
    return harness.client.put(
        f"/scim/v2/{endpoint}/{resource_id}",
        json=body,
        headers=headers or tenant.headers("platform"),
    )


def delete(
    harness: Harness,
    tenant: TenantAccess,
    resource_id: str,
    endpoint: str = "Agents",
    headers: Headers | None = None,
) -> Any:
    return harness.client.delete(
        f"/scim/v2/{endpoint}/{resource_id}", headers=headers or tenant.headers("platform")
    )


def expires(moment: str) -> dict[str, Any]:
    """A PATCH operation setting ``expiresAt``."""
    return {"op": "replace", "path": f"{GOV}:expiresAt", "value": moment}


def attested(harness: Harness, at: dt.datetime | None = None) -> dict[str, Any]:
    """A PATCH operation recording an owner's attestation, now unless ``at``."""
    moment = stamp(at or harness.clock.now())
    return {"op": "replace", "path": f"{GOV}:lastAttestedAt", "value": moment}


def suspend(
    harness: Harness, tenant: TenantAccess, resource_id: str, endpoint: str = "Agents"
) -> dict[str, Any]:
    """``active: false``: suspended, and the teardown grace starts counting."""
    response = patch(
        harness,
        tenant,
        resource_id,
        {"op": "replace", "path": "active", "value": False},
        endpoint=endpoint,
    )
    assert response.status_code == 200, response.text
    assert response.json()[GOV]["suspendedAt"] == stamp(harness.clock.now())
    return response.json()  # type: ignore[no-any-return]


def retire(
    harness: Harness, tenant: TenantAccess, resource_id: str, endpoint: str = "Agents"
) -> None:
    """Delete, then let the teardown grace pass and the sweeper deprovision it for good
    (policy tenure.teardown.disable_first)."""
    response = delete(harness, tenant, resource_id, endpoint)
    assert response.status_code == 204, response.text
    harness.clock.advance(GRACE)
    swept = harness.run(harness.client.app.state.sweeper.sweep())
    assert (resource_id, "teardown", True) in {(o.resource_id, o.action, o.done) for o in swept}


def listing(
    harness: Harness, tenant: TenantAccess, endpoint: str = "Agents", **params: str
) -> dict[str, Any]:
    response = harness.client.get(
        f"/scim/v2/{endpoint}", params=params, headers=tenant.headers("platform")
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["schemas"] == [LIST]
    return body  # type: ignore[no-any-return]


def found_ids(
    harness: Harness, tenant: TenantAccess, endpoint: str = "Agents", **params: str
) -> set[str]:
    """The ids a filtered listing returns; its totalResults must agree."""
    body = listing(harness, tenant, endpoint, **params)
    ids = {r["id"] for r in body.get("Resources", [])}
    assert body["totalResults"] == len(ids), body
    return ids


def governance(resource: dict[str, Any]) -> dict[str, Any]:
    return resource.get(GOV, {})  # type: ignore[no-any-return]


def owner_ref(
    created: dict[str, Any], display: str, *, kind: str = "User", status: str = "active"
) -> dict[str, Any]:
    """An entry of ``owners`` or Governance ``sponsors`` as the server shows it."""
    return {
        "value": created["id"],
        "$ref": f"{BASE}/{kind}s/{created['id']}",
        "type": kind,
        "display": display,
        "status": status,
    }


def by_value(refs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(refs, key=lambda r: r["value"])


# --- discovery ---------------------------------------------------------------


def test_discovery_advertises_agents_service_accounts_and_governance(
    harness: Harness, tenant: TenantAccess
) -> None:
    headers = tenant.headers("platform")
    listed = harness.client.get("/scim/v2/ResourceTypes", headers=headers)
    assert listed.status_code == 200, listed.text
    by_name = {r["name"]: r for r in listed.json()["Resources"]}
    assert by_name["Agent"]["endpoint"] == "/Agents"
    assert by_name["Agent"]["schema"] == AGENT
    assert by_name["Agent"]["schemaExtensions"] == [{"schema": GOV, "required": False}]
    assert by_name["ServiceAccount"]["endpoint"] == "/ServiceAccounts"
    assert by_name["ServiceAccount"]["schema"] == SERVICE_ACCOUNT
    assert by_name["ServiceAccount"]["schemaExtensions"] == [{"schema": GOV, "required": False}]
    one = harness.client.get("/scim/v2/ResourceTypes/Agent", headers=headers)
    assert one.json() == by_name["Agent"]

    for urn, name in ((AGENT, "Agent"), (SERVICE_ACCOUNT, "ServiceAccount"), (GOV, "Governance")):
        response = harness.client.get(f"/scim/v2/Schemas/{urn}", headers=headers)
        assert response.status_code == 200, response.text
        schema = response.json()
        assert schema["id"] == urn
        assert schema["name"] == name
        assert schema["meta"]["location"] == f"{BASE}/Schemas/{urn}"
    agent_schema = harness.client.get(f"/scim/v2/Schemas/{AGENT}", headers=headers).json()
    attributes = {a["name"]: a for a in agent_schema["attributes"]}
    assert attributes["name"]["required"] is True
    assert attributes["name"]["uniqueness"] == "server"
    assert attributes["owners"]["mutability"] == "readWrite"
    assert attributes["parent"]["mutability"] == "immutable"
    gov_schema = harness.client.get(f"/scim/v2/Schemas/{GOV}", headers=headers).json()
    gov_attributes = {a["name"]: a for a in gov_schema["attributes"]}
    assert gov_attributes["lifecycleState"]["mutability"] == "readOnly"
    assert gov_attributes["kind"]["mutability"] == "immutable"
    assert gov_attributes["hardExpiresAt"]["mutability"] == "immutable"

    # An agent-aware client learns of Agents from /ResourceTypes (RFC 7644 §4), which
    # every client reads; ServiceProviderConfig stays RFC 7643 §5 unless the tenant asks
    # (tests/api/test_discovery.py).
    types = harness.client.get("/scim/v2/ResourceTypes", headers=headers).json()
    assert {(t["name"], t["endpoint"], t["schema"]) for t in types["Resources"]} >= {
        ("Agent", "/Agents", AGENT), ("ServiceAccount", "/ServiceAccounts", SERVICE_ACCOUNT),
    }  # fmt: skip


# --- defaults ----------------------------------------------------------------


def test_agent_takes_its_defaults_from_the_registering_platform_token(
    harness: Harness, tenant: TenantAccess
) -> None:
    owner = create(harness, tenant, "Users", user("olivia", displayName="Olivia Owner"))
    headers, token_id = platform_token(
        harness, tenant, owner=owner["id"], purpose="deploys the app"
    )
    # A token's owner must itself be a User or Group of the tenant.
    unknown_owner = harness.client.post(
        "/admin/tokens",
        json={"name": "bad", "roles": "platform", "owner": "no-such-user"},
        headers=tenant.headers("admin"),
    )
    assert unknown_owner.status_code == 400, unknown_owner.text
    assert "no-such-user" in unknown_owner.json()["detail"]

    response = harness.client.post("/scim/v2/Agents", json=agent("deploy-bot"), headers=headers)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["schemas"] == [AGENT, GOV]
    assert created["name"] == "deploy-bot"
    assert created["active"] is True
    assert created[GOV] == {
        "kind": "agent",
        "purpose": "deploys the app",
        "expiresAt": days(90),
        "hardExpiresAt": days(730),
        # Registration counts as the first word; an owner attests again by then.
        "attestBy": days(90),
        # Unattested a grace (7 days) longer, it is suspended.
        "attestationSuspendAt": days(97),
        "lifecycleState": "active",
        "registeredBy": token_id,
    }
    assert created["owners"] == [owner_ref(owner, "Olivia Owner")]
    assert created["meta"]["resourceType"] == "Agent"
    assert created["meta"]["location"] == f"{BASE}/Agents/{created['id']}"
    assert response.headers["location"] == created["meta"]["location"]
    assert fetch(harness, tenant, "Agents", created["id"]) == created


def test_service_account_defaults_to_its_kind_and_a_year(
    harness: Harness, tenant: TenantAccess
) -> None:
    owner = create(harness, tenant, "Users", user("sam", displayName="Sam"))
    headers, token_id = platform_token(harness, tenant, owner=owner["id"], purpose="billing sync")

    created = register(harness, tenant, service_account(), "ServiceAccounts", headers)
    assert created["schemas"] == [SERVICE_ACCOUNT, GOV]
    assert created[GOV] == {
        "kind": "service_account",
        "purpose": "billing sync",
        "expiresAt": days(365),
        "hardExpiresAt": days(730),
        "attestBy": days(90),
        # Unattested a grace (7 days) longer, it is suspended.
        "attestationSuspendAt": days(97),
        "lifecycleState": "active",
        "registeredBy": token_id,
    }
    assert created["owners"] == [owner_ref(owner, "Sam")]
    assert created["meta"]["location"] == f"{BASE}/ServiceAccounts/{created['id']}"
    assert fetch(harness, tenant, "ServiceAccounts", created["id"]) == created


def test_a_token_without_owner_or_purpose_cannot_register_on_its_defaults(
    harness: Harness, tenant: TenantAccess
) -> None:
    """Policies tenure.accountability.owner and .purpose: what a token registers needs both."""
    olivia = create(harness, tenant, "Users", user("olivia", displayName="Olivia"))
    bare, _ = platform_token(harness, tenant, name="bare")
    owner_only, _ = platform_token(harness, tenant, owner=olivia["id"], name="owner only")
    purpose_only, _ = platform_token(harness, tenant, purpose="deploys", name="purpose only")

    for headers, policies in (
        (bare, {"tenure.accountability.owner", "tenure.accountability.purpose"}),
        (owner_only, {"tenure.accountability.purpose"}),
        (purpose_only, {"tenure.accountability.owner"}),
    ):
        response = harness.client.post("/scim/v2/Agents", json=agent(), headers=headers)
        assert_denied(response, *policies)
        response = harness.client.post(
            "/scim/v2/ServiceAccounts", json=service_account(), headers=headers
        )
        assert_denied(response, *policies)
    # An explicit empty owners list wins over the token's default owner, and is refused too.
    ownerless = harness.client.post(
        "/scim/v2/Agents", json=agent("ownerless", owners=[]), headers=tenant.headers("platform")
    )
    assert_denied(ownerless, "tenure.accountability.owner")
    # Nothing was written: no resource (not even a tombstone), no owner row.
    assert found_ids(harness, tenant) == set()
    assert listing(harness, tenant, "ServiceAccounts")["totalResults"] == 0
    assert (
        harness.sql(
            "SELECT count(*) FROM resources WHERE tenant_id = :t AND resource_type IN "
            "('Agent', 'ServiceAccount')",
            t=tenant.id,
        )[0][0]
        == 0
    )
    owner_rows = "SELECT count(*) FROM nhi_owners WHERE tenant_id = :t"
    assert harness.sql(owner_rows, t=tenant.id)[0][0] == 0

    # Owner and purpose named in the request make up for what the token lacks.
    created = register(
        harness,
        tenant,
        governed(agent(owners=[{"value": olivia["id"]}]), purpose="named in the request"),
        headers=bare,
    )
    assert created["owners"] == [owner_ref(olivia, "Olivia")]
    assert created[GOV]["purpose"] == "named in the request"
    assert created[GOV]["expiresAt"] == days(90)
    assert "complianceIssues" not in created[GOV]
    assert found_ids(harness, tenant) == {created["id"]}


def test_explicit_values_win_over_the_token_defaults(
    harness: Harness, tenant: TenantAccess
) -> None:
    token_owner = create(harness, tenant, "Users", user("token-owner"))
    named = create(harness, tenant, "Users", user("named", displayName="Named Owner"))
    headers, _ = platform_token(harness, tenant, owner=token_owner["id"], purpose="default purpose")

    body = governed(
        agent("explicit", owners=[{"value": named["id"]}]),
        kind="workload",
        purpose="explicit purpose",
        expiresAt=days(30),
        hardExpiresAt=days(400),
        environment="staging",
    )
    created = register(harness, tenant, body, headers=headers)
    assert created["owners"] == [owner_ref(named, "Named Owner")]
    assert created[GOV]["kind"] == "workload"
    assert created[GOV]["purpose"] == "explicit purpose"
    assert created[GOV]["expiresAt"] == days(30)
    assert created[GOV]["hardExpiresAt"] == days(400)
    assert created[GOV]["environment"] == "staging"
    assert fetch(harness, tenant, "Agents", created["id"]) == created

    # A hard cap earlier than the default lifetime bounds the default expiresAt.
    capped = register(
        harness, tenant, governed(agent("capped"), hardExpiresAt=days(30)), headers=headers
    )
    assert capped[GOV]["expiresAt"] == days(30)


def test_agent_user_name_is_an_alias_of_name(harness: Harness, tenant: TenantAccess) -> None:
    created = register(harness, tenant, {"schemas": [AGENT], "agentUserName": "alias-bot"})
    assert created["name"] == "alias-bot"
    assert "agentUserName" not in created
    assert found_ids(harness, tenant, filter='name eq "alias-bot"') == {created["id"]}
    # The alias counts for uniqueness like the name itself.
    again = harness.client.post(
        "/scim/v2/Agents",
        json={"schemas": [AGENT], "agentUserName": "ALIAS-BOT"},
        headers=tenant.headers("platform"),
    )
    assert_error(again, 409, "uniqueness")


def test_name_is_unique_per_tenant_case_insensitively(
    harness: Harness, tenant: TenantAccess
) -> None:
    first = register(harness, tenant, agent("Deploy-Bot"))
    clash = harness.client.post(
        "/scim/v2/Agents", json=agent("deploy-bot"), headers=tenant.headers("platform")
    )
    error = assert_error(clash, 409, "uniqueness")
    assert "deploy-bot" in error["detail"].lower()
    assert listing(harness, tenant)["totalResults"] == 1

    other = register(harness, tenant, agent("other-bot"))
    renamed = put(harness, tenant, other["id"], governed(agent("DEPLOY-BOT"), purpose=PURPOSE))
    assert_error(renamed, 409, "uniqueness")
    assert fetch(harness, tenant, "Agents", other["id"])["name"] == "other-bot"

    elsewhere = harness.tenant()
    theirs = register(harness, elsewhere, agent("deploy-bot"))
    assert theirs["id"] != first["id"]
    assert found_ids(harness, elsewhere, filter='name eq "deploy-bot"') == {theirs["id"]}
    assert found_ids(harness, tenant, filter='name eq "deploy-bot"') == {first["id"]}


# --- roles -------------------------------------------------------------------


def test_roles_decide_who_writes_what(harness: Harness, tenant: TenantAccess) -> None:
    """Policies tenure.roles.*: the body is read first, then Cedar decides every write."""
    alice = create(harness, tenant, "Users", user("alice"))
    bot = register(harness, tenant, agent())

    # An identity provider manages Users and Groups: no policy permits it an Agent
    # (and the idp token, having no owner or purpose, gives the Agent none either).
    idp_agent = harness.client.post(
        "/scim/v2/Agents", json=agent("by-idp"), headers=tenant.headers("idp")
    )
    unowned = ("tenure.accountability.owner", "tenure.accountability.purpose")
    assert_denied(idp_agent, *unowned, unpermitted="create")
    idp_account = harness.client.post(
        "/scim/v2/ServiceAccounts", json=service_account(), headers=tenant.headers("idp")
    )
    assert_denied(idp_account, *unowned, unpermitted="create")
    idp_patch = harness.client.patch(
        f"/scim/v2/Agents/{bot['id']}",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "description", "value": "x"}],
        },
        headers=tenant.headers("idp"),
    )
    assert_denied(idp_patch, unpermitted="update")
    idp_delete = delete(harness, tenant, bot["id"], headers=tenant.headers("idp"))
    assert_denied(idp_delete, unpermitted="delete")

    # A platform manages Agents and ServiceAccounts, not the directory.
    platform_user = harness.client.post(
        "/scim/v2/Users", json=user("by-platform"), headers=tenant.headers("platform")
    )
    assert_denied(platform_user, unpermitted="create")
    platform_group = harness.client.post(
        "/scim/v2/Groups", json=group("By Platform"), headers=tenant.headers("platform")
    )
    assert_denied(platform_group, unpermitted="create")
    platform_delete = harness.client.delete(
        f"/scim/v2/Users/{alice['id']}", headers=tenant.headers("platform")
    )
    assert_denied(platform_delete, unpermitted="delete")

    # Auditors never write, whatever they write.
    auditor = tenant.headers("auditor")
    by_auditor = harness.client.post("/scim/v2/Agents", json=agent("by-auditor"), headers=auditor)
    assert_denied(by_auditor, *unowned, "tenure.roles.auditor", unpermitted="create")
    by_auditor = harness.client.post("/scim/v2/Users", json=user("by-auditor"), headers=auditor)
    assert_denied(by_auditor, "tenure.roles.auditor", unpermitted="create")
    auditor_patch = patch(
        harness,
        tenant,
        bot["id"],
        {"op": "replace", "path": "description", "value": "x"},
        headers=auditor,
    )
    assert_denied(auditor_patch, "tenure.roles.auditor", unpermitted="update")
    # No role check comes before the body is read: an invalid body is a 400 whoever sends it.
    invalid = harness.client.post("/scim/v2/Agents", json={"schemas": [AGENT]}, headers=auditor)
    assert "name" in assert_error(invalid, 400, "invalidValue")["detail"]

    # Nothing above was written.
    assert {r["id"] for r in listing(harness, tenant)["Resources"]} == {bot["id"]}
    assert listing(harness, tenant, "ServiceAccounts")["totalResults"] == 0
    assert fetch(harness, tenant, "Agents", bot["id"]) == bot

    # A platform reads the directory it assigns owners from (the platform token's own
    # accountable owner included).
    users = harness.client.get("/scim/v2/Users", headers=tenant.headers("platform"))
    assert users.status_code == 200, users.text
    assert {r["id"] for r in users.json()["Resources"]} == {alice["id"], tenant.owner()}
    one = harness.client.get(f"/scim/v2/Users/{alice['id']}", headers=tenant.headers("platform"))
    assert one.status_code == 200
    assert one.json()["userName"] == "alice"


def test_a_platform_manages_only_what_it_registered(harness: Harness, tenant: TenantAccess) -> None:
    """Policy tenure.roles.platform: ``registeredBy`` decides; a tenant admin manages all."""
    bot = register(harness, tenant, agent())
    other, _ = platform_token(
        harness, tenant, owner=tenant.owner(), purpose="another platform", name="other"
    )
    description = {"op": "replace", "path": "description", "value": "taken over"}

    assert_denied(
        patch(harness, tenant, bot["id"], description, headers=other), unpermitted="update"
    )
    body = governed(agent(description="taken over"), purpose=PURPOSE)
    assert_denied(put(harness, tenant, bot["id"], body, headers=other), unpermitted="update")
    taken = delete(harness, tenant, bot["id"], headers=other)
    assert_denied(taken, unpermitted="delete")
    assert fetch(harness, tenant, "Agents", bot["id"]) == bot
    # Its own registrations it manages as usual.
    own = register(harness, tenant, agent("its-own"), headers=other)
    changed = patch(harness, tenant, own["id"], description, headers=other)
    assert changed.status_code == 200, changed.text

    # The tenant's admin may change any of them; registeredBy stays the registering token's.
    admin = tenant.headers("admin")
    by_admin = patch(harness, tenant, bot["id"], description, headers=admin)
    assert by_admin.status_code == 200, by_admin.text
    assert by_admin.json()["description"] == "taken over"
    assert by_admin.json()[GOV]["registeredBy"] == bot[GOV]["registeredBy"]
    # And retire them: the other platform still may not, even once it is suspended.
    suspend(harness, tenant, bot["id"])
    harness.clock.advance(GRACE)
    assert_denied(delete(harness, tenant, bot["id"], headers=other), unpermitted="delete")
    assert delete(harness, tenant, bot["id"], headers=admin).status_code == 204
    assert found_ids(harness, tenant) == {own["id"]}


# --- owners and sponsors -------------------------------------------------------


def test_owners_and_sponsors_must_be_users_or_groups_of_the_tenant(
    harness: Harness, tenant: TenantAccess
) -> None:
    mine = create(harness, tenant, "Users", user("mine"))
    foreign = create(harness, harness.tenant(), "Users", user("foreign"))
    other_agent = register(harness, tenant, agent("other-bot"))
    unknown = str(uuid.uuid4())

    cases = [
        agent("doomed", owners=[{"value": mine["id"]}, {"value": unknown}]),
        agent("doomed", owners=[{"value": foreign["id"]}]),
        agent("doomed", owners=[{"value": other_agent["id"]}]),
        governed(agent("doomed", owners=[{"value": mine["id"]}]), sponsors=[{"value": unknown}]),
        governed(agent("doomed"), sponsors=[{"value": foreign["id"]}]),
    ]
    named = [unknown, foreign["id"], other_agent["id"], unknown, foreign["id"]]
    for body, bad in zip(cases, named, strict=True):
        response = harness.client.post(
            "/scim/v2/Agents", json=body, headers=tenant.headers("platform")
        )
        error = assert_error(response, 400, "invalidValue")
        assert bad in error["detail"], error
    # Nothing was written: no resource, no owner row.
    assert found_ids(harness, tenant) == {other_agent["id"]}
    assert harness.sql("SELECT count(*) FROM resources WHERE name_norm = 'doomed'")[0][0] == 0
    assert (
        harness.sql("SELECT count(*) FROM nhi_owners WHERE owner_id = :id", id=mine["id"])[0][0]
        == 0
    )


def test_owner_changes_with_unknown_refs_are_refused_and_change_nothing(
    harness: Harness, tenant: TenantAccess
) -> None:
    mine = create(harness, tenant, "Users", user("mine", displayName="Mine"))
    bot = register(harness, tenant, agent(owners=[{"value": mine["id"]}]))
    unknown = str(uuid.uuid4())

    added = patch(
        harness, tenant, bot["id"], {"op": "add", "path": "owners", "value": [{"value": unknown}]}
    )
    assert unknown in assert_error(added, 400, "invalidValue")["detail"]
    replaced = put(harness, tenant, bot["id"], agent(owners=[{"value": unknown}]))
    assert unknown in assert_error(replaced, 400, "invalidValue")["detail"]
    sponsored = patch(
        harness,
        tenant,
        bot["id"],
        {"op": "add", "path": f"{GOV}:sponsors", "value": [{"value": unknown}]},
    )
    assert unknown in assert_error(sponsored, 400, "invalidValue")["detail"]

    after = fetch(harness, tenant, "Agents", bot["id"])
    assert after["owners"] == [owner_ref(mine, "Mine")]
    assert "sponsors" not in after[GOV]
    assert after["meta"]["version"] == bot["meta"]["version"]


def test_groups_can_own_and_sponsors_live_under_governance(
    harness: Harness, tenant: TenantAccess
) -> None:
    alice = create(harness, tenant, "Users", user("alice", displayName="Alice"))
    bob = create(harness, tenant, "Users", user("bob", displayName="Bob"))
    # A team answers for what it owns while it has members (an empty one does not).
    team = create(harness, tenant, "Groups", group("Platform Team", [bob["id"]]))

    created = register(
        harness,
        tenant,
        governed(
            agent(owners=[{"value": team["id"]}, {"value": alice["id"]}]),
            sponsors=[{"value": bob["id"]}],
        ),
    )
    expected_owners = by_value(
        [owner_ref(team, "Platform Team", kind="Group"), owner_ref(alice, "Alice")]
    )
    assert by_value(created["owners"]) == expected_owners
    assert created[GOV]["sponsors"] == [owner_ref(bob, "Bob")]
    assert "sponsors" not in created  # not a core attribute
    assert "complianceIssues" not in created[GOV]
    fetched = fetch(harness, tenant, "Agents", created["id"])
    assert by_value(fetched["owners"]) == expected_owners
    assert fetched[GOV]["sponsors"] == [owner_ref(bob, "Bob")]

    # PATCH by value filter removes one owner; replacing sponsors swaps them.
    removed = patch(
        harness,
        tenant,
        created["id"],
        {"op": "remove", "path": f'owners[value eq "{alice["id"]}"]'},
    )
    assert removed.status_code == 200, removed.text
    assert removed.json()["owners"] == [owner_ref(team, "Platform Team", kind="Group")]
    swapped = patch(
        harness,
        tenant,
        created["id"],
        {"op": "replace", "path": f"{GOV}:sponsors", "value": [{"value": alice["id"]}]},
    )
    assert swapped.status_code == 200, swapped.text
    assert swapped.json()[GOV]["sponsors"] == [owner_ref(alice, "Alice")]
    assert swapped.json()["owners"] == [owner_ref(team, "Platform Team", kind="Group")]

    # A PUT that does not name owners or sponsors keeps them.
    kept = put(harness, tenant, created["id"], governed(agent(description="kept"), purpose=PURPOSE))
    assert kept.status_code == 200, kept.text
    assert kept.json()["owners"] == [owner_ref(team, "Platform Team", kind="Group")]
    assert kept.json()[GOV]["sponsors"] == [owner_ref(alice, "Alice")]
    # Clearing the owners, by PUT or PATCH, leaves nobody accountable: refused.
    cleared = put(harness, tenant, created["id"], governed(agent(owners=[]), purpose=PURPOSE))
    assert_denied(cleared, "tenure.accountability.owner")
    removed_all = patch(harness, tenant, created["id"], {"op": "remove", "path": "owners"})
    assert_denied(removed_all, "tenure.accountability.owner")
    # Sponsors are no owners: they cannot stand in for them.
    sponsors_only = patch(
        harness,
        tenant,
        created["id"],
        {"op": "remove", "path": "owners"},
        {"op": "add", "path": f"{GOV}:sponsors", "value": [{"value": bob["id"]}]},
    )
    assert_denied(sponsors_only, "tenure.accountability.owner")
    assert fetch(harness, tenant, "Agents", created["id"]) == kept.json()


def test_owner_status_follows_the_owner_user(harness: Harness, tenant: TenantAccess) -> None:
    olivia = create(harness, tenant, "Users", user("olivia", displayName="Olivia"))
    backup = create(harness, tenant, "Users", user("backup", displayName="Backup"))
    bot = register(harness, tenant, agent("solo", owners=[{"value": olivia["id"]}]))
    shared = register(
        harness, tenant, agent("shared", owners=[{"value": olivia["id"]}, {"value": backup["id"]}])
    )
    user_path = f"/scim/v2/Users/{olivia['id']}"
    off = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": False}],
    }
    on = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": True}],
    }

    # Deactivated by PATCH: inactive, and the agent has no active owner left.
    assert harness.client.patch(user_path, json=off, headers=tenant.headers()).status_code == 200
    solo = fetch(harness, tenant, "Agents", bot["id"])
    assert solo["owners"] == [owner_ref(olivia, "Olivia", status="inactive")]
    assert solo[GOV]["complianceIssues"] == ["no_active_owner"]
    # An agent with another active owner is fine.
    both = fetch(harness, tenant, "Agents", shared["id"])
    assert {o["value"]: o["status"] for o in both["owners"]} == {
        olivia["id"]: "inactive",
        backup["id"]: "active",
    }
    assert "complianceIssues" not in both[GOV]

    # Reactivated: the issue clears.
    assert harness.client.patch(user_path, json=on, headers=tenant.headers()).status_code == 200
    solo = fetch(harness, tenant, "Agents", bot["id"])
    assert solo["owners"] == [owner_ref(olivia, "Olivia")]
    assert "complianceIssues" not in solo[GOV]

    # The same through PUT.
    replaced = harness.client.put(
        user_path, json=user("olivia", displayName="Olivia", active=False), headers=tenant.headers()
    )
    assert replaced.status_code == 200, replaced.text
    solo = fetch(harness, tenant, "Agents", bot["id"])
    assert solo["owners"][0]["status"] == "inactive"
    assert solo[GOV]["complianceIssues"] == ["no_active_owner"]
    replaced = harness.client.put(
        user_path, json=user("olivia", displayName="Olivia", active=True), headers=tenant.headers()
    )
    assert replaced.status_code == 200, replaced.text
    solo = fetch(harness, tenant, "Agents", bot["id"])
    assert solo["owners"][0]["status"] == "active"
    assert "complianceIssues" not in solo[GOV]

    # Deleted: the reference stays, marked removed.
    assert harness.client.delete(user_path, headers=tenant.headers()).status_code == 204
    solo = fetch(harness, tenant, "Agents", bot["id"])
    assert [(o["value"], o["status"]) for o in solo["owners"]] == [(olivia["id"], "removed")]
    assert solo[GOV]["complianceIssues"] == ["no_active_owner"]
    both = fetch(harness, tenant, "Agents", shared["id"])
    assert {o["value"]: o["status"] for o in both["owners"]} == {
        olivia["id"]: "removed",
        backup["id"]: "active",
    }
    assert "complianceIssues" not in both[GOV]
    # The listing shows the same.
    listed = {r["id"]: r for r in listing(harness, tenant)["Resources"]}
    assert listed[bot["id"]][GOV]["complianceIssues"] == ["no_active_owner"]


# --- delegation ----------------------------------------------------------------


def test_parent_must_be_a_live_agent_of_the_tenant(harness: Harness, tenant: TenantAccess) -> None:
    account = register(harness, tenant, service_account(), "ServiceAccounts")
    foreign = register(harness, harness.tenant(), agent("foreign-root"))
    gone = register(harness, tenant, agent("gone"))
    retire(harness, tenant, gone["id"])
    unknown = str(uuid.uuid4())

    # No such Agent of this tenant: a 400 naming it, as before Cedar is asked.
    for parent_id in (unknown, account["id"], foreign["id"], gone["id"]):
        response = harness.client.post(
            "/scim/v2/Agents",
            json=agent("orphan", parent={"value": parent_id}),
            headers=tenant.headers("platform"),
        )
        error = assert_error(response, 400, "invalidValue")
        assert parent_id in error["detail"]
    assert found_ids(harness, tenant) == set()

    root = register(harness, tenant, agent("root"))
    child = register(harness, tenant, agent("child", parent={"value": root["id"]}))
    assert child["parent"]["value"] == root["id"]
    assert child["parent"]["$ref"] == f"{BASE}/Agents/{root['id']}"

    # A parent that exists but is not active does not delegate (tenure.delegation.parent_active).
    resting = register(harness, tenant, agent("resting"))
    suspend(harness, tenant, resting["id"])
    under_suspended = harness.client.post(
        "/scim/v2/Agents",
        json=agent("under-suspended", parent={"value": resting["id"]}),
        headers=tenant.headers("platform"),
    )
    assert_denied(under_suspended, "tenure.delegation.parent_active")
    lapsing = register(
        harness, tenant, governed(agent("lapsing"), expiresAt=days(1, harness.clock.now()))
    )
    harness.clock.advance(dt.timedelta(days=2))
    # Expired, it counts as suspended; the child's default end (its parent's) is past too.
    under_expired = harness.client.post(
        "/scim/v2/Agents",
        json=agent("under-expired", parent={"value": lapsing["id"]}),
        headers=tenant.headers("platform"),
    )
    assert_denied(under_expired, "tenure.delegation.parent_active", "tenure.expiry.future")
    assert found_ids(harness, tenant, filter='name sw "under-"') == set()
    assert found_ids(harness, tenant, filter="parent pr") == {child["id"]}


def test_a_child_never_outlives_its_parent(harness: Harness, tenant: TenantAccess) -> None:
    root = register(harness, tenant, governed(agent("root"), expiresAt=days(10)))

    too_long = harness.client.post(
        "/scim/v2/Agents",
        json=governed(agent("greedy", parent={"value": root["id"]}), expiresAt=days(20)),
        headers=tenant.headers("platform"),
    )
    assert_denied(too_long, "tenure.delegation.lifetime")

    # Without expiresAt the child's default (90 days) is capped at the parent's end.
    child = register(harness, tenant, agent("child", parent={"value": root["id"]}))
    assert child[GOV]["expiresAt"] == days(10)
    shorter = register(
        harness, tenant, governed(agent("shorter", parent={"value": root["id"]}), expiresAt=days(5))
    )
    assert shorter[GOV]["expiresAt"] == days(5)

    # Renewing the child beyond its parent is refused too, attested or not.
    renewed = patch(harness, tenant, shorter["id"], attested(harness), expires(days(11)))
    assert_denied(renewed, "tenure.delegation.lifetime")
    unattested = patch(harness, tenant, shorter["id"], expires(days(11)))
    assert_denied(unattested, "tenure.delegation.lifetime", "tenure.renewal.attested")
    assert fetch(harness, tenant, "Agents", shorter["id"]) == shorter
    assert found_ids(harness, tenant, filter='name eq "greedy"') == set()
    # Up to the parent's end it is an ordinary (attested) renewal.
    within = patch(harness, tenant, shorter["id"], attested(harness), expires(days(10)))
    assert within.status_code == 200, within.text
    assert within.json()[GOV]["expiresAt"] == days(10)

    # Only an active parent's children are renewed (tenure.delegation.parent_active).
    young = register(
        harness, tenant, governed(agent("young", parent={"value": root["id"]}), expiresAt=days(5))
    )
    suspend(harness, tenant, root["id"])
    frozen = patch(harness, tenant, young["id"], attested(harness), expires(days(8)))
    assert_denied(frozen, "tenure.delegation.parent_active")
    assert fetch(harness, tenant, "Agents", young["id"])[GOV]["expiresAt"] == days(5)


def test_a_childs_scopes_are_a_subset_of_its_parents(
    harness: Harness, tenant: TenantAccess
) -> None:
    root = register(
        harness, tenant, governed(agent("root"), scopes=["tickets:read", "tickets:write"])
    )

    wider = harness.client.post(
        "/scim/v2/Agents",
        json=governed(
            agent("wider", parent={"value": root["id"]}), scopes=["tickets:read", "admin:all"]
        ),
        headers=tenant.headers("platform"),
    )
    assert_denied(wider, "tenure.delegation.scopes")
    assert found_ids(harness, tenant, filter='name eq "wider"') == set()

    child = register(
        harness,
        tenant,
        governed(agent("child", parent={"value": root["id"]}), scopes=["tickets:read"]),
    )
    assert child[GOV]["scopes"] == ["tickets:read"]

    grown = patch(
        harness,
        tenant,
        child["id"],
        {"op": "add", "path": f"{GOV}:scopes", "value": ["deploy:prod"]},
    )
    assert_denied(grown, "tenure.delegation.scopes")
    assert fetch(harness, tenant, "Agents", child["id"]) == child
    within = patch(
        harness,
        tenant,
        child["id"],
        {"op": "add", "path": f"{GOV}:scopes", "value": ["tickets:write"]},
    )
    assert within.status_code == 200, within.text
    assert sorted(within.json()[GOV]["scopes"]) == ["tickets:read", "tickets:write"]


def test_delegation_depth_is_bounded(harness: Harness, tenant: TenantAccess) -> None:
    level1 = register(harness, tenant, agent("level1"))
    level2 = register(harness, tenant, agent("level2", parent={"value": level1["id"]}))
    level3 = register(harness, tenant, agent("level3", parent={"value": level2["id"]}))
    assert level3["parent"]["value"] == level2["id"]

    level4 = harness.client.post(
        "/scim/v2/Agents",
        json=agent("level4", parent={"value": level3["id"]}),
        headers=tenant.headers("platform"),
    )
    assert_denied(level4, "tenure.delegation.depth")
    assert found_ids(harness, tenant, filter='name eq "level4"') == set()
    assert found_ids(harness, tenant) == {level1["id"], level2["id"], level3["id"]}


def test_parent_is_immutable(harness: Harness, tenant: TenantAccess) -> None:
    root = register(harness, tenant, agent("root"))
    other = register(harness, tenant, agent("other-root"))
    child = register(harness, tenant, agent("child", parent={"value": root["id"]}))

    moved = put(harness, tenant, child["id"], agent("child", parent={"value": other["id"]}))
    assert_error(moved, 400, "mutability")
    for operation in (
        {"op": "replace", "path": "parent", "value": {"value": other["id"]}},
        {"op": "replace", "path": "parent.value", "value": other["id"]},
        {"op": "remove", "path": "parent"},
    ):
        response = patch(harness, tenant, child["id"], operation)
        assert_error(response, 400, "mutability")
    assert fetch(harness, tenant, "Agents", child["id"])["parent"]["value"] == root["id"]

    # Sending the same parent back (even with the server's $ref), or leaving it out, is fine.
    expiry = {"expiresAt": child[GOV]["expiresAt"], "purpose": PURPOSE}
    same = put(
        harness,
        tenant,
        child["id"],
        governed(agent("child", description="same", parent=child["parent"]), **expiry),
    )
    assert same.status_code == 200, same.text
    assert same.json()["parent"]["value"] == root["id"]
    omitted = put(
        harness, tenant, child["id"], governed(agent("child", description="omitted"), **expiry)
    )
    assert omitted.status_code == 200, omitted.text
    assert omitted.json()["parent"]["value"] == root["id"]


def test_a_put_without_expiry_leaves_the_identity_expiring(
    harness: Harness, tenant: TenantAccess
) -> None:
    """A PUT that leaves ``expiresAt`` out must not make an identity immortal.

    DESIGN.md: a missing expiresAt takes the default lifetime; an end date once
    set is not dropped by a replacement that does not mention it.
    """
    root = register(harness, tenant, agent("root"))
    body = governed(agent("root", description="no end date sent"), purpose=PURPOSE)
    replaced = put(harness, tenant, root["id"], body)
    assert replaced.status_code == 200, replaced.text
    root_end = replaced.json()[GOV].get("expiresAt")
    assert root_end == root[GOV]["expiresAt"], replaced.json()
    assert root_end <= replaced.json()[GOV]["hardExpiresAt"]

    # A child is written back the same way, and stays within its parent's lifetime.
    child = register(harness, tenant, agent("child", parent={"value": root["id"]}))
    body = governed(agent("child", description="no end date sent"), purpose=PURPOSE)
    again = put(harness, tenant, child["id"], body)
    assert again.status_code == 200, again.text
    child_end = again.json()[GOV].get("expiresAt")
    assert child_end == child[GOV]["expiresAt"]
    assert child_end <= root_end

    harness.clock.advance(dt.timedelta(days=100))
    assert fetch(harness, tenant, "Agents", root["id"])["active"] is False
    assert found_ids(harness, tenant, filter="active eq true") == set()


def test_a_plain_ietf_put_keeps_the_governance_extension(
    harness: Harness, tenant: TenantAccess
) -> None:
    """A plain IETF client (no Governance extension) can replace an Agent it registered.

    app/provisioning/nhi.py ``on_change``: the extension it did not send is not
    asserted, so purpose, scopes and the end date stay as they were.
    """
    bot = register(harness, tenant, governed(agent("plain"), scopes=["tickets:read"]))
    replaced = put(harness, tenant, bot["id"], agent("plain", description="plain client"))
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()[GOV] == bot[GOV]
    assert replaced.json()["description"] == "plain client"


def test_deleting_a_parent_takes_its_subtree(harness: Harness, tenant: TenantAccess) -> None:
    """DESIGN.md "Delegation": a parent's DELETE takes its subtree, at once.

    RFC 7644 §3.6: 204, then 404 on every verb. The children, active or not, go
    with it (reason ``cascade``) and none stays an active identity of a parent
    that is gone; the rows stay (suspended, restorable) until the teardown grace
    has passed, when the sweeper deprovisions them for good.
    """
    root = register(harness, tenant, agent("root"))
    child = register(harness, tenant, agent("child", parent={"value": root["id"]}))
    grandchild = register(harness, tenant, agent("grandchild", parent={"value": child["id"]}))
    resting = register(harness, tenant, agent("resting", parent={"value": root["id"]}))
    suspend(harness, tenant, resting["id"])
    bystander = register(harness, tenant, agent("bystander"))
    subtree = (root, child, grandchild, resting)

    deleted = delete(harness, tenant, root["id"])
    assert deleted.status_code == 204, deleted.text
    assert deleted.content == b""

    def rows() -> dict[str, tuple[Any, ...]]:
        return {
            gone["id"]: tuple(
                harness.sql(
                    "SELECT deleted_at IS NOT NULL, lifecycle_state, active FROM resources "
                    "WHERE id = :id",
                    id=gone["id"],
                )[0]
            )
            for gone in subtree
        }

    for gone in subtree:
        assert_error(
            harness.client.get(f"/scim/v2/Agents/{gone['id']}", headers=tenant.headers("platform")),
            404,
        )
    assert set(rows().values()) == {(True, "suspended", False)}
    assert found_ids(harness, tenant) == {bystander["id"]}
    assert found_ids(harness, tenant, filter="active eq true") == {bystander["id"]}

    # Within the grace nothing more happens; after it, all four are deprovisioned for good.
    sweeper = harness.client.app.state.sweeper
    harness.clock.advance(GRACE - dt.timedelta(minutes=1))
    assert harness.run(sweeper.sweep()) == []
    harness.clock.advance(dt.timedelta(minutes=2))
    swept = harness.run(sweeper.sweep())
    assert {(o.resource_id, o.action, o.done) for o in swept} == {
        (gone["id"], "teardown", True) for gone in subtree
    }
    assert set(rows().values()) == {(True, "deprovisioned", False)}
    assert fetch(harness, tenant, "Agents", bystander["id"])["active"] is True


# --- immutable governance facts and expiry bounds ---------------------------------


def test_kind_environment_and_hard_expiry_cannot_change(
    harness: Harness, tenant: TenantAccess
) -> None:
    facts = {"kind": "workload", "environment": "production", "hardExpiresAt": days(500)}
    bot = register(harness, tenant, governed(agent(), **facts))

    for name, value in (("kind", "bot"), ("environment", "staging"), ("hardExpiresAt", days(600))):
        replaced = put(harness, tenant, bot["id"], governed(agent(), **{**facts, name: value}))
        assert name in assert_error(replaced, 400, "mutability")["detail"]
        patched = patch(
            harness, tenant, bot["id"], {"op": "replace", "path": f"{GOV}:{name}", "value": value}
        )
        assert_error(patched, 400, "mutability")
    after = fetch(harness, tenant, "Agents", bot["id"])
    assert {k: after[GOV][k] for k in facts} == facts
    assert after["meta"]["version"] == bot["meta"]["version"]

    # The same values again, or none at all, keep them.
    same = put(
        harness,
        tenant,
        bot["id"],
        governed(agent(description="same"), **facts, purpose=PURPOSE),
    )
    assert same.status_code == 200, same.text
    omitted = put(
        harness, tenant, bot["id"], governed(agent(description="omitted"), purpose=PURPOSE)
    )
    assert omitted.status_code == 200, omitted.text
    assert {k: omitted.json()[GOV][k] for k in facts} == facts


def test_expires_at_is_bounded_by_now_and_the_hard_cap(
    harness: Harness, tenant: TenantAccess
) -> None:
    """Policies tenure.expiry.*: in the future, within the kind's lifetime and hardExpiresAt."""
    doomed = governed(agent("doomed"))
    cases = [
        ({"expiresAt": days(-1)}, {"tenure.expiry.future"}),
        ({"expiresAt": days(0)}, {"tenure.expiry.future"}),
        # An agent lives at most 90 days from now (tenant setting agentLifetimeDays).
        ({"expiresAt": days(91)}, {"tenure.expiry.max_lifetime"}),
        ({"expiresAt": days(731)}, {"tenure.expiry.max_lifetime", "tenure.expiry.hard_cap"}),
        ({"expiresAt": days(50), "hardExpiresAt": days(40)}, {"tenure.expiry.hard_cap"}),
        # hardExpiresAt itself stays within the tenant's cap (730 days from creation).
        ({"hardExpiresAt": days(731)}, {"tenure.expiry.hard_cap"}),
    ]
    for values, policies in cases:
        response = harness.client.post(
            "/scim/v2/Agents",
            json={**doomed, GOV: values},
            headers=tenant.headers("platform"),
        )
        assert_denied(response, *policies)
    # A service account's lifetime is a year.
    year = harness.client.post(
        "/scim/v2/ServiceAccounts",
        json=governed(service_account("doomed"), expiresAt=days(366)),
        headers=tenant.headers("platform"),
    )
    assert_denied(year, "tenure.expiry.max_lifetime")
    assert found_ids(harness, tenant) == set()
    assert harness.sql("SELECT count(*) FROM resources WHERE name_norm = 'doomed'")[0][0] == 0
    account = register(
        harness,
        tenant,
        governed(service_account("yearly"), expiresAt=days(365)),
        "ServiceAccounts",
    )
    assert account[GOV]["expiresAt"] == days(365)

    bot = register(harness, tenant, agent())
    assert bot[GOV]["expiresAt"] == days(90)
    # Renewals (attested) meet the same bounds.
    too_far = patch(harness, tenant, bot["id"], attested(harness), expires(days(731)))
    assert_denied(too_far, "tenure.expiry.max_lifetime", "tenure.expiry.hard_cap")
    too_long = patch(harness, tenant, bot["id"], attested(harness), expires(days(91)))
    assert_denied(too_long, "tenure.expiry.max_lifetime")
    assert fetch(harness, tenant, "Agents", bot["id"]) == bot

    # Moving the end earlier is a plain update: no attestation, no lifetime check.
    earlier = patch(harness, tenant, bot["id"], expires(days(30)))
    assert earlier.status_code == 200, earlier.text
    assert earlier.json()[GOV]["expiresAt"] == days(30)
    # Expired, it comes back by a renewal and reactivation: ahead, within bounds, attested.
    harness.clock.advance(dt.timedelta(days=31))
    assert fetch(harness, tenant, "Agents", bot["id"])["active"] is False
    still_past = patch(harness, tenant, bot["id"], attested(harness), expires(days(30.5)))
    assert_denied(still_past, "tenure.expiry.future")
    assert fetch(harness, tenant, "Agents", bot["id"])[GOV]["expiresAt"] == days(30)
    assert "lastAttestedAt" not in fetch(harness, tenant, "Agents", bot["id"])[GOV]
    renewed = patch(harness, tenant, bot["id"], attested(harness), expires(days(121)))
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()[GOV]["expiresAt"] == days(121)
    assert renewed.json()["active"] is True


def test_a_backdated_end_does_not_skip_the_teardown_grace(
    harness: Harness, tenant: TenantAccess
) -> None:
    """An end moved into the past is refused, and a deleted identity still gets its full
    teardown grace: nothing makes its teardown come sooner."""
    bot = register(harness, tenant, agent("in-use"))
    assert_denied(patch(harness, tenant, bot["id"], expires(days(-8))), "tenure.expiry.future")
    assert fetch(harness, tenant, "Agents", bot["id"])["id"] == bot["id"]
    assert delete(harness, tenant, bot["id"]).status_code == 204
    sweeper = harness.client.app.state.sweeper
    harness.clock.advance(GRACE - dt.timedelta(minutes=1))
    assert harness.run(sweeper.sweep()) == []
    state = "SELECT lifecycle_state FROM resources WHERE id = :id"
    assert harness.sql(state, id=bot["id"])[0][0] == "suspended"


def test_a_renewal_needs_a_recent_attestation(harness: Harness, tenant: TenantAccess) -> None:
    """Policies tenure.renewal.attested and tenure.attestation.truthful.

    A later expiresAt is a renewal (action ``extend``): the identity after it
    must carry an owner's attestation (``lastAttestedAt``) within the tenant's
    attestation period, 90 days by default. It may come in the same write.
    """
    bot = register(harness, tenant, governed(agent(), expiresAt=days(30)))

    unattested = patch(harness, tenant, bot["id"], expires(days(60)))
    assert_denied(unattested, "tenure.renewal.attested")
    by_put = put(harness, tenant, bot["id"], governed(agent(), purpose=PURPOSE, expiresAt=days(60)))
    assert_denied(by_put, "tenure.renewal.attested")
    assert fetch(harness, tenant, "Agents", bot["id"]) == bot

    renewed = patch(harness, tenant, bot["id"], attested(harness), expires(days(60)))
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()[GOV]["expiresAt"] == days(60)
    assert renewed.json()[GOV]["lastAttestedAt"] == stamp(NOW)

    # The attestation counts for its period: a renewal within it needs no new one.
    harness.clock.advance(dt.timedelta(days=30))
    again = patch(harness, tenant, bot["id"], expires(days(100)))
    assert again.status_code == 200, again.text
    assert again.json()[GOV]["lastAttestedAt"] == stamp(NOW)
    # Past it, a renewal needs a fresh one; shortening never does.
    harness.clock.advance(dt.timedelta(days=61))
    stale = patch(harness, tenant, bot["id"], expires(days(110)))
    assert_denied(stale, "tenure.renewal.attested")
    shortened = patch(harness, tenant, bot["id"], expires(days(95)))
    assert shortened.status_code == 200, shortened.text
    assert shortened.json()[GOV]["expiresAt"] == days(95)

    # A PUT carries its attestation in the body like any other attribute.
    now = harness.clock.now()
    body = governed(agent(), purpose=PURPOSE, expiresAt=days(150), lastAttestedAt=stamp(now))
    replaced = put(harness, tenant, bot["id"], body)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()[GOV]["expiresAt"] == days(150)
    assert replaced.json()[GOV]["lastAttestedAt"] == stamp(now)

    # An attestation dated ahead (beyond five minutes' skew) would last longer than it should.
    ahead = patch(harness, tenant, bot["id"], attested(harness, now + dt.timedelta(hours=1)))
    assert_denied(ahead, "tenure.attestation.truthful")
    assert fetch(harness, tenant, "Agents", bot["id"]) == replaced.json()


# --- lifecycle -----------------------------------------------------------------


def test_active_drives_the_lifecycle(harness: Harness, tenant: TenantAccess) -> None:
    bot = register(harness, tenant, agent())

    suspended = patch(
        harness, tenant, bot["id"], {"op": "replace", "path": "active", "value": False}
    )
    assert suspended.status_code == 200, suspended.text
    body = suspended.json()
    assert body["active"] is False
    assert body[GOV]["lifecycleState"] == "suspended"
    assert body[GOV]["suspendedReason"] == "requested"
    # Since when: the teardown grace counts from here (tenure.teardown.disable_first).
    assert body[GOV]["suspendedAt"] == stamp(NOW)
    assert fetch(harness, tenant, "Agents", bot["id"]) == body
    assert found_ids(harness, tenant, filter="active eq false") == {bot["id"]}
    # suspendedAt is the server's to set.
    forged = patch(
        harness,
        tenant,
        bot["id"],
        {"op": "replace", "path": f"{GOV}:suspendedAt", "value": days(-30)},
    )
    assert_error(forged, 400, "mutability")

    # A PUT that does not mention active leaves the state alone, and when it began.
    harness.clock.advance(dt.timedelta(hours=1))
    kept = put(
        harness,
        tenant,
        bot["id"],
        governed(agent(description="still suspended"), purpose=PURPOSE),
    )
    assert kept.status_code == 200, kept.text
    assert kept.json()["active"] is False
    assert kept.json()[GOV]["lifecycleState"] == "suspended"
    assert kept.json()[GOV]["suspendedAt"] == stamp(NOW)

    resumed = patch(harness, tenant, bot["id"], {"op": "replace", "path": "active", "value": True})
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["active"] is True
    assert resumed.json()[GOV]["lifecycleState"] == "active"
    assert "suspendedReason" not in resumed.json()[GOV]
    assert "suspendedAt" not in resumed.json()[GOV]
    assert found_ids(harness, tenant, filter="active eq true") == {bot["id"]}

    by_put = put(harness, tenant, bot["id"], governed(agent(active=False), purpose=PURPOSE))
    assert by_put.status_code == 200, by_put.text
    assert by_put.json()[GOV]["lifecycleState"] == "suspended"
    assert by_put.json()[GOV]["suspendedAt"] == stamp(harness.clock.now())

    # Registered suspended.
    staged = register(harness, tenant, agent("parked", active=False))
    assert staged["active"] is False
    assert staged[GOV]["lifecycleState"] == "suspended"
    assert staged[GOV]["suspendedReason"] == "requested"
    assert staged[GOV]["suspendedAt"] == stamp(harness.clock.now())


def test_read_only_governance_values_in_writes_are_ignored(
    harness: Harness, tenant: TenantAccess
) -> None:
    owner = create(harness, tenant, "Users", user("owner"))
    headers, token_id = platform_token(
        harness, tenant, owner=owner["id"], purpose="registers", name="registrar"
    )
    forged = {
        "lifecycleState": "deprovisioned",
        "suspendedReason": "forged",
        "suspendedAt": days(-30),
        "registeredBy": "someone-else",
        "complianceIssues": ["expired"],
    }
    created = register(
        harness, tenant, governed(agent(owners=[{"value": owner["id"]}]), **forged), headers=headers
    )
    assert created[GOV]["lifecycleState"] == "active"
    assert created[GOV]["registeredBy"] == token_id
    assert "suspendedReason" not in created[GOV]
    assert "suspendedAt" not in created[GOV]
    assert "complianceIssues" not in created[GOV]

    # PUT of the representation as read, with forged server values: the server keeps its own.
    body = {k: v for k, v in created.items() if k not in ("id", "meta")}
    body["description"] = "changed"
    body[GOV] = {**created[GOV], **forged}
    # (Sent by the token that registered it: only that platform manages it.)
    replaced = put(harness, tenant, created["id"], body, headers=headers)
    assert replaced.status_code == 200, replaced.text
    after = replaced.json()
    assert after["description"] == "changed"
    assert after["active"] is True
    assert after[GOV]["lifecycleState"] == "active"
    assert after[GOV]["registeredBy"] == token_id
    assert "suspendedReason" not in after[GOV]
    assert "suspendedAt" not in after[GOV]
    assert "complianceIssues" not in after[GOV]
    assert after["owners"] == created["owners"]
    assert fetch(harness, tenant, "Agents", created["id"]) == after


def test_expiry_takes_effect_on_read_without_a_sweep(
    harness: Harness, tenant: TenantAccess
) -> None:
    owner = create(harness, tenant, "Users", user("owner"))
    short = register(
        harness,
        tenant,
        governed(agent("short", owners=[{"value": owner["id"]}]), expiresAt=days(1)),
    )
    long = register(
        harness,
        tenant,
        governed(agent("long", owners=[{"value": owner["id"]}]), expiresAt=days(30)),
    )
    assert found_ids(harness, tenant, filter="active eq true") == {short["id"], long["id"]}

    harness.clock.advance(dt.timedelta(days=2))

    expired = fetch(harness, tenant, "Agents", short["id"])
    assert expired["active"] is False
    assert expired[GOV]["lifecycleState"] == "suspended"
    assert "expired" in expired[GOV]["complianceIssues"]
    alive = fetch(harness, tenant, "Agents", long["id"])
    assert alive["active"] is True
    assert "complianceIssues" not in alive[GOV]
    assert found_ids(harness, tenant, filter="active eq true") == {long["id"]}
    assert found_ids(harness, tenant, filter="active eq false") == {short["id"]}
    assert found_ids(harness, tenant, filter="not (active eq true)") == {short["id"]}
    listed = {r["id"]: r for r in listing(harness, tenant)["Resources"]}
    assert listed[short["id"]]["active"] is False
    # No sweep ran: the stored state is unchanged.
    stored = harness.sql("SELECT lifecycle_state FROM resources WHERE id = :id", id=short["id"])
    assert stored[0][0] == "active"

    # Renewal brings it back, on an owner's attestation (tenure.renewal.attested).
    unattested = patch(harness, tenant, short["id"], expires(days(40)))
    assert_denied(unattested, "tenure.renewal.attested")
    assert fetch(harness, tenant, "Agents", short["id"]) == expired
    renewed = patch(harness, tenant, short["id"], attested(harness), expires(days(40)))
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["active"] is True
    assert "complianceIssues" not in renewed.json()[GOV]
    assert found_ids(harness, tenant, filter="active eq true") == {short["id"], long["id"]}


# --- soft delete -----------------------------------------------------------------


def test_delete_is_soft_and_the_name_can_be_reused(harness: Harness, tenant: TenantAccess) -> None:
    bot = register(harness, tenant, agent("retiring"))
    keeper = register(harness, tenant, agent("keeper"))
    team = create(harness, tenant, "Groups", group("Bots", [bot["id"], keeper["id"]]))
    headers = tenant.headers("platform")
    path = f"/scim/v2/Agents/{bot['id']}"

    # Deleted at once (revoked), deprovisioned once the teardown grace has passed.
    deleted = harness.client.delete(path, headers=headers)
    assert deleted.status_code == 204, deleted.text

    assert_error(harness.client.get(path, headers=headers), 404)
    assert_error(put(harness, tenant, bot["id"], agent("retiring")), 404)
    assert_error(
        patch(harness, tenant, bot["id"], {"op": "replace", "path": "description", "value": "x"}),
        404,
    )
    assert_error(harness.client.delete(path, headers=headers), 404)
    assert found_ids(harness, tenant) == {keeper["id"]}
    assert listing(harness, tenant, count="0")["totalResults"] == 1
    assert found_ids(harness, tenant, filter='name eq "retiring"') == set()

    # The tombstone stays in the database; its memberships do not.
    def row() -> list[Any]:
        return harness.sql(
            "SELECT deleted_at, lifecycle_state FROM resources WHERE id = :id", id=bot["id"]
        )

    assert len(row()) == 1
    assert row()[0][0] is not None
    assert row()[0][1] == "suspended"  # restorable within the grace
    harness.clock.advance(GRACE)
    harness.run(harness.client.app.state.sweeper.sweep())
    assert row()[0][1] == "deprovisioned"
    assert (
        harness.sql("SELECT count(*) FROM group_members WHERE member_id = :id", id=bot["id"])[0][0]
        == 0
    )
    members = fetch(harness, tenant, "Groups", team["id"])["members"]
    assert [m["value"] for m in members] == [keeper["id"]]

    reborn = register(harness, tenant, agent("retiring"))
    assert reborn["id"] != bot["id"]
    assert found_ids(harness, tenant, filter='name eq "retiring"') == {reborn["id"]}
    assert listing(harness, tenant, count="0")["totalResults"] == 2

    # Service accounts are soft-deleted too.
    account = register(harness, tenant, service_account(), "ServiceAccounts")
    retire(harness, tenant, account["id"], "ServiceAccounts")
    assert_error(
        harness.client.get(f"/scim/v2/ServiceAccounts/{account['id']}", headers=headers), 404
    )
    assert (
        harness.sql(
            "SELECT count(*) FROM resources WHERE id = :id AND deleted_at IS NOT NULL",
            id=account["id"],
        )[0][0]
        == 1
    )


def test_delete_revokes_at_once_and_the_grace_comes_after(
    harness: Harness, tenant: TenantAccess
) -> None:
    """RFC 7644 §3.6 and policy tenure.teardown.disable_first: a DELETE answers 204 and
    revokes at once (suspended, 404); the teardown waits for the grace (168 hours) from
    the DELETE, whatever the identity's state was."""
    sweeper = harness.client.app.state.sweeper
    state = "SELECT lifecycle_state FROM resources WHERE id = :id"
    bot = register(harness, tenant, agent("retiring"))
    deleted_at = harness.clock.now()
    assert delete(harness, tenant, bot["id"]).status_code == 204
    assert_error(delete(harness, tenant, bot["id"]), 404)
    assert harness.sql(state, id=bot["id"])[0][0] == "suspended"

    # Suspended long before: the grace still counts from the DELETE.
    resting = register(harness, tenant, agent("resting"))
    suspend(harness, tenant, resting["id"])
    harness.clock.advance(GRACE * 2)
    assert delete(harness, tenant, resting["id"]).status_code == 204
    assert {o.resource_id for o in harness.run(sweeper.sweep())} == {bot["id"]}
    assert harness.sql(state, id=bot["id"])[0][0] == "deprovisioned"
    assert harness.sql(state, id=resting["id"])[0][0] == "suspended"
    assert harness.clock.now() >= deleted_at + GRACE

    # A tenant may want no grace at all: deprovisioned by the next sweep.
    admin = tenant.headers("admin")
    settings = harness.client.put("/admin/settings", json={"teardownGraceHours": 0}, headers=admin)
    assert settings.status_code == 200, settings.text
    assert settings.json()["teardownGraceHours"] == 0
    quick = register(harness, tenant, agent("quick"))
    assert delete(harness, tenant, quick["id"]).status_code == 204
    assert quick["id"] in {o.resource_id for o in harness.run(sweeper.sweep()) if o.done}
    assert harness.sql(state, id=quick["id"])[0][0] == "deprovisioned"
    assert found_ids(harness, tenant) == set()

    # Users and Groups without governance are deleted at once.
    plain = create(harness, tenant, "Users", user("plain"))
    gone = harness.client.delete(f"/scim/v2/Users/{plain['id']}", headers=tenant.headers())
    assert gone.status_code == 204, gone.text
    assert harness.sql("SELECT count(*) FROM resources WHERE id = :id", id=plain["id"])[0][0] == 0


# --- filters and sorting -----------------------------------------------------------


def test_filter_and_sort_on_governance_owners_and_sponsors(
    harness: Harness, tenant: TenantAccess
) -> None:
    u1 = create(harness, tenant, "Users", user("u1"))
    u2 = create(harness, tenant, "Users", user("u2"))
    team = create(harness, tenant, "Groups", group("Team"))
    # Created out of expiry order, so that sorting has something to do.
    mid = register(
        harness,
        tenant,
        governed(
            agent("mid", owners=[{"value": u2["id"]}]),
            expiresAt=days(30),
            scopes=["tickets:write"],
            sponsors=[{"value": team["id"]}],
        ),
    )
    late = register(
        harness,
        tenant,
        governed(
            agent("late", owners=[{"value": u1["id"]}, {"value": team["id"]}]),
            expiresAt=days(60),
            scopes=["tickets:read", "deploy"],
        ),
    )
    early = register(
        harness,
        tenant,
        governed(
            agent("early", owners=[{"value": u1["id"]}]),
            expiresAt=days(10),
            scopes=["tickets:read"],
            sponsors=[{"value": u2["id"]}],
        ),
    )

    def ids(text: str) -> set[str]:
        return found_ids(harness, tenant, filter=text)

    assert ids(f'{GOV}:expiresAt lt "{days(30)}"') == {early["id"]}
    assert ids(f'{GOV}:expiresAt le "{days(30)}"') == {early["id"], mid["id"]}
    assert ids(f'{GOV}:expiresAt gt "{days(30)}"') == {late["id"]}
    assert ids(f"{GOV}:expiresAt pr") == {early["id"], mid["id"], late["id"]}
    assert ids(f'owners.value eq "{u1["id"]}"') == {early["id"], late["id"]}
    assert ids(f'owners.value eq "{u2["id"]}"') == {mid["id"]}
    assert ids('owners.type eq "Group"') == {late["id"]}
    assert ids(f'not (owners.value eq "{u1["id"]}")') == {mid["id"]}
    assert ids(f'{GOV}:scopes eq "tickets:read"') == {early["id"], late["id"]}
    assert ids(f'{GOV}:scopes eq "TICKETS:READ"') == set()  # scopes are caseExact
    assert ids(f'{GOV}:sponsors.value eq "{u2["id"]}"') == {early["id"]}
    assert ids(f'{GOV}:sponsors.value eq "{team["id"]}"') == {mid["id"]}
    assert ids(f'owners.value eq "{u1["id"]}" and {GOV}:expiresAt gt "{days(20)}"') == {late["id"]}

    ascending = listing(harness, tenant, sortBy=f"{GOV}:expiresAt")
    assert [r["name"] for r in ascending["Resources"]] == ["early", "mid", "late"]
    descending = listing(harness, tenant, sortBy=f"{GOV}:expiresAt", sortOrder="descending")
    assert [r["name"] for r in descending["Resources"]] == ["late", "mid", "early"]
    filtered = listing(
        harness, tenant, filter=f'{GOV}:scopes eq "tickets:read"', sortBy=f"{GOV}:expiresAt"
    )
    assert [r["name"] for r in filtered["Resources"]] == ["early", "late"]


def test_value_path_filters_on_owners_and_sponsors(harness: Harness, tenant: TenantAccess) -> None:
    """``owners[value eq x]`` means what ``owners.value eq x`` means (RFC 7644 §3.4.2.2)."""
    u1 = create(harness, tenant, "Users", user("u1"))
    u2 = create(harness, tenant, "Users", user("u2"))
    first = register(
        harness,
        tenant,
        governed(agent("first", owners=[{"value": u1["id"]}]), sponsors=[{"value": u2["id"]}]),
    )
    register(harness, tenant, agent("second", owners=[{"value": u2["id"]}]))

    assert found_ids(harness, tenant, filter=f'owners.value eq "{u1["id"]}"') == {first["id"]}
    assert found_ids(harness, tenant, filter=f'owners[value eq "{u1["id"]}"]') == {first["id"]}
    assert found_ids(harness, tenant, filter=f'{GOV}:sponsors[value eq "{u2["id"]}"]') == {
        first["id"]
    }


# --- group membership ----------------------------------------------------------------


def test_groups_hold_agents_and_service_accounts(harness: Harness, tenant: TenantAccess) -> None:
    alice = create(harness, tenant, "Users", user("alice"))
    bot = register(harness, tenant, agent("bot", displayName="The Bot"))
    account = register(harness, tenant, service_account("sync"), "ServiceAccounts")

    team = create(
        harness, tenant, "Groups", group("Automation", [bot["id"], account["id"], alice["id"]])
    )
    assert by_value(team["members"]) == by_value(
        [
            {
                "value": bot["id"],
                "$ref": f"{BASE}/Agents/{bot['id']}",
                "type": "Agent",
                "display": "The Bot",
            },
            {
                "value": account["id"],
                "$ref": f"{BASE}/ServiceAccounts/{account['id']}",
                "type": "ServiceAccount",
                "display": "sync",
            },
            {
                "value": alice["id"],
                "$ref": f"{BASE}/Users/{alice['id']}",
                "type": "User",
                "display": "alice",
            },
        ]
    )
    fetched = harness.client.get(f"/scim/v2/Groups/{team['id']}", headers=tenant.headers()).json()
    assert by_value(fetched["members"]) == by_value(team["members"])
    agents_in_groups = harness.client.get(
        "/scim/v2/Groups", params={"filter": 'members.type eq "Agent"'}, headers=tenant.headers()
    )
    assert {r["id"] for r in agents_in_groups.json()["Resources"]} == {team["id"]}

    # Added by PATCH as well, and removed by value filter.
    other = create(harness, tenant, "Groups", group("Other"))
    added = harness.client.patch(
        f"/scim/v2/Groups/{other['id']}",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": bot["id"]}]}],
        },
        headers=tenant.headers(),
    )
    assert added.status_code == 200, added.text
    assert [(m["value"], m["type"]) for m in added.json()["members"]] == [(bot["id"], "Agent")]
    removed = harness.client.patch(
        f"/scim/v2/Groups/{team['id']}",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "remove", "path": f'members[value eq "{bot["id"]}"]'}],
        },
        headers=tenant.headers(),
    )
    assert removed.status_code == 200, removed.text
    assert {m["value"] for m in removed.json()["members"]} == {account["id"], alice["id"]}


def test_an_agent_shows_its_groups(harness: Harness, tenant: TenantAccess) -> None:
    bot = register(harness, tenant, agent("bot"))
    account = register(harness, tenant, service_account("sync"), "ServiceAccounts")
    team = create(harness, tenant, "Groups", group("Automation", [bot["id"], account["id"]]))
    outer = create(harness, tenant, "Groups", group("Everyone", [team["id"]]))
    expected = by_value(
        [
            {
                "value": team["id"],
                "$ref": f"{BASE}/Groups/{team['id']}",
                "type": "direct",
                "display": "Automation",
            },
            {
                "value": outer["id"],
                "$ref": f"{BASE}/Groups/{outer['id']}",
                "type": "indirect",
                "display": "Everyone",
            },
        ]
    )

    # A write's response shows them ...
    written = patch(
        harness, tenant, bot["id"], {"op": "replace", "path": "description", "value": "x"}
    )
    assert written.status_code == 200, written.text
    assert by_value(written.json().get("groups", [])) == expected
    # ... and so must a read, of one and of a list.
    assert by_value(fetch(harness, tenant, "Agents", bot["id"]).get("groups", [])) == expected
    assert (
        by_value(fetch(harness, tenant, "ServiceAccounts", account["id"]).get("groups", []))
        == expected
    )
    listed = {r["id"]: r for r in listing(harness, tenant)["Resources"]}
    assert by_value(listed[bot["id"]].get("groups", [])) == expected


def test_agents_can_be_filtered_by_group(harness: Harness, tenant: TenantAccess) -> None:
    bot = register(harness, tenant, agent("bot"))
    register(harness, tenant, agent("loner"))
    team = create(harness, tenant, "Groups", group("Automation", [bot["id"]]))
    assert found_ids(harness, tenant, filter=f'groups.value eq "{team["id"]}"') == {bot["id"]}


# --- governed Users ---------------------------------------------------------------------


def _user_patch(
    harness: Harness, tenant: TenantAccess, user_id: str, operation: dict[str, Any]
) -> Any:
    return harness.client.patch(
        f"/scim/v2/Users/{user_id}",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [operation],
        },
        headers=tenant.headers(),
    )


def test_a_user_with_governance_gets_governed_defaults_and_rules(
    harness: Harness, tenant: TenantAccess
) -> None:
    plain = create(harness, tenant, "Users", user("human"))
    assert GOV not in plain
    assert plain["schemas"] == [USER]

    # A governed User needs an accountable owner too: an identity provider's token
    # records one (the User schema has no owners attribute to name it by).
    body = governed(user("ticket-bot"), kind="bot", purpose="triage")
    unowned = harness.client.post("/scim/v2/Users", json=body, headers=tenant.headers())
    assert_denied(unowned, "tenure.accountability.owner")
    assert found_ids(harness, tenant, "Users", filter='userName eq "ticket-bot"') == set()
    olivia = create(harness, tenant, "Users", user("olivia", displayName="Olivia"))
    connector, token_id = issue_token(
        harness, tenant, "idp", owner=olivia["id"], purpose="directory bots", name="hr connector"
    )

    response = harness.client.post("/scim/v2/Users", json=body, headers=connector)
    assert response.status_code == 201, response.text
    bot = response.json()
    assert governance(bot).get("kind") == "bot", bot
    assert bot["schemas"] == [USER, GOV, OWNERS]
    assert bot["active"] is True
    # Users have no core owners (RFC 7643 §4.1): a governed User's are in an extension.
    assert "owners" not in bot
    assert bot[OWNERS]["owners"] == [owner_ref(olivia, "Olivia")]
    assert bot[GOV]["purpose"] == "triage"
    assert bot[GOV]["expiresAt"] == days(90)
    assert bot[GOV]["hardExpiresAt"] == days(730)
    assert bot[GOV]["lifecycleState"] == "active"
    assert bot[GOV]["registeredBy"] == token_id

    # The rules apply: kind is immutable, expiry must be in the future.
    kind = _user_patch(
        harness, tenant, bot["id"], {"op": "replace", "path": f"{GOV}:kind", "value": "agent"}
    )
    assert_error(kind, 400, "mutability")
    past = harness.client.post(
        "/scim/v2/Users",
        json=governed(user("late-bot"), kind="bot", expiresAt=days(-1)),
        headers=connector,
    )
    assert_denied(past, "tenure.expiry.future")
    assert found_ids(harness, tenant, "Users", filter='userName eq "late-bot"') == set()

    suspended = _user_patch(
        harness, tenant, bot["id"], {"op": "replace", "path": "active", "value": False}
    )
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["active"] is False
    assert suspended.json()[GOV]["lifecycleState"] == "suspended"
    assert suspended.json()[GOV]["suspendedReason"] == "requested"
    assert suspended.json()[GOV]["suspendedAt"] == stamp(NOW)
    resumed = _user_patch(
        harness, tenant, bot["id"], {"op": "replace", "path": "active", "value": True}
    )
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()[GOV]["lifecycleState"] == "active"
    # A governed User's DELETE is soft as well: revoked at once, deprovisioned after the grace.
    kept = harness.client.get(f"/scim/v2/Users/{bot['id']}", headers=tenant.headers()).json()
    removed = harness.client.delete(f"/scim/v2/Users/{bot['id']}", headers=tenant.headers())
    assert removed.status_code == 204, removed.text
    assert_error(harness.client.get(f"/scim/v2/Users/{bot['id']}", headers=tenant.headers()), 404)
    restored = harness.client.post(
        f"/admin/identities/{bot['id']}/restore", headers=tenant.headers("admin")
    )
    assert restored.status_code == 200, restored.text
    assert restored.json()[GOV]["lifecycleState"] == "active"
    assert restored.json()[OWNERS] == kept[OWNERS]

    harness.clock.advance(dt.timedelta(days=91))
    expired = harness.client.get(f"/scim/v2/Users/{bot['id']}", headers=tenant.headers()).json()
    assert expired["active"] is False
    assert expired[GOV]["lifecycleState"] == "suspended"
    assert "expired" in expired[GOV]["complianceIssues"]
    human = harness.client.get(f"/scim/v2/Users/{plain['id']}", headers=tenant.headers()).json()
    assert human["active"] is True


def test_a_governed_users_active_filter_follows_its_state(
    harness: Harness, tenant: TenantAccess
) -> None:
    plain = create(harness, tenant, "Users", user("human"))
    owner = create(harness, tenant, "Users", user("owner"))
    connector, _ = issue_token(harness, tenant, "idp", owner=owner["id"], purpose="triage")
    response = harness.client.post(
        "/scim/v2/Users", json=governed(user("ticket-bot"), kind="bot"), headers=connector
    )
    assert response.status_code == 201, response.text
    bot = response.json()
    assert governance(bot).get("lifecycleState") == "active", bot
    # Every other User is a person, active by default (the token's accountable owner too).
    humans = found_ids(harness, tenant, "Users") - {bot["id"]}
    assert {plain["id"], owner["id"]} <= humans
    assert found_ids(harness, tenant, "Users", filter="active eq true") == humans | {bot["id"]}

    suspended = _user_patch(
        harness, tenant, bot["id"], {"op": "replace", "path": "active", "value": False}
    )
    assert suspended.status_code == 200, suspended.text
    assert found_ids(harness, tenant, "Users", filter="active eq false") == {bot["id"]}
    assert found_ids(harness, tenant, "Users", filter="active eq true") == humans


def test_effective_state_and_compliance_issues_are_filterable(
    harness: Harness, tenant: TenantAccess
) -> None:
    # An auditor asks "which identities have no active owner / are expired" without a sweep.
    leaver = create(harness, tenant, "Users", user("leaver@example.com"))
    keeper = create(harness, tenant, "Users", user("keeper@example.com"))
    orphan = register(
        harness,
        tenant,
        governed(agent("orphan-bot", owners=[{"value": leaver["id"]}]), expiresAt=days(30)),
    )
    soon = register(
        harness,
        tenant,
        governed(agent("soon-bot", owners=[{"value": keeper["id"]}]), expiresAt=days(2)),
    )
    later = register(
        harness,
        tenant,
        governed(agent("later-bot", owners=[{"value": keeper["id"]}]), expiresAt=days(60)),
    )
    issues, state = f"{GOV}:complianceIssues", f"{GOV}:lifecycleState"
    assert found_ids(harness, tenant, filter=f'{issues} eq "no_active_owner"') == set()
    assert (
        harness.client.delete(
            f"/scim/v2/Users/{leaver['id']}", headers=tenant.headers()
        ).status_code
        == 204
    )
    assert found_ids(harness, tenant, filter=f'{issues} eq "no_active_owner"') == {orphan["id"]}
    assert found_ids(harness, tenant, filter=f'{state} eq "active"') == {
        orphan["id"],
        soon["id"],
        later["id"],
    }

    harness.clock.advance(dt.timedelta(days=3))
    assert found_ids(harness, tenant, filter=f'{issues} eq "expired"') == {soon["id"]}
    assert found_ids(harness, tenant, filter=f'{state} eq "suspended"') == {soon["id"]}
    assert found_ids(harness, tenant, filter=f'{state} eq "active"') == {orphan["id"], later["id"]}
    assert found_ids(harness, tenant, filter=f"{issues} pr") == {orphan["id"], soon["id"]}
    assert found_ids(harness, tenant, filter=f"not ({issues} pr)") == {later["id"]}
    # What the listing says agrees with what each resource says.
    for resource in listing(harness, tenant)["Resources"]:
        shown = set(governance(resource).get("complianceIssues", []))
        assert ("expired" in shown) == (resource["id"] == soon["id"])
        assert ("no_active_owner" in shown) == (resource["id"] == orphan["id"])
    response = harness.client.get(
        "/scim/v2/Agents",
        params={"filter": f'{issues} co "owner"'},
        headers=tenant.headers("platform"),
    )
    assert response.status_code == 400 and response.json()["scimType"] == "invalidFilter"


def test_tenant_settings_set_the_defaults_of_what_is_registered(
    harness: Harness, tenant: TenantAccess
) -> None:
    admin = tenant.headers("admin")
    shown = harness.client.get("/admin/settings", headers=admin).json()
    assert shown == {
        "agentLifetimeDays": 90,
        "serviceAccountLifetimeDays": 365,
        "hardCapDays": 730,
        "delegationMaxDepth": 3,
        "attestationDays": 90,
        "teardownGraceHours": 168,
        "orphanGraceHours": 72,
        "orphanHandover": True,
        "blastRadiusPercent": 20,
        "attestationGraceHours": 168,
        "warningDays": [14, 3, 1],
        "alertEmails": [],
        "auditRetentionDays": None,
        "identityProvider": "generic",
        "agentUsers": None,
        "agentExtension": False,
        "delegationAcrossEnvironments": False,
    }
    for bad in (
        {"warningDays": [0]},
        {"warningDays": [400]},
        {"alertEmails": ["not an address"]},
        {"attestationGraceHours": -1},
    ):
        refused = harness.client.put("/admin/settings", json=bad, headers=admin)
        assert_error(refused, 400, "invalidValue")
    assert harness.client.get("/admin/settings", headers=admin).json() == shown
    changed = harness.client.put(
        "/admin/settings",
        json={
            "agentLifetimeDays": 7,
            "hardCapDays": 30,
            "delegationMaxDepth": 2,
            "teardownGraceHours": 0,
            "orphanGraceHours": 24,
            "warningDays": [1, 7, 7],
            "alertEmails": ["secops@example.com"],
        },
        headers=admin,
    )
    assert changed.status_code == 200
    assert changed.json() == {
        "agentLifetimeDays": 7,
        "serviceAccountLifetimeDays": 365,
        "hardCapDays": 30,
        "delegationMaxDepth": 2,
        "attestationDays": 90,
        "teardownGraceHours": 0,
        "orphanGraceHours": 24,
        "orphanHandover": True,
        "blastRadiusPercent": 20,
        "attestationGraceHours": 168,
        "warningDays": [7, 1],
        "alertEmails": ["secops@example.com"],
        "auditRetentionDays": None,
        "identityProvider": "generic",
        "agentUsers": None,
        "agentExtension": False,
        "delegationAcrossEnvironments": False,
    }
    assert harness.client.get("/admin/settings", headers=admin).json() == changed.json()
    created = register(harness, tenant, agent("short-lived"))
    assert governance(created)["expiresAt"] == days(7)
    assert governance(created)["hardExpiresAt"] == days(30)
    # The default lifetime is also the longest allowed (tenure.expiry.max_lifetime).
    longer = harness.client.post(
        "/scim/v2/Agents",
        json=governed(agent("longer"), expiresAt=days(8)),
        headers=tenant.headers("platform"),
    )
    assert_denied(longer, "tenure.expiry.max_lifetime")
    # The service account default (365 days) is capped by the tenant's hardExpiresAt.
    account = register(harness, tenant, service_account("capped"), endpoint="ServiceAccounts")
    assert governance(account)["expiresAt"] == days(30)
    child = register(harness, tenant, {**agent("child"), "parent": {"value": created["id"]}})
    grandchild = harness.client.post(
        "/scim/v2/Agents",
        json={**agent("grandchild"), "parent": {"value": child["id"]}},
        headers=tenant.headers("platform"),
    )
    assert_denied(grandchild, "tenure.delegation.depth")
    assert found_ids(harness, tenant, filter='name eq "grandchild"') == set()
    # Another tenant keeps the server's defaults.
    other = harness.tenant()
    elsewhere = harness.client.post(
        "/scim/v2/Agents", json=agent("default"), headers=other.headers("platform")
    ).json()
    assert governance(elsewhere)["expiresAt"] == days(90)


def test_tenant_settings_are_validated_and_admin_only(
    harness: Harness, tenant: TenantAccess
) -> None:
    for body in (
        {"agentLifetimeDays": 0},
        {"delegationMaxDepth": 99},
        {"attestationDays": 0},
        {"teardownGraceHours": -1},
        {"nope": 1},
    ):
        response = harness.client.put("/admin/settings", json=body, headers=tenant.headers("admin"))
        assert_error(response, 400, "invalidValue")
    for roles in ("idp", "platform", "auditor"):
        assert_error(harness.client.get("/admin/settings", headers=tenant.headers(roles)), 403)
    assert (
        harness.client.get("/admin/settings", headers=tenant.headers("admin")).json()[
            "agentLifetimeDays"
        ]
        == 90
    )
