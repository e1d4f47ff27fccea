"""Racing membership PATCHes over real HTTP: no member is lost or resurrected.

Each PATCH turns its ``members`` operations into set-based inserts and deletes
under the group's row lock (app.provisioning.members); concurrent PATCHes
without If-Match must all succeed and compose.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.conftest import Harness, TenantAccess
from tests.samples import group

RACERS = 8
EACH = 25
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _seed_users(harness: Harness, tenant: TenantAccess, count: int) -> list[str]:
    return harness.seed_users(tenant, count, prefix="racer")


def _members(server: str, auth: dict[str, str], group_id: str) -> list[str]:
    response = httpx.get(f"{server}/scim/v2/Groups/{group_id}", headers=auth, timeout=60)
    assert response.status_code == 200, response.text
    return [m["value"] for m in response.json().get("members", [])]


def _stored(harness: Harness, group_id: str) -> list[str]:
    rows = harness.sql("SELECT member_id FROM group_members WHERE group_id = :g", g=group_id)
    return [row[0] for row in rows]


def _run(jobs: list[Any]) -> list[httpx.Response]:
    with ThreadPoolExecutor(len(jobs)) as pool:
        return list(pool.map(lambda job: job(), jobs))


def test_racing_member_adds_lose_nobody(server: str, harness: Harness) -> None:
    tenant = harness.tenant()
    auth = tenant.headers()
    ids = _seed_users(harness, tenant, RACERS * EACH)
    created = httpx.post(f"{server}/scim/v2/Groups", json=group("Racers"), headers=auth)
    assert created.status_code == 201, created.text
    url = f"{server}/scim/v2/Groups/{created.json()['id']}"

    def adder(batch: list[str]) -> Any:
        def job() -> httpx.Response:
            body = {
                "schemas": [PATCH_OP],
                "Operations": [
                    {"op": "add", "path": "members", "value": [{"value": i} for i in batch]}
                ],
            }
            return httpx.patch(
                f"{url}?excludedAttributes=members", json=body, headers=auth, timeout=60
            )

        return job

    batches = [ids[i * EACH : (i + 1) * EACH] for i in range(RACERS)]
    responses = _run([adder(batch) for batch in batches])
    assert [r.status_code for r in responses] == [200] * RACERS, [r.text for r in responses]

    members = _members(server, auth, created.json()["id"])
    assert len(members) == RACERS * EACH
    assert set(members) == set(ids)
    assert sorted(_stored(harness, created.json()["id"])) == sorted(ids)
    # Every PATCH changed the group: each one is a new version.
    final = httpx.get(url, headers=auth).json()
    assert final["meta"]["version"] == f'W/"{1 + RACERS}"'


def test_racing_adds_and_removes_of_disjoint_members_compose(server: str, harness: Harness) -> None:
    tenant = harness.tenant()
    auth = tenant.headers()
    half = RACERS // 2
    ids = _seed_users(harness, tenant, EACH * RACERS + EACH)
    kept = ids[:EACH]  # members nobody touches
    leaving = ids[EACH : EACH * (half + 1)]  # members the removers take out
    joining = ids[EACH * (half + 1) :]  # users the adders put in
    assert len(leaving) == len(joining) == half * EACH
    created = httpx.post(
        f"{server}/scim/v2/Groups", json=group("Churn", kept + leaving), headers=auth, timeout=60
    )
    assert created.status_code == 201, created.text
    group_id = created.json()["id"]
    url = f"{server}/scim/v2/Groups/{group_id}"

    def patcher(operations: list[dict[str, Any]]) -> Any:
        def job() -> httpx.Response:
            body = {"schemas": [PATCH_OP], "Operations": operations}
            return httpx.patch(url, json=body, headers=auth, timeout=60)

        return job

    jobs = []
    for n in range(half):
        out = leaving[n * EACH : (n + 1) * EACH]
        into = joining[n * EACH : (n + 1) * EACH]
        if n % 2:
            # Entra/Okta style: remove with a value array.
            removal = [{"op": "remove", "path": "members", "value": [{"value": i} for i in out]}]
        else:
            # RFC style: one filter per member.
            removal = [{"op": "remove", "path": f'members[value eq "{i}"]'} for i in out]
        jobs.append(patcher(removal))
        jobs.append(
            patcher([{"op": "add", "path": "members", "value": [{"value": i} for i in into]}])
        )
    responses = _run(jobs)
    assert [r.status_code for r in responses] == [200] * len(jobs), [r.text for r in responses]

    expected = set(kept) | set(joining)
    members = _members(server, auth, group_id)
    assert len(members) == len(expected)
    assert set(members) == expected
    assert set(_stored(harness, group_id)) == expected
    final = httpx.get(url, headers=auth).json()
    assert final["meta"]["version"] == f'W/"{1 + len(jobs)}"'
