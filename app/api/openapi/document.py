"""The OpenAPI 3.1 document: Litestar's paths and parameters, with ROUTES' bodies laid over.

Security is RFC 6750's bearer token on every operation but the probes; every
4xx is an RFC 7644 §3.12 Error body (application/scim+json, as
app/api/errors.py writes it for every route).
"""

from __future__ import annotations

import re
from typing import Any

from app.api.openapi.admin import admin_schemas
from app.api.openapi.messages import list_response, message_schemas, ref
from app.api.openapi.resources import resource_schemas
from app.api.openapi.routes import JSON, ROUTES, SCIM, Route
from app.provisioning.notifications import STATES
from app.scim.schema import Registry, ResourceType

_GENERIC = "{endpoint}"
_BEARER = "bearer"
_REASONS = {
    200: "OK", 201: "Created", 204: "No Content", 304: "Not Modified (If-None-Match)",
    400: "Bad request: invalid syntax, value, filter, path or count", 401: "No valid bearer token",
    403: "Not allowed to this token (role, or a Cedar policy that the detail names)",
    404: "Not found", 409: "Conflict: uniqueness, or a version or cycle conflict",
    412: "If-Match does not match the current version", 413: "Request body too large",
    415: "The request body is not JSON", 503: "Not ready",
}  # fmt: skip


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, "description": description}


def _header(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "header", "schema": {"type": "string"}, "description": description}


_PARAMETERS = {
    "filter": _query("filter", {"type": "string"}, "RFC 7644 §3.4.2.2 filter expression"),
    "sortBy": _query("sortBy", {"type": "string"}, "attribute path to sort by (§3.4.2.3)"),
    "sortOrder": _query("sortOrder", {"enum": ["ascending", "descending"]}, "§3.4.2.3"),
    "startIndex": _query("startIndex", {"type": "integer"}, "1-based index of the first result"),
    "count": _query("count", {"type": "integer"}, "results per page, at most maxResults"),
    "cursor": _query("cursor", {"type": "string"}, "RFC 9865 cursor; empty for the first page"),
    "attributes": _query("attributes", {"type": "string"}, "comma-separated names to return"),
    "excludedAttributes": _query(
        "excludedAttributes", {"type": "string"}, "comma-separated names to leave out"
    ),
    "If-Match": _header("If-Match", "change only this version (an ETag, RFC 7644 §3.14)"),
    "If-None-Match": _header("If-None-Match", "304 when the resource still has this ETag"),
    "state": _query("state", {"enum": list(STATES)}, "only the messages in this state"),
}
_ETAG = {"ETag": {"schema": {"type": "string"}, "required": True, "description": "its version"}}
_LOCATION = {"Location": {"schema": {"type": "string"}, "required": True}}
_CHALLENGE = {"WWW-Authenticate": {"schema": {"type": "string"}, "required": True}}


def _schemas(registry: Registry) -> dict[str, Any]:
    schemas = {**message_schemas(registry), **admin_schemas(), **resource_schemas(registry)}
    for resource_type in registry.resource_types.values():
        schemas[resource_type.name + "List"] = list_response(ref(resource_type.name))
    # Any resource, as cross-type searches (and admin routes that answer with one) return it.
    schemas["Resource"] = {
        "type": "object",
        "anyOf": [ref(t.name) for t in registry.resource_types.values()],
    }
    schemas["AnyList"] = list_response(ref("Resource"))
    return schemas


def _named(template: str | None, resource_type: ResourceType | None) -> str | None:
    if template is None or resource_type is None:
        return template
    return template.replace("{T}", resource_type.name)


def _content(media: str, schema: str, csv: bool = False) -> dict[str, Any]:
    content: dict[str, Any] = {media: {"schema": ref(schema)}}
    if csv:
        content["text/csv"] = {"schema": {"type": "string"}}
    return content


def _responses(route: Route, media: str, resource_type: ResourceType | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status, template in route.answers.items():
        answer: dict[str, Any] = {"description": _REASONS.get(status, str(status))}
        schema = _named(template, resource_type)
        if schema is not None:
            answer["content"] = _content(media, schema, route.csv)
        if (resource_type is not None and template == "{T}") or status == 304:
            answer["headers"] = {**_ETAG, **(_LOCATION if status == 201 else {})}
        out[str(status)] = answer
    for status in route.errors:
        error = {"description": _REASONS[status], "content": _content(SCIM, "Error")}
        if status == 401:
            error["headers"] = _CHALLENGE
        out[str(status)] = error
    return out


def _operation_id(method: str, path: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", path.replace("scim/v2", "").replace(".search", "search"))
    return method.lower() + "".join(w[0].upper() + w[1:] for w in words)


def _operation(
    method: str,
    path: str,
    route: Route,
    generated: dict[str, Any],
    resource_type: ResourceType | None,
) -> dict[str, Any]:
    media = route.media or (SCIM if path.startswith("/scim/v2") else JSON)
    # Litestar knows the path and declared query parameters; the generic ``endpoint`` is
    # spelled out in the path itself.
    parameters = [p for p in generated.get("parameters", ()) if p["name"] != "endpoint"]
    parameters += [{"$ref": f"#/components/parameters/{name}"} for name in route.parameters]
    operation: dict[str, Any] = {
        "operationId": _operation_id(method, path),
        "summary": _named(route.summary, resource_type) or generated.get("summary", path),
        "tags": generated.get("tags") or [_tag(path, resource_type)],
    }
    if generated.get("description") and route.summary is None:
        operation["description"] = generated["description"]
    if parameters:
        operation["parameters"] = parameters
    body = _named(route.body, resource_type)
    if body is not None:
        accepted = (SCIM, JSON) if media == SCIM else (JSON,)
        operation["requestBody"] = {
            "required": True,
            "content": {m: {"schema": ref(body)} for m in accepted},
        }
    operation["responses"] = _responses(route, media, resource_type)
    if route.public:
        operation["security"] = []
    return operation


def _tag(path: str, resource_type: ResourceType | None) -> str:
    if resource_type is not None:
        return resource_type.endpoint.lstrip("/")
    if path.startswith("/scim/v2"):
        return "SCIM"
    return {"admin": "Administration", "healthz": "Probes", "readyz": "Probes"}.get(
        path.split("/")[1], path.split("/")[1].title()
    )


def describe(generated: dict[str, Any], registry: Registry) -> dict[str, Any]:
    """The document for ``generated`` (Litestar's) and the registry the server serves."""
    paths: dict[str, dict[str, Any]] = {}
    for (method, path), route in ROUTES.items():
        given = generated.get("paths", {}).get(path, {}).get(method.lower(), {})
        if _GENERIC not in path:
            paths.setdefault(path, {})[method.lower()] = _operation(
                method, path, route, given, None
            )
            continue
        for resource_type in registry.resource_types.values():
            concrete = path.replace("/" + _GENERIC, resource_type.endpoint)
            paths.setdefault(concrete, {})[method.lower()] = _operation(
                method, concrete, route, given, resource_type
            )
    return {
        "openapi": "3.1.0",
        "info": generated.get("info", {"title": "Tenure", "version": "0"}),
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": _schemas(registry),
            "parameters": _PARAMETERS,
            "securitySchemes": {
                _BEARER: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "RFC 6750 bearer token: `tenure token issue`, or "
                    "POST /admin/tokens",
                }
            },
        },
        "security": [{_BEARER: []}],
    }
