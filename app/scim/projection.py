"""``attributes`` and ``excludedAttributes`` (RFC 7644 §3.4.2.5, §3.9; RFC 7643 §7 ``returned``).

| returned | neither given | attributes=X      | excludedAttributes=X |
| always   | in            | in                | in                   |
| default  | in            | only if named     | in unless named      |
| request  | out           | only if named     | out                  |
| never    | out           | out               | out                  |
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from app.scim.errors import InvalidValue, ScimError
from app.scim.filter import AttrPath, parse_path
from app.scim.resolve import resolve_attr
from app.scim.schema import COMMON, Attribute, ResourceType

# Always in a resource's representation, whatever was asked.
_ALWAYS = frozenset({"schemas", "id"})


class Projection(msgspec.Struct, frozen=True, kw_only=True):
    """Which attributes to return. Paths are canonical: (urn or None, attr, sub or None)."""

    attributes: tuple[AttrPath, ...] | None = None
    excluded: tuple[AttrPath, ...] = ()

    def wants(self, attribute: str) -> bool:
        """Is the core attribute ``attribute`` returned (e.g. may ``members`` stay unloaded)?"""
        if self.attributes is not None:
            return any(p.urn is None and p.attr == attribute for p in self.attributes)
        return not any(
            p.urn is None and p.attr == attribute and p.sub is None for p in self.excluded
        )


EVERYTHING = Projection()


def read_projection(
    attributes: str | list[str] | None,
    excluded: str | list[str] | None,
    resource_type: ResourceType | None,
) -> Projection:
    """Parse the two parameters (comma-separated text or, from /.search, lists of names).

    Names that no schema of the resource type defines are skipped: asking for
    an attribute the server does not have returns it absent, not an error.
    """
    wanted = _paths(attributes, resource_type, "attributes")
    dropped = _paths(excluded, resource_type, "excludedAttributes")
    if wanted is not None and dropped:
        raise InvalidValue("attributes and excludedAttributes are mutually exclusive")
    return Projection(attributes=wanted, excluded=dropped or ())


def _paths(
    value: object, resource_type: ResourceType | None, parameter: str
) -> tuple[AttrPath, ...] | None:
    if value is None:
        return None
    # A SearchRequest body may carry any JSON here; only text or a list of text names.
    names = value.split(",") if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise InvalidValue(f"{parameter} must be a comma-separated string or a list of strings")
    if not any(name.strip() for name in names):
        return None  # ``attributes=`` names nothing: as if not given, like an empty filter
    out: list[AttrPath] = []
    for name in (n.strip() for n in names):
        if not name:
            continue
        if resource_type is not None and resource_type.extension(name) is not None:
            out.append(AttrPath(urn=resource_type.extension(name).schema.id, attr="*"))  # type: ignore[union-attr]
            continue
        try:
            parsed = parse_path(name).path
        except ScimError:
            raise InvalidValue(f"{name!r} is not an attribute name") from None
        if resource_type is None:
            out.append(parsed)
            continue
        try:
            out.append(resolve_attr(parsed, resource_type).path)
        except ScimError:
            continue
    return tuple(out)


def project(
    document: dict[str, Any], resource_type: ResourceType, projection: Projection
) -> dict[str, Any]:
    """Apply ``projection`` to a rendered resource (app.scim.render)."""
    if (
        projection.attributes is None
        and not projection.excluded
        and not _has_request_only(resource_type)
    ):
        return document
    out: dict[str, Any] = {}
    for key, value in document.items():
        if key in _ALWAYS:
            out[key] = value
            continue
        extension = resource_type.extension(key)
        if extension is not None:
            kept = _project_object(
                value, extension.schema.attributes, extension.schema.id, projection
            )
            if kept:
                out[key] = kept
            continue
        attribute = resource_type.schema.attribute(key) or COMMON.attribute(key)
        if attribute is None:
            continue
        kept = _project_value(key, value, attribute, None, projection)
        if kept is not _DROP:
            out[key] = kept
    # RFC 7643 §3: ``schemas`` names the schemas of the attributes present, so an
    # extension projected away is no longer listed.
    if isinstance(out.get("schemas"), list):
        out["schemas"] = [
            urn for urn in out["schemas"] if urn == resource_type.schema.id or urn in out
        ]
    return out


_DROP: Any = object()


def _has_request_only(resource_type: ResourceType) -> bool:
    schemas = [resource_type.schema, *(e.schema for e in resource_type.extensions)]
    return any(a.returned == "request" for s in schemas for a in s.attributes)


def _project_object(
    value: dict[str, Any], attributes: tuple[Attribute, ...], urn: str, projection: Projection
) -> dict[str, Any]:
    """An extension's attributes, each judged as a top-level attribute of that schema."""
    if projection.attributes is not None and any(
        p.urn == urn and p.attr == "*" for p in projection.attributes
    ):
        return value
    if any(p.urn == urn and p.attr == "*" for p in projection.excluded):
        return {}
    by_name = {a.name: a for a in attributes}
    out: dict[str, Any] = {}
    for key, item in value.items():
        attribute = by_name.get(key)
        if attribute is None:
            continue
        kept = _project_value(key, item, attribute, urn, projection)
        if kept is not _DROP:
            out[key] = kept
    return out


def _project_value(
    key: str, value: Any, attribute: Attribute, urn: str | None, projection: Projection
) -> Any:
    if attribute.returned == "never":
        return _DROP
    if attribute.returned == "always":
        return value
    named = [p for p in (projection.attributes or ()) if p.urn == urn and p.attr == key]
    if projection.attributes is not None or attribute.returned == "request":
        if not named:
            return _DROP
        if any(p.sub is None for p in named):
            return value
        return _only_subs(value, {p.sub for p in named if p.sub}, attribute)
    excluded = [p for p in projection.excluded if p.urn == urn and p.attr == key]
    if any(p.sub is None for p in excluded):
        return _DROP
    if excluded:
        return _without_subs(value, {p.sub for p in excluded if p.sub}, attribute)
    return value


def _only_subs(value: Any, subs: set[str | None], attribute: Attribute) -> Any:
    always = {s.name for s in attribute.sub_attributes if s.returned == "always"}
    return _cut(value, lambda name: name in subs or name in always)


def _without_subs(value: Any, subs: set[str | None], attribute: Attribute) -> Any:
    return _cut(value, lambda name: name not in subs)


def _cut(value: Any, keep: Callable[[str], bool]) -> Any:
    """Keep the sub-attributes ``keep`` accepts, in one complex value or in each of a list."""

    def one(item: Any) -> Any:
        return {k: v for k, v in item.items() if keep(k)} if isinstance(item, dict) else item

    if isinstance(value, list):
        return [kept for kept in map(one, value) if kept] or _DROP
    return one(value) or _DROP
