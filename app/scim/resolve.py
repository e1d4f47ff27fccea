"""Binding filter and PATCH paths to a resource type's schemas (RFC 7644 §3.4.2.2, §3.10).

Names in a parsed filter are as the client wrote them; resolving gives each
path its canonical names and its attribute definitions, coerces comparison
values to the attribute's type, and rejects what cannot be evaluated with
``invalidFilter`` (unknown attribute, ``gt`` on a boolean, ``co`` on a number…).
"""

from __future__ import annotations

import msgspec

from app.scim.codec import parse_datetime
from app.scim.errors import InvalidFilter, ScimError
from app.scim.filter import (
    And,
    AttrPath,
    Compare,
    Filter,
    Not,
    Or,
    Present,
    ValuePath,
    path_text,
)
from app.scim.schema import COMMON, Attribute, ResourceType

_ORDERED = frozenset({"gt", "ge", "lt", "le"})
_SUBSTRING = frozenset({"co", "sw", "ew"})


class Resolved(msgspec.Struct, frozen=True, kw_only=True):
    """A path bound to its definitions. ``urn`` is set for extension attributes only."""

    urn: str | None
    attribute: Attribute
    sub: Attribute | None = None

    @property
    def target(self) -> Attribute:
        """The attribute whose values a comparison looks at."""
        return self.sub or self.attribute

    @property
    def path(self) -> AttrPath:
        return AttrPath(
            urn=self.urn, attr=self.attribute.name, sub=self.sub.name if self.sub else None
        )


def resolve_attr(
    path: AttrPath, resource_type: ResourceType, error: type[ScimError] = InvalidFilter
) -> Resolved:
    """Find ``path``'s attribute in the core schema, the common attributes or an extension.

    Unqualified extension attributes are found too: clients write ``employeeNumber``.
    """
    urn = None
    attribute: Attribute | None = None
    if path.urn is not None:
        if path.urn.lower() == resource_type.schema.id.lower():
            attribute = resource_type.schema.attribute(path.attr) or COMMON.attribute(path.attr)
        else:
            extension = resource_type.extension(path.urn)
            if extension is None:
                raise error(f"unknown schema {path.urn!r} for {resource_type.name}")
            urn = extension.schema.id
            attribute = extension.schema.attribute(path.attr)
    else:
        attribute = COMMON.attribute(path.attr) or resource_type.schema.attribute(path.attr)
        if attribute is None:
            for extension in resource_type.extensions:
                attribute = extension.schema.attribute(path.attr)
                if attribute is not None:
                    urn = extension.schema.id
                    break
    if attribute is None:
        raise error(f"unknown attribute {path_text(path)!r} for {resource_type.name}")
    if path.sub is None:
        return Resolved(urn=urn, attribute=attribute)
    return Resolved(urn=urn, attribute=attribute, sub=resolve_sub(attribute, path.sub, error))


def resolve_sub(
    attribute: Attribute, name: str, error: type[ScimError] = InvalidFilter
) -> Attribute:
    sub = attribute.sub(name) if attribute.type == "complex" else None
    if sub is None:
        raise error(f"{attribute.name!r} has no sub-attribute {name!r}")
    return sub


def resolve_filter(node: Filter, resource_type: ResourceType) -> Filter:
    """Canonicalise names and values of ``node``; ``invalidFilter`` for what cannot apply."""
    return _resolve(node, resource_type, None)


def _resolve(node: Filter, resource_type: ResourceType, within: Attribute | None) -> Filter:
    if isinstance(node, And):
        return And(
            left=_resolve(node.left, resource_type, within),
            right=_resolve(node.right, resource_type, within),
        )
    if isinstance(node, Or):
        return Or(
            left=_resolve(node.left, resource_type, within),
            right=_resolve(node.right, resource_type, within),
        )
    if isinstance(node, Not):
        return Not(inner=_resolve(node.inner, resource_type, within))
    if isinstance(node, ValuePath):
        resolved = resolve_attr(node.path, resource_type)
        if resolved.attribute.type != "complex" or not resolved.attribute.multi_valued:
            raise InvalidFilter(
                f"'{path_text(node.path)}[…]' needs a multi-valued complex attribute"
            )
        return ValuePath(
            path=resolved.path, filter=_resolve(node.filter, resource_type, resolved.attribute)
        )
    resolved = _bind(node.path, resource_type, within)
    if isinstance(node, Present):
        return Present(path=resolved.path)
    target = resolved.target
    if target.type == "complex":
        value_sub = target.sub("value")
        if value_sub is None:
            raise InvalidFilter(f"'{path_text(node.path)}' is complex; compare a sub-attribute")
        # RFC 7644 §3.4.2.2: a complex attribute without a sub-attribute compares its "value".
        resolved = msgspec.structs.replace(resolved, sub=value_sub)
        target = value_sub
    return Compare(path=resolved.path, op=node.op, value=_coerce(node, target))


def _bind(path: AttrPath, resource_type: ResourceType, within: Attribute | None) -> Resolved:
    if within is None:
        return resolve_attr(path, resource_type)
    if path.urn is not None or path.sub is not None:
        raise InvalidFilter(f"inside '{within.name}[…]' name a sub-attribute of {within.name}")
    return Resolved(urn=None, attribute=resolve_sub(within, path.attr))


def _coerce(node: Compare, target: Attribute) -> object:
    """The comparison value as the attribute's type (RFC 7644 §3.4.2.2 operator rules)."""
    value, op, kind, name = node.value, node.op, target.type, target.name
    if value is None:
        if op not in ("eq", "ne"):
            raise InvalidFilter(f"'{op} null' is meaningless; use 'pr' or 'eq null'")
        return None
    if op in _SUBSTRING and kind not in ("string", "reference"):
        raise InvalidFilter(f"'{op}' applies to strings; '{name}' is {kind}")
    if op in _ORDERED and kind in ("boolean", "binary"):
        raise InvalidFilter(f"'{op}' cannot order the {kind} attribute '{name}'")
    if kind == "boolean":
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise InvalidFilter(f"'{name}' is boolean; compare it with true or false")
        return value
    if kind in ("integer", "decimal"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidFilter(f"'{name}' is a number; compare it with a number")
        return value
    if not isinstance(value, str):
        raise InvalidFilter(f"'{name}' is {kind}; compare it with a \"string\"")
    if kind == "dateTime" and parse_datetime(value) is None:
        raise InvalidFilter(f"{value!r} is not a dateTime for '{name}'")
    return value


def locate(detail: str, text: str) -> str:
    """Add where a quoted name in ``detail`` stands in the filter ``text`` (1-based)."""
    quoted = detail.split("'")
    if len(quoted) >= 3 and quoted[1]:
        at = text.lower().find(quoted[1].lower())
        if at >= 0:
            return f"{detail} (position {at + 1})"
    return detail
