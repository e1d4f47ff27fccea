"""The filter grammar (RFC 7644 §3.4.2.2): parse ↔ print, case, error positions, limits (pure)."""

from __future__ import annotations

import re
import string

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.config import data_dir
from app.scim.errors import InvalidFilter
from app.scim.filter import (
    COMPARE_OPS,
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_TERMS,
    And,
    AttrPath,
    Compare,
    Filter,
    Not,
    Or,
    Present,
    ValuePath,
    parse_filter,
    to_text,
)
from app.scim.resolve import resolve_filter
from app.scim.schema import read_registry

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
USERS = read_registry(data_dir("schemas")).resource_type("User")

# --- strategies -----------------------------------------------------------------

# \w in the grammar is Unicode-aware, so names may carry letters beyond ASCII.
# "not" alone is the keyword: `not eq 1` cannot compare an attribute named "not".
_NAME_TAIL = string.ascii_letters + string.digits + "_-éÄøЖ"
_name = st.one_of(
    st.builds(
        lambda head, tail: head + tail,
        st.sampled_from(string.ascii_letters),
        st.text(alphabet=_NAME_TAIL, max_size=8),
    ),
    st.just("$ref"),
    st.sampled_from(["userName", "emails", "value", "type", "employeeNumber", "and", "or"]),
).filter(lambda name: name.lower() != "not")

_urn = st.one_of(
    st.sampled_from([ENTERPRISE, CORE_USER, ENTERPRISE.upper(), "urn:example:params:1.0:Thing"]),
    st.builds(
        lambda prefix, parts: ":".join([prefix, *parts]),
        st.sampled_from(["urn", "URN", "Urn"]),
        st.lists(
            st.text(alphabet=string.ascii_letters + string.digits + ".-_", min_size=1, max_size=6),
            min_size=1,
            max_size=4,
        ),
    ),
)


def _paths(*, sub: bool) -> st.SearchStrategy[AttrPath]:
    return st.builds(
        AttrPath,
        urn=st.none() | _urn,
        attr=_name,
        sub=(st.none() | _name) if sub else st.none(),
    )


_value = st.one_of(
    st.text(),  # any code point but surrogates: quotes, backslashes, controls, emoji
    st.text(alphabet='"\\/\b\f\n\r\t\u2028 aÄé€😀'),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)

_compare = st.builds(
    Compare, path=_paths(sub=True), op=st.sampled_from(sorted(COMPARE_OPS)), value=_value
)
_present = st.builds(Present, path=_paths(sub=True))


def _trees(leaf: st.SearchStrategy[Filter]) -> st.SearchStrategy[Filter]:
    return st.recursive(
        leaf,
        lambda children: st.one_of(
            st.builds(And, left=children, right=children),
            st.builds(Or, left=children, right=children),
            st.builds(Not, inner=children),
        ),
        max_leaves=8,
    )


_value_path = st.builds(
    ValuePath,
    path=_paths(sub=False),
    filter=_trees(_compare | _present),  # no nesting
)
_filters = _trees(_compare | _present | _value_path)


def _nesting(node: Filter) -> int:
    """How deep ``to_text(node)`` nests parentheses and brackets (the parser's depth - 1)."""
    if isinstance(node, And | Or):
        return max(_nesting(c) + isinstance(c, And | Or) for c in (node.left, node.right))
    if isinstance(node, Not):
        return 1 + _nesting(node.inner)
    if isinstance(node, ValuePath):
        return 1 + _nesting(node.filter)
    return 0


def _terms(node: Filter) -> int:
    if isinstance(node, And | Or):
        return _terms(node.left) + _terms(node.right)
    if isinstance(node, Not):
        return _terms(node.inner)
    if isinstance(node, ValuePath):
        return 1 + _terms(node.filter)
    return 1


# --- parse ↔ print --------------------------------------------------------------


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(_filters)
def test_printing_then_parsing_gives_the_same_tree(node: Filter) -> None:
    text = to_text(node)
    if len(text) > MAX_LENGTH or _nesting(node) >= MAX_DEPTH or _terms(node) > MAX_TERMS:
        with pytest.raises(InvalidFilter):
            parse_filter(text)
        return
    parsed = parse_filter(text)
    assert parsed == node
    # == says 1 == 1.0 == True; the encoding keeps int, float and bool apart.
    assert msgspec.json.encode(parsed) == msgspec.json.encode(node)
    assert to_text(parsed) == text  # printing is stable


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'userName eq "bjensen"',
            Compare(path=AttrPath(attr="userName"), op="eq", value="bjensen"),
        ),
        (
            f"{ENTERPRISE}:manager.value pr",
            Present(path=AttrPath(urn=ENTERPRISE, attr="manager", sub="value")),
        ),
        (
            'emails[type eq "work" and not (primary eq false)]',
            ValuePath(
                path=AttrPath(attr="emails"),
                filter=And(
                    left=Compare(path=AttrPath(attr="type"), op="eq", value="work"),
                    right=Not(inner=Compare(path=AttrPath(attr="primary"), op="eq", value=False)),
                ),
            ),
        ),
        # "and" binds tighter than "or" (RFC 7644 §3.4.2.2 precedence)
        (
            "a pr or b pr and c pr",
            Or(
                left=Present(path=AttrPath(attr="a")),
                right=And(
                    left=Present(path=AttrPath(attr="b")), right=Present(path=AttrPath(attr="c"))
                ),
            ),
        ),
        (
            'title eq "a \\"quoted\\" \\u00c4"',
            Compare(path=AttrPath(attr="title"), op="eq", value='a "quoted" Ä'),
        ),
        ("x ge -1.5e3", Compare(path=AttrPath(attr="x"), op="ge", value=-1500.0)),
        # Unquoted values, as authentik and Entra send them: a string up to the next space.
        (
            "userName eq jdoe@example.com",
            Compare(path=AttrPath(attr="userName"), op="eq", value="jdoe@example.com"),
        ),
        (
            "externalId eq jyoung and active eq true",
            And(
                left=Compare(path=AttrPath(attr="externalId"), op="eq", value="jyoung"),
                right=Compare(path=AttrPath(attr="active"), op="eq", value=True),
            ),
        ),
        # attr[filter].sub: the element must pass both (Entra's work-email lookup).
        (
            'emails[type eq "work"].value eq "a@b.c"',
            ValuePath(
                path=AttrPath(attr="emails"),
                filter=And(
                    left=Compare(path=AttrPath(attr="type"), op="eq", value="work"),
                    right=Compare(path=AttrPath(attr="value"), op="eq", value="a@b.c"),
                ),
            ),
        ),
    ],
)
def test_known_trees(text: str, expected: Filter) -> None:
    assert parse_filter(text) == expected
    assert parse_filter(to_text(expected)) == expected


# --- case -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ('userName EQ "x"', 'userName eq "x"'),
        ('userName Eq "x"', 'userName eq "x"'),
        ("title PR AND active eq TRUE", "title pr and active eq true"),
        ("title pr Or active eq False", "title pr or active eq false"),
        ("NOT (title pr)", "not (title pr)"),
        ("Not (title eq NULL)", "not (title eq null)"),
        ('emails[type EQ "work" AnD value CO "x"]', 'emails[type eq "work" and value co "x"]'),
    ],
)
def test_keywords_are_case_insensitive(text: str, canonical: str) -> None:
    assert parse_filter(text) == parse_filter(canonical)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ('USERNAME eq "x"', 'userName eq "x"'),
        ('username eq "x"', 'userName eq "x"'),
        ('NAME.GIVENNAME sw "B"', 'name.givenName sw "B"'),
        ('Emails[TYPE eq "work"]', 'emails[type eq "work"]'),
        ('EMAILS eq "x"', 'emails.value eq "x"'),
        (f'{ENTERPRISE.upper()}:EMPLOYEENUMBER eq "1"', f'{ENTERPRISE}:employeeNumber eq "1"'),
        ('employeeNumber eq "1"', f'{ENTERPRISE}:employeeNumber eq "1"'),
        (f'{CORE_USER.lower()}:USERNAME eq "x"', 'userName eq "x"'),
        ('META.CREATED gt "2026-01-01T00:00:00Z"', 'meta.created gt "2026-01-01T00:00:00Z"'),
    ],
)
def test_attribute_names_are_case_insensitive(text: str, canonical: str) -> None:
    """RFC 7643 §2.1: names and URNs in any case bind to the same attribute."""
    assert resolve_filter(parse_filter(text), USERS) == resolve_filter(
        parse_filter(canonical), USERS
    )


def test_values_keep_their_case() -> None:
    assert parse_filter('userName eq "BJensen"') == Compare(
        path=AttrPath(attr="userName"), op="eq", value="BJensen"
    )


# --- errors name the position (1-based characters) ------------------------------


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("userName eq", 12),  # the value is missing: end of input
        ('userName xx "a"', 10),  # not an operator
        ('userName eq "a" and', 20),
        ('(userName eq "a"', 17),  # unclosed parenthesis
        ('userName eq "a" #', 17),  # a character no token starts with
        ('not userName eq "a"', 5),  # "not" needs "("
        ('emails[type eq "work"', 22),  # unclosed bracket
        ('emails[type[value eq "x"]]', 8),  # value filters cannot nest
        ('name.givenName[value eq "x"]', 1),  # "[" after a sub-attribute
        ('userName eq "a\\q"', 13),  # a bad escape in the string
        ("a.b.c eq 1", 1),  # three parts are no attribute path
        ('userName eq "x" )', 17),
        ("userName eq and", 13),  # a keyword is no value, quoted or not
        ('displayName eq "Ärger" or ?', 27),  # characters, not UTF-8 bytes
        ("title pr and (active eq true or )", 33),
        ('userName eq "unterminated', 13),
        (f'{CORE_USER}: eq "x"', 1),  # a URN without an attribute
        ('emails[type eq "work"] eq "x"', 24),
        ("   userName eq", 15),
    ],
)
def test_errors_say_where(text: str, position: int) -> None:
    with pytest.raises(InvalidFilter) as caught:
        parse_filter(text)
    numbers = [int(n) for n in re.findall(r"position (\d+)", caught.value.detail)]
    assert numbers == [position], caught.value.detail


@pytest.mark.parametrize("text", ["", "   ", "\t\n"])
def test_an_empty_filter_is_invalid(text: str) -> None:
    with pytest.raises(InvalidFilter, match="empty"):
        parse_filter(text)


# --- limits ---------------------------------------------------------------------


def _parenthesised(levels: int) -> str:
    return "(" * levels + "a pr" + ")" * levels


def test_depth_limit() -> None:
    # The whole filter is one level, each "(" one more.
    assert parse_filter(_parenthesised(MAX_DEPTH - 1)) == Present(path=AttrPath(attr="a"))
    with pytest.raises(InvalidFilter, match=f"deeper than {MAX_DEPTH}"):
        parse_filter(_parenthesised(MAX_DEPTH))


@pytest.mark.parametrize(
    "text",
    [
        _parenthesised(2000),  # within MAX_LENGTH: the depth check, not RecursionError
        "not (" * 800 + "a pr" + ")" * 800,
        "a pr and " + "(b pr or " * 400 + "c pr" + ")" * 400,
        "emails[" + "(" * 1000 + "a pr" + ")" * 1000 + "]",
        "(" * 100_000,  # beyond MAX_LENGTH as well
    ],
)
def test_deep_nesting_is_an_invalid_filter(text: str) -> None:
    with pytest.raises(InvalidFilter):
        parse_filter(text)


def test_length_limit() -> None:
    def padded(length: int) -> str:
        return 'a eq "' + "x" * (length - 7) + '"'

    assert isinstance(parse_filter(padded(MAX_LENGTH)), Compare)
    with pytest.raises(InvalidFilter, match="too long"):
        parse_filter(padded(MAX_LENGTH + 1))


@pytest.mark.parametrize("word", ["or", "and"])
def test_terms_limit(word: str) -> None:
    assert parse_filter(f" {word} ".join(["a pr"] * MAX_TERMS))
    with pytest.raises(InvalidFilter, match=f"more than {MAX_TERMS}"):
        parse_filter(f" {word} ".join(["a pr"] * (MAX_TERMS + 1)))
    with pytest.raises(InvalidFilter, match=f"more than {MAX_TERMS}"):
        parse_filter("emails[" + f" {word} ".join(["a pr"] * MAX_TERMS) + "]")


# --- any text -------------------------------------------------------------------

_TOKENS = [
    "(", ")", "[", "]", " ", '"', '"x"', '"\\', "\\u00", "not", "and", "or", "eq", "pr",
    "co", "gt", "true", "null", "userName", "emails", ".value", "urn:a:b:c", ":", ".",
    "$ref", "-", "1", "0", "2.5", "e7", "-3", "'", "é", " 007", " 9e999", "1e-9",
]  # fmt: skip


def _mutated(text: str, edits: list[tuple[int, int, str]]) -> str:
    """``text`` with some characters replaced by tokens: nearly-valid filters."""
    for at, deleted, inserted in edits:
        at %= len(text) + 1
        text = text[:at] + inserted + text[at + deleted :]
    return text


_edits = st.lists(
    st.tuples(st.integers(0, 1000), st.integers(0, 3), st.sampled_from(_TOKENS)), max_size=4
)
_texts = st.one_of(
    st.text(),
    st.lists(st.sampled_from(_TOKENS), max_size=14).map("".join),
    st.builds(_mutated, _filters.map(to_text), _edits),
)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(_texts)
def test_any_text_is_a_filter_or_an_invalid_filter(text: str) -> None:
    try:
        parsed = parse_filter(text)
    except InvalidFilter as exc:
        assert exc.detail
        return
    assert isinstance(parsed, Compare | Present | And | Or | Not | ValuePath)
    assert parse_filter(to_text(parsed)) == parsed
