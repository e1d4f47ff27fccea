"""What identity providers really send, accepted by the codec and PATCH engine (issue list).

Each case names the provider that sends it; tests/idp/ replays whole sequences.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Harness, TenantAccess
from tests.samples import ENTERPRISE, USER, assert_error, group, user

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def post(harness: Harness, tenant: TenantAccess, endpoint: str, body: Any) -> Any:
    made = harness.client.post(f"/scim/v2/{endpoint}", json=body, headers=tenant.headers())
    assert made.status_code == 201, made.text
    return made.json()


def patch(harness: Harness, tenant: TenantAccess, url: str, *ops: Any, **extra: Any) -> Any:
    body = {"schemas": [PATCH_OP], "Operations": list(ops), **extra}
    return harness.client.patch(url, json=body, headers=tenant.headers())


def read(harness: Harness, tenant: TenantAccess, url: str) -> Any:
    return harness.client.get(url, headers=tenant.headers()).json()


def test_names_in_any_case_and_booleans_as_strings(harness: Harness, tenant: TenantAccess) -> None:
    made = post(harness, tenant, "Users", {
        "Schemas": [USER], "UserName": "Case@Example.com", "Active": "True",
        "Emails": [{"Value": "case@example.com", "Primary": "true", "TYPE": "work"}],
    })  # fmt: skip
    assert made["userName"] == "Case@Example.com" and made["active"] is True
    assert made["emails"] == [{"value": "case@example.com", "primary": True, "type": "work"}]
    url = f"/scim/v2/Users/{made['id']}"
    for op, value, expected in (("Replace", "False", False), ("REPLACE", "true", True),
                                ("replace", "false", False)):  # fmt: skip
        done = patch(harness, tenant, url, {"op": op, "path": "active", "value": value})
        assert done.status_code == 200, done.text
        assert done.json()["active"] is expected


def test_pathless_patch_with_dotted_and_urn_keys(harness: Harness, tenant: TenantAccess) -> None:
    boss = post(harness, tenant, "Users", user("boss@example.com"))
    made = post(harness, tenant, "Users", user("dot@example.com", name={"givenName": "A"}))
    url = f"/scim/v2/Users/{made['id']}"
    done = patch(harness, tenant, url, {"op": "Replace", "value": {
        "name.givenName": "Dorothy", "name.familyName": "Dot",
        f"{ENTERPRISE}:manager": boss["id"], f"{ENTERPRISE}:department": "Ops",
    }})  # fmt: skip
    assert done.status_code == 200, done.text
    shown = done.json()
    assert shown["name"] == {"givenName": "Dorothy", "familyName": "Dot"}
    assert shown[ENTERPRISE]["manager"]["value"] == boss["id"]  # a bare string, read as value
    assert shown[ENTERPRISE]["department"] == "Ops"
    off = patch(harness, tenant, url, {"op": "replace", "value": {"active": False}})
    assert off.json()["active"] is False


def test_member_changes_in_every_shape(harness: Harness, tenant: TenantAccess) -> None:
    a, b, c = (post(harness, tenant, "Users", user(f"{n}@example.com"))["id"] for n in "abc")
    team = post(harness, tenant, "Groups", group("Team", members=[a, b]))
    url = f"/scim/v2/Groups/{team['id']}"

    def members() -> list[str]:
        return sorted(m["value"] for m in read(harness, tenant, url).get("members", []))

    assert patch(harness, tenant, url, {"op": "Remove", "path": f'members[value eq "{a}"]'}
                 ).status_code == 200  # fmt: skip
    assert members() == sorted([b])
    assert patch(harness, tenant, url, {"op": "Remove", "path": "members",
                 "value": [{"value": b, "$ref": None}]}).status_code == 200  # fmt: skip
    assert members() == []
    # Adding a member twice, or removing one that is not there, succeeds and changes nothing.
    for _ in range(2):
        added = patch(harness, tenant, url, {"op": "Add", "path": "members",
                                             "value": [{"value": c, "$ref": None}]})  # fmt: skip
        assert added.status_code == 200, added.text
    assert members() == [c]
    gone = patch(harness, tenant, url, {"op": "remove", "path": f'members[value eq "{a}"]'})
    assert gone.status_code == 200 and members() == [c]


def test_add_on_a_single_valued_attribute_replaces_it(
    harness: Harness, tenant: TenantAccess
) -> None:
    made = post(harness, tenant, "Users", user("title@example.com", title="Old"))
    url = f"/scim/v2/Users/{made['id']}"
    done = patch(harness, tenant, url, {"op": "add", "path": "title", "value": "New"})
    assert done.status_code == 200 and done.json()["title"] == "New"


def test_read_only_and_noise_fields_are_ignored(harness: Harness, tenant: TenantAccess) -> None:
    made = post(harness, tenant, "Users", {
        "schemas": [USER, "urn:scim:schemas:core:1.0", "http://example.com/foreign"],
        "id": "made-up-by-the-client", "userName": "noise@example.com",
        "meta": {"resourceType": "User", "created": "2001-01-01T00:00:00Z"},
        "groups": [{"value": "not-a-group"}], "nickName": None, "title": None,
        "emails": [{"value": "noise@example.com", "$ref": None, "display": None}],
    })  # fmt: skip
    assert made["id"] != "made-up-by-the-client" and "groups" not in made
    assert made["meta"]["created"] != "2001-01-01T00:00:00Z"
    assert "nickName" not in made and "title" not in made
    url = f"/scim/v2/Users/{made['id']}"
    replaced = harness.client.put(url, json={**made, "displayName": "Noise"},
                                  headers=tenant.headers())  # fmt: skip
    assert replaced.status_code == 200, replaced.text  # id, meta, schemas echoed back
    # A PATCH without (or with a foreign) schemas list is read all the same.
    for extra in ({}, {"schemas": ["urn:scim:schemas:core:2.0"]}):
        body = {"Operations": [{"op": "replace", "path": "displayName", "value": "N2"}], **extra}
        done = harness.client.patch(url, json=body, headers=tenant.headers())
        assert done.status_code == 200, done.text


@pytest.mark.parametrize(
    "query",
    [
        'filter=userName+eq+"spaced@example.com"',
        "filter=userName%20eq%20%22spaced%40example.com%22",
        "filter=userName eq spaced@example.com",
        'filter=USERNAME Eq "SPACED@example.com"&aadOptscim062020&excludedAttributes=members'
        "&someVendorFlag=1",
    ],
    ids=["plus", "percent-20", "unquoted", "any-case-and-unknown-parameters"],
)
def test_lookups_however_encoded(harness: Harness, tenant: TenantAccess, query: str) -> None:
    made = post(harness, tenant, "Users", user("spaced@example.com"))
    found = harness.client.get(f"/scim/v2/Users?{query}", headers=tenant.headers())
    assert found.status_code == 200, found.text
    assert [r["id"] for r in found.json()["Resources"]] == [made["id"]]


def test_a_lookup_sees_what_uniqueness_sees(harness: Harness, tenant: TenantAccess) -> None:
    """A deactivated User, in any case: found by the lookup a client makes before creating,
    so it never loops between "not found" and 409."""
    made = post(harness, tenant, "Users", user("Leaver@Example.com"))
    off = patch(harness, tenant, f"/scim/v2/Users/{made['id']}",
                {"op": "replace", "path": "active", "value": False})  # fmt: skip
    assert off.status_code == 200
    found = harness.client.get(
        '/scim/v2/Users?filter=userName eq "leaver@example.com"', headers=tenant.headers()
    ).json()
    assert [r["id"] for r in found["Resources"]] == [made["id"]]
    again = harness.client.post(
        "/scim/v2/Users", json=user("LEAVER@example.com"), headers=tenant.headers()
    )
    assert_error(again, 409, "uniqueness")
    team = post(harness, tenant, "Groups", group("Leavers"))
    assert harness.client.get(
        '/scim/v2/Groups?filter=displayName eq "leavers"', headers=tenant.headers()
    ).json()["Resources"][0]["id"] == team["id"]  # fmt: skip
    assert_error(
        harness.client.post("/scim/v2/Groups", json=group("LEAVERS"), headers=tenant.headers()),
        409,
        "uniqueness",
    )
