"""sortBy → ORDER BY (RFC 7644 §3.4.2.3): promoted columns, else typed JSON values."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.scim.errors import InvalidFilter
from app.scim.filter import AttrPath, path_text
from app.scim.resolve import resolve_attr
from app.scim.schema import Attribute, ResourceType
from app.store.jsonsql import JsonSql
from app.store.promoted import GOVERNANCE, UNIQUE_NAME
from app.store.tables import resources


def sort_key(path: AttrPath, resource_type: ResourceType, dialect: str) -> Any:
    """The ORDER BY expression for ``sortBy``; None-valued rows are ordered by the caller."""
    resolved = resolve_attr(path, resource_type)
    json = JsonSql(dialect)
    attribute, sub = resolved.attribute, resolved.sub
    if resolved.urn is None and sub is None:
        if attribute.name == "id":
            return resources.c.id
        if attribute.name == "externalId":
            return json.ordered(resources.c.external_id)
        if attribute.name == UNIQUE_NAME.get(resource_type.name):
            return json.ordered(resources.c.name_norm)
        if attribute.name == "active":
            return resources.c.active
    if resolved.urn is None and attribute.name == "meta":
        columns = {"created": resources.c.created, "lastModified": resources.c.last_modified}
        if sub is not None and sub.name in columns:
            return columns[sub.name]
        raise InvalidFilter(f"cannot sort by {path_text(path)}")
    if resolved.urn == GOVERNANCE and attribute.name == "expiresAt":
        return resources.c.expires_at
    keys = (resolved.urn, attribute.name) if resolved.urn else (attribute.name,)
    doc = resources.c.doc
    if attribute.multi_valued:
        if attribute.type == "complex":
            # RFC 7644 §3.4.2.3: the primary value, else the first one.
            target = sub or attribute.sub("value")
            if target is None:
                raise InvalidFilter(f"cannot sort by {path_text(path)}")
            return _first_or_primary(json, doc, keys, target, dialect)
        raise InvalidFilter(f"cannot sort by the multi-valued {path_text(path)}")
    if attribute.type == "complex":
        if sub is None:
            raise InvalidFilter(f"sortBy={path_text(path)} needs a sub-attribute")
        keys, attribute = (*keys, sub.name), sub
    return _typed(json, doc, keys, attribute)


def _typed(json: JsonSql, doc: Any, keys: tuple[str, ...], attribute: Attribute) -> Any:
    if attribute.type in ("integer", "decimal"):
        return json.number(doc, keys)
    if attribute.type == "boolean":
        return sa.case((json.is_true(doc, keys), 1), (json.is_false(doc, keys), 0), else_=sa.null())
    if attribute.type == "complex":
        raise InvalidFilter(f"cannot sort by the complex attribute {attribute.name}")
    text = json.text(doc, keys)
    if attribute.type != "dateTime" and not attribute.case_exact:
        text = json.lower(text)
    return json.ordered(text)


def _first_or_primary(
    json: JsonSql, doc: Any, keys: tuple[str, ...], target: Attribute, dialect: str
) -> Any:
    table = json.elements(doc, keys)
    value = _typed(json, table.c.value, (target.name,), target)
    primary = json.is_true(table.c.value, ("primary",))
    return (
        sa.select(value)
        .select_from(table)
        .where(value.is_not(None))
        .order_by(sa.case((primary, 0), else_=1), json.position(table))
        .limit(1)
        .scalar_subquery()
    )
