"""Whole-resource rules for create (RFC 7644 §3.3) and replace (RFC 7644 §3.5.1)."""

from __future__ import annotations

from typing import Any

from app.scim.codec import same_reference
from app.scim.errors import InvalidValue, Mutability
from app.scim.schema import ResourceType


def check_required(doc: dict[str, Any], resource_type: ResourceType) -> None:
    """Every ``required`` attribute of the core schema and of required extensions is present."""
    for attribute in resource_type.schema.attributes:
        if attribute.required and attribute.mutability != "readOnly" and attribute.name not in doc:
            raise InvalidValue(f"required attribute '{attribute.name}' is missing")
    for extension in resource_type.extensions:
        if extension.required and extension.schema.id not in doc:
            raise InvalidValue(f"required extension '{extension.schema.id}' is missing")
        for attribute in extension.schema.attributes:
            ext_doc = doc.get(extension.schema.id)
            if ext_doc is not None and attribute.required and attribute.name not in ext_doc:
                raise InvalidValue(
                    f"required attribute '{extension.schema.id}:{attribute.name}' is missing"
                )


def carry_immutable(
    before: dict[str, Any], after: dict[str, Any], resource_type: ResourceType
) -> dict[str, Any]:
    """Apply RFC 7644 §3.5.1 to immutable attributes on replace.

    A value already set must be sent unchanged or omitted (omitted keeps it);
    sending a different one is a 400 ``mutability`` error.
    """
    result = dict(after)
    scopes = [(resource_type.schema.attributes, before, result, "")]
    for extension in resource_type.extensions:
        urn = extension.schema.id
        if urn in before:
            result[urn] = dict(result.get(urn, {}))
            scopes.append((extension.schema.attributes, before[urn], result[urn], f"{urn}:"))
    for attributes, old, new, prefix in scopes:
        for attribute in attributes:
            if attribute.mutability != "immutable" or attribute.name not in old:
                continue
            if attribute.name not in new:
                new[attribute.name] = old[attribute.name]
            elif not same_reference(old[attribute.name], new[attribute.name]):
                raise Mutability(
                    f"'{prefix}{attribute.name}' is immutable and already set; it cannot change"
                )
    return result
