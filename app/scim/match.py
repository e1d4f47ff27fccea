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
from app.scim.filter import And, Filter, Not, Or, Present, ValuePath
from app.scim.schema import Attribute

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
    if isinstance(node, And):
        return element_matches(node.left, element, parent) and element_matches(
            node.right, element, parent
        )
    if isinstance(node, Or):
        return element_matches(node.left, element, parent) or element_matches(
            node.right, element, parent
        )
    if isinstance(node, Not):
        return not element_matches(node.inner, element, parent)
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
