"""Filters over HTTP: the SQL result equals the in-memory evaluator's, on SQLite and PostgreSQL.

``app.scim.match.resource_matches`` is the reference (RFC 7644 §3.4.2.2 with
the semantics documented in ``app.store.filtering``); random filters over a
fixed directory of Users chosen for their edge cases must select the same
ids through ``GET /Users?filter=`` as the evaluator selects from the rendered
Users.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.scim.errors import InvalidFilter
from app.scim.filter import (
    And,
    Compare,
    Filter,
    Not,
    Or,
    Present,
    ValuePath,
    parse_filter,
    parse_path,
    to_text,
)
from app.scim.match import resource_matches
from app.scim.resolve import resolve_filter
from app.scim.schema import ResourceType
from tests.conftest import Harness, TenantAccess, create
from tests.samples import ENTERPRISE, GROUP, USER, assert_error

BJENSEN = "{bjensen}"  # replaced by bjensen's id when seeding

# Each User is here for an edge case: missing and empty values, case, non-ASCII
# letters (not Turkish İ or ß, which PostgreSQL and Python lower differently),
# LIKE's % _ and \, several emails of which one primary, the enterprise extension.
SEED_USERS: list[dict[str, Any]] = [
    {
        "userName": "bjensen",
        "displayName": "Babs Jensen",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "title": "Tour Guide",
        "active": True,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": True},
            {"value": "babs@jensen.org", "type": "home"},
        ],
        "externalId": "BJ-001",
        ENTERPRISE: {"employeeNumber": "701984", "department": "Tour Operations"},
    },
    {
        "userName": "JSMITH",
        "displayName": "John Smith",
        "name": {"givenName": "John", "familyName": "SMITH"},
        "title": "tour guide",
        "active": False,
        "emails": [{"value": "John.Smith@Example.COM", "type": "Work"}],
        "externalId": "bj-001",
        ENTERPRISE: {"employeeNumber": "42", "department": "SALES", "manager": {"value": BJENSEN}},
    },
    {
        "userName": "Ärger",
        "displayName": "ÄRGER Über",
        "name": {"givenName": "Éa", "familyName": "ärger"},
        "emails": [{"value": "ärger@beispiel.de", "type": "home", "primary": True}],
        ENTERPRISE: {"department": "Verkäufe"},
    },
    {
        "userName": "éa",
        "displayName": "éa",
        "name": {"givenName": "Éloïse"},
        "title": "Ingénieure",
        "active": True,
        "externalId": "Éa-3",
    },
    {"userName": "bare"},
    {
        "userName": "empty",
        "displayName": "",
        "title": "",
        "externalId": "",
        "name": {"givenName": "", "familyName": "Empty"},
        "emails": [{"value": "", "type": "work"}],
        ENTERPRISE: {"employeeNumber": "", "department": ""},
    },
    {
        "userName": "pct%user",
        "displayName": "under_score",
        "title": "100% sure",
        "emails": [{"value": "a_b@example.com", "type": "other"}],
        "externalId": "ext_%",
    },
    {"userName": "back\\slash", "displayName": "Back\\Slash", "title": "C:\\temp", "active": False},
    {
        "userName": "split",
        "emails": [
            {"value": "split@corp.test", "type": "work", "primary": True},
            {"value": "split@example.org", "type": "home"},
        ],
        "active": True,
    },
    {
        "userName": "worker",
        "emails": [
            {"value": "worker@example.com", "type": "work"},
            {"value": "worker@home.test", "type": "home", "primary": True},
        ],
    },
    {
        "userName": "notype",
        "emails": [
            {"value": "notype@example.com"},
            {"value": "second@example.com", "display": "Second"},
        ],
    },
    {
        "userName": "primaryfalse",
        "emails": [{"value": "pf@example.com", "type": "work", "primary": False}],
        "active": True,
        "title": "Manager",
    },
    {"userName": "managed", "title": "Tour guide", ENTERPRISE: {"manager": {"value": BJENSEN}}},
    {
        "userName": "numbers",
        "externalId": "00042",
        ENTERPRISE: {"employeeNumber": "00042", "department": "sales"},
    },
    {
        "userName": "sales.lead",
        "displayName": "Sales Lead",
        "name": {"givenName": "Sally", "familyName": "Lead"},
        "active": False,
        ENTERPRISE: {"employeeNumber": "9", "department": "Sales"},
    },
    {
        "userName": "User15@Example.com",
        "displayName": "user fifteen",
        "name": {"formatted": "Ms. Fifteen"},
    },
    {"userName": "mallory", "displayName": "Mallory", "title": "m", "active": True},
    {"userName": "zed", "displayName": "Zed", "title": "Z", "externalId": "Z"},
    {"userName": "a", "displayName": "A", "title": "a"},
    {"userName": "smiley", "displayName": "Smiley 😀", "title": "Chief 😀 Officer"},
    {"userName": "quote", "displayName": 'Say "hi"', "title": "it's"},
    {
        "userName": "many",
        "emails": [
            {"value": f"many{i}@example.com", "type": kind}
            for i, kind in enumerate(["work", "home", "other", "work"])
        ],
        "active": False,
    },
    {"userName": "emptymgr", ENTERPRISE: {"manager": {"value": ""}}},
    {
        "userName": "BJensen2",
        "displayName": "babs jensen",
        "name": {"givenName": "BARBARA", "familyName": "jensen"},
        "emails": [{"value": "BJENSEN@EXAMPLE.COM", "type": "WORK"}],
    },
    {"userName": "casey", "externalId": "CaseY", "title": "Ärger"},
]

# Group name → its members: userNames, or "@Group" for a group.
# "Everyone" holds Staff: a User's groups include those reached through nesting
# ("type": "indirect", RFC 7643 §4.1.2), and groups.value filters see them too.
SEED_GROUPS: dict[str, list[str]] = {
    "Admins": ["bjensen", "JSMITH", "Ärger"],
    "Staff": ["Ärger", "éa", "split", "many"],
    "Empty": [],
    "Everyone": ["@Staff", "bjensen"],
}

# Minutes between creations (and as many 7 ms: not whole seconds); 0 makes a
# User's meta.created equal to the previous one's.
_SPACING = (13, 0, 7, 61, 1, 0, 29, 3, 120, 11, 5, 0, 17, 19, 23, 2, 31, 37, 41, 43, 47, 53, 0, 59, 1)  # fmt: skip


@dataclass
class Directory:
    harness: Harness
    tenant: TenantAccess
    users: list[dict[str, Any]]  # as GET /Users renders them
    user_type: ResourceType

    @property
    def backend(self) -> str:
        return self.harness.db.engine.dialect.name  # "sqlite" | "postgresql"

    def search(self, text: str) -> Any:
        return self.harness.client.get(
            "/scim/v2/Users",
            params={"filter": text, "count": 1000},
            headers=self.tenant.headers(),
        )

    def found(self, text: str) -> set[str]:
        """userNames the server returns for this filter."""
        response = self.search(text)
        assert response.status_code == 200, f"{text!r}: {response.text}"
        body = response.json()
        assert body["totalResults"] == len(body["Resources"])
        return {r["userName"] for r in body["Resources"]}

    def expected(self, text: str) -> set[str]:
        """userNames the in-memory evaluator selects from the rendered Users."""
        bound = resolve_filter(parse_filter(text), self.user_type)
        return {u["userName"] for u in self.users if resource_matches(bound, u, self.user_type)}

    def selected(self, text: str) -> set[str]:
        """userNames the server returns, which must be those the evaluator selects."""
        found = self.found(text)
        assert found == self.expected(text), f"{self.backend}: {text}"
        return found


def _seed(harness: Harness, tenant: TenantAccess) -> Directory:
    ids: dict[str, str] = {}
    for spacing, body in zip(_SPACING, SEED_USERS, strict=True):
        harness.clock.advance(dt.timedelta(minutes=spacing, milliseconds=spacing * 7))
        body = dict(body)
        if ENTERPRISE in body and "manager" in body[ENTERPRISE]:
            manager = body[ENTERPRISE]["manager"]["value"].replace(BJENSEN, ids.get("bjensen", ""))
            body[ENTERPRISE] = {**body[ENTERPRISE], "manager": {"value": manager}}
        schemas = [USER, ENTERPRISE] if ENTERPRISE in body else [USER]
        ids[body["userName"]] = create(harness, tenant, "Users", {"schemas": schemas, **body})["id"]
    groups: dict[str, str] = {}
    for name, members in SEED_GROUPS.items():
        values = [groups[m[1:]] if m.startswith("@") else ids[m] for m in members]
        body = {"schemas": [GROUP], "displayName": name, "members": [{"value": v} for v in values]}
        groups[name] = create(harness, tenant, "Groups", body)["id"]
    listed = harness.client.get("/scim/v2/Users?count=1000", headers=tenant.headers())
    assert listed.status_code == 200, listed.text
    users = listed.json()["Resources"]
    assert len(users) == len(SEED_USERS)
    user_type = harness.client.app.state.services.registry.resource_type("User")
    return Directory(harness, tenant, users, user_type)


@pytest.fixture
def directory(harness: Harness, tenant: TenantAccess) -> Directory:
    return _seed(harness, tenant)


# --- random filters -------------------------------------------------------------


def _collect(users: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Every value in the rendered Users, by path (``emails.value``, ``urn:…:User:manager.value``)."""
    pools: dict[str, set[Any]] = defaultdict(set)

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else key, item)
        elif isinstance(value, list):
            for item in value:
                walk(prefix, item)
        else:
            pools[prefix].add(value)

    for user in users:
        for key, value in user.items():
            if key.startswith("urn:") and isinstance(value, dict):
                for sub_key, sub_value in value.items():
                    walk(f"{key}:{sub_key}", sub_value)
            else:
                walk(key, value)
    return {path: sorted(values, key=repr) for path, values in pools.items()}


_STRING_OPS = ("eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le")
_ORDER_OPS = ("eq", "ne", "gt", "ge", "lt", "le")
_ODD_STRINGS = ("%", "_", "\\", "'", '"', "ä", "Ä", "É", "😀", "", "m", "example", "zzz", " ")
_CASES = (str.lower, str.upper, str.swapcase, str.title)


@dataclass(frozen=True)
class Field:
    path: str  # as a client writes it
    kind: str  # "string" | "boolean" | "dateTime"
    source: str  # the _collect key its values come from
    column: bool = False  # compared as stored in a column of its own (caseExact)
    fold: bool = True  # may be searched for in another case
    present: bool = True  # may be tested with pr


@st.composite
def _fragment(draw: st.DrawFn, pool: list[str]) -> str:
    text = draw(st.sampled_from(pool))
    start = draw(st.integers(0, len(text)))
    return text[start : draw(st.integers(start, len(text)))]


def _strings(pool: list[Any], *, fold: bool) -> st.SearchStrategy[str]:
    """Values that do occur, pieces of them (so co/sw/ew match), odd ones, other cases."""
    texts = [v for v in pool if isinstance(v, str)] or [""]
    seen = st.one_of(st.sampled_from(texts), _fragment(texts))
    choices = [seen, seen, st.sampled_from(_ODD_STRINGS)]
    if fold:
        choices.append(st.tuples(seen, st.sampled_from(_CASES)).map(lambda p: p[1](p[0])))
    return st.one_of(choices)


def _datetimes(pool: list[Any]) -> st.SearchStrategy[str]:
    """meta.created values, a millisecond or a minute off, in other zones and spellings."""

    def spell(text: str, shift_ms: int, offset_hours: int, form: str) -> str:
        moment = dt.datetime.fromisoformat(text) + dt.timedelta(milliseconds=shift_ms)
        moment = moment.astimezone(dt.timezone(dt.timedelta(hours=offset_hours)))
        return moment.date().isoformat() if form == "date" else moment.isoformat(timespec=form)

    return st.builds(
        spell,
        st.sampled_from(pool),
        st.sampled_from([0, 0, -1, 1, 60_000]),
        st.sampled_from([0, 0, 2, -5]),
        st.sampled_from(["milliseconds", "milliseconds", "seconds", "date"]),
    )


def _leaf(field: Field, pool: list[Any], *, substrings: bool = True) -> st.SearchStrategy[Filter]:
    """``path op value``, ``path op null`` or ``path pr`` for one attribute."""
    path = parse_path(field.path).path
    values: st.SearchStrategy[Any]
    if field.kind == "boolean":
        ops, values = ("eq", "ne"), st.booleans()
    elif field.kind == "dateTime":
        ops, values = _ORDER_OPS, _datetimes(pool)
    else:
        ops = _STRING_OPS if substrings else _ORDER_OPS
        values = _strings(pool, fold=field.fold)
    compare = st.builds(
        lambda op, value: Compare(path=path, op=op, value=value), st.sampled_from(ops), values
    )
    null = st.sampled_from(["eq", "ne"]).map(lambda op: Compare(path=path, op=op, value=None))
    leaves = [compare, compare, compare, null]
    if field.present:
        leaves.append(st.just(Present(path=path)))
    return st.one_of(leaves)


def _trees(leaf: st.SearchStrategy[Filter], leaves: int) -> st.SearchStrategy[Filter]:
    return st.recursive(
        leaf,
        lambda children: st.one_of(
            st.builds(And, left=children, right=children),
            st.builds(Or, left=children, right=children),
            st.builds(Not, inner=children),
        ),
        max_leaves=leaves,
    )


FIELDS = (
    Field("userName", "string", "userName"),
    Field("USERNAME", "string", "userName"),
    Field("displayName", "string", "displayName"),
    Field("name.givenName", "string", "name.givenName"),
    Field("name.familyName", "string", "name.familyName"),
    Field("name.formatted", "string", "name.formatted"),
    Field("title", "string", "title"),
    Field("active", "boolean", "active"),
    Field("emails", "string", "emails.value"),
    Field("emails.value", "string", "emails.value"),
    Field("Emails.Type", "string", "emails.type"),
    Field("emails.display", "string", "emails.display"),
    Field("emails.primary", "boolean", "emails.primary"),
    Field("externalId", "string", "externalId", column=True),
    Field("id", "string", "id", column=True),
    Field(f"{ENTERPRISE}:employeeNumber", "string", f"{ENTERPRISE}:employeeNumber"),
    Field("employeeNumber", "string", f"{ENTERPRISE}:employeeNumber"),
    Field(f"{ENTERPRISE}:department", "string", f"{ENTERPRISE}:department"),
    Field(f"{ENTERPRISE}:manager.value", "string", f"{ENTERPRISE}:manager.value"),
    Field(f"{ENTERPRISE}:manager", "string", f"{ENTERPRISE}:manager.value"),
    Field("meta.created", "dateTime", "meta.created"),
    Field("meta.lastModified", "dateTime", "meta.lastModified"),
    Field("meta.resourceType", "string", "meta.resourceType", column=True),
    # Group ids: caseExact (schemas/User.json), compared as given.
    Field("groups.value", "string", "groups.value", column=True, fold=False),
    Field("groups", "string", "groups.value", column=True, fold=False),
)
_ELEMENT_FIELDS = (
    Field("type", "string", "emails.type"),
    Field("value", "string", "emails.value"),
    Field("primary", "boolean", "emails.primary"),
    Field("display", "string", "emails.display"),
)


def _filters(directory: Directory) -> st.SearchStrategy[Filter]:
    pools = _collect(directory.users)
    leaves = [_leaf(f, pools.get(f.source, []), substrings=True) for f in FIELDS]
    elements = [_leaf(f, pools.get(f.source, [])) for f in _ELEMENT_FIELDS]
    emails = st.builds(
        lambda inner: ValuePath(path=parse_path("emails").path, filter=inner),
        _trees(st.one_of(elements), 3),
    )
    group_value = _leaf(
        Field("value", "string", "groups.value", fold=False),
        pools.get("groups.value", []),
        substrings=True,
    )
    groups = st.builds(
        lambda inner: ValuePath(path=parse_path("groups").path, filter=inner),
        _trees(group_value, 2),
    )
    return _trees(st.one_of(*leaves, emails, groups), 4)


def test_sql_and_the_evaluator_select_the_same_users(directory: Directory) -> None:
    everyone = {u["userName"] for u in directory.users}
    tally = {"filters": 0, "some": 0, "not_all": 0, "refused": 0}

    @settings(max_examples=150, deadline=None, database=None)
    @given(_filters(directory))
    def same_users(node: Filter) -> None:
        text = to_text(node)
        try:
            expected = directory.expected(text)
        except InvalidFilter:
            # What the evaluator refuses (e.g. groups.value gt …), the server refuses too.
            refused = directory.search(text)
            assert refused.status_code == 400, f"{text!r}: {refused.text}"
            assert refused.json()["scimType"] == "invalidFilter"
            tally["refused"] += 1
            return
        found = directory.found(text)
        assert found == expected, (
            f"{directory.backend}: {text}\n"
            f"  evaluator only: {sorted(expected - found)}\n"
            f"  SQL only:       {sorted(found - expected)}"
        )
        tally["filters"] += 1
        tally["some"] += bool(expected)
        tally["not_all"] += expected != everyone

    same_users()
    # Not vacuous: many filters select some Users, and many leave some out.
    assert tally["some"] >= tally["filters"] // 4, tally
    assert tally["not_all"] >= tally["filters"] // 4, tally
    assert tally["filters"] > tally["refused"], tally


# --- semantics worth spelling out ---------------------------------------------


def test_ne_and_not_pr_and_eq_null_match_absent_values(directory: Directory) -> None:
    everyone = {u["userName"] for u in directory.users}
    titled = {u["userName"] for u in directory.users if u.get("title")}
    assert "bare" not in titled and "empty" not in titled  # absent; ""
    assert directory.selected("not (title pr)") == everyone - titled
    assert directory.selected("title eq null") == everyone - titled
    assert directory.selected("title ne null") == directory.selected("title pr") == titled
    # ne is "not eq": Users without a title are ne anything; eq folds case.
    guides = {"bjensen", "JSMITH", "managed"}
    assert directory.selected('title ne "TOUR GUIDE"') == everyone - guides
    assert directory.selected('not (title eq "tour guide")') == everyone - guides
    assert directory.selected("active ne true") == everyone - directory.selected("active eq true")
    # A User pushed without ``active`` is active (RFC 7643 §4.1.1 leaves it to the server).
    assert "bare" in directory.selected("active eq true")


def test_strings_compare_case_insensitively_beyond_ascii(directory: Directory) -> None:
    assert directory.selected('userName eq "BJENSEN"') == {"bjensen"}
    assert directory.selected('USERNAME sw "bj"') == {"bjensen", "BJensen2"}
    assert directory.selected('userName eq "ärger"') == {"Ärger"}
    assert directory.selected('displayName co "üBER"') == {"Ärger"}
    assert directory.selected('name.givenName eq "ÉA"') == {"Ärger"}
    assert directory.selected(f'{ENTERPRISE}:department eq "sales"') == {
        "JSMITH",
        "numbers",
        "sales.lead",
    }
    # caseExact (RFC 7643 §3.1 externalId): no folding.
    assert directory.selected('externalId eq "bj-001"') == {"JSMITH"}


def test_like_wildcards_in_values_match_literally(directory: Directory) -> None:
    assert directory.selected('title co "%"') == {"pct%user"}
    assert directory.selected('title co "0% s"') == {"pct%user"}
    assert directory.selected('userName sw "pct%"') == {"pct%user"}
    assert directory.selected('displayName co "_"') == {"pct%user"}
    assert directory.selected('emails.value co "_"') == {"pct%user"}
    assert directory.selected('externalId ew "_%"') == {"pct%user"}
    assert directory.selected('title co "\\\\"') == {"back\\slash"}
    assert directory.selected('userName co "k\\\\s"') == {"back\\slash"}


def test_a_value_filter_holds_on_one_element(directory: Directory) -> None:
    # split's work email is at corp.test, its home email at example.org.
    same_email = directory.selected('emails[type eq "work" and value co "example"]')
    any_emails = directory.selected('emails.type eq "work" and emails.value co "example"')
    assert "split" not in same_email
    assert "split" in any_emails
    assert same_email == {"bjensen", "JSMITH", "worker", "primaryfalse", "many", "BJensen2"}
    assert any_emails == same_email | {"split"}
    assert directory.selected("emails[primary eq true]") == {"bjensen", "Ärger", "split", "worker"}
    assert directory.selected('emails[not (type pr)] and emails[display eq "second"]') == {"notype"}


def test_meta_created_compares_as_time(directory: Directory) -> None:
    created = {
        u["userName"]: dt.datetime.fromisoformat(u["meta"]["created"]) for u in directory.users
    }
    pivot = created["split"]
    later = {name for name, at in created.items() if at > pivot}
    assert later and later != set(created) - {"split"}
    assert directory.selected(f'meta.created gt "{pivot.isoformat()}"') == later
    in_new_york = pivot.astimezone(dt.timezone(dt.timedelta(hours=-5))).isoformat()
    assert directory.selected(f'meta.created gt "{in_new_york}"') == later
    assert directory.selected(f'meta.created le "{in_new_york}"') == set(created) - later
    # JSMITH was created in the same millisecond as bjensen.
    assert directory.selected(f'meta.created eq "{pivot.isoformat()}"') == {"split"}
    tie = created["bjensen"].isoformat()
    assert directory.selected(f'meta.created eq "{tie}"') == {"bjensen", "JSMITH"}


def test_filters_that_cannot_apply_are_invalid_filters(directory: Directory) -> None:
    unknown = assert_error(directory.search('nickName2 eq "x"'), 400, "invalidFilter")
    assert "nickName2" in unknown["detail"]
    broken = assert_error(directory.search('userName eq "x" and'), 400, "invalidFilter")
    assert "position 20" in broken["detail"]
    assert_error(directory.search("active gt true"), 400, "invalidFilter")
    assert_error(directory.search("title co 5"), 400, "invalidFilter")
    assert_error(directory.search('meta.created gt "yesterday"'), 400, "invalidFilter")
    assert_error(directory.search("meta.location pr"), 400, "invalidFilter")
    assert_error(directory.search("groups.display pr"), 400, "invalidFilter")
