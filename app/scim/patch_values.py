"""PATCH targets and the values of multi-valued attributes (RFC 7644 §3.5.2), for app.scim.patch."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import msgspec

from app.scim.codec import UNSET, check_value
from app.scim.errors import (
    InvalidValue,
    Mutability,
    NoTarget,
)
from app.scim.filter import (
    And,
    Compare,
    Filter,
)
from app.scim.match import element_matches
from app.scim.schema import Attribute


class Target(msgspec.Struct, frozen=True, kw_only=True):
    """A PATCH path bound to the schema."""

    urn: str | None  # extension attributes only
    attribute: Attribute
    sub: Attribute | None  # attr.sub, or the .sub after a filter
    filter: Filter | None  # resolved, over the attribute's sub-attributes
    text: str  # canonical path text, for messages


# --- multi-valued values ------------------------------------------------------


def _matches(target: Target, elements: list[Any]) -> list[bool]:
    assert target.filter is not None
    return [
        isinstance(element, dict) and element_matches(target.filter, element, target.attribute)
        for element in elements
    ]


def _no_target(target: Target) -> NoTarget:
    return NoTarget(f"no value of '{target.attribute.name}' matches '{target.text}'")


def remove_matches(target: Target, old: Any) -> Any:
    """``remove attr[filter]`` / ``attr[filter].sub``: noTarget if nothing matches."""
    elements = old or []
    hits = _matches(target, elements)
    if not any(hits):
        raise _no_target(target)
    if target.sub is None:
        return [element for element, hit in zip(elements, hits, strict=True) if not hit]
    out = []
    for element, hit in zip(elements, hits, strict=True):
        if hit:
            new = {k: v for k, v in element.items() if k != target.sub.name}
            _check_element(target.attribute, element, new, target.text)
            element = new
        out.append(element)
    return out


def replace_matches(target: Target, old: Any, value: Any) -> Any:
    """``replace attr[filter]``: the matching values give way to ``value`` (kept once)."""
    elements = old or []
    hits = _matches(target, elements)
    if not any(hits):
        raise _no_target(target)
    if value is not None and not isinstance(value, dict):
        raise InvalidValue(f"'{target.text}' is replaced by one JSON object")
    checked = check_value(target.attribute, value, target.text)
    replacement = None if checked is UNSET else checked[0]
    out = []
    for element, hit in zip(elements, hits, strict=True):
        if not hit:
            out.append(element)
        elif replacement is not None:
            _check_element(target.attribute, element, replacement, target.text)
            if not any(item is replacement for item in out):
                out.append(replacement)
    return out


def set_in_matches(target: Target, old: Any, value: Any, *, replace: bool) -> Any:
    """``attr[filter].sub`` (add, replace) and ``attr[filter]`` (add: merge an object).

    When nothing matches, a filter of ``eq`` terms joined by ``and`` says what
    the missing value looks like, and one is appended: Microsoft Entra ID sends
    ``replace emails[type eq "work"].value`` to set a work email that is not
    there yet. Any other filter with no match is noTarget (RFC 7644 §3.5.2.3).
    """
    elements = old or []
    attribute = target.attribute
    sub = target.sub
    if sub is not None:
        checked = check_value(sub, value, target.text)
        fresh = None if checked is UNSET else {sub.name: checked}
    else:
        if value is not None and not isinstance(value, dict):
            raise InvalidValue(f"'{target.text}' takes one JSON object")
        checked = check_value(attribute, value, target.text)
        fresh = None if checked is UNSET else checked[0]
    hits = _matches(target, elements)
    if not any(hits):
        seed = _eq_terms(target.filter)
        if seed is None:
            raise _no_target(target)
        if fresh is None:
            return old  # setting nothing on a value that is not there
        element = check_value(attribute, {**seed, **fresh}, target.text)[0]
        return add_values(attribute, elements, [element])
    out = []
    for element, hit in zip(elements, hits, strict=True):
        if hit:
            if fresh is not None:
                new = {**element, **fresh}
            else:
                new = {k: v for k, v in element.items() if not (replace and sub and k == sub.name)}
            _check_element(attribute, element, new, target.text)
            element = new
        out.append(element)
    return out


def _eq_terms(node: Filter | None) -> dict[str, Any] | None:
    """``type eq "work" and primary eq true`` → ``{"type": "work", "primary": True}``."""
    if isinstance(node, Compare) and node.op == "eq" and node.value is not None:
        return {node.path.attr: node.value}
    if isinstance(node, And):
        left, right = _eq_terms(node.left), _eq_terms(node.right)
        if left is not None and right is not None:
            return {**left, **right}
    return None


def add_values(attribute: Attribute, elements: list[Any], values: list[Any]) -> list[Any]:
    """RFC 7644 §3.5.2.1: add values not already there; a value already there takes
    the sub-attributes sent with it (an immutable one keeps its value)."""
    out = list(elements)
    where = {identity(attribute, item): i for i, item in reversed(list(enumerate(out)))}
    for value in values:
        key = identity(attribute, value)
        i = where.get(key)
        if i is None:
            where[key] = len(out)
            out.append(value)
        elif isinstance(value, dict):
            existing = out[i]
            merged = {
                **existing,
                **{
                    k: v
                    for k, v in value.items()
                    if k not in existing or _mutability(attribute, k) != "immutable"
                },
            }
            if merged != existing:
                out[i] = merged
    return out


def identity(attribute: Attribute, value: Any) -> Hashable:
    """When two values of a multi-valued attribute are "the same value": complex
    values by their ``value`` sub-attribute when both have one, else as a whole."""
    if attribute.type == "complex":
        if isinstance(value, dict) and "value" in value and attribute.sub("value") is not None:
            return ("value", _fold(attribute.sub("value"), value["value"]))
        return ("whole", msgspec.json.encode(value, order="sorted"))
    return ("value", _fold(attribute, value))


def _fold(attribute: Attribute | None, value: Any) -> Hashable:
    if attribute is not None and isinstance(value, str):
        return value if attribute.case_exact else value.lower()
    return msgspec.json.encode(value, order="sorted")


def one_primary(old: Any, new: Any, text: str) -> Any:
    """RFC 7643 §2.4: at most one value is primary. A value this operation wrote
    with ``primary: true`` wins; any other primary is set to false."""
    if not isinstance(new, list):
        return new
    kept = {id(item) for item in old or ()}
    written = [
        item
        for item in new
        if id(item) not in kept and isinstance(item, dict) and item.get("primary") is True
    ]
    if len(written) > 1:
        raise InvalidValue(f"'{text}' would mark {len(written)} values primary; at most one may be")
    if not written:
        return new
    return [
        {**item, "primary": False}
        if item is not written[0] and isinstance(item, dict) and item.get("primary") is True
        else item
        for item in new
    ]


# --- checks and bookkeeping ---------------------------------------------------


def _mutability(attribute: Attribute, sub_name: str) -> str:
    sub = attribute.sub(sub_name)
    return sub.mutability if sub else "readWrite"


def check_immutable(attribute: Attribute, old: Any, new: Any, text: str) -> None:
    """RFC 7643 §2.2 immutable: may be set once, then only repeated."""
    if old is None:
        return
    if attribute.mutability == "immutable":
        raise Mutability(f"'{text}' is immutable and already set; it cannot change")
    if attribute.type == "complex" and not attribute.multi_valued:
        _check_element(attribute, old, new or {}, text)


def _check_element(
    attribute: Attribute, old: dict[str, Any], new: dict[str, Any], text: str
) -> None:
    for sub in attribute.sub_attributes:
        if sub.mutability == "immutable" and sub.name in old and new.get(sub.name) != old[sub.name]:
            raise Mutability(f"'{text}': '{sub.name}' is immutable and already set")


def tidy(attribute: Attribute, value: Any) -> Any:
    """RFC 7643 §2.5: null, [] and {} all mean unassigned; store them as absent."""
    if attribute.multi_valued and isinstance(value, list):
        value = [item for item in value if item != {}]
    if value is None or value is UNSET or value == [] or value == {}:
        return None
    return value


def diff(urn: str | None, attribute: Attribute, old: Any, new: Any) -> list[str]:
    """Changed paths of one attribute: per sub-attribute for a single-valued
    complex attribute, else the attribute as a whole."""
    if old == new:
        return []
    prefix = f"{urn}:{attribute.name}" if urn else attribute.name
    if attribute.type != "complex" or attribute.multi_valued:
        return [prefix]
    before, after = old or {}, new or {}
    names = [s.name for s in attribute.sub_attributes]
    names += [k for k in {**before, **after} if k not in names]
    return [f"{prefix}.{name}" for name in names if before.get(name) != after.get(name)]
