"""SCIM resources as JSON Schema, derived from the registry that /Schemas serves.

RFC 7643 §2.3 (attribute types), §2.2 (mutability, ``returned``), §3 (a
resource's ``schemas`` and extension objects), §3.1 (``id``, ``externalId``,
``meta``), §7 (the Schema definitions). Each resource type gets two shapes:
what the server returns (``returned: never`` and ``writeOnly`` left out,
nothing undeclared) and what a client sends (``readOnly`` left out, since the
server ignores it, RFC 7644 §3.5.1).
"""

from __future__ import annotations

from typing import Any

from app.scim.schema import COMMON, Attribute, Registry, ResourceType

_TYPES: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "reference": {"type": "string"},
    "boolean": {"type": "boolean"},
    "integer": {"type": "integer"},
    "decimal": {"type": "number"},
    "dateTime": {"type": "string", "format": "date-time"},
    "binary": {"type": "string", "contentEncoding": "base64"},
}


def _declared(attribute: Attribute) -> dict[str, Any]:
    """A registry attribute as the RFC 7643 §7 document /Schemas writes it."""
    return {
        "name": attribute.name,
        "type": attribute.type,
        "multiValued": attribute.multi_valued,
        "required": attribute.required,
        "mutability": attribute.mutability,
        "returned": attribute.returned,
        "subAttributes": [_declared(s) for s in attribute.sub_attributes],
    }


def _shown(attribute: dict[str, Any], returned: bool) -> bool:
    if returned:
        return attribute.get("returned") != "never" and attribute.get("mutability") != "writeOnly"
    return attribute.get("mutability", "readWrite") != "readOnly"


def _value(attribute: dict[str, Any], returned: bool) -> dict[str, Any]:
    if attribute["type"] == "complex":
        schema = _object(attribute.get("subAttributes", ()), returned, required=not returned)
    else:
        schema = dict(_TYPES[attribute["type"]])
    # Canonical values bind only what the server sets itself (RFC 7643 §2.4 leaves clients
    # free), so they constrain the responses of read-only attributes alone.
    canonical = attribute.get("canonicalValues")
    if returned and canonical and attribute.get("mutability") == "readOnly":
        schema["enum"] = list(canonical)
    if attribute.get("description"):
        schema["description"] = attribute["description"]
    if attribute.get("multiValued"):
        return {"type": "array", "items": schema}
    return schema


def _object(attributes: Any, returned: bool, *, required: bool) -> dict[str, Any]:
    shown = [a for a in attributes if _shown(a, returned)]
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {a["name"]: _value(a, returned) for a in shown},
        "additionalProperties": False,
    }
    needed = [a["name"] for a in shown if required and a.get("required")]
    if needed:
        schema["required"] = needed
    return schema


def resource_schema(resource_type: ResourceType, *, returned: bool) -> dict[str, Any]:
    """One resource of ``resource_type``: as returned, or as a client sends it."""
    core = resource_type.schema
    common = {a.name: a for a in COMMON.attributes}
    body = _object(core.document["attributes"], returned, required=not returned)
    urns = [core.id, *(e.schema.id for e in resource_type.extensions)]
    properties: dict[str, Any] = {
        "schemas": {"type": "array", "items": {"enum": urns}, "minItems": 1},
        **({"id": _value(_declared(common["id"]), returned)} if returned else {}),
        "externalId": _value(_declared(common["externalId"]), returned),
        **body["properties"],
    }
    if returned:
        properties["meta"] = _value(_declared(common["meta"]), returned)
    for extension in resource_type.extensions:
        shape = _object(extension.schema.document["attributes"], returned, required=not returned)
        shape["description"] = extension.schema.document.get("description", extension.schema.name)
        # An extension with nothing in it is left out (RFC 7643 §2.5), never sent empty.
        shape["minProperties"] = 1
        properties[extension.schema.id] = shape
    # Under ?attributes= a response may hold no more than these (RFC 7643 §2.4 returned: always).
    needed = ["schemas", "id"] if returned else ["schemas", *body.get("required", ())]
    return {
        "type": "object",
        "description": core.document.get("description", core.name),
        "properties": properties,
        "required": needed,
        "additionalProperties": False,
    }


def resource_schemas(registry: Registry) -> dict[str, dict[str, Any]]:
    """``{Name}`` as returned and ``{Name}Request`` as sent, for every resource type."""
    out: dict[str, dict[str, Any]] = {}
    for resource_type in registry.resource_types.values():
        out[resource_type.name] = resource_schema(resource_type, returned=True)
        out[resource_type.name + "Request"] = resource_schema(resource_type, returned=False)
    return out
