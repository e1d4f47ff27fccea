"""Evaluating resolved SCIM filters in memory (RFC 7644 §3.4.2.2).

Pure. The filter must come from ``app.scim.resolve`` (canonical names,
comparison values already coerced to the attribute's type), and values come
from a canonical document (``app.scim.codec``), so evaluation never fails:
a comparison that cannot hold, such as a string against a number, is false.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from app.scim.codec import parse_datetime
from app.scim.errors import InvalidFilter
from app.scim.filter import And, Compare, Filter, Not, Or, Present, ValuePath
from app.scim.resolve import resolve_attr
from app.scim.schema import Attribute, ResourceType

_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}


def element_matches(node: Filter, element: dict[str, Any], parent: Attribute) -> bool:
    """Does one value of the multi-valued complex ``parent`` satisfy a value filter?

    ``node`` is the inside of ``emails[type eq "work"]`` (RFC 7644 §3.4.2.2
    valuePath; §3.5.2 PATCH paths): its attribute paths name sub-attributes
    of ``parent``.
    """
    if isinstance(node, And | Or | Not):
        return _logic(node, lambda leaf: element_matches(leaf, element, parent))
    if isinstance(node, ValuePath):
        raise ValueError("value filters do not nest (RFC 7644 §3.4.2.2 valFilter)")
    name = node.path.attr
    sub = parent.sub(name) or Attribute(name=name, type="string")
    actual = element.get(sub.name)
    if isinstance(node, Present):
        return is_present(actual)
    return compare(node.op, actual, node.value, sub)


def is_present(value: Any) -> bool:
    """RFC 7644 §3.4.2.2 ``pr``: has a value that is not null, "" or empty (RFC 7643 §2.5)."""
    return value is not None and value != "" and value != [] and value != {}


def compare(op: str, actual: Any, expected: Any, attribute: Attribute) -> bool:
    """One comparison of RFC 7644 §3.4.2.2 Table 3 on a stored value of ``attribute``.

    ``ne`` is exactly ``not eq``, so an absent value is ``ne`` anything;
    ``eq null`` means absent and ``ne null`` present. A list (a multi-valued
    attribute) matches when any of its values does.
    """
    if op == "ne":
        return not compare("eq", actual, expected, attribute)
    if expected is None:
        return op == "eq" and not is_present(actual)
    if isinstance(actual, list):
        return any(compare(op, item, expected, attribute) for item in actual)
    if actual is None:
        return False
    left, right = comparable(actual, attribute), comparable(expected, attribute)
    if left is None or right is None or _kind(left) is not _kind(right):
        return False
    if op == "eq":
        return bool(left == right)
    if op in _ORDER:
        return _ORDER[op](left, right)
    if not isinstance(left, str):
        return False
    if op == "co":
        return right in left
    if op == "sw":
        return left.startswith(right)
    if op == "ew":
        return left.endswith(right)
    return False


def comparable(value: Any, attribute: Attribute) -> Any:
    """``value`` in the form RFC 7644 §3.4.2.2 compares: None when it has the wrong type.

    Strings fold case unless the attribute is caseExact (RFC 7643 §2.2),
    dateTimes compare chronologically, integers and decimals numerically.
    """
    kind = attribute.type
    if kind == "boolean":
        return value if isinstance(value, bool) else None
    if kind in ("integer", "decimal"):
        return None if isinstance(value, bool) or not isinstance(value, int | float) else value
    if not isinstance(value, str):
        return None
    if kind == "dateTime":
        return parse_datetime(value)
    return value if attribute.case_exact else value.lower()


def _kind(value: Any) -> type:
    # 1 and 1.0 are the same number; bool is never a number here (comparable sorts it out).
    return float if isinstance(value, int) and not isinstance(value, bool) else type(value)


# --- whole resources ------------------------------------------------------------

# What the store can filter on beyond the schemas' say (app.store.filtering):
# meta lives in columns, Group members and User groups in a side table.
_META_FILTERABLE = frozenset({"created", "lastModified", "resourceType"})
_SIDE_TABLE_FILTERABLE = {
    ("Group", "members"): frozenset({"value", "type"}),
    ("User", "groups"): frozenset({"value"}),
}


def resource_matches(node: Filter, document: dict[str, Any], resource_type: ResourceType) -> bool:
    """Does a rendered resource satisfy a resolved filter (RFC 7644 §3.4.2.2)?

    The reference that ``app.store.filtering`` (the SQL compiler) is tested
    against, with the semantics documented there: ``ne`` is ``not eq`` (an
    absent value is ``ne`` anything), ``eq null`` is "absent", ``pr`` is
    "present, non-null, non-empty", a multi-valued attribute matches when any
    of its values does, strings fold with ``str.lower`` unless caseExact.
    ``document`` is ``app.scim.render.render`` output. What the store cannot
    filter on (``meta.location``, ``groups.display``…) is ``InvalidFilter``
    whatever the document, as it is there.
    """
    _check_filterable(node, resource_type)
    return _matches(node, document, resource_type)


def _logic(node: And | Or | Not, leaf: Callable[[Filter], bool]) -> bool:
    """and / or / not over any leaf test (short-circuiting, as the SQL does not need to)."""
    if isinstance(node, Not):
        return not leaf(node.inner)
    if isinstance(node, And):
        return leaf(node.left) and leaf(node.right)
    return leaf(node.left) or leaf(node.right)


def _matches(node: Filter, document: dict[str, Any], resource_type: ResourceType) -> bool:
    if isinstance(node, And | Or | Not):
        return _logic(node, lambda inner: _matches(inner, document, resource_type))
    resolved = resolve_attr(node.path, resource_type)
    value = _lookup(document, resolved.urn, resolved.attribute.name)
    if isinstance(node, ValuePath):
        elements = value if isinstance(value, list) else []
        return any(
            isinstance(e, dict) and element_matches(node.filter, e, resolved.attribute)
            for e in elements
        )
    if resolved.sub is not None:
        value = _sub_values(value, resolved.sub.name)
    if isinstance(node, Present):
        return _present(value)
    if node.value is None:  # ``eq null``: absent; ``ne null``: present
        return _present(value) if node.op == "ne" else not _present(value)
    return compare(node.op, value, node.value, resolved.target)


def _present(value: Any) -> bool:
    # A list of sub-attribute values is present when one of them is: [None, ""] is not.
    return any(map(is_present, value)) if isinstance(value, list) else is_present(value)


def _lookup(document: dict[str, Any], urn: str | None, name: str) -> Any:
    container = document.get(urn) if urn else document
    return container.get(name) if isinstance(container, dict) else None


def _sub_values(value: Any, sub: str) -> Any:
    """``emails.value``: the sub-attribute of each element, or of the single complex value."""
    if isinstance(value, list):
        return [e.get(sub) if isinstance(e, dict) else None for e in value]
    return value.get(sub) if isinstance(value, dict) else None


def _check_filterable(node: Filter, resource_type: ResourceType) -> None:
    if isinstance(node, And | Or):
        _check_filterable(node.left, resource_type)
        _check_filterable(node.right, resource_type)
        return
    if isinstance(node, Not):
        _check_filterable(node.inner, resource_type)
        return
    resolved = resolve_attr(node.path, resource_type)
    if resolved.urn is not None:
        return
    name, sub = resolved.attribute.name, resolved.sub.name if resolved.sub else None
    if name == "meta" and sub not in _META_FILTERABLE:
        raise InvalidFilter(
            f"meta.{sub} cannot be filtered on" if sub else "compare a meta sub-attribute"
        )
    allowed = _SIDE_TABLE_FILTERABLE.get((resource_type.name, name))
    if allowed is None:
        return
    # members / groups without a sub-attribute compare "value" (RFC 7644 §3.4.2.2).
    subs = (
        [leaf.path.attr for leaf in _leaves(node)]
        if isinstance(node, ValuePath)
        else [sub or "value"]
    )
    for wanted in subs:
        if wanted not in allowed:
            raise InvalidFilter(f"{name} can be filtered by {' and '.join(sorted(allowed))} only")
    if name == "groups":
        _check_groups(node)


def _check_groups(node: Filter) -> None:
    """groups.value takes eq, ne, pr; groups[…] value tests joined by "or", as the store does."""
    if isinstance(node, ValuePath):
        inner = node.filter
        leaves = _leaves(inner)
        if not _only_or(inner) or any(
            isinstance(leaf, Compare) and leaf.op == "ne" and leaf.value is not None
            for leaf in leaves
        ):
            raise InvalidFilter('groups[…] takes value comparisons joined by "or"')
        for leaf in leaves:
            if isinstance(leaf, Compare) and leaf.op not in ("eq", "ne"):
                raise InvalidFilter("groups.value supports eq, ne and pr")
        return
    if isinstance(node, Compare) and node.op not in ("eq", "ne"):
        raise InvalidFilter("groups.value supports eq, ne and pr")


def _only_or(node: Filter) -> bool:
    if isinstance(node, Or):
        return _only_or(node.left) and _only_or(node.right)
    return isinstance(node, Compare | Present)


def _leaves(node: Filter) -> list[Compare | Present]:
    if isinstance(node, And | Or):
        return _leaves(node.left) + _leaves(node.right)
    if isinstance(node, Not):
        return _leaves(node.inner)
    if isinstance(node, ValuePath):
        return _leaves(node.filter)
    return [node]
