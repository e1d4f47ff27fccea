"""Tenant isolation and token roles on the SCIM endpoints, on SQLite and PostgreSQL.

A token sees and changes only its own tenant: another tenant's ids are 404
(RFC 7644 §3.12), never 403, so their existence does not leak. Roles decide
what a token may do inside its tenant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import Harness, TenantAccess, create
from tests.samples import GROUP, assert_error, group, user

ENDPOINTS = ("Users", "Groups")


@dataclass
class Directory:
    """One tenant's Users and Groups as created."""

    tenant: TenantAccess
    users: list[dict[str, Any]]
    groups: list[dict[str, Any]]

    def ids(self, endpoint: str) -> list[str]:
        return [r["id"] for r in (self.users if endpoint == "Users" else self.groups)]


def _populate(harness: Harness, tenant: TenantAccess, prefix: str, n_users: int) -> Directory:
    """Users, a Group of all of them, and a Group nesting that one."""
    users = [
        create(harness, tenant, "Users", user(f"{prefix}{i}@example.com", displayName=f"U{i}"))
        for i in range(n_users)
    ]
    team = create(harness, tenant, "Groups", group("Team", [u["id"] for u in users]))
    everyone = create(harness, tenant, "Groups", group("Everyone", [team["id"]]))
    return Directory(tenant, users, [team, everyone])


def _normal(resource: dict[str, Any]) -> dict[str, Any]:
    """A resource with its multi-valued relations in a stable order."""
    out = dict(resource)
    for key in ("members", "groups"):
        if key in out:
            out[key] = sorted(out[key], key=lambda item: item["value"])
    return out


def _snapshot(harness: Harness, directory: Directory) -> dict[str, Any]:
    """Everything the tenant's own token sees: lists and every resource by id."""
    headers = directory.tenant.headers()
    seen: dict[str, Any] = {}
    for endpoint in ENDPOINTS:
        listed = harness.client.get(f"/scim/v2/{endpoint}", headers=headers)
        assert listed.status_code == 200, listed.text
        body = listed.json()
        seen[endpoint] = {**body, "Resources": [_normal(r) for r in body["Resources"]]}
        for resource_id in directory.ids(endpoint):
            response = harness.client.get(f"/scim/v2/{endpoint}/{resource_id}", headers=headers)
            assert response.status_code == 200, response.text
            seen[f"{endpoint}/{resource_id}"] = (_normal(response.json()), response.headers["etag"])
    return seen


def _stored(harness: Harness) -> dict[str, Any]:
    """What the database holds, for "nothing was written" checks."""
    return {
        "resources": sorted(
            tuple(str(v) for v in row)
            for row in harness.sql(
                "SELECT id, tenant_id, resource_type, name_norm, version, last_modified, "
                "deleted_at FROM resources"
            )
        ),
        "members": sorted(
            tuple(row)
            for row in harness.sql("SELECT tenant_id, group_id, member_id FROM group_members")
        ),
    }


@pytest.fixture
def two(harness: Harness) -> tuple[Directory, Directory]:
    a = _populate(harness, harness.tenant("tenant-a"), "a", 2)
    b = _populate(harness, harness.tenant("tenant-b"), "b", 3)
    return a, b


# ---------------------------------------------------------------- isolation


def test_another_tenants_ids_are_404_for_get_put_and_delete(
    harness: Harness, two: tuple[Directory, Directory]
) -> None:
    a, b = two
    before = _snapshot(harness, b)
    stored_before = _stored(harness)
    bodies = {"Users": user("stolen@example.com"), "Groups": group("Stolen")}

    for endpoint in ENDPOINTS:
        for resource_id in b.ids(endpoint):
            url = f"/scim/v2/{endpoint}/{resource_id}"
            for headers in (a.tenant.headers(), {**a.tenant.headers(), "If-Match": "*"}):
                assert_error(harness.client.get(url, headers=headers), 404)
                assert_error(harness.client.put(url, json=bodies[endpoint], headers=headers), 404)
                assert_error(harness.client.delete(url, headers=headers), 404)
            # Conditional reads do not reveal the version either.
            not_modified = harness.client.get(
                url, headers={**a.tenant.headers(), "If-None-Match": "*"}
            )
            assert_error(not_modified, 404)

    assert _snapshot(harness, b) == before
    assert _stored(harness) == stored_before
    # A's token still works on A's own resources.
    for endpoint in ENDPOINTS:
        for resource_id in a.ids(endpoint):
            own = harness.client.get(
                f"/scim/v2/{endpoint}/{resource_id}", headers=a.tenant.headers()
            )
            assert own.status_code == 200, own.text


def test_lists_show_only_the_tenants_own_resources(
    harness: Harness, two: tuple[Directory, Directory]
) -> None:
    a, b = two
    for mine, theirs in ((a, b), (b, a)):
        for endpoint in ENDPOINTS:
            listed = harness.client.get(
                f"/scim/v2/{endpoint}", headers=mine.tenant.headers()
            ).json()
            assert listed["totalResults"] == len(mine.ids(endpoint))
            assert [r["id"] for r in listed["Resources"]] == mine.ids(endpoint)
            assert not set(theirs.ids(endpoint)) & {r["id"] for r in listed["Resources"]}

            paged = harness.client.get(
                f"/scim/v2/{endpoint}?startIndex=2&count=1", headers=mine.tenant.headers()
            ).json()
            assert paged["totalResults"] == len(mine.ids(endpoint))
            assert [r["id"] for r in paged["Resources"]] == mine.ids(endpoint)[1:2]

            counted = harness.client.get(
                f"/scim/v2/{endpoint}?count=0", headers=mine.tenant.headers()
            ).json()
            assert counted["totalResults"] == len(mine.ids(endpoint))

    # Memberships do not cross either: A's users belong to A's groups only.
    for u in a.users:
        fetched = harness.client.get(f"/scim/v2/Users/{u['id']}", headers=a.tenant.headers())
        assert {g["value"] for g in fetched.json()["groups"]} == set(a.ids("Groups"))


def test_another_tenants_users_and_groups_cannot_be_members(
    harness: Harness, two: tuple[Directory, Directory]
) -> None:
    a, b = two
    before = _snapshot(harness, b)
    a_before = _snapshot(harness, a)
    stored_before = _stored(harness)
    own_user = a.users[0]["id"]
    team = a.groups[0]

    for foreign in (b.users[0]["id"], b.groups[0]["id"]):
        created = harness.client.post(
            "/scim/v2/Groups",
            json=group("Smuggler", [own_user, foreign]),
            headers=a.tenant.headers(),
        )
        error = assert_error(created, 400, "invalidValue")
        assert foreign in error["detail"]

        replaced = harness.client.put(
            f"/scim/v2/Groups/{team['id']}",
            json=group("Team", [own_user, foreign]),
            headers=a.tenant.headers(),
        )
        error = assert_error(replaced, 400, "invalidValue")
        assert foreign in error["detail"]

    assert _snapshot(harness, a) == a_before
    assert _snapshot(harness, b) == before
    assert _stored(harness) == stored_before


def test_same_names_in_two_tenants_do_not_collide_and_stay_apart(
    harness: Harness, two: tuple[Directory, Directory]
) -> None:
    a, b = two
    b.groups.append(create(harness, b.tenant, "Groups", group("Auditors", [b.users[0]["id"]])))
    before = _snapshot(harness, b)
    # B has a user b0@example.com and a group Auditors; A may use the same names.
    clone = create(harness, a.tenant, "Users", user("B0@example.com"))
    team_b = create(harness, a.tenant, "Groups", group("AUDITORS", [clone["id"]]))
    assert [m["value"] for m in team_b["members"]] == [clone["id"]]
    listed = harness.client.get("/scim/v2/Groups", headers=a.tenant.headers()).json()
    assert listed["totalResults"] == 3

    # Deleting A's resources of those names leaves B's alone.
    for endpoint, resource_id in (("Groups", team_b["id"]), ("Users", clone["id"])):
        deleted = harness.client.delete(
            f"/scim/v2/{endpoint}/{resource_id}", headers=a.tenant.headers()
        )
        assert deleted.status_code == 204, deleted.text
    assert _snapshot(harness, b) == before


# ---------------------------------------------------------------- roles


@pytest.mark.parametrize("roles", ["auditor", "platform", "auditor,platform"])
def test_read_only_roles_can_read_but_not_write(
    harness: Harness, two: tuple[Directory, Directory], roles: str
) -> None:
    a, _ = two
    reader = a.tenant.headers(roles)
    before = _snapshot(harness, a)
    stored_before = _stored(harness)

    for endpoint in ENDPOINTS:
        listed = harness.client.get(f"/scim/v2/{endpoint}", headers=reader)
        assert listed.status_code == 200, listed.text
        # A platform token comes with its accountable owner, a User of its own.
        shown = [r["id"] for r in listed.json()["Resources"] if r["id"] not in a.tenant.owners]
        assert shown == a.ids(endpoint)
        for resource_id in a.ids(endpoint):
            got = harness.client.get(f"/scim/v2/{endpoint}/{resource_id}", headers=reader)
            assert got.status_code == 200, got.text
            assert _normal(got.json()) == before[f"{endpoint}/{resource_id}"][0]

    user_url = f"/scim/v2/Users/{a.users[0]['id']}"
    group_url = f"/scim/v2/Groups/{a.groups[0]['id']}"
    attempts = [
        harness.client.post("/scim/v2/Users", json=user("new@example.com"), headers=reader),
        harness.client.post(
            "/scim/v2/Groups", json=group("New", [a.users[0]["id"]]), headers=reader
        ),
        harness.client.put(user_url, json=user("renamed@example.com"), headers=reader),
        harness.client.put(group_url, json=group("Renamed", []), headers=reader),
        harness.client.delete(user_url, headers=reader),
        harness.client.delete(group_url, headers=reader),
    ]
    for response in attempts:
        assert_error(response, 403)

    assert _snapshot(harness, a) == before
    assert _stored(harness) == stored_before


@pytest.mark.parametrize("roles", ["idp", "admin", "idp,platform"])
def test_writer_roles_can_create_replace_and_delete(
    harness: Harness, tenant: TenantAccess, roles: str
) -> None:
    writer = tenant.headers(roles)
    created_user = harness.client.post("/scim/v2/Users", json=user("w@example.com"), headers=writer)
    assert created_user.status_code == 201, created_user.text
    user_id = created_user.json()["id"]
    created_group = harness.client.post(
        "/scim/v2/Groups", json=group("Writers", [user_id]), headers=writer
    )
    assert created_group.status_code == 201, created_group.text
    group_id = created_group.json()["id"]

    replaced = harness.client.put(
        f"/scim/v2/Groups/{group_id}",
        json={"schemas": [GROUP], "displayName": "Editors", "members": [{"value": user_id}]},
        headers=writer,
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["displayName"] == "Editors"
    replaced_user = harness.client.put(
        f"/scim/v2/Users/{user_id}", json=user("w@example.com", title="Writer"), headers=writer
    )
    assert replaced_user.status_code == 200, replaced_user.text
    assert replaced_user.json()["title"] == "Writer"

    # What one writer token did, another token of the tenant sees.
    seen = harness.client.get(f"/scim/v2/Groups/{group_id}", headers=tenant.headers("auditor"))
    assert seen.json()["displayName"] == "Editors"
    assert [m["value"] for m in seen.json()["members"]] == [user_id]

    assert harness.client.delete(f"/scim/v2/Groups/{group_id}", headers=writer).status_code == 204
    assert harness.client.delete(f"/scim/v2/Users/{user_id}", headers=writer).status_code == 204
    left = harness.sql("SELECT id FROM resources WHERE deleted_at IS NULL")
    assert {row[0] for row in left} == tenant.owners


def test_the_operator_token_is_403_on_scim_endpoints(
    harness: Harness, two: tuple[Directory, Directory]
) -> None:
    a, _ = two
    operator = harness.operator
    before = _snapshot(harness, a)
    stored_before = _stored(harness)
    user_url = f"/scim/v2/Users/{a.users[0]['id']}"
    group_url = f"/scim/v2/Groups/{a.groups[0]['id']}"
    attempts = [
        harness.client.get("/scim/v2/Users", headers=operator),
        harness.client.get("/scim/v2/Groups", headers=operator),
        harness.client.get(user_url, headers=operator),
        harness.client.get(group_url, headers=operator),
        harness.client.post("/scim/v2/Users", json=user("op@example.com"), headers=operator),
        harness.client.post("/scim/v2/Groups", json=group("Ops"), headers=operator),
        harness.client.put(user_url, json=user("op@example.com"), headers=operator),
        harness.client.put(group_url, json=group("Ops"), headers=operator),
        harness.client.delete(user_url, headers=operator),
        harness.client.delete(group_url, headers=operator),
    ]
    for response in attempts:
        assert_error(response, 403)
    assert _snapshot(harness, a) == before
    assert _stored(harness) == stored_before


def test_missing_or_unknown_token_is_401(
    harness: Harness, two: tuple[Directory, Directory]
) -> None:
    a, _ = two
    stored_before = _stored(harness)
    for headers in ({}, {"Authorization": "Bearer not-a-real-token"}):
        for response in (
            harness.client.get("/scim/v2/Users", headers=headers),
            harness.client.get(f"/scim/v2/Groups/{a.groups[0]['id']}", headers=headers),
            harness.client.post("/scim/v2/Groups", json=group("Anon"), headers=headers),
            harness.client.delete(f"/scim/v2/Users/{a.users[0]['id']}", headers=headers),
        ):
            assert_error(response, 401)
            assert response.headers["www-authenticate"].startswith("Bearer")
    assert _stored(harness) == stored_before
