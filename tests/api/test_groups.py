"""SCIM Groups over HTTP (RFC 7643 §4.2, RFC 7644 §3.3–3.6), on SQLite and PostgreSQL.

Members are Users or Groups of the same tenant; a User's ``groups`` is computed
from the memberships (direct and through nested Groups) and is read-only.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from tests.conftest import Harness, TenantAccess, create
from tests.samples import GROUP, LIST, USER, assert_error, group, user

BASE = "http://testserver.local/scim/v2"


def _get(harness: Harness, tenant: TenantAccess, endpoint: str, resource_id: str) -> dict[str, Any]:
    response = harness.client.get(f"/scim/v2/{endpoint}/{resource_id}", headers=tenant.headers())
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _total(harness: Harness, tenant: TenantAccess, endpoint: str) -> int:
    listed = harness.client.get(f"/scim/v2/{endpoint}?count=0", headers=tenant.headers())
    assert listed.status_code == 200, listed.text
    return int(listed.json()["totalResults"])


def _members(resource: dict[str, Any]) -> list[dict[str, Any]]:
    """The members of a Group, in a stable order (the server does not promise one)."""
    return sorted(resource.get("members", []), key=lambda m: m["value"])


def _groups(resource: dict[str, Any]) -> list[dict[str, Any]]:
    """A User's computed groups, in a stable order."""
    return sorted(resource.get("groups", []), key=lambda g: g["value"])


def _normal(resource: dict[str, Any]) -> dict[str, Any]:
    """A Group body with its members in a stable order, for whole-body comparisons."""
    if "members" not in resource:
        return resource
    return {**resource, "members": _members(resource)}


def _member_ids(resource: dict[str, Any]) -> set[str]:
    return {m["value"] for m in resource.get("members", [])}


def _stored_memberships(harness: Harness) -> set[tuple[str, str]]:
    return {
        (row[0], row[1]) for row in harness.sql("SELECT group_id, member_id FROM group_members")
    }


def _user_ref(created: dict[str, Any], display: str) -> dict[str, Any]:
    return {
        "value": created["id"],
        "type": "User",
        "display": display,
        "$ref": f"{BASE}/Users/{created['id']}",
    }


def _group_ref(created: dict[str, Any], kind: str) -> dict[str, Any]:
    """An entry of a User's ``groups`` (RFC 7643 §4.1.2)."""
    return {
        "value": created["id"],
        "type": kind,
        "display": created["displayName"],
        "$ref": f"{BASE}/Groups/{created['id']}",
    }


def test_create_group_with_users_and_a_nested_group(harness: Harness, tenant: TenantAccess) -> None:
    alice = create(harness, tenant, "Users", user("alice", displayName="Alice Liddell"))
    bob = create(harness, tenant, "Users", user("bob"))  # no displayName: userName is shown
    inner = create(harness, tenant, "Groups", group("Inner"))

    response = harness.client.post(
        "/scim/v2/Groups",
        json=group("Outer", [alice["id"], bob["id"], inner["id"]]),
        headers=tenant.headers(),
    )
    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/scim+json; charset=utf-8"
    created = response.json()
    assert created["schemas"] == [GROUP]
    assert created["displayName"] == "Outer"
    assert _members(created) == sorted(
        [
            _user_ref(alice, "Alice Liddell"),
            _user_ref(bob, "bob"),
            {
                "value": inner["id"],
                "type": "Group",
                "display": "Inner",
                "$ref": f"{BASE}/Groups/{inner['id']}",
            },
        ],
        key=lambda m: m["value"],
    )
    meta = created["meta"]
    assert meta["resourceType"] == "Group"
    assert meta["created"] == meta["lastModified"] == "2026-11-28T09:00:00.000Z"
    assert meta["location"] == f"{BASE}/Groups/{created['id']}"
    assert meta["version"] == 'W/"1"'
    assert response.headers["location"] == meta["location"]
    assert response.headers["etag"] == 'W/"1"'

    fetched = _get(harness, tenant, "Groups", created["id"])
    assert fetched["displayName"] == "Outer"
    assert _members(fetched) == _members(created)
    assert fetched["meta"] == created["meta"]
    assert _stored_memberships(harness) == {
        (created["id"], alice["id"]),
        (created["id"], bob["id"]),
        (created["id"], inner["id"]),
    }


def test_user_groups_show_direct_and_indirect_memberships(
    harness: Harness, tenant: TenantAccess
) -> None:
    alice = create(harness, tenant, "Users", user("alice"))
    loner = create(harness, tenant, "Users", user("loner"))
    inner = create(harness, tenant, "Groups", group("Inner", [alice["id"]]))
    middle = create(harness, tenant, "Groups", group("Middle", [inner["id"]]))
    # Top holds alice directly and (through Middle → Inner) indirectly: direct wins.
    top = create(harness, tenant, "Groups", group("Top", [middle["id"], alice["id"]]))
    unrelated = create(harness, tenant, "Groups", group("Unrelated", [loner["id"]]))

    fetched = _get(harness, tenant, "Users", alice["id"])
    expected = sorted(
        [
            _group_ref(inner, "direct"),
            _group_ref(middle, "indirect"),
            _group_ref(top, "direct"),
        ],
        key=lambda g: g["value"],
    )
    assert _groups(fetched) == expected

    listed = harness.client.get("/scim/v2/Users", headers=tenant.headers()).json()
    by_id = {r["id"]: r for r in listed["Resources"]}
    assert _groups(by_id[alice["id"]]) == expected
    assert _groups(by_id[loner["id"]]) == [_group_ref(unrelated, "direct")]


def test_a_user_in_no_group_has_no_groups(harness: Harness, tenant: TenantAccess) -> None:
    alice = create(harness, tenant, "Users", user("alice"))
    create(harness, tenant, "Groups", group("Empty"))
    assert _get(harness, tenant, "Users", alice["id"]).get("groups", []) == []


def test_groups_sent_on_a_user_write_are_ignored(harness: Harness, tenant: TenantAccess) -> None:
    decoy = create(harness, tenant, "Groups", group("Decoy"))
    created = create(
        harness,
        tenant,
        "Users",
        user("alice", groups=[{"value": decoy["id"], "type": "direct"}]),
    )
    assert created.get("groups", []) == []
    assert _get(harness, tenant, "Groups", decoy["id"]).get("members", []) == []

    real = create(harness, tenant, "Groups", group("Real", [created["id"]]))
    for groups in ([{"value": decoy["id"]}], [], None):
        replaced = harness.client.put(
            f"/scim/v2/Users/{created['id']}",
            json=user("alice", title="changed", groups=groups),
            headers=tenant.headers(),
        )
        assert replaced.status_code == 200, replaced.text
        assert replaced.json()["title"] == "changed"
        assert _groups(replaced.json()) == [_group_ref(real, "direct")]
    assert _get(harness, tenant, "Groups", decoy["id"]).get("members", []) == []
    assert _stored_memberships(harness) == {(real["id"], created["id"])}


def test_unknown_member_is_400_naming_it_and_nothing_is_written(
    harness: Harness, tenant: TenantAccess
) -> None:
    alice = create(harness, tenant, "Users", user("alice"))
    existing = create(harness, tenant, "Groups", group("Existing", [alice["id"]]))
    resources_before = harness.sql("SELECT count(*) FROM resources")[0][0]
    unknown = str(uuid.uuid4())

    response = harness.client.post(
        "/scim/v2/Groups", json=group("Doomed", [alice["id"], unknown]), headers=tenant.headers()
    )
    error = assert_error(response, 400, "invalidValue")
    assert unknown in error["detail"]
    assert _total(harness, tenant, "Groups") == 1
    assert harness.sql("SELECT count(*) FROM resources")[0][0] == resources_before
    assert harness.sql("SELECT count(*) FROM resources WHERE name_norm = 'doomed'")[0][0] == 0
    assert _stored_memberships(harness) == {(existing["id"], alice["id"])}
    # The alice membership of the refused group did not leak into her groups.
    assert _groups(_get(harness, tenant, "Users", alice["id"])) == [_group_ref(existing, "direct")]

    # The same on replace: the group keeps what it had.
    replaced = harness.client.put(
        f"/scim/v2/Groups/{existing['id']}",
        json=group("Existing renamed", [unknown]),
        headers=tenant.headers(),
    )
    error = assert_error(replaced, 400, "invalidValue")
    assert unknown in error["detail"]
    assert _normal(_get(harness, tenant, "Groups", existing["id"])) == _normal(existing)


def test_member_without_a_value_is_400(harness: Harness, tenant: TenantAccess) -> None:
    body = {"schemas": [GROUP], "displayName": "G", "members": [{"value": ""}]}
    assert_error(
        harness.client.post("/scim/v2/Groups", json=body, headers=tenant.headers()),
        400,
        "invalidValue",
    )
    assert _total(harness, tenant, "Groups") == 0


def test_a_user_of_another_tenant_is_not_a_member(harness: Harness, tenant: TenantAccess) -> None:
    other = harness.tenant()
    foreign_user = create(harness, other, "Users", user("alice"))
    foreign_group = create(harness, other, "Groups", group("Theirs"))
    mine = create(harness, tenant, "Users", user("mine"))

    for foreign in (foreign_user, foreign_group):
        response = harness.client.post(
            "/scim/v2/Groups",
            json=group("Mixed", [mine["id"], foreign["id"]]),
            headers=tenant.headers(),
        )
        error = assert_error(response, 400, "invalidValue")
        assert foreign["id"] in error["detail"]
    assert _total(harness, tenant, "Groups") == 0
    assert _stored_memberships(harness) == set()
    assert _get(harness, other, "Users", foreign_user["id"]) == foreign_user


def test_duplicate_members_collapse_to_one(harness: Harness, tenant: TenantAccess) -> None:
    alice = create(harness, tenant, "Users", user("alice"))
    bob = create(harness, tenant, "Users", user("bob"))
    created = create(
        harness,
        tenant,
        "Groups",
        group("Dupes", [alice["id"], alice["id"], bob["id"], alice["id"]]),
    )
    assert [m["value"] for m in _members(created)] == sorted([alice["id"], bob["id"]])
    assert _stored_memberships(harness) == {
        (created["id"], alice["id"]),
        (created["id"], bob["id"]),
    }

    replaced = harness.client.put(
        f"/scim/v2/Groups/{created['id']}",
        json=group("Dupes", [bob["id"], bob["id"]]),
        headers=tenant.headers(),
    )
    assert replaced.status_code == 200, replaced.text
    assert [m["value"] for m in replaced.json()["members"]] == [bob["id"]]
    assert _groups(_get(harness, tenant, "Users", bob["id"])) == [_group_ref(created, "direct")]


def test_a_group_cannot_be_a_member_of_itself(harness: Harness, tenant: TenantAccess) -> None:
    alice = create(harness, tenant, "Users", user("alice"))
    created = create(harness, tenant, "Groups", group("Selfish", [alice["id"]]))
    response = harness.client.put(
        f"/scim/v2/Groups/{created['id']}",
        json=group("Selfish", [alice["id"], created["id"]]),
        headers=tenant.headers(),
    )
    assert_error(response, 400, "invalidValue")
    assert _normal(_get(harness, tenant, "Groups", created["id"])) == _normal(created)
    assert _stored_memberships(harness) == {(created["id"], alice["id"])}


def test_display_name_is_unique_case_insensitively(harness: Harness, tenant: TenantAccess) -> None:
    first = create(harness, tenant, "Groups", group("Admins"))
    clash = harness.client.post("/scim/v2/Groups", json=group("aDMINS"), headers=tenant.headers())
    error = assert_error(clash, 409, "uniqueness")
    assert "aDMINS" in error["detail"]
    assert _total(harness, tenant, "Groups") == 1

    second = create(harness, tenant, "Groups", group("Operators"))
    renamed = harness.client.put(
        f"/scim/v2/Groups/{second['id']}", json=group("ADMINS"), headers=tenant.headers()
    )
    assert_error(renamed, 409, "uniqueness")
    assert _get(harness, tenant, "Groups", second["id"]) == second
    assert _get(harness, tenant, "Groups", first["id"]) == first

    # Renaming a group to its own name in another case is not a clash with itself.
    same = harness.client.put(
        f"/scim/v2/Groups/{first['id']}", json=group("ADMINS"), headers=tenant.headers()
    )
    assert same.status_code == 200, same.text
    assert same.json()["displayName"] == "ADMINS"

    # Uniqueness is per resource type: a User may be called the same.
    create(harness, tenant, "Users", user("Admins"))


def test_same_display_name_in_two_tenants_is_fine(harness: Harness) -> None:
    a, b = harness.tenant(), harness.tenant()
    in_a = create(harness, a, "Groups", group("Admins"))
    in_b = create(harness, b, "Groups", group("Admins"))
    assert in_a["id"] != in_b["id"]
    assert _total(harness, a, "Groups") == _total(harness, b, "Groups") == 1


def test_display_name_is_required(harness: Harness, tenant: TenantAccess) -> None:
    alice = create(harness, tenant, "Users", user("alice"))
    for body in (
        {"schemas": [GROUP]},
        {"schemas": [GROUP], "members": [{"value": alice["id"]}]},
        {"schemas": [GROUP], "displayName": None},
    ):
        error = assert_error(
            harness.client.post("/scim/v2/Groups", json=body, headers=tenant.headers()),
            400,
            "invalidValue",
        )
        assert "displayName" in error["detail"]
    assert _total(harness, tenant, "Groups") == 0
    assert _stored_memberships(harness) == set()

    created = create(harness, tenant, "Groups", group("Named", [alice["id"]]))
    replaced = harness.client.put(
        f"/scim/v2/Groups/{created['id']}",
        json={"schemas": [GROUP], "members": []},
        headers=tenant.headers(),
    )
    assert_error(replaced, 400, "invalidValue")
    assert _normal(_get(harness, tenant, "Groups", created["id"])) == _normal(created)


def test_put_with_members_replaces_the_members(harness: Harness, tenant: TenantAccess) -> None:
    alice = create(harness, tenant, "Users", user("alice"))
    bob = create(harness, tenant, "Users", user("bob"))
    carol = create(harness, tenant, "Users", user("carol", displayName="Carol"))
    created = create(harness, tenant, "Groups", group("Team", [alice["id"], bob["id"]]))
    harness.clock.advance(dt.timedelta(minutes=3))

    response = harness.client.put(
        f"/scim/v2/Groups/{created['id']}",
        json=group("Team", [bob["id"], carol["id"]]),
        headers=tenant.headers(),
    )
    assert response.status_code == 200, response.text
    replaced = response.json()
    assert _member_ids(replaced) == {bob["id"], carol["id"]}
    assert {m["value"]: m["display"] for m in replaced["members"]}[carol["id"]] == "Carol"
    assert replaced["meta"]["version"] == 'W/"2"'
    assert replaced["meta"]["lastModified"] == "2026-11-28T09:03:00.000Z"
    assert replaced["meta"]["created"] == created["meta"]["created"]
    assert _normal(_get(harness, tenant, "Groups", created["id"])) == _normal(replaced)
    assert _get(harness, tenant, "Users", alice["id"]).get("groups", []) == []
    assert [g["value"] for g in _get(harness, tenant, "Users", carol["id"])["groups"]] == [
        created["id"]
    ]
    assert _stored_memberships(harness) == {
        (created["id"], bob["id"]),
        (created["id"], carol["id"]),
    }


def test_put_without_members_empties_the_group(harness: Harness, tenant: TenantAccess) -> None:
    """RFC 7644 §3.5.1: PUT replaces the resource, members included (Keycloak's plugin
    empties a Group this way: its SCIM library drops an empty list)."""
    alice = create(harness, tenant, "Users", user("alice"))
    bob = create(harness, tenant, "Users", user("bob"))
    created = create(harness, tenant, "Groups", group("Team", [alice["id"], bob["id"]]))

    response = harness.client.put(
        f"/scim/v2/Groups/{created['id']}",
        json={"schemas": [GROUP], "displayName": "Renamed team", "externalId": "ext-1"},
        headers=tenant.headers(),
    )
    assert response.status_code == 200, response.text
    replaced = response.json()
    assert replaced["displayName"] == "Renamed team"
    assert replaced["externalId"] == "ext-1"
    assert replaced.get("members", []) == []
    assert replaced["meta"]["version"] == 'W/"2"'
    assert _get(harness, tenant, "Groups", created["id"]).get("members", []) == []
    assert _get(harness, tenant, "Users", alice["id"]).get("groups", []) == []


def test_put_with_empty_members_clears_them(harness: Harness, tenant: TenantAccess) -> None:
    alice = create(harness, tenant, "Users", user("alice"))
    created = create(harness, tenant, "Groups", group("Team", [alice["id"]]))

    response = harness.client.put(
        f"/scim/v2/Groups/{created['id']}",
        json={"schemas": [GROUP], "displayName": "Team", "members": []},
        headers=tenant.headers(),
    )
    assert response.status_code == 200, response.text
    assert response.json().get("members", []) == []
    assert response.json()["meta"]["version"] == 'W/"2"'
    assert _get(harness, tenant, "Groups", created["id"]).get("members", []) == []
    assert _get(harness, tenant, "Users", alice["id"]).get("groups", []) == []
    assert _stored_memberships(harness) == set()


def test_deleting_a_user_removes_it_from_its_groups_and_bumps_them(
    harness: Harness, tenant: TenantAccess
) -> None:
    alice = create(harness, tenant, "Users", user("alice"))
    bob = create(harness, tenant, "Users", user("bob"))
    both = create(harness, tenant, "Groups", group("Both", [alice["id"], bob["id"]]))
    only_alice = create(harness, tenant, "Groups", group("Only alice", [alice["id"]]))
    only_bob = create(harness, tenant, "Groups", group("Only bob", [bob["id"]]))
    harness.clock.advance(dt.timedelta(minutes=5))

    deleted = harness.client.delete(f"/scim/v2/Users/{alice['id']}", headers=tenant.headers())
    assert deleted.status_code == 204, deleted.text
    assert_error(harness.client.get(f"/scim/v2/Users/{alice['id']}", headers=tenant.headers()), 404)

    for before, remaining in ((both, {bob["id"]}), (only_alice, set())):
        response = harness.client.get(f"/scim/v2/Groups/{before['id']}", headers=tenant.headers())
        after = response.json()
        assert _member_ids(after) == remaining
        assert after["meta"]["version"] == 'W/"2"'
        assert response.headers["etag"] == 'W/"2"'
        assert after["meta"]["lastModified"] == "2026-11-28T09:05:00.000Z"
        assert after["meta"]["created"] == before["meta"]["created"]
        # The old version no longer matches.
        stale = {**tenant.headers(), "If-Match": 'W/"1"'}
        put = harness.client.put(
            f"/scim/v2/Groups/{before['id']}", json=group(before["displayName"]), headers=stale
        )
        assert_error(put, 412)
    # A group alice was not in is untouched.
    assert _normal(_get(harness, tenant, "Groups", only_bob["id"])) == _normal(only_bob)
    assert alice["id"] not in {member for _, member in _stored_memberships(harness)}


def test_deleting_a_group_removes_it_from_its_members_groups(
    harness: Harness, tenant: TenantAccess
) -> None:
    alice = create(harness, tenant, "Users", user("alice"))
    bob = create(harness, tenant, "Users", user("bob"))
    inner = create(harness, tenant, "Groups", group("Inner", [alice["id"]]))
    outer = create(harness, tenant, "Groups", group("Outer", [inner["id"], bob["id"]]))
    assert {g["value"] for g in _get(harness, tenant, "Users", alice["id"])["groups"]} == {
        inner["id"],
        outer["id"],
    }
    harness.clock.advance(dt.timedelta(minutes=1))

    deleted = harness.client.delete(f"/scim/v2/Groups/{inner['id']}", headers=tenant.headers())
    assert deleted.status_code == 204, deleted.text
    assert deleted.content == b""
    assert_error(
        harness.client.get(f"/scim/v2/Groups/{inner['id']}", headers=tenant.headers()), 404
    )

    # alice reached Outer only through Inner: both are gone from her groups.
    assert _get(harness, tenant, "Users", alice["id"]).get("groups", []) == []
    assert _groups(_get(harness, tenant, "Users", bob["id"])) == [_group_ref(outer, "direct")]
    outer_after = _get(harness, tenant, "Groups", outer["id"])
    assert _member_ids(outer_after) == {bob["id"]}
    assert outer_after["meta"]["version"] == 'W/"2"'
    assert outer_after["meta"]["lastModified"] == "2026-11-28T09:01:00.000Z"
    assert _stored_memberships(harness) == {(outer["id"], bob["id"])}
    assert _total(harness, tenant, "Groups") == 1
    assert _total(harness, tenant, "Users") == 2


def test_if_match_guards_group_writes(harness: Harness, tenant: TenantAccess) -> None:
    alice = create(harness, tenant, "Users", user("alice"))
    bob = create(harness, tenant, "Users", user("bob"))
    created = create(harness, tenant, "Groups", group("Guarded", [alice["id"]]))
    url = f"/scim/v2/Groups/{created['id']}"

    stale = {**tenant.headers(), "If-Match": 'W/"5"'}
    assert_error(harness.client.put(url, json=group("Changed", [bob["id"]]), headers=stale), 412)
    assert_error(harness.client.delete(url, headers=stale), 412)
    assert _normal(_get(harness, tenant, "Groups", created["id"])) == _normal(created)
    assert _stored_memberships(harness) == {(created["id"], alice["id"])}

    current = {**tenant.headers(), "If-Match": 'W/"1"'}
    replaced = harness.client.put(url, json=group("Changed", [bob["id"]]), headers=current)
    assert replaced.status_code == 200, replaced.text
    assert replaced.headers["etag"] == 'W/"2"'
    assert _member_ids(replaced.json()) == {bob["id"]}

    # The version that was current a moment ago is now stale.
    assert_error(harness.client.delete(url, headers=current), 412)
    assert _normal(_get(harness, tenant, "Groups", created["id"])) == _normal(replaced.json())

    now = {**tenant.headers(), "If-Match": 'W/"2"'}
    assert harness.client.delete(url, headers=now).status_code == 204
    assert_error(harness.client.get(url, headers=tenant.headers()), 404)
    assert _stored_memberships(harness) == set()


def test_list_groups_pages_with_start_index_and_count(
    harness: Harness, tenant: TenantAccess
) -> None:
    alice = create(harness, tenant, "Users", user("alice"))
    ids = [create(harness, tenant, "Groups", group(f"g{i}", [alice["id"]]))["id"] for i in range(5)]

    everything = harness.client.get("/scim/v2/Groups", headers=tenant.headers()).json()
    assert everything["schemas"] == [LIST]
    assert (everything["totalResults"], everything["startIndex"], everything["itemsPerPage"]) == (
        5,
        1,
        5,
    )
    assert [r["id"] for r in everything["Resources"]] == ids
    for resource in everything["Resources"]:
        assert resource["schemas"] == [GROUP]
        assert _member_ids(resource) == {alice["id"]}
        assert resource["meta"]["resourceType"] == "Group"

    page = harness.client.get(
        "/scim/v2/Groups?startIndex=3&count=2", headers=tenant.headers()
    ).json()
    assert [r["id"] for r in page["Resources"]] == ids[2:4]
    assert (page["totalResults"], page["startIndex"], page["itemsPerPage"]) == (5, 3, 2)

    tail = harness.client.get(
        "/scim/v2/Groups?startIndex=5&count=10", headers=tenant.headers()
    ).json()
    assert [r["id"] for r in tail["Resources"]] == ids[4:]
    assert tail["itemsPerPage"] == 1

    empty = harness.client.get("/scim/v2/Groups?count=0", headers=tenant.headers()).json()
    assert (empty["totalResults"], empty["itemsPerPage"], empty["Resources"]) == (5, 0, [])

    # Users are not Groups, and Groups are not Users.
    users = harness.client.get("/scim/v2/Users", headers=tenant.headers()).json()
    assert [r["id"] for r in users["Resources"]] == [alice["id"]]
    assert users["Resources"][0]["schemas"] == [USER]


def test_member_display_follows_the_members_current_name(
    harness: Harness, tenant: TenantAccess
) -> None:
    alice = create(harness, tenant, "Users", user("alice", displayName="Alice"))
    inner = create(harness, tenant, "Groups", group("Inner"))
    outer = create(harness, tenant, "Groups", group("Outer", [alice["id"], inner["id"]]))
    assert {m["value"]: m["display"] for m in outer["members"]} == {
        alice["id"]: "Alice",
        inner["id"]: "Inner",
    }

    renamed_user = harness.client.put(
        f"/scim/v2/Users/{alice['id']}",
        json=user("alice", displayName="Alice Liddell"),
        headers=tenant.headers(),
    )
    assert renamed_user.status_code == 200, renamed_user.text
    renamed_group = harness.client.put(
        f"/scim/v2/Groups/{inner['id']}", json=group("Inner circle"), headers=tenant.headers()
    )
    assert renamed_group.status_code == 200, renamed_group.text

    fetched = _get(harness, tenant, "Groups", outer["id"])
    assert {m["value"]: m["display"] for m in fetched["members"]} == {
        alice["id"]: "Alice Liddell",
        inner["id"]: "Inner circle",
    }
