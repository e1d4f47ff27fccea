"""SCIM Users over HTTP (RFC 7644 §3.3–3.6), on SQLite and PostgreSQL."""

from __future__ import annotations

import re

from tests.conftest import Harness, TenantAccess
from tests.samples import ENTERPRISE, LIST, USER, assert_error, user


def test_create_returns_the_resource_with_meta_location_and_etag(
    harness: Harness, tenant: TenantAccess
) -> None:
    response = harness.client.post("/scim/v2/Users", json=user(), headers=tenant.headers())
    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/scim+json; charset=utf-8"
    body = response.json()
    assert re.fullmatch(r"[0-9a-f-]{36}", body["id"])
    assert body["schemas"] == [USER]
    assert body["userName"] == "bjensen@example.com"
    assert body["name"] == {"familyName": "Jensen", "givenName": "Barbara"}
    meta = body["meta"]
    assert meta["resourceType"] == "User"
    assert meta["created"] == meta["lastModified"] == "2026-11-28T09:00:00.000Z"
    assert meta["location"] == f"http://testserver.local/scim/v2/Users/{body['id']}"
    assert meta["version"] == 'W/"1"'
    assert response.headers["location"] == meta["location"]
    assert response.headers["etag"] == 'W/"1"'

    again = harness.client.get(f"/scim/v2/Users/{body['id']}", headers=tenant.headers())
    assert again.status_code == 200
    assert again.json() == body


def test_attribute_names_and_schema_urns_are_case_insensitive(
    harness: Harness, tenant: TenantAccess
) -> None:
    body = {
        "SCHEMAS": [USER, ENTERPRISE],
        "UserName": "Alice",
        "NAME": {"GivenName": "Alice"},
        "Emails": [{"Value": "alice@example.com", "Primary": "True"}],
        "Active": "false",
        ENTERPRISE.upper(): {"EmployeeNumber": "42", "Manager": {"Value": "boss-id"}},
    }
    response = harness.client.post("/scim/v2/Users", json=body, headers=tenant.headers())
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["userName"] == "Alice"
    assert created["name"] == {"givenName": "Alice"}
    assert created["emails"] == [{"value": "alice@example.com", "primary": True}]
    assert created["active"] is False
    assert created[ENTERPRISE] == {"employeeNumber": "42", "manager": {"value": "boss-id"}}
    assert created["schemas"] == [USER, ENTERPRISE]


def test_fully_qualified_attribute_names_are_accepted(
    harness: Harness, tenant: TenantAccess
) -> None:
    body = {
        f"{USER}:userName": "qualified",
        f"{ENTERPRISE}:department": "Research",
    }
    response = harness.client.post("/scim/v2/Users", json=body, headers=tenant.headers())
    assert response.status_code == 201, response.text
    assert response.json()["userName"] == "qualified"
    assert response.json()[ENTERPRISE] == {"department": "Research"}


def test_user_name_is_unique_case_insensitively(harness: Harness, tenant: TenantAccess) -> None:
    first = harness.client.post("/scim/v2/Users", json=user("Bob"), headers=tenant.headers())
    assert first.status_code == 201
    clash = harness.client.post("/scim/v2/Users", json=user("bOB"), headers=tenant.headers())
    error = assert_error(clash, 409, "uniqueness")
    assert "bOB" in error["detail"]
    listed = harness.client.get("/scim/v2/Users", headers=tenant.headers()).json()
    assert listed["totalResults"] == 1


def test_same_user_name_in_two_tenants_is_fine(harness: Harness) -> None:
    a, b = harness.tenant(), harness.tenant()
    assert (
        harness.client.post("/scim/v2/Users", json=user("x"), headers=a.headers()).status_code
        == 201
    )
    assert (
        harness.client.post("/scim/v2/Users", json=user("x"), headers=b.headers()).status_code
        == 201
    )


def test_client_ids_and_read_only_attributes_are_ignored(
    harness: Harness, tenant: TenantAccess
) -> None:
    body = user(
        id="my-own-id",
        meta={"created": "2001-01-01T00:00:00Z", "version": 'W/"99"'},
        groups=[{"value": "some-group"}],
    )
    response = harness.client.post("/scim/v2/Users", json=body, headers=tenant.headers())
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["id"] != "my-own-id"
    assert created["meta"]["version"] == 'W/"1"'
    assert created["meta"]["created"] == "2026-11-28T09:00:00.000Z"
    assert "groups" not in created


def test_external_id_is_stored_exactly_as_sent(harness: Harness, tenant: TenantAccess) -> None:
    external = "00uA1b2C3d-ÉXT  id"
    response = harness.client.post(
        "/scim/v2/Users", json=user(externalId=external), headers=tenant.headers()
    )
    assert response.json()["externalId"] == external
    fetched = harness.client.get(
        f"/scim/v2/Users/{response.json()['id']}", headers=tenant.headers()
    ).json()
    assert fetched["externalId"] == external


def test_password_is_accepted_but_never_stored_or_returned(
    harness: Harness, tenant: TenantAccess
) -> None:
    secret = "t1meMa$heen-very-secret"
    created = harness.client.post(
        "/scim/v2/Users", json=user(password=secret), headers=tenant.headers()
    )
    assert created.status_code == 201
    assert "password" not in created.json()
    replaced = harness.client.put(
        f"/scim/v2/Users/{created.json()['id']}",
        json=user(password=secret + "2"),
        headers=tenant.headers(),
    )
    assert replaced.status_code == 200
    assert "password" not in replaced.json()
    rows = harness.sql("SELECT doc FROM resources")
    assert rows and all(secret not in str(row[0]) for row in rows)


def test_unknown_id_is_404(harness: Harness, tenant: TenantAccess) -> None:
    for method in ("get", "put", "delete"):
        kwargs = {"json": user()} if method == "put" else {}
        response = getattr(harness.client, method)(
            "/scim/v2/Users/4e2b1e2a-0000-0000-0000-000000000000",
            headers=tenant.headers(),
            **kwargs,
        )
        assert_error(response, 404)


def test_replace_writes_every_attribute_and_bumps_the_version(
    harness: Harness, tenant: TenantAccess
) -> None:
    created = harness.client.post(
        "/scim/v2/Users", json=user(title="Tour Guide", externalId="e1"), headers=tenant.headers()
    ).json()
    harness.clock.advance(__import__("datetime").timedelta(minutes=5))
    replacement = {"schemas": [USER], "userName": "barbara", "displayName": "Babs"}
    response = harness.client.put(
        f"/scim/v2/Users/{created['id']}", json=replacement, headers=tenant.headers()
    )
    assert response.status_code == 200, response.text
    replaced = response.json()
    assert replaced["userName"] == "barbara"
    assert replaced["displayName"] == "Babs"
    for gone in ("title", "name", "emails", "externalId"):
        assert gone not in replaced
    # Left out, ``active`` stays as it was: a profile update neither deactivates nor revives.
    assert replaced["active"] is True
    assert replaced["id"] == created["id"]
    assert replaced["meta"]["created"] == created["meta"]["created"]
    assert replaced["meta"]["lastModified"] == "2026-11-28T09:05:00.000Z"
    assert replaced["meta"]["version"] == 'W/"2"'
    assert response.headers["etag"] == 'W/"2"'


def test_replace_to_a_taken_user_name_is_409_and_changes_nothing(
    harness: Harness, tenant: TenantAccess
) -> None:
    harness.client.post("/scim/v2/Users", json=user("taken"), headers=tenant.headers())
    mine = harness.client.post("/scim/v2/Users", json=user("mine"), headers=tenant.headers()).json()
    response = harness.client.put(
        f"/scim/v2/Users/{mine['id']}", json=user("TAKEN", title="x"), headers=tenant.headers()
    )
    assert_error(response, 409, "uniqueness")
    after = harness.client.get(f"/scim/v2/Users/{mine['id']}", headers=tenant.headers()).json()
    assert after == mine


def test_if_match_guards_writes(harness: Harness, tenant: TenantAccess) -> None:
    created = harness.client.post("/scim/v2/Users", json=user(), headers=tenant.headers()).json()
    url = f"/scim/v2/Users/{created['id']}"
    stale = {**tenant.headers(), "If-Match": 'W/"7"'}
    assert_error(harness.client.put(url, json=user(title="new"), headers=stale), 412)
    assert_error(harness.client.delete(url, headers=stale), 412)
    unchanged = harness.client.get(url, headers=tenant.headers()).json()
    assert unchanged == created

    current = {**tenant.headers(), "If-Match": 'W/"1"'}
    replaced = harness.client.put(url, json=user(title="new"), headers=current)
    assert replaced.status_code == 200
    assert replaced.json()["title"] == "new"
    any_version = {**tenant.headers(), "If-Match": "*"}
    assert harness.client.delete(url, headers=any_version).status_code == 204


def test_if_none_match_on_get_gives_304(harness: Harness, tenant: TenantAccess) -> None:
    created = harness.client.post("/scim/v2/Users", json=user(), headers=tenant.headers())
    url = created.json()["meta"]["location"].replace("http://testserver.local", "")
    etag = created.headers["etag"]
    not_modified = harness.client.get(url, headers={**tenant.headers(), "If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert not_modified.headers["etag"] == etag
    changed = harness.client.get(url, headers={**tenant.headers(), "If-None-Match": 'W/"0"'})
    assert changed.status_code == 200


def test_delete_then_404_and_ids_are_never_reused(harness: Harness, tenant: TenantAccess) -> None:
    first = harness.client.post("/scim/v2/Users", json=user(), headers=tenant.headers()).json()
    url = f"/scim/v2/Users/{first['id']}"
    deleted = harness.client.delete(url, headers=tenant.headers())
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert_error(harness.client.get(url, headers=tenant.headers()), 404)
    assert_error(harness.client.delete(url, headers=tenant.headers()), 404)
    second = harness.client.post("/scim/v2/Users", json=user(), headers=tenant.headers()).json()
    assert second["id"] != first["id"]


def test_list_pages_with_start_index_and_count(harness: Harness, tenant: TenantAccess) -> None:
    ids = [
        harness.client.post("/scim/v2/Users", json=user(f"u{i}"), headers=tenant.headers()).json()[
            "id"
        ]
        for i in range(5)
    ]
    everything = harness.client.get("/scim/v2/Users", headers=tenant.headers()).json()
    assert everything["schemas"] == [LIST]
    assert everything["totalResults"] == 5
    assert everything["startIndex"] == 1
    assert everything["itemsPerPage"] == 5
    assert [r["id"] for r in everything["Resources"]] == ids

    page = harness.client.get(
        "/scim/v2/Users?startIndex=2&count=2", headers=tenant.headers()
    ).json()
    assert [r["id"] for r in page["Resources"]] == ids[1:3]
    assert (page["totalResults"], page["startIndex"], page["itemsPerPage"]) == (5, 2, 2)

    only_total = harness.client.get("/scim/v2/Users?count=0", headers=tenant.headers()).json()
    assert (only_total["totalResults"], only_total["itemsPerPage"], only_total["Resources"]) == (
        5,
        0,
        [],
    )

    past_end = harness.client.get("/scim/v2/Users?startIndex=9", headers=tenant.headers()).json()
    assert (past_end["totalResults"], past_end["Resources"]) == (5, [])

    # RFC 7644 §3.4.2.4: startIndex below 1 is read as 1, a negative count as 0.
    lenient = harness.client.get(
        "/scim/v2/Users?startindex=0&COUNT=-3", headers=tenant.headers()
    ).json()
    assert (lenient["startIndex"], lenient["itemsPerPage"]) == (1, 0)


def test_count_is_capped_at_the_advertised_maximum(harness: Harness, tenant: TenantAccess) -> None:
    spc = harness.client.get("/scim/v2/ServiceProviderConfig", headers=tenant.headers()).json()
    assert spc["filter"]["maxResults"] == harness.settings.max_results == 1000
    for i in range(3):
        harness.client.post("/scim/v2/Users", json=user(f"c{i}"), headers=tenant.headers())
    listed = harness.client.get("/scim/v2/Users?count=100000", headers=tenant.headers()).json()
    assert listed["itemsPerPage"] == 3


def test_bad_paging_parameters_are_400(harness: Harness, tenant: TenantAccess) -> None:
    assert_error(
        harness.client.get("/scim/v2/Users?count=ten", headers=tenant.headers()),
        400,
        "invalidValue",
    )
