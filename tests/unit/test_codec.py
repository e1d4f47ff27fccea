"""The codec: canonical names, checked types, RFC 7643 §2.5 unassigned values (pure)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.config import data_dir
from app.scim.codec import decode_json, format_datetime, parse_datetime, read_resource
from app.scim.errors import InvalidSyntax, InvalidValue, Mutability
from app.scim.schema import Registry, ResourceType, read_registry
from app.scim.validate import carry_immutable, check_required
from tests.samples import immutable_type

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@pytest.fixture(scope="module")
def registry() -> Registry:
    return read_registry(data_dir("schemas"))


@pytest.fixture(scope="module")
def users(registry: Registry) -> ResourceType:
    return registry.resource_type("User")


def test_null_and_empty_values_are_unassigned(users: ResourceType) -> None:
    doc = read_resource(
        {
            "userName": "a",
            "title": None,
            "emails": [],
            "name": {"givenName": None},
            "phoneNumbers": [None],
        },
        users,
    )
    assert doc == {"userName": "a"}


def test_unknown_attributes_are_dropped_and_read_only_ignored(users: ResourceType) -> None:
    doc = read_resource(
        {
            "userName": "a",
            "favouriteColour": "blue",
            "id": "x",
            "meta": {"version": "1"},
            "groups": [{"value": "g"}],
            "password": "secret",
            "name": {"givenName": "A", "nickname": "not a sub-attribute"},
            ENTERPRISE: {"manager": {"value": "m", "displayName": "read-only"}},
        },
        users,
    )
    assert doc == {
        "userName": "a",
        "name": {"givenName": "A"},
        ENTERPRISE: {"manager": {"value": "m"}},
    }


def test_single_value_for_a_multi_valued_attribute_is_wrapped(users: ResourceType) -> None:
    doc = read_resource({"userName": "a", "emails": {"value": "a@x"}}, users)
    assert doc["emails"] == [{"value": "a@x"}]


@pytest.mark.parametrize("text", ["true", "True", "TRUE", " false "])
def test_booleans_sent_as_strings(users: ResourceType, text: str) -> None:
    assert read_resource({"userName": "a", "active": text}, users)["active"] is (
        text.strip().lower() == "true"
    )


@pytest.mark.parametrize(
    "value", ["2026-01-31T12:00:00Z", "2026-01-31T12:00:00+02:00", "2026-01-31T12:00:00.123Z"]
)
def test_datetimes(value: str) -> None:
    parsed = parse_datetime(value)
    assert parsed is not None and parsed.tzinfo is not None


def test_format_datetime_is_utc_with_milliseconds() -> None:
    parsed = parse_datetime("2026-01-31T14:00:00.5+02:00")
    assert parsed is not None
    assert format_datetime(parsed) == "2026-01-31T12:00:00.500Z"


def test_decode_json_wants_one_object() -> None:
    assert decode_json(b'{"a": 1}') == {"a": 1}
    for raw in (b"[]", b"1", b"{", b""):
        with pytest.raises(InvalidSyntax):
            decode_json(raw)


def test_required_attributes(users: ResourceType) -> None:
    with pytest.raises(InvalidValue, match="userName"):
        check_required(read_resource({"displayName": "x"}, users), users)


def test_immutable_values_may_be_repeated_or_omitted_but_not_changed() -> None:
    things = immutable_type()
    before = {"name": "a", "kind": "bot"}
    assert carry_immutable(before, {"name": "b", "kind": "bot"}, things) == {
        "name": "b",
        "kind": "bot",
    }
    assert carry_immutable(before, {"name": "b"}, things) == {"name": "b", "kind": "bot"}
    with pytest.raises(Mutability, match="kind"):
        carry_immutable(before, {"name": "b", "kind": "agent"}, things)
    assert carry_immutable({"name": "a"}, {"name": "a", "kind": "x"}, things)["kind"] == "x"


# --- properties ---------------------------------------------------------------

_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_emails = st.lists(
    st.fixed_dictionaries(
        {"value": _text}, optional={"type": st.sampled_from(["work", "home"]), "display": _text}
    ),
    max_size=3,
)
_users = st.fixed_dictionaries(
    {"userName": _text.filter(bool)},
    optional={
        "displayName": _text,
        "active": st.booleans(),
        "emails": _emails,
        "name": st.fixed_dictionaries({}, optional={"givenName": _text, "familyName": _text}),
        "externalId": _text,
        ENTERPRISE: st.fixed_dictionaries({}, optional={"employeeNumber": _text}),
    },
)


def _recase(value: Any, flips: st.DataObject) -> Any:
    if isinstance(value, dict):
        return {
            "".join(c.upper() if flips.draw(st.booleans()) else c.lower() for c in key): _recase(
                item, flips
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_recase(item, flips) for item in value]
    return value


@given(body=_users)
def test_reading_is_idempotent(users: ResourceType, body: dict[str, Any]) -> None:
    once = read_resource(body, users)
    assert read_resource(once, users) == once


@given(body=_users, flips=st.data())
def test_attribute_name_case_never_matters(
    users: ResourceType, body: dict[str, Any], flips: st.DataObject
) -> None:
    assert read_resource(_recase(body, flips), users) == read_resource(body, users)
