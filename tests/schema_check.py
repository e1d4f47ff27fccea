"""Every SCIM resource the server returns, checked strictly against the schemas it serves.

RFC 7643 §2 (attribute characteristics), §3 (``schemas`` lists the core schema
and every extension present), §3.1 (common attributes), §7 (the Schema
definitions /Schemas serves). The harness runs this on every response of the
suite, so an attribute or sub-attribute returned but not declared, or declared
with another type, mutability or ``returned``, fails the test that provoked it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlparse

from app.scim.schema import Registry, ResourceType

LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
# xsd:dateTime with a zone, as RFC 7643 §2.3.5 asks.
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_META = {
    "resourceType": "string",
    "created": "dateTime",
    "lastModified": "dateTime",
    "location": "reference",
    "version": "string",
}


class SchemaViolation(AssertionError):
    pass


def _fail(where: str, problem: str) -> None:
    raise SchemaViolation(f"{where}: {problem}")


def _check_value(where: str, attribute: Mapping[str, Any], value: Any) -> None:
    kind = attribute["type"]
    if kind == "string" or kind == "reference":
        if not isinstance(value, str):
            _fail(where, f"{kind} attribute holds {value!r}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            _fail(where, f"boolean attribute holds {value!r}")
    elif kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(where, f"integer attribute holds {value!r}")
    elif kind == "decimal":
        if isinstance(value, bool) or not isinstance(value, int | float):
            _fail(where, f"decimal attribute holds {value!r}")
    elif kind == "dateTime":
        if not isinstance(value, str) or not _DATETIME.match(value):
            _fail(where, f"dateTime attribute holds {value!r}")
        dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    elif kind == "binary":
        if not isinstance(value, str):
            _fail(where, f"binary attribute holds {value!r}")
        try:
            base64.b64decode(value, validate=True)
        except binascii.Error:
            _fail(where, "binary attribute is not base64")
    elif kind == "complex":
        if not isinstance(value, dict):
            _fail(where, f"complex attribute holds {value!r}")
        _check_attributes(where, attribute.get("subAttributes", ()), value)
    else:
        _fail(where, f"the schema declares an unknown type {kind!r}")
    canonical = attribute.get("canonicalValues")
    # Canonical values only bind what the server itself sets (RFC 7643 §2.4 leaves
    # clients free); a readOnly value outside them is the server's own mistake.
    if canonical and attribute.get("mutability") == "readOnly" and value not in canonical:
        _fail(where, f"{value!r} is not one of the declared canonicalValues {canonical}")


def _check_attribute(where: str, attribute: Mapping[str, Any], value: Any) -> None:
    if attribute.get("returned") == "never":
        _fail(where, "an attribute declared returned: never is returned")
    if attribute.get("mutability") == "writeOnly":
        _fail(where, "a writeOnly attribute is returned")
    if attribute.get("multiValued"):
        if not isinstance(value, list):
            _fail(where, f"multi-valued attribute holds {value!r}")
        for index, item in enumerate(value):
            _check_value(f"{where}[{index}]", attribute, item)
        primaries = [i for i in value if isinstance(i, dict) and i.get("primary") is True]
        if len(primaries) > 1:
            _fail(where, "primary: true appears more than once")
    else:
        if isinstance(value, list):
            _fail(where, "a single-valued attribute holds a list")
        _check_value(where, attribute, value)


def _check_attributes(
    where: str, declared: Any, values: Mapping[str, Any], *, required: bool = False
) -> None:
    by_name = {a["name"]: a for a in declared}
    for name, value in values.items():
        attribute = by_name.get(name)
        if attribute is None:
            folded = {n.lower(): n for n in by_name}
            hint = f" (declared as {folded[name.lower()]!r})" if name.lower() in folded else ""
            _fail(f"{where}.{name}", f"returned but not declared{hint}")
        if value is None:
            _fail(f"{where}.{name}", "null is returned instead of leaving it unassigned")
        _check_attribute(f"{where}.{name}", attribute, value)
    if required:
        for name, attribute in by_name.items():
            wanted = attribute.get("required") and attribute.get("returned") != "never"
            if wanted and name not in values:
                _fail(f"{where}.{name}", "required but not returned")


def check_resource(
    document: Any, registry: Registry, *, projected: bool = False, where: str = "resource"
) -> None:
    """``document`` is a resource as RFC 7643 and the served schemas define it."""
    if not isinstance(document, dict):
        _fail(where, "a resource is not a JSON object")
    # The core schema names the resource type (``meta`` may be projected away).
    listed = document.get("schemas")
    found = [
        t for t in registry.resource_types.values()
        if isinstance(listed, list) and t.schema.id in listed
    ]  # fmt: skip
    if len(found) != 1:
        _fail(f"{where}.schemas", f"names no single served resource type: {listed!r}")
    resource_type = found[0]
    _check_resource(document, resource_type, registry, projected=projected, where=where)


def _check_resource(
    document: dict[str, Any],
    resource_type: ResourceType,
    registry: Registry,
    *,
    projected: bool,
    where: str,
) -> None:
    core = resource_type.schema.id
    extensions = {e.schema.id: e for e in resource_type.extensions}
    schemas = document.get("schemas")
    if not isinstance(schemas, list) or not all(isinstance(s, str) for s in schemas):
        _fail(f"{where}.schemas", f"not a list of URIs: {schemas!r}")
    if core not in schemas:
        _fail(f"{where}.schemas", f"does not list the core schema {core}")
    for urn in schemas:
        if urn != core and urn not in extensions:
            _fail(f"{where}.schemas", f"lists {urn}, which the resource type does not carry")
        if urn in extensions and urn not in document:
            _fail(f"{where}.schemas", f"lists {urn}, but the resource holds nothing of it")
    if not isinstance(document.get("id"), str) or not document["id"]:
        _fail(f"{where}.id", "every resource has an id (returned: always)")
    if "externalId" in document and not isinstance(document["externalId"], str):
        _fail(f"{where}.externalId", "not a string")
    meta = document.get("meta")
    if meta is None and not projected:
        _fail(f"{where}.meta", "missing")
    if isinstance(meta, dict):
        for name, value in meta.items():
            if name not in _META:
                _fail(f"{where}.meta.{name}", "not an RFC 7643 §3.1 meta attribute")
            _check_value(f"{where}.meta.{name}", {"type": _META[name]}, value)
        if meta.get("resourceType") not in (None, resource_type.name):
            _fail(f"{where}.meta.resourceType", "names another resource type")
    core_values: dict[str, Any] = {}
    for key, value in document.items():
        if key in ("schemas", "id", "externalId", "meta"):
            continue
        if key in extensions:
            if key not in schemas:
                _fail(f"{where}.{key}", "an extension present but not listed in schemas")
            if not isinstance(value, dict) or not value:
                _fail(f"{where}.{key}", "an extension is a non-empty JSON object")
            _check_attributes(
                f"{where}.{key}",
                extensions[key].schema.document["attributes"],
                value,
                required=not projected,
            )
        else:
            core_values[key] = value
    _check_attributes(
        where, resource_type.schema.document["attributes"], core_values, required=not projected
    )


def check_response(
    method: str, url: str, status: int, content_type: str, body: bytes, registry: Registry
) -> None:
    """One HTTP response of the SCIM API: every resource it carries, strictly."""
    path = urlparse(url).path
    if "/scim/v2/" not in path or not content_type.startswith("application/scim+json"):
        return
    if status >= 300 or not body:
        return
    document = json.loads(body)
    if document.get("schemas") == [ERROR]:
        _fail(url, f"an Error body with status {status}")
    tail = path.split("/scim/v2/", 1)[1]
    if tail.split("/", 1)[0] in ("ServiceProviderConfig", "ResourceTypes", "Schemas", "Bulk"):
        return
    query = {k.lower(): v for k, v in parse_qs(urlparse(url).query).items()}
    projected = "attributes" in query or "excludedattributes" in query
    if document.get("schemas") == [LIST]:
        # A POST /.search carries its projection in the body, which a hook does not see.
        projected = projected or method == "POST"
        for index, item in enumerate(document.get("Resources", [])):
            check_resource(item, registry, projected=projected, where=f"{url} Resources[{index}]")
        return
    check_resource(document, registry, projected=projected, where=f"{method} {url}")
