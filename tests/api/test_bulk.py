"""/Bulk (RFC 7644 §3.7) over HTTP."""

from __future__ import annotations

from typing import Any

from tests.conftest import Harness, TenantAccess, create
from tests.samples import assert_error, user

BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def bulk(harness: Harness, tenant: TenantAccess, *operations: dict[str, Any], **extra: Any) -> Any:
    body = {"schemas": [BULK], "Operations": list(operations), **extra}
    response = harness.client.post("/scim/v2/Bulk", json=body, headers=tenant.headers())
    return response


def _total(harness: Harness, tenant: TenantAccess, endpoint: str) -> int:
    listed = harness.client.get(f"/scim/v2/{endpoint}?count=0", headers=tenant.headers())
    return int(listed.json()["totalResults"])


def test_operations_run_in_order_with_bulk_id_references(
    harness: Harness, tenant: TenantAccess
) -> None:
    response = bulk(
        harness,
        tenant,
        {"method": "POST", "path": "/Users", "bulkId": "alice", "data": user("alice")},
        {
            "method": "POST",
            "path": "/Groups",
            "bulkId": "team",
            "data": {"displayName": "Team", "members": [{"value": "bulkId:alice"}]},
        },
        {
            "method": "PATCH",
            "path": "/Users/bulkId:alice",
            "data": {
                "schemas": [PATCH_OP],
                "Operations": [{"op": "replace", "path": "title", "value": "Lead"}],
            },
        },
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/scim+json")
    body = response.json()
    assert body["schemas"] == [BULK_RESPONSE]
    results = body["Operations"]
    assert [r["status"] for r in results] == ["201", "201", "200"]
    assert [r.get("bulkId") for r in results] == ["alice", "team", None]
    alice_url = results[0]["location"]
    assert alice_url.startswith("http://testserver.local/scim/v2/Users/")
    assert results[2]["location"] == alice_url
    assert results[2]["version"] == 'W/"2"'
    alice_id = alice_url.rsplit("/", 1)[1]
    group = harness.client.get(
        results[1]["location"].replace("http://testserver.local", ""), headers=tenant.headers()
    ).json()
    assert [m["value"] for m in group["members"]] == [alice_id]
    fetched = harness.client.get(f"/scim/v2/Users/{alice_id}", headers=tenant.headers()).json()
    assert fetched["title"] == "Lead"
    assert [g["display"] for g in fetched["groups"]] == ["Team"]


def test_forward_references_wait_for_the_post_that_defines_them(
    harness: Harness, tenant: TenantAccess
) -> None:
    response = bulk(
        harness,
        tenant,
        {
            "method": "POST",
            "path": "/Groups",
            "bulkId": "g",
            "data": {"displayName": "Early", "members": [{"value": "bulkId:u"}]},
        },
        {"method": "POST", "path": "/Users", "bulkId": "u", "data": user("late")},
    )
    results = response.json()["Operations"]
    assert [r["status"] for r in results] == ["201", "201"]
    group_id = results[0]["location"].rsplit("/", 1)[1]
    user_id = results[1]["location"].rsplit("/", 1)[1]
    group = harness.client.get(f"/scim/v2/Groups/{group_id}", headers=tenant.headers()).json()
    assert [m["value"] for m in group["members"]] == [user_id]


def test_circular_references_fail_with_409_and_write_nothing(
    harness: Harness, tenant: TenantAccess
) -> None:
    response = bulk(
        harness,
        tenant,
        {
            "method": "POST",
            "path": "/Groups",
            "bulkId": "a",
            "data": {"displayName": "A", "members": [{"value": "bulkId:b"}]},
        },
        {
            "method": "POST",
            "path": "/Groups",
            "bulkId": "b",
            "data": {"displayName": "B", "members": [{"value": "bulkId:a"}]},
        },
        {"method": "POST", "path": "/Users", "bulkId": "c", "data": user("independent")},
    )
    results = response.json()["Operations"]
    assert [r["status"] for r in results] == ["409", "409", "201"]
    for result in results[:2]:
        assert "circular" in result["response"]["detail"]
        assert result["response"]["status"] == "409"
    assert _total(harness, tenant, "Groups") == 0
    assert _total(harness, tenant, "Users") == 1


def test_each_failure_is_reported_and_the_rest_still_run(
    harness: Harness, tenant: TenantAccess
) -> None:
    existing = create(harness, tenant, "Users", user("taken"))
    response = bulk(
        harness,
        tenant,
        {"method": "POST", "path": "/Users", "bulkId": "dup", "data": user("TAKEN")},
        {"method": "DELETE", "path": "/Users/00000000-0000-0000-0000-000000000000"},
        {"method": "PUT", "path": f"/Users/{existing['id']}", "version": 'W/"9"', "data": user("taken")},
        {"method": "GET", "path": "/Users"},
        {"method": "POST", "path": "/Widgets", "bulkId": "w", "data": {}},
        {"method": "POST", "path": "/Users", "data": user("no-bulk-id")},
        {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"displayName": "G", "members": [{"value": "bulkId:dup"}]}},
        {"method": "POST", "path": "/Groups", "bulkId": "h", "data": {"displayName": "H", "members": [{"value": "bulkId:never"}]}},
        {"method": "PUT", "path": f"/Users/{existing['id']}", "data": user("taken", title="ok")},
    )  # fmt: skip
    results = response.json()["Operations"]
    statuses = [r["status"] for r in results]
    assert statuses == ["409", "404", "412", "400", "400", "400", "400", "400", "200"]
    assert results[0]["response"]["scimType"] == "uniqueness"
    assert "failed" in results[6]["response"]["detail"]
    assert "never" in results[7]["response"]["detail"]
    assert _total(harness, tenant, "Groups") == 0
    after = harness.client.get(f"/scim/v2/Users/{existing['id']}", headers=tenant.headers())
    assert after.json()["title"] == "ok"


def test_fail_on_errors_stops_after_that_many_errors(
    harness: Harness, tenant: TenantAccess
) -> None:
    response = bulk(
        harness,
        tenant,
        {"method": "POST", "path": "/Users", "bulkId": "1", "data": {"title": "no userName"}},
        {"method": "POST", "path": "/Users", "bulkId": "2", "data": user("two")},
        {"method": "POST", "path": "/Users", "bulkId": "3", "data": {"title": "no userName"}},
        {"method": "POST", "path": "/Users", "bulkId": "4", "data": user("four")},
        failOnErrors=2,
    )
    results = response.json()["Operations"]
    assert [r["status"] for r in results] == ["400", "201", "400"]
    assert _total(harness, tenant, "Users") == 1


def test_limits_are_advertised_and_enforced(harness: Harness, tenant: TenantAccess) -> None:
    spc = harness.client.get("/scim/v2/ServiceProviderConfig", headers=tenant.headers()).json()
    limit = spc["bulk"]["maxOperations"]
    too_many = [
        {"method": "POST", "path": "/Users", "bulkId": str(i), "data": user(f"u{i}")}
        for i in range(limit + 1)
    ]
    assert_error(bulk(harness, tenant, *too_many), 413)
    big = user("big", title="x" * spc["bulk"]["maxPayloadSize"])
    assert_error(
        bulk(harness, tenant, {"method": "POST", "path": "/Users", "bulkId": "b", "data": big}),
        413,
    )
    assert _total(harness, tenant, "Users") == 0


def test_malformed_requests_and_roles(harness: Harness, tenant: TenantAccess) -> None:
    for body in ({"schemas": [BULK]}, {"Operations": "nope"}):
        response = harness.client.post("/scim/v2/Bulk", json=body, headers=tenant.headers())
        assert_error(response, 400, "invalidSyntax")
    response = bulk(harness, tenant, failOnErrors=0)
    assert_error(response, 400, "invalidValue")
    # No role check comes before the body: a malformed request is a 400 from anyone.
    malformed = harness.client.post(
        "/scim/v2/Bulk", json={"Operations": "nope"}, headers=tenant.headers("auditor")
    )
    assert_error(malformed, 400, "invalidSyntax")

    # An auditor's operations are each refused by policy (tenure.roles.auditor).
    existing = create(harness, tenant, "Users", user("existing"))
    auditor = harness.client.post(
        "/scim/v2/Bulk",
        json={
            "schemas": [BULK],
            "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "x", "data": user()},
                {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"displayName": "G"}},
                {
                    "method": "PATCH",
                    "path": f"/Users/{existing['id']}",
                    "data": {
                        "schemas": [PATCH_OP],
                        "Operations": [{"op": "replace", "path": "title", "value": "Boss"}],
                    },
                },
                {"method": "DELETE", "path": f"/Users/{existing['id']}"},
            ],
        },
        headers=tenant.headers("auditor"),
    )
    assert auditor.status_code == 200, auditor.text
    assert auditor.json()["schemas"] == [BULK_RESPONSE]
    results = auditor.json()["Operations"]
    assert [r["status"] for r in results] == ["403", "403", "403", "403"]
    assert [r["method"] for r in results] == ["POST", "POST", "PATCH", "DELETE"]
    for result in results:
        error = result["response"]
        assert error["status"] == "403"
        assert "scimType" not in error
        assert error["detail"].startswith("denied by tenure.roles.auditor ("), error
    assert _total(harness, tenant, "Users") == 1
    assert _total(harness, tenant, "Groups") == 0
    after = harness.client.get(f"/scim/v2/Users/{existing['id']}", headers=tenant.headers())
    assert after.json() == existing
