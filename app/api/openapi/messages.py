"""RFC 7644 messages and RFC 7643 discovery documents as JSON Schema.

Error (§3.12), ListResponse (§3.4.2, with RFC 9865 cursors), SearchRequest
(§3.4.3), PatchOp (§3.5.2), BulkRequest and BulkResponse (§3.7); the
ServiceProviderConfig (RFC 7643 §5), ResourceType (§6) and Schema (§7)
documents. Limits come from the ServiceProviderConfig the server serves.
"""

from __future__ import annotations

from typing import Any

from app.provisioning.bulk import BULK_REQUEST_URN, BULK_RESPONSE_URN
from app.scim.query import SEARCH_REQUEST_URN
from app.scim.schema import (
    ERROR_URN,
    LIST_RESPONSE_URN,
    RESOURCE_TYPE_URN,
    SCHEMA_URN,
    SPC_URN,
    Registry,
)

PATCH_OP_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
# RFC 7644 Table 9, and RFC 9865 §2.1 for cursors.
SCIM_TYPES = ["invalidFilter", "tooMany", "uniqueness", "mutability", "invalidSyntax",
              "invalidPath", "noTarget", "invalidValue", "invalidVers", "sensitive",
              "invalidCursor", "expiredCursor", "invalidCount"]  # fmt: skip
_STRING = {"type": "string"}
_STRINGS = {"type": "array", "items": _STRING}
_INT = {"type": "integer"}


def urns(*urn: str) -> dict[str, Any]:
    return {"type": "array", "items": {"enum": list(urn)}, "minItems": 1}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def closed(required: list[str] | None = None, **properties: Any) -> dict[str, Any]:
    """An object with exactly these properties; ``required`` (default: all of them)."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
    }


def list_response(items: dict[str, Any]) -> dict[str, Any]:
    return closed(
        ["schemas", "totalResults", "itemsPerPage", "Resources"],
        schemas=urns(LIST_RESPONSE_URN),
        totalResults=_INT,
        startIndex=_INT,
        itemsPerPage=_INT,
        nextCursor=_STRING,
        previousCursor=_STRING,
        Resources={"type": "array", "items": items},
    )


def _document(urn: str, required: list[str]) -> dict[str, Any]:
    # Discovery documents are the files under schemas/, served as they are written.
    return {
        "type": "object",
        "properties": {"schemas": urns(urn), "meta": {"type": "object"}},
        "required": ["schemas", *required],
    }


def message_schemas(registry: Registry) -> dict[str, dict[str, Any]]:
    bulk = registry.service_provider_config.get("bulk", {})
    search = closed(
        [],
        schemas=urns(SEARCH_REQUEST_URN),
        attributes=_STRINGS,
        excludedAttributes=_STRINGS,
        filter=_STRING,
        sortBy=_STRING,
        sortOrder={"enum": ["ascending", "descending"]},
        startIndex=_INT,
        count=_INT,
        cursor=_STRING,
    )
    operation = closed(
        ["op"],
        op={"enum": ["add", "remove", "replace"], "description": "matched in any case"},
        path=_STRING,
        value={"description": "any JSON value; required unless op is remove"},
    )
    bulk_operation = closed(
        ["method", "path"],
        method={"enum": ["POST", "PUT", "PATCH", "DELETE"]},
        bulkId=_STRING,
        version=_STRING,
        path=_STRING,
        data={"type": "object", "description": "the resource (POST, PUT) or PatchOp (PATCH)"},
    )
    answered = closed(
        ["method", "status"],
        method=_STRING,
        bulkId=_STRING,
        version=_STRING,
        location=_STRING,
        status={"type": "string", "pattern": "^[1-5][0-9][0-9]$"},
        response=ref("Error"),
    )
    return {
        "Error": closed(
            ["schemas", "status"],
            schemas=urns(ERROR_URN),
            status={"type": "string", "pattern": "^[1-5][0-9][0-9]$"},
            scimType={"enum": SCIM_TYPES},
            detail=_STRING,
        ),
        "SearchRequest": search,
        "PatchOp": closed(
            ["Operations"],
            schemas=urns(PATCH_OP_URN),
            Operations={"type": "array", "items": operation, "minItems": 1},
        ),
        "BulkRequest": closed(
            ["Operations"],
            schemas=urns(BULK_REQUEST_URN),
            failOnErrors={"type": "integer", "minimum": 1},
            Operations={
                "type": "array",
                "items": bulk_operation,
                **({"maxItems": bulk["maxOperations"]} if "maxOperations" in bulk else {}),
            },
        ),
        "BulkResponse": closed(
            schemas=urns(BULK_RESPONSE_URN),
            Operations={"type": "array", "items": answered},
        ),
        "ServiceProviderConfig": _document(
            SPC_URN,
            ["patch", "bulk", "filter", "changePassword", "sort", "etag", "authenticationSchemes"],
        ),
        "ResourceType": _document(RESOURCE_TYPE_URN, ["id", "name", "endpoint", "schema"]),
        "ResourceTypeList": list_response(ref("ResourceType")),
        "Schema": _document(SCHEMA_URN, ["id", "attributes"]),
        "SchemaList": list_response(ref("Schema")),
    }
