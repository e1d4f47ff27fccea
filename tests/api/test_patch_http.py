"""PATCH over HTTP (RFC 7644 §3.5.2) on Users and Groups, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from tests.conftest import Harness, TenantAccess, create
from tests.samples import ENTERPRISE, USER, assert_error, group, user

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
MANAGER = f"{ENTERPRISE}:manager"


# --- helpers -----------------------------------------------------------------


def _ops(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def _patch(
    harness: Harness,
    tenant: TenantAccess,
    endpoint: str,
    resource_id: str,
    body: Any,
    query: str = "",
    headers: dict[str, str] | None = None,
) -> Any:
    return harness.client.patch(
        f"/scim/v2/{endpoint}/{resource_id}{query}",
        json=body,
        headers={**tenant.headers(), **(headers or {})},
    )


def _ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/scim+json")
    body: dict[str, Any] = response.json()
    assert response.headers["etag"] == body["meta"]["version"]
    return body


def _get(harness: Harness, tenant: TenantAccess, endpoint: str, resource_id: str) -> dict[str, Any]:
    response = harness.client.get(f"/scim/v2/{endpoint}/{resource_id}", headers=tenant.headers())
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _normal(resource: dict[str, Any]) -> dict[str, Any]:
    if "members" not in resource:
        return resource
    return {**resource, "members": sorted(resource["members"], key=lambda m: m["value"])}


def _member_ids(resource: dict[str, Any]) -> set[str]:
    return {m["value"] for m in resource.get("members", [])}


def _stored_memberships(harness: Harness, group_id: str) -> set[str]:
    rows = harness.sql("SELECT member_id FROM group_members WHERE group_id = :g", g=group_id)
    return {row[0] for row in rows}


def _seed_users(harness: Harness, tenant: TenantAccess, count: int) -> list[str]:
    return harness.seed_users(tenant, count, prefix="seeded")


def _barbara(harness: Harness, tenant: TenantAccess, **extra: Any) -> dict[str, Any]:
    body = user(
        "bjensen@example.com",
        title="Tour Guide",
        emails=[
            {"value": "bjensen@example.com", "type": "work", "primary": True},
            {"value": "babs@jensen.org", "type": "home"},
        ],
        **extra,
    )
    return create(harness, tenant, "Users", body)


# --- Users: single attributes ----------------------------------------------------


def test_replace_user_name(harness: Harness, tenant: TenantAccess) -> None:
    created = _barbara(harness, tenant)
    harness.clock.advance(dt.timedelta(minutes=2))
    patched = _ok(
        _patch(
            harness,
            tenant,
            "Users",
            created["id"],
            _ops({"op": "replace", "path": "userName", "value": "barbara"}),
        )
    )
    assert patched["userName"] == "barbara"
    assert patched["meta"]["version"] == 'W/"2"'
    assert patched["meta"]["lastModified"] == "2026-11-28T09:02:00.000Z"
    assert patched["meta"]["created"] == created["meta"]["created"]
    assert {k: v for k, v in patched.items() if k not in ("userName", "meta")} == {
        k: v for k, v in created.items() if k not in ("userName", "meta")
    }
    assert _get(harness, tenant, "Users", created["id"]) == patched
    listed = harness.client.get(
        "/scim/v2/Users", params={"filter": 'userName eq "BARBARA"'}, headers=tenant.headers()
    )
    assert [r["id"] for r in listed.json()["Resources"]] == [created["id"]]


def test_replace_user_name_to_a_taken_one_is_409_and_changes_nothing(
    harness: Harness, tenant: TenantAccess
) -> None:
    create(harness, tenant, "Users", user("Taken"))
    mine = _barbara(harness, tenant)
    for value in ("Taken", "tAKEN"):
        response = _patch(
            harness,
            tenant,
            "Users",
            mine["id"],
            _ops(
                {"op": "replace", "path": "title", "value": "Changed"},
                {"op": "replace", "path": "userName", "value": value},
            ),
        )
        assert_error(response, 409, "uniqueness")
        assert _get(harness, tenant, "Users", mine["id"]) == mine
    # Its own name in another case is no clash.
    same = _ok(
        _patch(
            harness,
            tenant,
            "Users",
            mine["id"],
            _ops({"op": "replace", "path": "userName", "value": "BJensen@example.com"}),
        )
    )
    assert same["userName"] == "BJensen@example.com"


def test_add_replace_remove_given_name_and_title(harness: Harness, tenant: TenantAccess) -> None:
    created = create(harness, tenant, "Users", user("alice", name={"familyName": "Liddell"}))
    url_id = created["id"]

    added = _ok(
        _patch(
            harness,
            tenant,
            "Users",
            url_id,
            _ops(
                {"op": "add", "path": "name.givenName", "value": "Alice"},
                {"op": "add", "path": "title", "value": "Explorer"},
            ),
        )
    )
    assert added["name"] == {"familyName": "Liddell", "givenName": "Alice"}
    assert added["title"] == "Explorer"

    replaced = _ok(
        _patch(
            harness,
            tenant,
            "Users",
            url_id,
            _ops(
                {"op": "replace", "path": "name.givenName", "value": "Alicia"},
                {"op": "replace", "path": "title", "value": "Queen"},
            ),
        )
    )
    assert replaced["name"] == {"familyName": "Liddell", "givenName": "Alicia"}
    assert replaced["title"] == "Queen"

    removed = _ok(
        _patch(
            harness,
            tenant,
            "Users",
            url_id,
            _ops({"op": "remove", "path": "name.givenName"}, {"op": "remove", "path": "title"}),
        )
    )
    assert removed["name"] == {"familyName": "Liddell"}
    assert "title" not in removed
    assert removed["meta"]["version"] == 'W/"4"'

    # Pathless: the value's keys are the attributes (RFC 7644 §3.5.2.1).
    pathless = _ok(
        _patch(
            harness,
            tenant,
            "Users",
            url_id,
            _ops({"op": "add", "value": {"title": "Dreamer", "name.givenName": "Alice"}}),
        )
    )
    assert pathless["title"] == "Dreamer"
    assert pathless["name"] == {"familyName": "Liddell", "givenName": "Alice"}
    assert _get(harness, tenant, "Users", url_id) == pathless


def test_emails_by_value_filtered_paths(harness: Harness, tenant: TenantAccess) -> None:
    created = _barbara(harness, tenant)
    rid = created["id"]

    work = _ok(
        _patch(
            harness,
            tenant,
            "Users",
            rid,
            _ops(
                {
                    "op": "replace",
                    "path": 'emails[type eq "work"].value',
                    "value": "barbara@example.com",
                }
            ),
        )
    )
    assert work["emails"] == [
        {"value": "barbara@example.com", "type": "work", "primary": True},
        {"value": "babs@jensen.org", "type": "home"},
    ]

    added = _ok(
        _patch(
            harness,
            tenant,
            "Users",
            rid,
            _ops(
                {
                    "op": "add",
                    "path": "emails",
                    "value": [{"value": "b@other.org", "type": "other"}],
                }
            ),
        )
    )
    assert [e["value"] for e in added["emails"]] == [
        "barbara@example.com",
        "babs@jensen.org",
        "b@other.org",
    ]

    removed = _ok(
        _patch(
            harness,
            tenant,
            "Users",
            rid,
            _ops({"op": "remove", "path": 'emails[type eq "home"]'}),
        )
    )
    assert [e["value"] for e in removed["emails"]] == ["barbara@example.com", "b@other.org"]

    sub_removed = _ok(
        _patch(
            harness,
            tenant,
            "Users",
            rid,
            _ops({"op": "remove", "path": 'emails[value eq "b@other.org"].type'}),
        )
    )
    assert sub_removed["emails"] == [
        {"value": "barbara@example.com", "type": "work", "primary": True},
        {"value": "b@other.org"},
    ]
    assert sub_removed["meta"]["version"] == 'W/"5"'
    assert _get(harness, tenant, "Users", rid) == sub_removed

    # Entra ID sets a typed email that is not there yet through a filtered path.
    home = _ok(
        _patch(
            harness,
            tenant,
            "Users",
            rid,
            _ops({"op": "replace", "path": 'emails[type eq "home"].value', "value": "b@home.org"}),
        )
    )
    assert home["emails"][-1] == {"type": "home", "value": "b@home.org"}
    assert len(home["emails"]) == 3
    # Other filtered sub-attribute paths with no match are noTarget.
    assert_error(
        _patch(
            harness,
            tenant,
            "Users",
            rid,
            _ops({"op": "remove", "path": 'emails[type eq "fax"].value'}),
        ),
        400,
        "noTarget",
    )
    assert _get(harness, tenant, "Users", rid) == home


def test_enterprise_manager_and_active_by_pathless_operations(
    harness: Harness, tenant: TenantAccess
) -> None:
    boss = create(harness, tenant, "Users", user("boss"))
    created = _barbara(harness, tenant)
    rid = created["id"]

    managed = _ok(
        _patch(
            harness,
            tenant,
            "Users",
            rid,
            _ops({"op": "add", "value": {MANAGER: {"value": boss["id"]}}}),
        )
    )
    assert managed[ENTERPRISE] == {"manager": {"value": boss["id"]}}
    assert ENTERPRISE in managed["schemas"]

    # Entra ID sends the manager's id bare, with a path.
    replaced = _ok(
        _patch(
            harness,
            tenant,
            "Users",
            rid,
            _ops({"op": "Replace", "path": MANAGER, "value": "other-boss"}),
        )
    )
    assert replaced[ENTERPRISE] == {"manager": {"value": "other-boss"}}

    inactive = _ok(
        _patch(harness, tenant, "Users", rid, _ops({"op": "replace", "value": {"active": False}}))
    )
    assert inactive["active"] is False
    listed = harness.client.get(
        "/scim/v2/Users", params={"filter": "active eq false"}, headers=tenant.headers()
    ).json()
    assert [r["id"] for r in listed["Resources"]] == [rid]

    unmanaged = _ok(_patch(harness, tenant, "Users", rid, _ops({"op": "remove", "path": MANAGER})))
    assert ENTERPRISE not in unmanaged
    assert unmanaged["schemas"] == [USER]
    assert _get(harness, tenant, "Users", rid) == unmanaged


def test_lenient_spellings_are_accepted(harness: Harness, tenant: TenantAccess) -> None:
    created = _barbara(harness, tenant)
    rid = created["id"]
    # No schemas, ops in any case, keys in any case, a boolean as a string.
    body = {
        "operations": [
            {"op": "Replace", "path": "active", "value": "False"},
            {"OP": "ADD", "Path": "nickName", "Value": "Babs"},
        ]
    }
    patched = _ok(_patch(harness, tenant, "Users", rid, body))
    assert patched["active"] is False
    assert patched["nickName"] == "Babs"
    again = _ok(
        _patch(
            harness,
            tenant,
            "Users",
            rid,
            {"Operations": [{"op": "REPLACE", "value": {"active": "True"}}]},
        )
    )
    assert again["active"] is True
    assert again["meta"]["version"] == 'W/"3"'


# --- Users: errors and atomicity -----------------------------------------------------


def test_read_only_targets_are_400_mutability(harness: Harness, tenant: TenantAccess) -> None:
    created = _barbara(harness, tenant)
    for operation in (
        {"op": "replace", "path": "meta.created", "value": "2001-01-01T00:00:00Z"},
        {"op": "replace", "path": "id", "value": "mine"},
        {"op": "remove", "path": "id"},
        {"op": "add", "path": "groups", "value": [{"value": created["id"]}]},
    ):
        assert_error(
            _patch(harness, tenant, "Users", created["id"], _ops(operation)), 400, "mutability"
        )
    assert _get(harness, tenant, "Users", created["id"]) == created


def test_remove_with_a_filter_matching_nothing_is_no_target(
    harness: Harness, tenant: TenantAccess
) -> None:
    created = _barbara(harness, tenant)
    assert_error(
        _patch(
            harness,
            tenant,
            "Users",
            created["id"],
            _ops({"op": "remove", "path": 'emails[type eq "fax"]'}),
        ),
        400,
        "noTarget",
    )
    assert _get(harness, tenant, "Users", created["id"]) == created


def test_malformed_patch_requests(harness: Harness, tenant: TenantAccess) -> None:
    created = _barbara(harness, tenant)
    rid = created["id"]
    cases: list[tuple[Any, str]] = [
        ({"schemas": [PATCH_OP]}, "invalidSyntax"),
        ({"schemas": [PATCH_OP], "Operations": []}, "invalidSyntax"),
        ({"schemas": [PATCH_OP], "Operations": {"op": "add"}}, "invalidSyntax"),
        (_ops("add"), "invalidSyntax"),
        (_ops({"path": "title", "value": "x"}), "invalidSyntax"),
        (_ops({"op": "move", "path": "title", "value": "x"}), "invalidValue"),
        (_ops({"op": "remove"}), "noTarget"),
        (_ops({"op": "add", "path": "title"}), "invalidValue"),
        (_ops({"op": "add", "path": "emails[type eq", "value": "x"}), "invalidPath"),
        (_ops({"op": "add", "path": "nosuchAttribute", "value": "x"}), "invalidPath"),
        (_ops({"op": "add", "path": "title", "value": 42}), "invalidValue"),
    ]
    for body, scim_type in cases:
        assert_error(_patch(harness, tenant, "Users", rid, body), 400, scim_type)
    assert _get(harness, tenant, "Users", rid) == created


def test_a_patch_is_all_or_nothing(harness: Harness, tenant: TenantAccess) -> None:
    create(harness, tenant, "Users", user("taken"))
    created = _barbara(harness, tenant)
    rid = created["id"]
    failing_second_ops = [
        {"op": "remove", "path": 'emails[type eq "fax"]'},
        {"op": "replace", "path": "id", "value": "x"},
        {"op": "replace", "path": "userName", "value": "TAKEN"},
        {"op": "frobnicate", "path": "title", "value": "x"},
    ]
    for second in failing_second_ops:
        response = _patch(
            harness,
            tenant,
            "Users",
            rid,
            _ops(
                {"op": "replace", "path": "title", "value": "Changed"},
                {"op": "add", "path": "emails", "value": [{"value": "new@x.org", "type": "other"}]},
                second,
            ),
        )
        assert response.status_code in (400, 409), response.text
        assert _get(harness, tenant, "Users", rid) == created


def test_if_match_guards_patch(harness: Harness, tenant: TenantAccess) -> None:
    created = _barbara(harness, tenant)
    rid = created["id"]
    change = _ops({"op": "replace", "path": "title", "value": "Changed"})
    assert_error(_patch(harness, tenant, "Users", rid, change, headers={"If-Match": 'W/"9"'}), 412)
    assert _get(harness, tenant, "Users", rid) == created
    patched = _ok(_patch(harness, tenant, "Users", rid, change, headers={"If-Match": 'W/"1"'}))
    assert patched["title"] == "Changed"
    assert patched["meta"]["version"] == 'W/"2"'
    # The version that was current is now stale.
    assert_error(_patch(harness, tenant, "Users", rid, change, headers={"If-Match": 'W/"1"'}), 412)


def test_version_moves_only_when_something_changes(harness: Harness, tenant: TenantAccess) -> None:
    created = _barbara(harness, tenant)
    rid = created["id"]
    harness.clock.advance(dt.timedelta(minutes=10))
    for unchanged in (
        _ops({"op": "replace", "path": "title", "value": "Tour Guide"}),
        _ops({"op": "add", "path": "emails", "value": [{"value": "babs@jensen.org"}]}),
        _ops({"op": "replace", "value": {"userName": "bjensen@example.com", "active": True}}),
        _ops(
            {"op": "replace", "path": "title", "value": "Other"},
            {"op": "replace", "path": "title", "value": "Tour Guide"},
        ),
    ):
        same = _ok(_patch(harness, tenant, "Users", rid, unchanged))
        assert same == created
        assert same["meta"]["version"] == 'W/"1"'
    assert _get(harness, tenant, "Users", rid) == created

    changed = _ok(
        _patch(harness, tenant, "Users", rid, _ops({"op": "add", "path": "title", "value": "Boss"}))
    )
    assert changed["meta"]["version"] == 'W/"2"'
    assert changed["meta"]["lastModified"] == "2026-11-28T09:10:00.000Z"
    assert changed["meta"]["created"] == "2026-11-28T09:00:00.000Z"


def test_patch_response_honours_attributes(harness: Harness, tenant: TenantAccess) -> None:
    created = _barbara(harness, tenant)
    change = _ops({"op": "replace", "path": "title", "value": "Queen"})
    response = _patch(harness, tenant, "Users", created["id"], change, query="?attributes=title")
    assert response.status_code == 200, response.text
    assert response.json() == {"schemas": [USER], "id": created["id"], "title": "Queen"}
    assert response.headers["etag"] == 'W/"2"'
    full = _ok(
        _patch(
            harness,
            tenant,
            "Users",
            created["id"],
            _ops({"op": "replace", "path": "nickName", "value": "Q"}),
            query="?excludedAttributes=emails",
        )
    )
    assert "emails" not in full
    assert full["title"] == "Queen" and full["nickName"] == "Q"


def test_patch_needs_write_permission_and_an_existing_resource(
    harness: Harness, tenant: TenantAccess
) -> None:
    created = _barbara(harness, tenant)
    change = _ops({"op": "replace", "path": "title", "value": "x"})
    auditor = harness.client.patch(
        f"/scim/v2/Users/{created['id']}", json=change, headers=tenant.headers("auditor")
    )
    assert_error(auditor, 403)
    missing = _patch(harness, tenant, "Users", str(uuid.uuid4()), change)
    assert_error(missing, 404)
    other = harness.tenant()
    assert_error(
        harness.client.patch(
            f"/scim/v2/Users/{created['id']}", json=change, headers=other.headers()
        ),
        404,
    )
    assert _get(harness, tenant, "Users", created["id"]) == created


# --- Groups ----------------------------------------------------------------------


def _people(harness: Harness, tenant: TenantAccess, *names: str) -> list[dict[str, Any]]:
    return [
        create(harness, tenant, "Users", user(name, displayName=name.title())) for name in names
    ]


def test_add_members_with_and_without_display(harness: Harness, tenant: TenantAccess) -> None:
    alice, bob, carol = _people(harness, tenant, "alice", "bob", "carol")
    team = create(harness, tenant, "Groups", group("Team", [alice["id"]]))
    harness.clock.advance(dt.timedelta(minutes=1))

    patched = _ok(
        _patch(
            harness,
            tenant,
            "Groups",
            team["id"],
            _ops(
                {
                    "op": "add",
                    "path": "members",
                    "value": [{"value": bob["id"], "display": "Bobby"}, {"value": carol["id"]}],
                }
            ),
        )
    )
    assert {m["value"]: m.get("display") for m in patched["members"]} == {
        alice["id"]: "Alice",
        bob["id"]: "Bobby",
        carol["id"]: "Carol",
    }
    assert all(m["type"] == "User" for m in patched["members"])
    assert patched["meta"]["version"] == 'W/"2"'
    assert patched["meta"]["lastModified"] == "2026-11-28T09:01:00.000Z"
    assert _normal(_get(harness, tenant, "Groups", team["id"])) == _normal(patched)
    assert _stored_memberships(harness, team["id"]) == {alice["id"], bob["id"], carol["id"]}
    assert [g["value"] for g in _get(harness, tenant, "Users", carol["id"])["groups"]] == [
        team["id"]
    ]

    # Pathless, Okta style, with a nested group.
    inner = create(harness, tenant, "Groups", group("Inner"))
    pathless = _ok(
        _patch(
            harness,
            tenant,
            "Groups",
            team["id"],
            _ops({"op": "add", "value": {"members": [{"value": inner["id"]}]}}),
        )
    )
    assert {m["value"]: m["type"] for m in pathless["members"]}[inner["id"]] == "Group"
    assert len(pathless["members"]) == 4


def test_adding_an_existing_member_changes_nothing(harness: Harness, tenant: TenantAccess) -> None:
    alice, bob = _people(harness, tenant, "alice", "bob")
    team = create(harness, tenant, "Groups", group("Team", [alice["id"], bob["id"]]))
    harness.clock.advance(dt.timedelta(minutes=1))
    again = _ok(
        _patch(
            harness,
            tenant,
            "Groups",
            team["id"],
            _ops({"op": "add", "path": "members", "value": [{"value": alice["id"]}]}),
        )
    )
    assert _normal(again) == _normal(team)
    assert again["meta"]["version"] == 'W/"1"'
    assert _stored_memberships(harness, team["id"]) == {alice["id"], bob["id"]}


def test_remove_members_by_filter(harness: Harness, tenant: TenantAccess) -> None:
    alice, bob, carol = _people(harness, tenant, "alice", "bob", "carol")
    team = create(harness, tenant, "Groups", group("Team", [alice["id"], bob["id"]]))

    removed = _ok(
        _patch(
            harness,
            tenant,
            "Groups",
            team["id"],
            _ops({"op": "remove", "path": f'members[value eq "{alice["id"]}"]'}),
        )
    )
    assert _member_ids(removed) == {bob["id"]}
    assert removed["meta"]["version"] == 'W/"2"'
    assert _stored_memberships(harness, team["id"]) == {bob["id"]}
    assert _get(harness, tenant, "Users", alice["id"]).get("groups", []) == []

    # Removing a non-member (or an unknown id) succeeds and changes nothing.
    for absent in (carol["id"], alice["id"], str(uuid.uuid4())):
        same = _ok(
            _patch(
                harness,
                tenant,
                "Groups",
                team["id"],
                _ops({"op": "remove", "path": f'members[value eq "{absent}"]'}),
            )
        )
        assert _member_ids(same) == {bob["id"]}
        assert same["meta"]["version"] == 'W/"2"'

    # Filters other than value eq are evaluated against the stored members.
    by_type = _ok(
        _patch(
            harness,
            tenant,
            "Groups",
            team["id"],
            _ops({"op": "remove", "path": 'members[type eq "User"]'}),
        )
    )
    assert by_type.get("members", []) == []
    assert _stored_memberships(harness, team["id"]) == set()


def test_remove_members_by_value_array_and_all_members(
    harness: Harness, tenant: TenantAccess
) -> None:
    alice, bob, carol, dave = _people(harness, tenant, "alice", "bob", "carol", "dave")
    everyone = [alice["id"], bob["id"], carol["id"], dave["id"]]
    team = create(harness, tenant, "Groups", group("Team", everyone))

    # Okta and Entra: remove with path "members" and the members to remove as the value.
    removed = _ok(
        _patch(
            harness,
            tenant,
            "Groups",
            team["id"],
            _ops(
                {
                    "op": "remove",
                    "path": "members",
                    "value": [{"value": alice["id"]}, {"value": carol["id"]}],
                }
            ),
        )
    )
    assert _member_ids(removed) == {bob["id"], dave["id"]}
    assert _stored_memberships(harness, team["id"]) == {bob["id"], dave["id"]}

    cleared = _ok(
        _patch(harness, tenant, "Groups", team["id"], _ops({"op": "remove", "path": "members"}))
    )
    assert cleared.get("members", []) == []
    assert cleared["displayName"] == "Team"
    assert cleared["meta"]["version"] == 'W/"3"'
    assert _stored_memberships(harness, team["id"]) == set()
    assert _get(harness, tenant, "Groups", team["id"]).get("members", []) == []

    # Clearing an empty group changes nothing.
    again = _ok(
        _patch(harness, tenant, "Groups", team["id"], _ops({"op": "remove", "path": "members"}))
    )
    assert again["meta"]["version"] == 'W/"3"'


def test_replace_members(harness: Harness, tenant: TenantAccess) -> None:
    alice, bob, carol = _people(harness, tenant, "alice", "bob", "carol")
    team = create(harness, tenant, "Groups", group("Team", [alice["id"], bob["id"]]))
    replaced = _ok(
        _patch(
            harness,
            tenant,
            "Groups",
            team["id"],
            _ops(
                {
                    "op": "replace",
                    "path": "members",
                    "value": [{"value": bob["id"]}, {"value": carol["id"]}],
                }
            ),
        )
    )
    assert _member_ids(replaced) == {bob["id"], carol["id"]}
    assert replaced["meta"]["version"] == 'W/"2"'
    assert _stored_memberships(harness, team["id"]) == {bob["id"], carol["id"]}
    assert _get(harness, tenant, "Users", alice["id"]).get("groups", []) == []

    emptied = _ok(
        _patch(
            harness,
            tenant,
            "Groups",
            team["id"],
            _ops({"op": "replace", "path": "members", "value": []}),
        )
    )
    assert emptied.get("members", []) == []
    assert emptied["meta"]["version"] == 'W/"3"'
    assert _stored_memberships(harness, team["id"]) == set()

    # Filling the empty group again is a change too.
    refilled = _ok(
        _patch(
            harness,
            tenant,
            "Groups",
            team["id"],
            _ops(
                {
                    "op": "replace",
                    "path": "members",
                    "value": [{"value": alice["id"]}, {"value": bob["id"]}],
                }
            ),
        )
    )
    assert _member_ids(refilled) == {alice["id"], bob["id"]}
    assert refilled["meta"]["version"] == 'W/"4"'


def test_rename_group_keeps_members(harness: Harness, tenant: TenantAccess) -> None:
    alice, bob = _people(harness, tenant, "alice", "bob")
    team = create(harness, tenant, "Groups", group("Team", [alice["id"], bob["id"]]))
    renamed = _ok(
        _patch(
            harness,
            tenant,
            "Groups",
            team["id"],
            _ops({"op": "replace", "path": "displayName", "value": "Dream Team"}),
        )
    )
    assert renamed["displayName"] == "Dream Team"
    assert _normal(renamed)["members"] == _normal(team)["members"]
    assert renamed["meta"]["version"] == 'W/"2"'
    assert _stored_memberships(harness, team["id"]) == {alice["id"], bob["id"]}
    assert _get(harness, tenant, "Users", alice["id"])["groups"][0]["display"] == "Dream Team"

    # Entra ID: pathless replace with id and displayName together.
    pathless = _ok(
        _patch(
            harness,
            tenant,
            "Groups",
            team["id"],
            _ops({"op": "Replace", "value": {"id": team["id"], "displayName": "Team"}}),
        )
    )
    assert pathless["displayName"] == "Team"
    assert _member_ids(pathless) == {alice["id"], bob["id"]}


def test_rename_and_members_in_one_patch(harness: Harness, tenant: TenantAccess) -> None:
    alice, bob = _people(harness, tenant, "alice", "bob")
    team = create(harness, tenant, "Groups", group("Team", [alice["id"]]))
    both = _ok(
        _patch(
            harness,
            tenant,
            "Groups",
            team["id"],
            _ops(
                {"op": "replace", "path": "displayName", "value": "Renamed"},
                {"op": "add", "path": "members", "value": [{"value": bob["id"]}]},
                {"op": "remove", "path": f'members[value eq "{alice["id"]}"]'},
            ),
        )
    )
    assert both["displayName"] == "Renamed"
    assert _member_ids(both) == {bob["id"]}
    assert both["meta"]["version"] == 'W/"2"'


def test_adding_an_unknown_member_is_400_and_writes_nothing(
    harness: Harness, tenant: TenantAccess
) -> None:
    alice, bob = _people(harness, tenant, "alice", "bob")
    team = create(harness, tenant, "Groups", group("Team", [alice["id"]]))
    unknown = str(uuid.uuid4())
    stranger = create(harness, harness.tenant(), "Users", user("stranger"))
    for missing in (unknown, stranger["id"]):
        response = _patch(
            harness,
            tenant,
            "Groups",
            team["id"],
            _ops(
                {"op": "replace", "path": "displayName", "value": "Changed"},
                {
                    "op": "add",
                    "path": "members",
                    "value": [{"value": bob["id"]}, {"value": missing}],
                },
            ),
        )
        error = assert_error(response, 400, "invalidValue")
        assert missing in error["detail"]
        assert _normal(_get(harness, tenant, "Groups", team["id"])) == _normal(team)
        assert _stored_memberships(harness, team["id"]) == {alice["id"]}

    itself = _patch(
        harness,
        tenant,
        "Groups",
        team["id"],
        _ops({"op": "add", "path": "members", "value": [{"value": team["id"]}]}),
    )
    assert_error(itself, 400, "invalidValue")


def test_member_sub_attributes_are_immutable(harness: Harness, tenant: TenantAccess) -> None:
    alice, _ = _people(harness, tenant, "alice", "bob")
    team = create(harness, tenant, "Groups", group("Team", [alice["id"]]))
    for operation in (
        {"op": "replace", "path": f'members[value eq "{alice["id"]}"].display', "value": "X"},
        {"op": "add", "path": f'members[value eq "{alice["id"]}"].display', "value": "X"},
        {"op": "remove", "path": f'members[value eq "{alice["id"]}"].display'},
    ):
        assert_error(
            _patch(harness, tenant, "Groups", team["id"], _ops(operation)), 400, "mutability"
        )
    assert _normal(_get(harness, tenant, "Groups", team["id"])) == _normal(team)


def test_if_match_guards_group_patch(harness: Harness, tenant: TenantAccess) -> None:
    alice, bob = _people(harness, tenant, "alice", "bob")
    team = create(harness, tenant, "Groups", group("Team", [alice["id"]]))
    add_bob = _ops({"op": "add", "path": "members", "value": [{"value": bob["id"]}]})
    assert_error(
        _patch(harness, tenant, "Groups", team["id"], add_bob, headers={"If-Match": 'W/"2"'}),
        412,
    )
    assert _stored_memberships(harness, team["id"]) == {alice["id"]}
    patched = _ok(
        _patch(harness, tenant, "Groups", team["id"], add_bob, headers={"If-Match": 'W/"1"'})
    )
    assert _member_ids(patched) == {alice["id"], bob["id"]}


def test_large_member_changes_in_one_patch(harness: Harness, tenant: TenantAccess) -> None:
    ids = _seed_users(harness, tenant, 1500)
    team = create(harness, tenant, "Groups", group("Everyone"))

    added = _patch(
        harness,
        tenant,
        "Groups",
        team["id"],
        _ops({"op": "add", "path": "members", "value": [{"value": i} for i in ids]}),
        query="?excludedAttributes=members",
    )
    body = _ok(added)
    assert "members" not in body
    assert body["displayName"] == "Everyone"
    assert body["meta"]["version"] == 'W/"2"'
    fetched = _get(harness, tenant, "Groups", team["id"])
    assert len(fetched["members"]) == 1500
    assert _member_ids(fetched) == set(ids)

    gone = ids[100:800]
    removed = _patch(
        harness,
        tenant,
        "Groups",
        team["id"],
        _ops({"op": "remove", "path": "members", "value": [{"value": i} for i in gone]}),
        query="?excludedAttributes=members",
    )
    assert "members" not in _ok(removed)
    assert removed.json()["meta"]["version"] == 'W/"3"'
    after = _get(harness, tenant, "Groups", team["id"])
    assert len(after["members"]) == 800
    assert _member_ids(after) == set(ids[:100] + ids[800:])
    assert _stored_memberships(harness, team["id"]) == set(ids[:100] + ids[800:])
    counted = harness.client.get(
        "/scim/v2/Groups",
        params={"filter": f'members.value eq "{ids[-1]}"', "count": 0},
        headers=tenant.headers(),
    )
    assert counted.json()["totalResults"] == 1
