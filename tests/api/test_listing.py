"""Listing and searching over HTTP: filters (RFC 7644 §3.4.2.2), sorting (§3.4.2.3),
index pages (§3.4.2.4), cursor pages (RFC 9865), projection (§3.4.2.5, §3.9) and
``POST /.search`` (§3.4.3), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.conftest import Harness, TenantAccess, create
from tests.samples import ENTERPRISE, GROUP, LIST, USER, assert_error, group, user

SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
MINUTE = dt.timedelta(minutes=1)


# --- helpers -----------------------------------------------------------------


def _list(
    harness: Harness,
    tenant: TenantAccess,
    endpoint: str = "Users",
    headers: dict[str, str] | None = None,
    **params: Any,
) -> dict[str, Any]:
    response = harness.client.get(
        f"/scim/v2/{endpoint}", params=params, headers=headers or tenant.headers()
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["schemas"] == [LIST]
    return body


def _ids(body: dict[str, Any]) -> list[str]:
    return [r["id"] for r in body.get("Resources", [])]


def _search(
    harness: Harness,
    tenant: TenantAccess,
    path: str,
    headers: dict[str, str] | None = None,
    **req: Any,
) -> Any:
    return harness.client.post(
        f"/scim/v2{path}",
        json={"schemas": [SEARCH], **req},
        headers=headers or tenant.headers(),
    )


def _directory(harness: Harness, tenant: TenantAccess) -> dict[str, dict[str, Any]]:
    """Five users created a minute apart (09:00 … 09:04) and two groups (09:05)."""
    bodies = {
        "alice": user(
            "alice@example.com",
            schemas=[USER, ENTERPRISE],
            externalId="ExtA",
            displayName="Alice Liddell",
            name={"familyName": "Liddell", "givenName": "Alice"},
            emails=[
                {"value": "alice@example.com", "type": "work", "primary": True},
                {"value": "alice@home.org", "type": "home"},
            ],
            **{ENTERPRISE: {"employeeNumber": "1001", "department": "Research"}},
        ),
        "malice": user(
            "malice@example.com",
            displayName="Malice",
            name={"familyName": "Mallory", "givenName": "Mal"},
            # The primary email is not the first one.
            emails=[
                {"value": "aaa@example.com", "type": "home"},
                {"value": "malice@example.com", "type": "work", "primary": True},
            ],
        ),
        "alice_au": user(
            "alice@example.com.au",
            externalId="exta",
            name={"familyName": "Liddell", "givenName": "Alicia"},
            emails=[{"value": "a@example.com.au", "type": "home"}],
        ),
        "bob": {
            "schemas": [USER, ENTERPRISE],
            "userName": "Bob",
            "displayName": "Bobby LIDDELL",
            ENTERPRISE: {"employeeNumber": "10010"},
        },
        "carol": user(
            "carol",
            name={"givenName": "Carol"},
            emails=[{"value": "Carol@Example.com", "type": "work"}],
        ),
    }
    out: dict[str, dict[str, Any]] = {}
    for key, body in bodies.items():
        out[key] = create(harness, tenant, "Users", body)
        harness.clock.advance(MINUTE)
    out["liddells"] = create(
        harness, tenant, "Groups", group("Liddells", [out["alice"]["id"], out["alice_au"]["id"]])
    )
    out["everyone"] = create(
        harness,
        tenant,
        "Groups",
        group("Everyone", [out[k]["id"] for k in ("alice", "malice", "alice_au", "bob", "carol")]),
    )
    return out


def _seed_users(harness: Harness, tenant: TenantAccess, count: int) -> list[str]:
    return harness.seed_users(tenant, count, prefix="seeded")


def _make_users(harness: Harness, tenant: TenantAccess, count: int) -> list[str]:
    return [create(harness, tenant, "Users", user(f"user{i}"))["id"] for i in range(count)]


# --- filters -----------------------------------------------------------------


def test_user_name_eq_is_exact_and_case_insensitive(harness: Harness, tenant: TenantAccess) -> None:
    d = _directory(harness, tenant)
    for text in ('userName eq "alice@example.com"', 'USERNAME EQ "ALICE@Example.COM"'):
        body = _list(harness, tenant, filter=text)
        # Never a substring or prefix match: malice@… and alice@….au stay out.
        assert _ids(body) == [d["alice"]["id"]]
        assert body["totalResults"] == 1
    assert _list(harness, tenant, filter='userName eq "alice"')["totalResults"] == 0
    assert _ids(_list(harness, tenant, filter='userName eq "bob"')) == [d["bob"]["id"]]


def test_external_id_eq_is_case_exact(harness: Harness, tenant: TenantAccess) -> None:
    d = _directory(harness, tenant)
    assert _ids(_list(harness, tenant, filter='externalId eq "ExtA"')) == [d["alice"]["id"]]
    assert _ids(_list(harness, tenant, filter='externalId eq "exta"')) == [d["alice_au"]["id"]]
    assert _list(harness, tenant, filter='externalId eq "EXTA"')["totalResults"] == 0


def test_display_name_co_email_value_filter_and_enterprise_attribute(
    harness: Harness, tenant: TenantAccess
) -> None:
    d = _directory(harness, tenant)
    assert _ids(_list(harness, tenant, filter='displayName co "liddell"')) == [
        d["alice"]["id"],
        d["bob"]["id"],
    ]
    assert _ids(_list(harness, tenant, filter='emails[type eq "work"]')) == [
        d["alice"]["id"],
        d["malice"]["id"],
        d["carol"]["id"],
    ]
    assert _ids(
        _list(harness, tenant, filter='emails[type eq "work" and value eq "carol@example.COM"]')
    ) == [d["carol"]["id"]]
    assert _ids(_list(harness, tenant, filter=f'{ENTERPRISE}:employeeNumber eq "1001"')) == [
        d["alice"]["id"]
    ]
    assert _ids(_list(harness, tenant, filter='employeeNumber eq "10010"')) == [d["bob"]["id"]]


def test_membership_filters_on_groups_and_users(harness: Harness, tenant: TenantAccess) -> None:
    d = _directory(harness, tenant)
    both = _list(harness, tenant, "Groups", filter=f'members.value eq "{d["alice_au"]["id"]}"')
    assert _ids(both) == [d["liddells"]["id"], d["everyone"]["id"]]
    only = _list(harness, tenant, "Groups", filter=f'members.value eq "{d["bob"]["id"]}"')
    assert _ids(only) == [d["everyone"]["id"]]
    in_liddells = _list(harness, tenant, filter=f'groups.value eq "{d["liddells"]["id"]}"')
    assert _ids(in_liddells) == [d["alice"]["id"], d["alice_au"]["id"]]


def test_meta_last_modified_gt(harness: Harness, tenant: TenantAccess) -> None:
    d = _directory(harness, tenant)
    later = _list(harness, tenant, filter='meta.lastModified gt "2026-11-28T09:02:00Z"')
    assert _ids(later) == [d["bob"]["id"], d["carol"]["id"]]
    # A change moves lastModified, and with it the user into the filter.
    harness.clock.advance(dt.timedelta(hours=1))
    patched = harness.client.patch(
        f"/scim/v2/Users/{d['alice']['id']}",
        json={"Operations": [{"op": "replace", "path": "title", "value": "Queen"}]},
        headers=tenant.headers(),
    )
    assert patched.status_code == 200, patched.text
    recent = _list(harness, tenant, filter='meta.lastModified gt "2026-11-28T09:30:00Z"')
    assert _ids(recent) == [d["alice"]["id"]]


def test_filters_encoded_with_plus_and_percent_20(harness: Harness, tenant: TenantAccess) -> None:
    d = _directory(harness, tenant)
    for query in (
        "filter=userName+eq+%22alice%40example.com%22",
        "filter=userName%20eq%20%22alice%40example.com%22",
        'filter=userName eq "alice@example.com"',
    ):
        response = harness.client.get(f"/scim/v2/Users?{query}", headers=tenant.headers())
        assert response.status_code == 200, (query, response.text)
        assert _ids(response.json()) == [d["alice"]["id"]], query


def test_invalid_filters_are_400_invalid_filter(harness: Harness, tenant: TenantAccess) -> None:
    _directory(harness, tenant)
    url = "/scim/v2/Users"
    error = assert_error(
        harness.client.get(url, params={"filter": 'userName xx "a"'}, headers=tenant.headers()),
        400,
        "invalidFilter",
    )
    assert "position 10" in error["detail"]
    error = assert_error(
        harness.client.get(url, params={"filter": "userName eq"}, headers=tenant.headers()),
        400,
        "invalidFilter",
    )
    assert "position 12" in error["detail"]
    for text in ('nosuchAttribute eq "x"', 'emails[type eq "work"', "active gt true"):
        assert_error(
            harness.client.get(url, params={"filter": text}, headers=tenant.headers()),
            400,
            "invalidFilter",
        )
    deep = "(" * 40 + 'userName eq "a"' + ")" * 40
    assert_error(
        harness.client.get(url, params={"filter": deep}, headers=tenant.headers()),
        400,
        "invalidFilter",
    )
    long = 'userName eq "' + "a" * 5000 + '"'
    error = assert_error(
        harness.client.get(url, params={"filter": long}, headers=tenant.headers()),
        400,
        "invalidFilter",
    )
    assert "too long" in error["detail"]
    # The same through /.search.
    assert_error(_search(harness, tenant, "/Users/.search", filter=deep), 400, "invalidFilter")


# --- sorting -----------------------------------------------------------------


def test_sort_by_user_name(harness: Harness, tenant: TenantAccess) -> None:
    d = _directory(harness, tenant)
    ascending = [d[k]["id"] for k in ("alice", "alice_au", "bob", "carol", "malice")]
    assert _ids(_list(harness, tenant, sortBy="userName")) == ascending
    assert _ids(_list(harness, tenant, sortBy="username", sortOrder="ascending")) == ascending
    assert _ids(_list(harness, tenant, sortBy="userName", sortOrder="descending")) == list(
        reversed(ascending)
    )


def test_sort_by_family_name_puts_missing_values_last_ascending_first_descending(
    harness: Harness, tenant: TenantAccess
) -> None:
    d = _directory(harness, tenant)
    liddells = sorted([d["alice"]["id"], d["alice_au"]["id"]])  # a tie: by id
    missing = sorted([d["bob"]["id"], d["carol"]["id"]])  # no familyName: by id
    assert _ids(_list(harness, tenant, sortBy="name.familyName")) == [
        *liddells,
        d["malice"]["id"],
        *missing,
    ]
    assert _ids(_list(harness, tenant, sortBy="name.familyName", sortOrder="descending")) == [
        *missing,
        d["malice"]["id"],
        *liddells,
    ]


def test_sort_by_emails_uses_the_primary_value(harness: Harness, tenant: TenantAccess) -> None:
    d = _directory(harness, tenant)
    # alice_au a@…, alice alice@…, carol carol@… (no primary: the first), malice by its
    # primary malice@… (not its first, aaa@…), bob without emails last.
    ascending = [d[k]["id"] for k in ("alice_au", "alice", "carol", "malice", "bob")]
    assert _ids(_list(harness, tenant, sortBy="emails")) == ascending
    assert _ids(_list(harness, tenant, sortBy="emails", sortOrder="descending")) == list(
        reversed(ascending)
    )


def test_sort_by_meta_created_with_ties_by_id(harness: Harness, tenant: TenantAccess) -> None:
    d = _directory(harness, tenant)
    # Two more users at one instant: their order is by id.
    same = sorted(create(harness, tenant, "Users", user(f"twin{i}"))["id"] for i in range(2))
    order = [d[k]["id"] for k in ("alice", "malice", "alice_au", "bob", "carol")]
    assert _ids(_list(harness, tenant, sortBy="meta.created")) == [*order, *same]
    descending = _list(harness, tenant, sortBy="meta.created", sortOrder="descending")
    assert _ids(descending)[2:] == list(reversed(order))
    assert sorted(_ids(descending)[:2]) == same


def test_invalid_sort_order_is_400(harness: Harness, tenant: TenantAccess) -> None:
    assert_error(
        harness.client.get(
            "/scim/v2/Users?sortBy=userName&sortOrder=sideways", headers=tenant.headers()
        ),
        400,
        "invalidValue",
    )
    assert_error(
        _search(harness, tenant, "/Users/.search", sortBy="userName", sortOrder="up"),
        400,
        "invalidValue",
    )


# --- index pages ---------------------------------------------------------------


def test_start_index_and_count_apply_to_the_filtered_set(
    harness: Harness, tenant: TenantAccess
) -> None:
    d = _directory(harness, tenant)
    work = 'emails[type eq "work"]'
    page = _list(harness, tenant, filter=work, startIndex=2, count=1)
    assert _ids(page) == [d["malice"]["id"]]
    assert (page["totalResults"], page["startIndex"], page["itemsPerPage"]) == (3, 2, 1)
    sorted_page = _list(
        harness, tenant, filter=work, sortBy="userName", sortOrder="descending", count=2
    )
    assert _ids(sorted_page) == [d["malice"]["id"], d["carol"]["id"]]
    assert sorted_page["totalResults"] == 3
    none = _list(harness, tenant, filter=work, count=0)
    assert (none["totalResults"], none["itemsPerPage"], none.get("Resources", [])) == (3, 0, [])


def test_count_is_capped_at_the_advertised_max_page_size(
    harness: Harness, tenant: TenantAccess
) -> None:
    spc = harness.client.get("/scim/v2/ServiceProviderConfig", headers=tenant.headers()).json()
    max_page = spc["pagination"]["maxPageSize"]
    assert max_page == 1000
    _seed_users(harness, tenant, max_page + 1)
    listed = _list(harness, tenant, count=100000, attributes="id")
    assert (listed["totalResults"], listed["itemsPerPage"]) == (max_page + 1, max_page)
    assert len(listed["Resources"]) == max_page
    by_cursor = _list(harness, tenant, cursor="", count=100000, attributes="id")
    assert by_cursor["itemsPerPage"] == max_page
    assert "nextCursor" in by_cursor
    rest = _list(harness, tenant, cursor=by_cursor["nextCursor"], count=100000)
    assert rest["itemsPerPage"] == 1
    assert "nextCursor" not in rest


# --- cursor pages (RFC 9865) ---------------------------------------------------


def test_cursor_pages_forward_and_back(harness: Harness, tenant: TenantAccess) -> None:
    ids = _make_users(harness, tenant, 7)

    response = harness.client.get("/scim/v2/Users?cursor&count=3", headers=tenant.headers())
    assert response.status_code == 200, response.text
    first = response.json()
    assert _ids(first) == ids[:3]
    assert first["totalResults"] == 7
    assert first["itemsPerPage"] == 3
    assert "startIndex" not in first
    assert "previousCursor" not in first
    assert first["nextCursor"]

    second = _list(harness, tenant, cursor=first["nextCursor"], count=3)
    assert _ids(second) == ids[3:6]
    assert "startIndex" not in second
    assert second["previousCursor"] and second["nextCursor"]

    last = _list(harness, tenant, cursor=second["nextCursor"], count=3)
    assert _ids(last) == ids[6:]
    assert "nextCursor" not in last
    assert last["previousCursor"]

    back = _list(harness, tenant, cursor=last["previousCursor"], count=3)
    assert _ids(back) == ids[3:6]
    assert back["nextCursor"] and back["previousCursor"]
    front = _list(harness, tenant, cursor=back["previousCursor"], count=3)
    assert _ids(front) == ids[:3]
    assert "previousCursor" not in front
    # Forward again from a page reached backwards.
    assert _ids(_list(harness, tenant, cursor=front["nextCursor"], count=3)) == ids[3:6]


def test_following_next_cursor_visits_every_user_once(
    harness: Harness, tenant: TenantAccess
) -> None:
    ids = _make_users(harness, tenant, 7)
    seen: list[str] = []
    page = _list(harness, tenant, cursor="", count=2)
    pages = 1
    while True:
        seen += _ids(page)
        assert page["totalResults"] == 7
        if "nextCursor" not in page:
            break
        page = _list(harness, tenant, cursor=page["nextCursor"], count=2)
        pages += 1
    assert seen == ids
    assert pages == 4
    # A page that ends exactly at the last user has no nextCursor.
    whole = _list(harness, tenant, cursor="", count=7)
    assert _ids(whole) == ids
    assert "nextCursor" not in whole and "previousCursor" not in whole


def test_cursor_with_filter_and_sort(harness: Harness, tenant: TenantAccess) -> None:
    d = _directory(harness, tenant)
    expected = [d[k]["id"] for k in ("malice", "carol", "bob", "alice_au", "alice")]
    params = {"sortBy": "userName", "sortOrder": "descending", "count": 2}
    first = _list(harness, tenant, cursor="", **params)
    assert _ids(first) == expected[:2]
    assert "previousCursor" not in first
    second = _list(harness, tenant, cursor=first["nextCursor"], **params)
    assert _ids(second) == expected[2:4]
    third = _list(harness, tenant, cursor=second["nextCursor"], **params)
    assert _ids(third) == expected[4:]
    assert "nextCursor" not in third
    assert _ids(_list(harness, tenant, cursor=third["previousCursor"], **params)) == expected[2:4]
    assert _ids(_list(harness, tenant, cursor=second["previousCursor"], **params)) == expected[:2]

    filtered = {"filter": 'userName sw "alice"', "count": 1}
    one = _list(harness, tenant, cursor="", **filtered)
    assert _ids(one) == [d["alice"]["id"]]
    assert one["totalResults"] == 2
    two = _list(harness, tenant, cursor=one["nextCursor"], **filtered)
    assert _ids(two) == [d["alice_au"]["id"]]
    assert "nextCursor" not in two


def test_bad_cursors_are_400_invalid_cursor(harness: Harness) -> None:
    mine, theirs = harness.tenant(), harness.tenant()
    _make_users(harness, mine, 3)
    for i in range(3):
        create(harness, theirs, "Users", user(f"other{i}"))
    cursor = _list(harness, mine, cursor="", count=1)["nextCursor"]
    assert _list(harness, mine, cursor=cursor, count=1)["Resources"]

    middle = len(cursor) // 2
    tampered = cursor[:middle] + ("A" if cursor[middle] != "A" else "B") + cursor[middle + 1 :]
    forged = assert_error(
        harness.client.get(
            "/scim/v2/Users", params={"cursor": tampered, "count": 1}, headers=mine.headers()
        ),
        400,
        "invalidCursor",
    )
    garbage = assert_error(
        harness.client.get(
            "/scim/v2/Users", params={"cursor": "not-a-cursor", "count": 1}, headers=mine.headers()
        ),
        400,
        "invalidCursor",
    )
    assert garbage["detail"] == forged["detail"]

    # Another tenant's cursor, for the very same query, reads like a forged one.
    foreign = _list(harness, theirs, cursor="", count=1)["nextCursor"]
    other = assert_error(
        harness.client.get(
            "/scim/v2/Users", params={"cursor": foreign, "count": 1}, headers=mine.headers()
        ),
        400,
        "invalidCursor",
    )
    assert other["detail"] == forged["detail"]

    # A cursor belongs to its query: another filter, sort or resource type is refused.
    for params in (
        {"filter": 'userName sw "user"'},
        {"sortBy": "userName"},
        {"sortOrder": "descending"},
    ):
        assert_error(
            harness.client.get(
                "/scim/v2/Users",
                params={"cursor": cursor, "count": 1, **params},
                headers=mine.headers(),
            ),
            400,
            "invalidCursor",
        )
    assert_error(
        harness.client.get(
            "/scim/v2/Groups", params={"cursor": cursor, "count": 1}, headers=mine.headers()
        ),
        400,
        "invalidCursor",
    )
    filtered = _list(harness, mine, cursor="", count=1, filter='userName sw "user"')
    assert_error(
        harness.client.get(
            "/scim/v2/Users",
            params={"cursor": filtered["nextCursor"], "count": 1, "filter": 'userName sw "use"'},
            headers=mine.headers(),
        ),
        400,
        "invalidCursor",
    )


def test_cursor_with_start_index_is_400(harness: Harness, tenant: TenantAccess) -> None:
    _make_users(harness, tenant, 2)
    assert_error(
        harness.client.get("/scim/v2/Users?cursor&startIndex=1", headers=tenant.headers()),
        400,
        "invalidValue",
    )
    assert_error(
        _search(harness, tenant, "/Users/.search", cursor="", startIndex=1), 400, "invalidValue"
    )


def test_cursor_count_zero_gives_only_the_total(harness: Harness, tenant: TenantAccess) -> None:
    _make_users(harness, tenant, 3)
    body = _list(harness, tenant, cursor="", count=0)
    assert body["totalResults"] == 3
    assert body.get("Resources", []) == []
    assert "nextCursor" not in body
    assert "previousCursor" not in body


# --- projection ----------------------------------------------------------------


def test_attributes_and_excluded_attributes_on_users(
    harness: Harness, tenant: TenantAccess
) -> None:
    d = _directory(harness, tenant)
    alice_url = f"/scim/v2/Users/{d['alice']['id']}"

    def get(**params: str) -> dict[str, Any]:
        response = harness.client.get(alice_url, params=params, headers=tenant.headers())
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    only = get(attributes="userName")
    assert set(only) == {"schemas", "id", "userName"}
    assert only["id"] == d["alice"]["id"]
    # Attribute names are case-insensitive (RFC 7644 §3.10).
    assert get(attributes="USERNAME") == only

    given = get(attributes="name.givenName")
    assert set(given) == {"schemas", "id", "name"}
    assert given["name"] == {"givenName": "Alice"}

    without = get(excludedAttributes="emails,name.familyName")
    assert "emails" not in without
    assert without["name"] == {"givenName": "Alice"}
    assert without["userName"] == "alice@example.com"
    assert without["meta"] == d["alice"]["meta"]

    department = get(attributes=f"{ENTERPRISE}:department")
    assert set(department) == {"schemas", "id", ENTERPRISE}
    assert department[ENTERPRISE] == {"department": "Research"}

    whole_extension = get(attributes=ENTERPRISE)
    assert whole_extension[ENTERPRISE] == {"employeeNumber": "1001", "department": "Research"}

    # id (returned "always") cannot be excluded.
    kept = get(excludedAttributes="id,userName")
    assert kept["id"] == d["alice"]["id"]
    assert "userName" not in kept

    assert_error(
        harness.client.get(
            alice_url,
            params={"attributes": "userName", "excludedAttributes": "emails"},
            headers=tenant.headers(),
        ),
        400,
        "invalidValue",
    )

    listed = _list(harness, tenant, attributes="userName", filter='userName sw "alice"')
    assert listed["Resources"] == [
        # RFC 7643 §3: the extension projected away is no longer listed in schemas.
        {"schemas": [USER], "id": d["alice"]["id"], "userName": "alice@example.com"},
        {"schemas": [USER], "id": d["alice_au"]["id"], "userName": "alice@example.com.au"},
    ]
    excluded = _list(harness, tenant, excludedAttributes="emails,meta")
    assert all("emails" not in r and "meta" not in r and r["id"] for r in excluded["Resources"])
    assert_error(
        harness.client.get(
            "/scim/v2/Users?attributes=userName&excludedAttributes=emails",
            headers=tenant.headers(),
        ),
        400,
        "invalidValue",
    )


def test_projection_applies_to_write_responses(harness: Harness, tenant: TenantAccess) -> None:
    created = harness.client.post(
        "/scim/v2/Users?attributes=userName",
        json=user("dinah", title="Cat"),
        headers=tenant.headers(),
    )
    assert created.status_code == 201, created.text
    assert set(created.json()) == {"schemas", "id", "userName"}
    assert created.headers["location"].endswith(created.json()["id"])
    url = f"/scim/v2/Users/{created.json()['id']}"

    replaced = harness.client.put(
        f"{url}?excludedAttributes=emails,name",
        json=user("dinah", title="Cheshire"),
        headers=tenant.headers(),
    )
    assert replaced.status_code == 200, replaced.text
    body = replaced.json()
    assert body["title"] == "Cheshire"
    assert "emails" not in body and "name" not in body
    assert body["meta"]["version"] == 'W/"2"'

    patched = harness.client.patch(
        f"{url}?attributes=title",
        json={"Operations": [{"op": "replace", "path": "title", "value": "Queen"}]},
        headers=tenant.headers(),
    )
    assert patched.status_code == 200, patched.text
    assert patched.json() == {"schemas": [USER], "id": created.json()["id"], "title": "Queen"}

    # The full resource is unaffected by what the responses showed.
    full = harness.client.get(url, headers=tenant.headers()).json()
    assert full["title"] == "Queen"
    assert full["emails"] == [{"value": "dinah", "type": "work", "primary": True}]


def test_projection_on_groups(harness: Harness, tenant: TenantAccess) -> None:
    d = _directory(harness, tenant)
    url = f"/scim/v2/Groups/{d['liddells']['id']}"
    no_members = harness.client.get(f"{url}?excludedAttributes=members", headers=tenant.headers())
    assert no_members.status_code == 200, no_members.text
    assert "members" not in no_members.json()
    assert no_members.json()["displayName"] == "Liddells"
    assert no_members.json()["meta"]["version"] == d["liddells"]["meta"]["version"]

    name_only = harness.client.get(f"{url}?attributes=displayName", headers=tenant.headers())
    assert name_only.json() == {
        "schemas": [GROUP],
        "id": d["liddells"]["id"],
        "displayName": "Liddells",
    }

    listed = _list(harness, tenant, "Groups", excludedAttributes="members")
    assert _ids(listed) == [d["liddells"]["id"], d["everyone"]["id"]]
    assert all("members" not in r for r in listed["Resources"])

    member_ids = _list(harness, tenant, "Groups", attributes="members.value")
    assert [sorted(m["value"] for m in r["members"]) for r in member_ids["Resources"]] == [
        sorted([d["alice"]["id"], d["alice_au"]["id"]]),
        sorted(d[k]["id"] for k in ("alice", "malice", "alice_au", "bob", "carol")),
    ]
    assert all(set(r) == {"schemas", "id", "members"} for r in member_ids["Resources"])

    renamed = harness.client.patch(
        f"{url}?excludedAttributes=members",
        json={"Operations": [{"op": "replace", "path": "displayName", "value": "The Liddells"}]},
        headers=tenant.headers(),
    )
    assert renamed.status_code == 200, renamed.text
    assert "members" not in renamed.json()
    assert renamed.json()["displayName"] == "The Liddells"


# --- /.search ------------------------------------------------------------------


def test_post_search_matches_the_get_equivalent(harness: Harness, tenant: TenantAccess) -> None:
    _directory(harness, tenant)
    get = harness.client.get(
        "/scim/v2/Users",
        params={
            "filter": 'emails[type eq "work"] or userName eq "bob"',
            "attributes": "userName,emails",
            "startIndex": 2,
            "count": 2,
            "sortBy": "userName",
            "sortOrder": "descending",
        },
        headers=tenant.headers(),
    )
    assert get.status_code == 200, get.text
    post = _search(
        harness,
        tenant,
        "/Users/.search",
        filter='emails[type eq "work"] or userName eq "bob"',
        attributes=["userName", "emails"],
        startIndex=2,
        count=2,
        sortBy="userName",
        sortOrder="descending",
    )
    assert post.status_code == 200, post.text
    assert post.headers["content-type"].startswith("application/scim+json")
    assert post.json() == get.json()
    assert post.json()["totalResults"] == 4
    assert [r["userName"] for r in post.json()["Resources"]] == ["carol", "Bob"]

    # excludedAttributes and cursors work the same way in a body.
    excluded = _search(harness, tenant, "/Users/.search", excludedAttributes=["emails", "meta"])
    assert excluded.status_code == 200, excluded.text
    assert excluded.json() == _list(harness, tenant, excludedAttributes="emails,meta")
    first = _search(harness, tenant, "/Users/.search", cursor="", count=2).json()
    assert _ids(first) == _ids(_list(harness, tenant, count=2))
    second = _search(harness, tenant, "/Users/.search", cursor=first["nextCursor"], count=2)
    assert _ids(second.json()) == _ids(_list(harness, tenant, startIndex=3, count=2))

    groups = _search(harness, tenant, "/Groups/.search", filter='displayName eq "everyone"')
    assert groups.status_code == 200, groups.text
    assert groups.json() == _list(harness, tenant, "Groups", filter='displayName eq "everyone"')


def test_root_search_spans_users_and_groups(harness: Harness, tenant: TenantAccess) -> None:
    d = _directory(harness, tenant)
    shared_user = create(harness, tenant, "Users", user("cheshire", displayName="Shared"))
    shared_group = create(harness, tenant, "Groups", group("Shared"))

    everything = _search(harness, tenant, "/.search")
    assert everything.status_code == 200, everything.text
    body = everything.json()
    assert body["schemas"] == [LIST]
    assert body["totalResults"] == 9
    kinds = [r["meta"]["resourceType"] for r in body["Resources"]]
    assert sorted(kinds) == ["Group"] * 3 + ["User"] * 6

    only_users = _search(harness, tenant, "/.search", filter='userName sw "alice"').json()
    assert only_users["totalResults"] == 2
    assert {r["id"] for r in only_users["Resources"]} == {d["alice"]["id"], d["alice_au"]["id"]}
    assert all(r["meta"]["resourceType"] == "User" for r in only_users["Resources"])

    both = _search(
        harness, tenant, "/.search", filter='displayName eq "shared"', attributes=["displayName"]
    ).json()
    assert both["totalResults"] == 2
    assert sorted(both["Resources"], key=lambda r: r["schemas"][0]) == [
        {"schemas": [GROUP], "id": shared_group["id"], "displayName": "Shared"},
        {"schemas": [USER], "id": shared_user["id"], "displayName": "Shared"},
    ]

    page = _search(harness, tenant, "/.search", startIndex=5, count=3).json()
    assert page["totalResults"] == 9
    assert page["startIndex"] == 5
    assert page["itemsPerPage"] == 3
    assert {r["id"] for r in page["Resources"]} <= {r["id"] for r in body["Resources"]}

    assert_error(_search(harness, tenant, "/.search", cursor=""), 400, "invalidValue")
    assert_error(_search(harness, tenant, "/.search", filter='nosuch eq "x"'), 400, "invalidFilter")


def test_an_auditor_may_search_but_get_on_search_is_405(
    harness: Harness, tenant: TenantAccess
) -> None:
    d = _directory(harness, tenant)
    auditor = tenant.headers("auditor")
    users = _search(harness, tenant, "/Users/.search", headers=auditor, filter='userName eq "bob"')
    assert users.status_code == 200, users.text
    assert _ids(users.json()) == [d["bob"]["id"]]
    everything = _search(harness, tenant, "/.search", headers=auditor, count=0)
    assert everything.status_code == 200, everything.text
    assert everything.json()["totalResults"] == 7
    assert _list(harness, tenant, headers=auditor, count=0)["totalResults"] == 5

    assert_error(harness.client.get("/scim/v2/Users/.search", headers=tenant.headers()), 405)
    assert_error(harness.client.get("/scim/v2/.search", headers=tenant.headers()), 405)


def test_root_search_projection_names_are_case_insensitive(
    harness: Harness, tenant: TenantAccess
) -> None:
    """RFC 7644 §3.10: attribute names are case-insensitive, in /.search bodies too."""
    shared_user = create(harness, tenant, "Users", user("cheshire", displayName="Shared"))
    shared_group = create(harness, tenant, "Groups", group("Shared"))
    for spelling in ("displayName", "DISPLAYNAME", "displayname"):
        both = _search(harness, tenant, "/.search", attributes=[spelling])
        assert both.status_code == 200, both.text
        assert sorted(both.json()["Resources"], key=lambda r: r["schemas"][0]) == [
            {"schemas": [GROUP], "id": shared_group["id"], "displayName": "Shared"},
            {"schemas": [USER], "id": shared_user["id"], "displayName": "Shared"},
        ], spelling
    for spelling in ("meta", "Meta", "META"):
        excluded = _search(harness, tenant, "/.search", excludedAttributes=[spelling])
        assert excluded.status_code == 200, excluded.text
        assert all("meta" not in r for r in excluded.json()["Resources"]), spelling
