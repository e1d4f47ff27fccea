"""Reading SCIM resource bodies: JSON → canonical attribute names and checked types.

RFC 7643 §2.1: attribute names and schema URNs are case-insensitive, so keys
are canonicalised here, once, before anything else sees them. RFC 7643 §2.5:
``null`` and ``[]`` mean "unassigned". RFC 7644 §3.3: readOnly values in a
request are ignored. writeOnly values (``password``) are accepted and dropped:
this server never stores them.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Any

import msgspec

from app.domain.instants import format_instant, parse_instant
from app.domain.limits import (
    MAX_DATETIME,
    MAX_JSON_DEPTH,
    MAX_NAME_LENGTH,
    MIN_DATETIME,
    NAME_ATTRIBUTES,
    fits_name,
)
from app.scim.errors import InvalidSyntax, InvalidValue
from app.scim.schema import COMMON, Attribute, ResourceType, Schema

UNSET: Any = object()  # what an unassigned value reads as (RFC 7643 §2.5)
_TRUE_FALSE = {"true": True, "false": False}


def decode_json(body: bytes) -> dict[str, Any]:
    """Parse a request body that must be one JSON object (RFC 7644 §3.12 invalidSyntax).

    Bounded here, once, for every body: nesting up to ``MAX_JSON_DEPTH``
    (invalidSyntax), and no NUL character in any key or value (invalidValue:
    PostgreSQL cannot store one, and no attribute means one).
    """
    try:
        parsed = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise InvalidSyntax(f"request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise InvalidSyntax(_TOO_DEEP) from None
    if not isinstance(parsed, dict):
        raise InvalidSyntax("request body must be a JSON object")
    # Only a body with enough brackets can be too deep, and only one with the
    # escape can hold a NUL (JSON has no other spelling of it): most skip the walk.
    if body.count(b"{") + body.count(b"[") > MAX_JSON_DEPTH or b"\\u0000" in body:
        _check_tree(parsed)
    return parsed


_TOO_DEEP = f"request body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels"


def _check_tree(root: dict[str, Any]) -> None:
    """Walk the decoded body without recursion: depth and NUL characters."""
    pending: list[tuple[Any, int]] = [(root, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                raise InvalidValue("request body holds a NUL character (\\u0000)")
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > MAX_JSON_DEPTH:
            raise InvalidSyntax(_TOO_DEEP)
        items = value.items() if isinstance(value, dict) else ((None, v) for v in value)
        for key, item in items:
            if isinstance(key, str) and "\x00" in key:
                raise InvalidValue("request body holds a NUL character (\\u0000)")
            pending.append((item, depth + 1))


def read_resource(body: dict[str, Any], resource_type: ResourceType) -> dict[str, Any]:
    """Return the writable attributes of ``body`` under canonical names, types checked.

    Extension attributes are nested under their canonical schema URN, whether
    the client nested them or sent fully qualified keys
    (``urn:…:enterprise:2.0:User:employeeNumber``). Unknown attributes and
    the ``schemas`` list are ignored: what the server keeps is decided by the
    registered schemas, not by what the client claims.
    """
    out: dict[str, Any] = {}
    for key, value in body.items():
        if not isinstance(key, str) or key.lower() == "schemas":
            continue
        extension = resource_type.extension(key)
        if extension is not None:
            if value is None:
                continue
            if not isinstance(value, dict):
                raise InvalidValue(f"'{extension.schema.id}' must be a JSON object")
            target = out.setdefault(extension.schema.id, {})
            for sub_key, sub_value in value.items():
                if isinstance(sub_key, str):
                    _put(target, extension.schema.attribute(sub_key), sub_value, sub_key)
            continue
        schema, name = _qualified(key, resource_type)
        if schema is None:
            _put(out, COMMON.attribute(key) or resource_type.schema.attribute(key), value, key)
        elif schema is resource_type.schema:
            _put(out, schema.attribute(name), value, key)
        else:
            _put(out.setdefault(schema.id, {}), schema.attribute(name), value, key)
    return {k: v for k, v in out.items() if v != {}}


def asserts(body: dict[str, Any], resource_type: ResourceType, name: str) -> bool:
    """Does ``body`` name the core attribute ``name`` at all, even as ``null`` or ``[]``?

    Reading drops unassigned values (RFC 7643 §2.5); a replace still has to
    tell "cleared" from "not mentioned".
    """
    wanted = {name.lower(), f"{resource_type.schema.id}:{name}".lower()}
    return any(isinstance(key, str) and key.lower() in wanted for key in body)


def _qualified(key: str, resource_type: ResourceType) -> tuple[Schema | None, str]:
    """Split ``urn:…:User:userName`` into (schema, "userName"); (None, key) if unqualified."""
    lowered = key.lower()
    for schema in (resource_type.schema, *(e.schema for e in resource_type.extensions)):
        prefix = schema.id.lower() + ":"
        if lowered.startswith(prefix):
            return schema, key[len(prefix) :]
    return None, key


def _put(target: dict[str, Any], attribute: Attribute | None, value: Any, path: str) -> None:
    if attribute is None or attribute.mutability in ("readOnly", "writeOnly"):
        return
    checked = check_value(attribute, value, path)
    if checked is not UNSET:
        target[attribute.name] = checked


def _referenced(element: dict[str, Any], path: str) -> None:
    """A reference named by its ``$ref`` names the resource of its last segment.

    RFC 7643 §2.3.7: a reference is the URI of the resource, which ends in its
    id; a client may send ``$ref`` instead of ``value``, or both if they agree.
    """
    named = str(element["$ref"]).rstrip("/").rsplit("/", 1)[-1]
    if "value" not in element:
        element["value"] = named
    elif element["value"] != named:
        raise InvalidValue(f"'{path}.$ref' names another resource than '{path}.value'")


def same_reference(old: Any, new: Any) -> bool:
    """Two elements of a reference attribute are equal: the ``$ref`` follows from ``value``."""
    if isinstance(old, dict) and isinstance(new, dict) and "value" in old:
        return {k: v for k, v in old.items() if k != "$ref"} == {
            k: v for k, v in new.items() if k != "$ref"
        }
    return bool(old == new)


def check_value(attribute: Attribute, value: Any, path: str) -> Any:
    """``value`` checked and canonicalised for ``attribute``; ``UNSET`` for null or empty."""
    if value is None:
        return UNSET
    if attribute.multi_valued:
        items = value if isinstance(value, list) else [value]
        checked = [_single(attribute, item, f"{path}[{i}]") for i, item in enumerate(items)]
        checked = [c for c in checked if c is not UNSET]
        if not checked:
            return UNSET
        if attribute.type == "complex":
            # RFC 7643 §2.4 allows one primary. Providers that fill two slots with one
            # address mark both (Ping): the first keeps it, the rest are not primary.
            first = next((c for c in checked if c.get("primary") is True), None)
            checked = [
                {**c, "primary": False} if c.get("primary") is True and c is not first else c
                for c in checked
            ]
        return checked
    if isinstance(value, list):
        raise InvalidValue(f"'{path}' is single-valued but a list was given")
    return _single(attribute, value, path)


def _single(attribute: Attribute, value: Any, path: str) -> Any:
    if value is None:
        return UNSET
    kind = attribute.type
    if kind == "complex":
        if not isinstance(value, dict):
            raise InvalidValue(f"'{path}' must be a JSON object")
        out: dict[str, Any] = {}
        for key, sub_value in value.items():
            sub = attribute.sub(key) if isinstance(key, str) else None
            if sub is None or sub.mutability in ("readOnly", "writeOnly"):
                continue
            checked = check_value(sub, sub_value, f"{path}.{sub.name}")
            if checked is not UNSET:
                out[sub.name] = checked
        if "$ref" in out and attribute.sub("value") is not None:
            _referenced(out, path)
        missing = [
            s.name
            for s in attribute.sub_attributes
            if s.required and s.mutability != "readOnly" and s.name not in out
        ]
        if missing and out:
            raise InvalidValue(f"'{path}' is missing required sub-attribute '{missing[0]}'")
        return out or UNSET
    if kind in ("string", "reference"):
        if not isinstance(value, str):
            raise InvalidValue(f"'{path}' must be a string")
        if attribute.name in NAME_ATTRIBUTES and not fits_name(value):
            raise InvalidValue(f"'{path}' is longer than {MAX_NAME_LENGTH} characters")
        return value
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE_FALSE:
            return _TRUE_FALSE[value.strip().lower()]
        raise InvalidValue(f"'{path}' must be a boolean")
    if kind == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise InvalidValue(f"'{path}' must be an integer")
    if kind == "decimal":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        raise InvalidValue(f"'{path}' must be a number")
    if kind == "dateTime":
        moment = parse_datetime(value) if isinstance(value, str) else None
        if moment is None:
            raise InvalidValue(
                f"'{path}' must be an xsd:dateTime such as 2026-01-31T12:00:00Z, {_RANGE}"
            )
        # One spelling per instant (UTC, milliseconds): stored text then sorts as time does.
        return format_datetime(moment)
    if kind == "binary":
        if not isinstance(value, str):
            raise InvalidValue(f"'{path}' must be a base64 string")
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidValue(f"'{path}' is not valid base64") from None
        return value
    raise InvalidValue(f"'{path}' has unsupported type {kind}")


_RANGE = f"from {MIN_DATETIME:%Y-%m-%d} up to (not including) {MAX_DATETIME:%Y-%m-%d} UTC"


def parse_datetime(text: str) -> dt.datetime | None:
    """Parse an xsd:dateTime (RFC 7643 §2.3.5): ``app.domain.instants.parse_instant``."""
    return parse_instant(text)


def format_datetime(value: dt.datetime) -> str:
    """RFC 3339 in UTC with milliseconds: ``app.domain.instants.format_instant``."""
    return format_instant(value)
