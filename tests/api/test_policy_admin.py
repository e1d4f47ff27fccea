"""``/admin/policies``: the effective set, per-tenant policies, reload and dry run, over HTTP."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import msgspec
from litestar.testing import TestClient

from app.config import Settings, data_dir
from app.domain.clock import FixedClock
from app.main import create_app
from tests.conftest import Harness, TenantAccess
from tests.samples import ERROR, assert_error

AGENT = "urn:ietf:params:scim:schemas:core:2.0:Agent"
GOV = "urn:tenure:params:scim:schemas:extension:nhi:1.0:Governance"
NO_PROD = """
// Closes: production agents before the rollout is approved.
@id("acme.no-prod")
@reason("no production agents until the rollout is approved")
forbid (principal, action == Tenure::Action::"create", resource)
when { resource has environment && resource.environment == "prod" };
"""


def prod_agent(name: str = "deployer") -> dict[str, Any]:
    return {"schemas": [AGENT, GOV], "name": name, GOV: {"environment": "prod"}}


def policies(harness: Harness, tenant: TenantAccess) -> list[dict[str, Any]]:
    listed = harness.client.get("/admin/policies", headers=tenant.headers("admin"))
    assert listed.status_code == 200, listed.text
    return listed.json()["items"]  # type: ignore[no-any-return]


def test_the_effective_set_lists_every_default_with_its_id_and_reason(
    harness: Harness, tenant: TenantAccess
) -> None:
    items = policies(harness, tenant)
    ids = [p["id"] for p in items]
    assert "tenure.accountability.owner" in ids and "tenure.tenant.isolation" in ids
    assert len(ids) == len(set(ids)) >= 20
    owner = next(p for p in items if p["id"] == "tenure.accountability.owner")
    assert owner["effect"] == "forbid" and owner["origin"] == "default"
    assert owner["reason"] == "a governed identity keeps at least one active owner"
    assert '@id("tenure.accountability.owner")' in owner["text"]
    for roles in ("idp", "platform", "auditor"):
        assert_error(harness.client.get("/admin/policies", headers=tenant.headers(roles)), 403)
    assert_error(harness.client.get("/admin/policies", headers=harness.operator), 403)


def test_a_tenant_policy_is_validated_enforced_for_its_tenant_only_and_removable(
    harness: Harness, tenant: TenantAccess
) -> None:
    admin = tenant.headers("admin")
    added = harness.client.post("/admin/policies", json={"policy": NO_PROD}, headers=admin)
    assert added.status_code == 201, added.text
    assert [p["id"] for p in added.json()["items"]] == ["acme.no-prod"]
    mine = next(p for p in policies(harness, tenant) if p["id"] == "acme.no-prod")
    assert mine["origin"] == "tenant" and mine["effect"] == "forbid"

    refused = harness.client.post(
        "/scim/v2/Agents", json=prod_agent(), headers=tenant.headers("platform")
    )
    assert assert_error(refused, 403)["detail"] == (
        "denied by acme.no-prod (no production agents until the rollout is approved)"
    )
    other = harness.tenant()
    created = harness.client.post(
        "/scim/v2/Agents", json=prod_agent(), headers=other.headers("platform")
    )
    assert created.status_code == 201, created.text
    assert "acme.no-prod" not in [p["id"] for p in policies(harness, other)]

    assert harness.client.delete("/admin/policies/acme.no-prod", headers=admin).status_code == 204
    assert_error(harness.client.delete("/admin/policies/acme.no-prod", headers=admin), 404)
    assert_error(harness.client.delete("/admin/policies/tenure.roles.admin", headers=admin), 404)
    allowed = harness.client.post(
        "/scim/v2/Agents", json=prod_agent(), headers=tenant.headers("platform")
    )
    assert allowed.status_code == 201, allowed.text


def test_invalid_tenant_policies_are_rejected_with_the_validators_message(
    harness: Harness, tenant: TenantAccess
) -> None:
    admin = tenant.headers("admin")
    for body, words in [
        ({"policy": "permit (principal, action, resource) when {"}, "invalid policy"),
        (
            {"policy": '@id("t.x") forbid (principal, action, resource) when { resource.colour };'},
            "colour",
        ),
        ({"policy": "forbid (principal, action, resource);"}, "@id"),
        ({"policy": '@id("tenure.roles.idp") forbid (principal, action, resource);'}, "exists"),
        ({"policy": ""}, "no policy"),
        ({"text": NO_PROD}, "text"),
        ({"policy": 42}, "policy"),
    ]:
        refused = harness.client.post("/admin/policies", json=body, headers=admin)
        detail = assert_error(refused, 400, "invalidValue")["detail"]
        assert words in detail, detail
    assert all(p["origin"] == "default" for p in policies(harness, tenant))
    assert_error(
        harness.client.post(
            "/admin/policies", json={"policy": NO_PROD}, headers=tenant.headers("platform")
        ),
        403,
    )


def test_reload_swaps_in_a_valid_set_and_keeps_the_old_one_otherwise(
    settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    directory = tmp_path / "policies"
    shutil.copytree(data_dir("policies"), directory)
    local = msgspec.structs.replace(settings, policies_dir=str(directory))
    with TestClient(create_app(local, clock=clock)) as client:
        harness = Harness(client, local, clock)
        tenant = harness.tenant()
        count = len(policies(harness, tenant))
        (directory / "freeze.cedar").write_text(NO_PROD.replace("acme.", "ops."))
        reloaded = client.post("/admin/policies/reload", headers=harness.operator)
        assert reloaded.status_code == 200, reloaded.text
        assert reloaded.json() == {"reloaded": True, "policies": count + 1}
        refused = client.post(
            "/scim/v2/Agents", json=prod_agent(), headers=tenant.headers("platform")
        )
        assert "ops.no-prod" in assert_error(refused, 403)["detail"]

        (directory / "broken.cedar").write_text("forbid (principal, action, resource")
        failed = client.post("/admin/policies/reload", headers=tenant.headers("admin"))
        assert "the previous set stays" in assert_error(failed, 400, "invalidValue")["detail"]
        assert len(policies(harness, tenant)) == count + 1
        still = client.post(
            "/scim/v2/Agents", json=prod_agent(), headers=tenant.headers("platform")
        )
        assert "ops.no-prod" in assert_error(still, 403)["detail"]
        assert_error(client.post("/admin/policies/reload", headers=tenant.headers("idp")), 403)


def test_a_dry_run_reports_decisions_and_writes_nothing(
    harness: Harness, tenant: TenantAccess
) -> None:
    admin = tenant.headers("admin")
    platform_id = next(
        t["id"]
        for t in harness.client.get("/admin/tokens", headers=admin).json()["items"]
        if t["roles"] == ["admin"]
    )
    tenant.headers("platform")  # issues the tenant's platform token
    platform = next(
        t["id"]
        for t in harness.client.get("/admin/tokens", headers=admin).json()["items"]
        if t["roles"] == ["platform"]
    )
    assert platform != platform_id

    def evaluate(**body: Any) -> Any:
        return harness.client.post("/admin/policies/evaluate", json=body, headers=admin)

    good = evaluate(method="POST", path="/Agents", data={"schemas": [AGENT], "name": "a"},
                    principal={"token": platform})  # fmt: skip
    assert good.status_code == 200, good.text
    verdict = good.json()
    assert verdict["decision"] == "allow"
    assert verdict["decisions"][0]["actions"] == ["create"]
    assert [p["id"] for p in verdict["decisions"][0]["policies"]] == ["tenure.roles.platform"]

    long_lived = {"schemas": [AGENT, GOV], "name": "b", GOV: {"expiresAt": "2030-01-01T00:00:00Z"}}
    bad = evaluate(method="post", path="/Agents", data=long_lived, principal={"roles": ["idp"]})
    assert bad.status_code == 200
    denial = bad.json()["decisions"][0]
    assert bad.json()["decision"] == "deny" and denial["decision"] == "deny"
    ids = [p["id"] for p in denial["policies"]]
    assert "tenure.expiry.max_lifetime" in ids and "tenure.accountability.owner" in ids
    assert denial["detail"].endswith("; and no policy permits create")
    assert all(p["reason"] for p in denial["policies"])

    listed = harness.client.get("/scim/v2/Agents", headers=admin).json()
    assert listed["totalResults"] == 0  # neither dry run wrote anything

    for body, status in [
        ({"method": "FLY", "path": "/Agents"}, 400),
        ({"method": "POST", "path": "/Nothing"}, 400),
        ({"method": "PATCH", "path": "/Agents"}, 400),
        ({"method": "POST", "path": "/Agents", "data": {"name": "x"}, "principal": {}}, 400),
        ({"method": "POST", "path": "/Agents", "principal": {"roles": ["wizard"]}}, 400),
        ({"method": "DELETE", "path": "/Agents/missing"}, 404),
        ({"method": "POST", "path": "/Agents", "principal": {"token": "nope"}}, 404),
        ({"method": "POST", "path": "/Agents", "data": {"schemas": [AGENT]}}, 400),
    ]:
        response = evaluate(**body)
        assert response.status_code == status, (body, response.text)
        assert response.json()["schemas"] == [ERROR] and response.json()["detail"]
    assert_error(
        harness.client.post(
            "/admin/policies/evaluate",
            json={"method": "POST", "path": "/Agents"},
            headers=tenant.headers("platform"),
        ),
        403,
    )
