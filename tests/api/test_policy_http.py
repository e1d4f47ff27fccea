"""Cedar decides every change made over HTTP: a deny is a 403 naming the policy, and writes nothing."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import msgspec
from litestar.testing import TestClient

from app.config import Settings, data_dir
from app.domain.clock import FixedClock
from app.main import create_app
from tests.conftest import Harness, TenantAccess, create
from tests.samples import assert_error, group, user


def test_writes_no_policy_permits_are_403_and_write_nothing(
    harness: Harness, tenant: TenantAccess
) -> None:
    denied = harness.client.post("/scim/v2/Users", json=user(), headers=tenant.headers("auditor"))
    assert assert_error(denied, 403)["detail"] == "no policy permits this change"
    denied = harness.client.post(
        "/scim/v2/Agents", json={"name": "bot"}, headers=tenant.headers("idp")
    )
    assert assert_error(denied, 403)["detail"] == "no policy permits this change"
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
        listed = harness.client.get(f"/scim/v2/{endpoint}", headers=tenant.headers("admin")).json()
        assert listed["totalResults"] == 0


def test_an_operator_policy_is_enforced_on_every_path(
    settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(data_dir("policies"), policies)
    (policies / "local.cedar").write_text(
        """
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
            denied = client.delete(url, headers=tenant.headers(roles))
            assert assert_error(denied, 403)["detail"] == (
                "denied by local.keep-groups "
                "(groups are retired by the HR system, never deleted by a client)"
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
