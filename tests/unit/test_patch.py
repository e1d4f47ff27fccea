"""SCIM PATCH (RFC 7644 §3.5.2): reading PatchOp messages and applying them (pure)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.config import data_dir
from app.scim.errors import (
    InvalidFilter,
    InvalidPath,
    InvalidSyntax,
    InvalidValue,
    Mutability,
    NoTarget,
    ScimError,
)
from app.scim.filter import ValuePath, parse_filter, parse_path
from app.scim.match import compare, element_matches
from app.scim.patch import PatchOperation, PatchResult, apply_patch, read_patch
from app.scim.resolve import resolve_filter
from app.scim.schema import Attribute, ResourceType, Schema, read_registry
from tests.samples import immutable_type

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
REGISTRY = read_registry(data_dir("schemas"))
USERS = REGISTRY.resource_type("User")
GROUPS = REGISTRY.resource_type("Group")

# RFC 7644 §3.5.2 example identifiers
BABS = "2819c223-7f76-453a-919d-413861904646"
MANDY = "902c246b-6245-4190-8e05-00816be7344a"
JAMES = "08e1d05d-121c-4561-8b96-473d93df9210"


def patch(doc: dict[str, Any], resource_type: ResourceType, *ops: dict[str, Any]) -> PatchResult:
    return apply_patch(
        doc, read_patch({"schemas": [PATCH_OP], "Operations": list(ops)}), resource_type
    )


def bjensen(**extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "userName": "bjensen",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": True}],
        "active": True,
    }
    doc.update(extra)
    return doc


def tour_guides(*members: str) -> dict[str, Any]:
    doc: dict[str, Any] = {"displayName": "Tour Guides"}
    if members:
        doc["members"] = [{"value": m, "type": "User"} for m in members]
    return doc


# --- read_patch ---------------------------------------------------------------


def test_read_patch_is_case_insensitive_and_tolerates_schemas() -> None:
    ops = read_patch(
        {
            "OPERATIONS": [
                {"Op": "Replace", "Path": "title", "Value": "Boss"},
                {"OP": "ADD", "value": {"nickName": "Babs"}},
                {"op": "remove", "path": 'emails[type eq "work"]'},
            ]
        }
    )
    assert [o.op for o in ops] == ["replace", "add", "remove"]
    assert [o.index for o in ops] == [0, 1, 2]
    assert ops[0].path == parse_path("title") and ops[0].value == "Boss"
    assert ops[1].path is None
    assert ops[2].value is None
    assert read_patch({"schemas": ["wrong"], "Operations": [{"op": "add", "value": {}}]})


@pytest.mark.parametrize(
    ("body", "error", "detail"),
    [
        ([], InvalidSyntax, "JSON object"),
        ({"schemas": [PATCH_OP]}, InvalidSyntax, "Operations"),
        ({"Operations": []}, InvalidSyntax, "non-empty"),
        ({"Operations": {"op": "add"}}, InvalidSyntax, "non-empty list"),
        ({"Operations": ["add"]}, InvalidSyntax, r"Operations\[0\]"),
        ({"Operations": [{"path": "title"}]}, InvalidSyntax, "no 'op'"),
        (
            {"Operations": [{"op": "add", "value": {}}, {"op": "merge", "value": {}}]},
            InvalidValue,
            r"Operations\[1\].*merge",
        ),
        ({"Operations": [{"op": "remove"}]}, NoTarget, "remove needs a path"),
        ({"Operations": [{"op": "add", "path": "title"}]}, InvalidValue, "needs a value"),
        ({"Operations": [{"op": "replace"}]}, InvalidValue, "needs a value"),
        ({"Operations": [{"op": "add", "path": "title[", "value": 1}]}, InvalidPath, r"\[0\]"),
        ({"Operations": [{"op": "add", "path": 7, "value": 1}]}, InvalidPath, "string"),
    ],
)
def test_read_patch_rejects(body: Any, error: type[ScimError], detail: str) -> None:
    with pytest.raises(error, match=detail):
        read_patch(body)


def test_explicit_null_value_is_not_a_missing_value() -> None:
    (pathless,) = read_patch({"Operations": [{"op": "add", "path": "", "value": {}}]})
    assert pathless.path is None
    (op,) = read_patch({"Operations": [{"op": "replace", "path": "title", "value": None}]})
    assert op == PatchOperation(op="replace", path=parse_path("title"), value=None, index=0)


# --- RFC 7644 §3.5.2 examples -------------------------------------------------


def test_rfc_add_members() -> None:
    member = {
        "display": "Babs Jensen",
        "$ref": f"https://example.com/v2/Users/{BABS}",
        "value": BABS,
    }
    result = patch(tour_guides(), GROUPS, {"op": "add", "path": "members", "value": [member]})
    assert result.doc["members"] == [member]
    assert result.changed == ("members",)


def test_rfc_add_without_path() -> None:
    result = patch(
        bjensen(),
        USERS,
        {
            "op": "add",
            "value": {
                "emails": [{"value": "babs@jensen.org", "type": "home"}],
                "nickname": "Babs",  # the RFC's own spelling: names are case-insensitive
            },
        },
    )
    assert result.doc["nickName"] == "Babs"
    assert result.doc["emails"][-1] == {"value": "babs@jensen.org", "type": "home"}
    assert result.changed == ("emails", "nickName")


def test_rfc_remove_one_member_and_all_members() -> None:
    group = tour_guides(BABS, MANDY)
    one = patch(group, GROUPS, {"op": "remove", "path": f'members[value eq "{BABS}"]'})
    assert one.doc["members"] == [{"value": MANDY, "type": "User"}]
    both = patch(
        group,
        GROUPS,
        {"op": "remove", "path": f'members[value eq "{BABS}"]'},
        {"op": "remove", "path": f'members[value eq "{MANDY}"]'},
    )
    assert "members" not in both.doc  # an empty multi-valued attribute is unassigned
    everyone = patch(group, GROUPS, {"op": "remove", "path": "members"})
    assert everyone.doc == {"displayName": "Tour Guides"}
    assert everyone.changed == ("members",)


def test_rfc_remove_all_then_add() -> None:
    result = patch(
        tour_guides(BABS, MANDY),
        GROUPS,
        {"op": "remove", "path": "members"},
        {"op": "add", "path": "members", "value": [{"value": JAMES, "display": "James Smith"}]},
    )
    assert result.doc["members"] == [{"value": JAMES, "display": "James Smith"}]


def test_rfc_remove_with_compound_filter() -> None:
    doc = bjensen(emails=[{"value": "b@example.com", "type": "work"}, {"value": "b@x.org"}])
    result = patch(
        doc, USERS, {"op": "remove", "path": 'emails[type eq "work" and value ew "example.com"]'}
    )
    assert result.doc["emails"] == [{"value": "b@x.org"}]


def test_rfc_replace_members_and_pathless_replace() -> None:
    result = patch(
        tour_guides(BABS),
        GROUPS,
        {"op": "replace", "path": "members", "value": [{"value": MANDY}, {"value": JAMES}]},
    )
    assert result.doc["members"] == [{"value": MANDY}, {"value": JAMES}]
    user = patch(
        bjensen(),
        USERS,
        {
            "op": "replace",
            "value": {"emails": [{"value": "babs@jensen.org", "type": "home"}], "nickname": "Babs"},
        },
    )
    assert user.doc["emails"] == [{"value": "babs@jensen.org", "type": "home"}]
    assert user.doc["nickName"] == "Babs"


def test_rfc_replace_address_by_filter() -> None:
    doc = bjensen(
        addresses=[
            {"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood"},
            {"type": "home", "streetAddress": "456 Hollywood Blvd"},
        ]
    )
    work = {"type": "work", "streetAddress": "911 Universal City Plaza", "locality": "Hollywood"}
    result = patch(
        doc, USERS, {"op": "replace", "path": 'addresses[type eq "work"]', "value": work}
    )
    assert result.doc["addresses"] == [work, doc["addresses"][1]]
    street = patch(
        doc,
        USERS,
        {
            "op": "replace",
            "path": 'addresses[type eq "work"].streetAddress',
            "value": "1010 Broadway Ave",
        },
    )
    assert street.doc["addresses"][0]["streetAddress"] == "1010 Broadway Ave"
    assert street.doc["addresses"][1] == doc["addresses"][1]
    assert street.changed == ("addresses",)


# --- add ----------------------------------------------------------------------


def test_pathless_add_takes_dotted_qualified_and_extension_keys() -> None:
    result = patch(
        bjensen(),
        USERS,
        {
            "op": "add",
            "value": {
                "name.middleName": "Jane",
                f"{CORE_USER}:title": "Tour Guide",
                f"{ENTERPRISE}:employeeNumber": "701984",
                ENTERPRISE.upper(): {"Department": "Tours", "manager": {"value": BABS}},
                "EXTERNALID": "ext-1",
            },
        },
    )
    assert result.doc["name"] == {
        "givenName": "Barbara",
        "familyName": "Jensen",
        "middleName": "Jane",
    }
    assert result.doc["title"] == "Tour Guide"
    assert result.doc["externalId"] == "ext-1"
    assert result.doc[ENTERPRISE] == {
        "employeeNumber": "701984",
        "department": "Tours",
        "manager": {"value": BABS},
    }
    assert result.changed == (
        "name.middleName",
        "title",
        f"{ENTERPRISE}:employeeNumber",
        f"{ENTERPRISE}:department",
        f"{ENTERPRISE}:manager.value",
        "externalId",
    )


def test_pathless_read_only_keys_are_ignored() -> None:
    result = patch(
        bjensen(),
        USERS,
        {
            "op": "replace",
            "value": {
                "id": "other",
                "meta": {"created": "2020-01-01T00:00:00Z"},
                "meta.version": 'W/"1"',
                "schemas": [CORE_USER],
                "groups": [{"value": "g"}],
                "active": False,
            },
        },
    )
    assert result.doc == bjensen(active=False)
    assert result.changed == ("active",)


def test_pathless_unknown_attributes_are_ignored_but_named_ones_are_not() -> None:
    # As on create (RFC 7644 §3.3): what no schema defines in a value object is dropped.
    result = patch(
        bjensen(), USERS, {"op": "add", "value": {"favouriteColour": "blue", "title": "Guide"}}
    )
    assert result.doc["title"] == "Guide" and "favouriteColour" not in result.doc
    assert result.changed == ("title",)
    with pytest.raises(InvalidPath, match="favouriteColour"):
        patch(bjensen(), USERS, {"op": "add", "path": "favouriteColour", "value": "blue"})
    with pytest.raises(InvalidValue, match="object"):
        patch(bjensen(), USERS, {"op": "add", "value": "x"})


def test_a_whole_extension_can_be_the_path() -> None:
    ext = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    added = patch(bjensen(), USERS, {"op": "add", "path": ext, "value": {"department": "R&D"}})
    assert added.doc[ext] == {"department": "R&D"}
    both = patch(added.doc, USERS, {"op": "replace", "path": ext, "value": {"costCenter": "42"}})
    assert both.doc[ext] == {"department": "R&D", "costCenter": "42"}
    removed = patch(both.doc, USERS, {"op": "remove", "path": ext})
    assert ext not in removed.doc
    assert set(removed.changed) == {f"{ext}:department", f"{ext}:costCenter"}


def test_add_sets_simple_and_merges_complex() -> None:
    result = patch(
        bjensen(title="Guide"),
        USERS,
        {"op": "add", "path": "title", "value": "Boss"},
        {"op": "add", "path": "name", "value": {"givenName": "Babs", "honorificPrefix": "Ms."}},
    )
    assert result.doc["title"] == "Boss"
    assert result.doc["name"] == {
        "givenName": "Babs",
        "familyName": "Jensen",
        "honorificPrefix": "Ms.",
    }
    assert result.changed == ("title", "name.givenName", "name.honorificPrefix")


def test_add_to_multi_valued_appends_skips_and_merges_duplicates() -> None:
    doc = bjensen()
    result = patch(
        doc,
        USERS,
        {"op": "add", "path": "emails", "value": {"value": "babs@home.org", "type": "home"}},
        {
            "op": "add",
            "path": "emails",
            "value": [{"value": "BJENSEN@example.com", "display": "Work"}],
        },
    )
    assert result.doc["emails"] == [
        {"value": "BJENSEN@example.com", "type": "work", "primary": True, "display": "Work"},
        {"value": "babs@home.org", "type": "home"},
    ]
    same = patch(
        doc, USERS, {"op": "add", "path": "emails", "value": [{"value": "bjensen@example.com"}]}
    )
    assert same.doc == doc and same.changed == ()


def test_add_member_twice_keeps_the_immutable_display() -> None:
    group = {"displayName": "g", "members": [{"value": BABS, "display": "Babs"}]}
    result = patch(
        group,
        GROUPS,
        {
            "op": "add",
            "path": "members",
            "value": [{"value": BABS, "display": "B", "type": "User"}],
        },
    )
    assert result.doc["members"] == [{"value": BABS, "display": "Babs", "type": "User"}]


def test_sub_attribute_paths() -> None:
    result = patch(bjensen(), USERS, {"op": "add", "path": "name.givenName", "value": "Babs"})
    assert result.doc["name"]["givenName"] == "Babs" and result.changed == ("name.givenName",)
    fresh = patch(
        {"userName": "a"},
        USERS,
        {"op": "add", "path": f"{ENTERPRISE}:manager.value", "value": BABS},
    )
    assert fresh.doc[ENTERPRISE] == {"manager": {"value": BABS}}
    for op in ("add", "replace", "remove"):
        with pytest.raises(InvalidPath, match="filter"):
            patch(bjensen(), USERS, {"op": op, "path": "emails.value", "value": "x@y"})


def test_pathless_value_keys_are_checked() -> None:
    with pytest.raises(InvalidPath, match=r"value key 'name\.\.x'"):
        patch(bjensen(), USERS, {"op": "add", "value": {"name..x": "y"}})
    with pytest.raises(InvalidValue, match=ENTERPRISE):
        patch(bjensen(), USERS, {"op": "add", "value": {ENTERPRISE: "x"}})
    nothing = patch(bjensen(), USERS, {"op": "replace", "value": {ENTERPRISE: None}})
    assert nothing.changed == ()
    core = patch(bjensen(), USERS, {"op": "replace", "value": {CORE_USER: {"title": "t"}}})
    assert core.doc["title"] == "t"


def test_simple_multi_valued_values() -> None:
    things = immutable_type()
    doc = {"name": "a", "labels": ["Red"]}
    added = patch(doc, things, {"op": "add", "path": "labels", "value": ["red", "blue"]})
    assert added.doc["labels"] == ["Red", "blue"]
    removed = patch(added.doc, things, {"op": "remove", "path": "labels", "value": "RED"})
    assert removed.doc["labels"] == ["blue"]


def test_add_of_nothing_changes_nothing() -> None:
    for op in (
        {"op": "add", "path": "title", "value": None},
        {"op": "add", "path": "emails", "value": []},
        {"op": "add", "path": "name.givenName", "value": None},
        {"op": "add", "path": 'emails[type eq "home"].value', "value": None},
        {"op": "replace", "path": 'emails[type eq "home"].value', "value": None},
    ):
        assert patch(bjensen(), USERS, op).changed == ()


# --- replace ------------------------------------------------------------------


def test_replace_complex_merges_and_clears_nulls() -> None:
    result = patch(
        bjensen(),
        USERS,
        {"op": "replace", "path": "name", "value": {"familyName": "J", "givenName": None}},
    )
    assert result.doc["name"] == {"familyName": "J"}
    assert result.changed == ("name.familyName", "name.givenName")


def test_replace_with_null_unassigns() -> None:
    result = patch(bjensen(title="x"), USERS, {"op": "replace", "path": "title", "value": None})
    assert "title" not in result.doc
    emails = patch(bjensen(), USERS, {"op": "replace", "path": "emails", "value": []})
    assert "emails" not in emails.doc and emails.changed == ("emails",)


def test_replace_filtered_element_and_sub_attribute() -> None:
    doc = bjensen(
        emails=[
            {"value": "a@x", "type": "work"},
            {"value": "b@x", "type": "home"},
            {"value": "c@x", "type": "home"},
        ]
    )
    display = patch(
        doc, USERS, {"op": "replace", "path": 'emails[type eq "home"].display', "value": "Home"}
    )
    assert [e.get("display") for e in display.doc["emails"]] == [None, "Home", "Home"]
    element = patch(
        doc, USERS, {"op": "replace", "path": 'emails[type eq "home"]', "value": {"value": "d@x"}}
    )
    assert element.doc["emails"] == [{"value": "a@x", "type": "work"}, {"value": "d@x"}]
    with pytest.raises(NoTarget, match="other"):
        patch(
            doc,
            USERS,
            {"op": "replace", "path": 'emails[type eq "other"]', "value": {"value": "e@x"}},
        )
    with pytest.raises(InvalidValue, match="one JSON object"):
        patch(doc, USERS, {"op": "replace", "path": 'emails[type eq "home"]', "value": "d@x"})
    gone = patch(doc, USERS, {"op": "replace", "path": 'emails[type eq "home"]', "value": None})
    assert gone.doc["emails"] == [{"value": "a@x", "type": "work"}]
    cleared = patch(
        display.doc,
        USERS,
        {"op": "replace", "path": 'emails[value eq "b@x"].display', "value": None},
    )
    assert [e.get("display") for e in cleared.doc["emails"]] == [None, None, "Home"]
    sub = patch(bjensen(), USERS, {"op": "replace", "path": "name.givenName", "value": None})
    assert sub.doc["name"] == {"familyName": "Jensen"}


def test_booleans_sent_as_strings_and_wrong_types() -> None:
    result = patch(
        bjensen(),
        USERS,
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "replace", "path": 'emails[type eq "work"].primary', "value": "false"},
    )
    assert result.doc["active"] is False
    assert result.doc["emails"][0]["primary"] is False
    for path, value in (
        ("active", 12),
        ("userName", ["a"]),
        ("name", "x"),
        ("emails", [{"value": 1}]),
    ):
        with pytest.raises(InvalidValue):
            patch(bjensen(), USERS, {"op": "replace", "path": path, "value": value})


def test_manager_as_bare_value_or_one_element_list() -> None:
    for value in (BABS, [{"$ref": None, "value": BABS}]):
        result = patch(
            {"userName": "a"},
            USERS,
            {"op": "replace", "path": f"{ENTERPRISE}:manager", "value": value},
        )
        assert result.doc[ENTERPRISE] == {"manager": {"value": BABS}}


# --- remove -------------------------------------------------------------------


def test_remove_attribute_sub_attribute_and_extension() -> None:
    doc = bjensen(name={"givenName": "B"}, title="t", **{ENTERPRISE: {"manager": {"value": BABS}}})
    result = patch(
        doc,
        USERS,
        {"op": "remove", "path": "title"},
        {"op": "remove", "path": "name.givenName"},
        {"op": "remove", "path": f"{ENTERPRISE}:manager.value"},
        {"op": "remove", "path": "nickName"},  # not there: nothing to do
    )
    assert "title" not in result.doc
    assert "name" not in result.doc  # an empty complex value is unassigned
    assert ENTERPRISE not in result.doc
    assert result.changed == ("title", "name.givenName", f"{ENTERPRISE}:manager.value")


def test_remove_members_by_value_as_okta_and_entra_send_it() -> None:
    result = patch(
        tour_guides(BABS, MANDY),
        GROUPS,
        {
            "op": "Remove",
            "path": "members",
            "value": [{"value": BABS}, {"value": MANDY.upper()}, {"value": "not-a-member"}],
        },
    )
    # Member values are ids, caseExact (schemas/Group.json): MANDY in upper case is another id.
    assert result.doc["members"] == [{"value": MANDY, "type": "User"}]
    nothing = patch(tour_guides(BABS), GROUPS, {"op": "remove", "path": "members", "value": []})
    assert nothing.changed == ()


def test_remove_filtered_sub_attribute() -> None:
    doc = bjensen(
        emails=[{"value": "a@x", "type": "work", "display": "A"}, {"value": "b@x", "display": "B"}]
    )
    result = patch(doc, USERS, {"op": "remove", "path": 'emails[type eq "work"].display'})
    assert result.doc["emails"] == [
        {"value": "a@x", "type": "work"},
        {"value": "b@x", "display": "B"},
    ]


@pytest.mark.parametrize(
    "path",
    ['emails[type eq "home"]', 'emails[type eq "home"].display', 'phoneNumbers[type eq "work"]'],
)
def test_remove_without_a_match_is_no_target(path: str) -> None:
    with pytest.raises(NoTarget, match=r"Operations\[0\]"):
        patch(bjensen(), USERS, {"op": "remove", "path": path})


# --- filters with no match: the Entra ID append -------------------------------


def test_entra_replace_of_a_missing_typed_value_appends_it() -> None:
    result = patch(
        bjensen(),
        USERS,
        {"op": "replace", "path": 'phoneNumbers[type eq "work"].value', "value": "+1 555"},
        {
            "op": "add",
            "path": 'emails[type eq "home" and primary eq true].value',
            "value": "b@home",
        },
    )
    assert result.doc["phoneNumbers"] == [{"type": "work", "value": "+1 555"}]
    assert result.doc["emails"] == [
        {"value": "bjensen@example.com", "type": "work", "primary": False},
        {"type": "home", "primary": True, "value": "b@home"},
    ]
    assert result.changed == ("phoneNumbers", "emails")


@pytest.mark.parametrize(
    "path",
    [
        'emails[type eq "home" or type eq "other"].value',
        'emails[type ne "work"].value',
        'emails[value co "home"].display',
        'emails[type eq "home"]',  # replace of a whole element: no sub-attribute to build from
    ],
)
def test_no_match_without_an_eq_only_filter_is_no_target(path: str) -> None:
    with pytest.raises(NoTarget):
        patch(
            bjensen(),
            USERS,
            {"op": "replace", "path": path, "value": {"value": "x"} if "]." not in path else "x"},
        )


def test_add_with_a_filter_and_no_sub_attribute_merges_or_appends() -> None:
    work = {"op": "add", "path": 'emails[type eq "work"]', "value": {"display": "W"}}
    assert patch(bjensen(), USERS, work).doc["emails"][0]["display"] == "W"
    home = {"op": "add", "path": 'emails[type eq "home"]', "value": {"value": "h@x"}}
    assert patch(bjensen(), USERS, home).doc["emails"][1] == {"type": "home", "value": "h@x"}
    with pytest.raises(InvalidValue, match="one JSON object"):
        patch(bjensen(), USERS, {"op": "add", "path": 'emails[type eq "work"]', "value": ["x"]})


def test_add_with_a_filter_sets_matching_values() -> None:
    result = patch(
        bjensen(), USERS, {"op": "add", "path": 'emails[type eq "work"].display', "value": "Work"}
    )
    assert result.doc["emails"] == [
        {"value": "bjensen@example.com", "type": "work", "primary": True, "display": "Work"}
    ]


def test_filter_paths_are_checked() -> None:
    with pytest.raises(InvalidPath, match="multi-valued"):
        patch(bjensen(), USERS, {"op": "remove", "path": 'name[givenName eq "B"]'})
    with pytest.raises(InvalidFilter):
        patch(bjensen(), USERS, {"op": "remove", "path": 'emails[colour eq "B"]'})
    with pytest.raises(InvalidPath, match="colour"):
        patch(bjensen(), USERS, {"op": "remove", "path": 'emails[type eq "work"].colour'})
    with pytest.raises(InvalidPath, match="unknown attribute"):
        patch(bjensen(), USERS, {"op": "replace", "path": "favouriteColour", "value": "blue"})


# --- mutability ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "path"),
    [
        ("replace", "meta.created"),
        ("replace", "id"),
        ("add", "groups"),
        ("remove", "groups"),
        ("remove", "meta"),
        ("replace", f"{ENTERPRISE}:manager.displayName"),
    ],
)
def test_read_only_targets_are_mutability_errors(op: str, path: str) -> None:
    with pytest.raises(Mutability, match="readOnly") as raised:
        patch(bjensen(), USERS, {"op": op, "path": path, "value": "2020-01-01T00:00:00Z"})
    assert raised.value.scim_type == "mutability" and raised.value.status == 400


def test_immutable_attribute() -> None:
    things = immutable_type()
    set_once = patch({"name": "a"}, things, {"op": "add", "path": "kind", "value": "bot"})
    assert set_once.doc == {"name": "a", "kind": "bot"}
    same = patch(set_once.doc, things, {"op": "replace", "value": {"kind": "bot", "name": "b"}})
    assert same.changed == ("name",)
    assert patch({"name": "a"}, things, {"op": "remove", "path": "kind"}).changed == ()
    for op in (
        {"op": "replace", "path": "kind", "value": "agent"},
        {"op": "remove", "path": "kind"},
    ):
        with pytest.raises(Mutability, match="immutable"):
            patch(set_once.doc, things, op)


def test_group_member_sub_attributes_are_immutable() -> None:
    group = {"displayName": "g", "members": [{"value": BABS, "display": "Babs"}]}
    with pytest.raises(Mutability, match="display"):
        patch(
            group,
            GROUPS,
            {"op": "replace", "path": f'members[value eq "{BABS}"].display', "value": "B"},
        )
    # …but members come and go
    assert patch(
        group, GROUPS, {"op": "remove", "path": f'members[value eq "{BABS}"]'}
    ).changed == ("members",)


def test_write_only_password_is_accepted_and_never_stored() -> None:
    result = patch(bjensen(), USERS, {"op": "replace", "path": "password", "value": "s3cret"})
    assert "password" not in result.doc and result.changed == ()


# --- primary ------------------------------------------------------------------


def test_a_new_primary_demotes_the_old_one() -> None:
    result = patch(
        bjensen(),
        USERS,
        {"op": "add", "path": "emails", "value": [{"value": "b@home", "primary": "true"}]},
    )
    assert [(e["value"], e["primary"]) for e in result.doc["emails"]] == [
        ("bjensen@example.com", False),
        ("b@home", True),
    ]
    doc = bjensen(emails=[{"value": "a@x", "primary": True}, {"value": "b@x", "type": "home"}])
    moved = patch(
        doc, USERS, {"op": "replace", "path": 'emails[type eq "home"].primary', "value": True}
    )
    assert moved.doc["emails"] == [
        {"value": "a@x", "primary": False},
        {"value": "b@x", "type": "home", "primary": True},
    ]


def test_marking_several_values_primary_by_a_filter_is_refused() -> None:
    doc = bjensen(emails=[{"value": "a@x", "type": "home"}, {"value": "b@x", "type": "home"}])
    with pytest.raises(InvalidValue, match="primary"):
        patch(
            doc, USERS, {"op": "replace", "path": 'emails[type eq "home"].primary', "value": True}
        )


def test_a_list_sent_with_two_primaries_keeps_the_first() -> None:
    """Providers that fill two slots with one address mark both primary (Ping)."""
    added = patch(
        bjensen(emails=[]),
        USERS,
        {
            "op": "add",
            "path": "emails",
            "value": [{"value": "c", "primary": True}, {"value": "d", "primary": True}],
        },
    )
    assert added.doc["emails"] == [
        {"value": "c", "primary": True},
        {"value": "d", "primary": False},
    ]


# --- whole-patch rules --------------------------------------------------------


def test_required_attributes_must_survive() -> None:
    with pytest.raises(InvalidValue, match="userName"):
        patch(bjensen(), USERS, {"op": "remove", "path": "userName"})
    with pytest.raises(InvalidValue, match="displayName"):
        patch(tour_guides(), GROUPS, {"op": "replace", "path": "displayName", "value": None})


def test_a_failing_operation_changes_nothing() -> None:
    doc = bjensen()
    before = copy.deepcopy(doc)
    with pytest.raises(NoTarget, match=r"Operations\[1\]"):
        patch(
            doc,
            USERS,
            {"op": "replace", "path": "name.givenName", "value": "Babs"},
            {"op": "remove", "path": 'emails[type eq "home"]'},
        )
    assert doc == before


def test_the_result_shares_nothing_with_the_input() -> None:
    doc = bjensen()
    result = patch(doc, USERS, {"op": "replace", "path": "title", "value": "x"})
    result.doc["emails"][0]["value"] = "changed"
    result.doc["name"]["givenName"] = "changed"
    assert doc == bjensen()


def test_changed_follows_first_change_and_drops_what_changed_back() -> None:
    result = patch(
        bjensen(title="t"),
        USERS,
        {"op": "add", "path": "emails", "value": [{"value": "bjensen@example.com"}]},  # no change
        {"op": "replace", "path": "displayName", "value": "Babs"},
        {"op": "add", "path": "emails", "value": [{"value": "b@home"}]},
        {"op": "replace", "path": "title", "value": "u"},
        {"op": "replace", "path": "title", "value": "t"},  # back as it was
        {"op": "replace", "path": "displayName", "value": "Barbara"},
    )
    assert result.changed == ("displayName", "emails")


# --- match: value filters on one element --------------------------------------

_TAGS = Attribute(
    name="tags",
    type="complex",
    multi_valued=True,
    sub_attributes=(
        Attribute(name="value", type="string"),
        Attribute(name="display", type="string"),
        Attribute(name="code", type="string", case_exact=True),
        Attribute(name="size", type="integer"),
        Attribute(name="ratio", type="decimal"),
        Attribute(name="flag", type="boolean"),
        Attribute(name="at", type="dateTime"),
    ),
)
_TAGGED = ResourceType(
    id="Tagged",
    name="Tagged",
    endpoint="/Tagged",
    schema=Schema(id="urn:example:Tagged", name="Tagged", document={}, attributes=(_TAGS,)),
    extensions=(),
    document={},
)
_TAG = {
    "value": "Alpha",
    "code": "AbC",
    "size": 3,
    "ratio": 0.5,
    "flag": True,
    "at": "2026-01-31T12:00:00Z",
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('value eq "alpha"', True),
        ('value co "LPH"', True),
        ('value sw "al" and value ew "HA"', True),
        ('code eq "abc"', False),
        ('code eq "AbC"', True),
        ("size gt 2 and size le 3", True),
        ("size eq 3.0", True),
        ("ratio lt 1", True),
        ("flag eq true", True),
        ('flag eq "false"', False),
        ('at gt "2026-01-31T13:00:00+02:00"', True),
        ('at eq "2026-01-31T14:00:00+02:00"', True),
        ('value gt "Al"', True),
        ('display ne "x"', True),  # absent: ne is "not eq"
        ('value ne "alpha"', False),
        ("display eq null", True),
        ("value ne null", True),
        ("value pr", True),
        ("display pr", False),
        ('not (value eq "beta") and (size lt 1 or flag eq true)', True),
    ],
)
def test_element_matches(text: str, expected: bool) -> None:
    bound = resolve_filter(parse_filter(f"tags[{text}]"), _TAGGED)
    assert isinstance(bound, ValuePath)
    assert element_matches(bound.filter, _TAG, _TAGS) is expected


def test_compare_edges() -> None:
    text = Attribute(name="t", type="string")
    assert compare("eq", ["a", "B"], "b", text)  # any value of a multi-valued attribute
    assert not compare("gt", None, "a", text)
    assert compare("ne", None, "a", text)
    assert compare("eq", "", None, text)  # "" is no value (RFC 7643 §2.5)
    assert not compare("eq", 1, "1", text)
    assert not compare("gt", "2026-13-01", "2026-01-01", Attribute(name="d", type="dateTime"))
    number = Attribute(name="n", type="integer")
    assert not compare("co", 15, 5, number)
    assert not compare("eq", True, 1, number)
    with pytest.raises(ValueError, match="nest"):
        element_matches(parse_filter('emails[type eq "work"]'), {}, _TAGS)


# --- properties ---------------------------------------------------------------

_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=10
)
_email = st.fixed_dictionaries(
    {"value": _text}, optional={"type": st.sampled_from(["work", "home"]), "display": _text}
)
_user = st.fixed_dictionaries(
    {"userName": _text},
    optional={
        "title": _text,
        "active": st.booleans(),
        "emails": st.lists(_email, min_size=1, max_size=3, unique_by=lambda e: e["value"].lower()),
        "name": st.fixed_dictionaries({"givenName": _text}, optional={"familyName": _text}),
        ENTERPRISE: st.fixed_dictionaries({"employeeNumber": _text}),
    },
)
_SIMPLE = [
    "title",
    "displayName",
    "nickName",
    "name.givenName",
    f"{ENTERPRISE}:department",
    "externalId",
]


def _read(doc: dict[str, Any], path: str) -> Any:
    if path.startswith(ENTERPRISE):
        return doc.get(ENTERPRISE, {}).get(path.rpartition(":")[2])
    attr, _, sub = path.partition(".")
    return doc.get(attr, {}).get(sub) if sub else doc.get(attr)


@given(doc=_user, path=st.sampled_from(_SIMPLE), value=_text)
def test_replace_then_read_gives_the_value(doc: dict[str, Any], path: str, value: str) -> None:
    result = patch(doc, USERS, {"op": "replace", "path": path, "value": value})
    assert _read(result.doc, path) == value
    assert (path in result.changed) is (_read(doc, path) != value)


@given(doc=_user, emails=st.lists(_email, min_size=1, max_size=3))
def test_replace_emails_then_read_gives_them(
    doc: dict[str, Any], emails: list[dict[str, Any]]
) -> None:
    assert (
        patch(doc, USERS, {"op": "replace", "path": "emails", "value": emails}).doc["emails"]
        == emails
    )


_op = st.one_of(
    st.builds(
        lambda p, v: {"op": "replace", "path": p, "value": v},
        st.sampled_from(_SIMPLE),
        _text | st.none(),
    ),
    st.builds(lambda v: {"op": "add", "path": "emails", "value": v}, st.lists(_email, max_size=2)),
    st.builds(
        lambda t: {"op": "remove", "path": f'emails[type eq "{t}"]'},
        st.sampled_from(["work", "home"]),
    ),
    st.builds(
        lambda t, v: {"op": "replace", "path": f'emails[type eq "{t}"].display', "value": v},
        st.sampled_from(["work", "home"]),
        _text,
    ),
    st.builds(
        lambda p: {"op": "remove", "path": p},
        st.sampled_from(["name", "emails", "userName", "title"]),
    ),
    st.builds(
        lambda v: {"op": "add", "value": v},
        st.fixed_dictionaries({}, optional={"title": _text, "name.familyName": _text}),
    ),
)


@settings(max_examples=200)
@given(doc=_user, ops=st.lists(_op, min_size=1, max_size=4))
def test_patch_never_mutates_its_input(doc: dict[str, Any], ops: list[dict[str, Any]]) -> None:
    before = copy.deepcopy(doc)
    try:
        result = patch(doc, USERS, *ops)
    except ScimError:
        pass
    else:
        assert len(set(result.changed)) == len(result.changed)
    assert doc == before


@given(doc=_user, emails=st.lists(_email, min_size=1, max_size=3))
def test_adding_values_twice_is_adding_them_once(
    doc: dict[str, Any], emails: list[dict[str, Any]]
) -> None:
    add = {"op": "add", "path": "emails", "value": emails}
    once = patch(doc, USERS, add)
    assert patch(doc, USERS, add, add).doc == once.doc
    again = patch(once.doc, USERS, add)
    assert again.doc == once.doc and again.changed == ()
