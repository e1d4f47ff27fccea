"""Pure step 2 of a Mutation: from request body (and the state before) to the state after.

RFC 7644 §3.3 (create) and §3.5.1 (replace). No I/O: member references come
back unresolved for the pipeline to check against the store.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from app.domain.resource import Resource
from app.scim.codec import asserts, read_resource
from app.scim.errors import InvalidValue, PreconditionFailed
from app.scim.schema import ResourceType
from app.scim.validate import carry_immutable, check_required


class Draft(msgspec.Struct, frozen=True, kw_only=True):
    """The state after, and the members it names: id → display as sent (None: not asserted)."""

    resource: Resource
    members: dict[str, str | None] | None


def draft_create(
    body: dict[str, Any],
    resource_type: ResourceType,
    *,
    tenant_id: str,
    resource_id: str,
    now: dt.datetime,
) -> Draft:
    doc = read_resource(body, resource_type)
    check_required(doc, resource_type)
    if resource_type.name == "User":
        # RFC 7643 §4.1.1 leaves a missing ``active`` to the server: a User pushed without
        # one (OneLogin's templates send none) is active, and says so.
        doc.setdefault("active", True)
    external_id = doc.pop("externalId", None)
    requested = _members(doc.pop("members", None), resource_type, resource_id)
    resource = Resource(
        tenant_id=tenant_id,
        id=resource_id,
        resource_type=resource_type.name,
        external_id=external_id,
        doc=doc,
        version=1,
        created=now,
        last_modified=now,
    )
    return Draft(resource=resource, members=requested or {})


def draft_replace(
    before: Resource, body: dict[str, Any], resource_type: ResourceType, *, now: dt.datetime
) -> Draft:
    """PUT replaces every writable attribute (RFC 7644 §3.5.1), a Group's members included:
    left out, they are cleared — the only way some clients (Keycloak's SCIM plugin) can
    say "no members" is to leave the empty list out."""
    doc = read_resource(body, resource_type)
    check_required(doc, resource_type)
    external_id = doc.pop("externalId", None)
    asserted = asserts(body, resource_type, "members")
    requested = _members(doc.pop("members", None), resource_type, before.id)
    doc = carry_immutable(before.doc, doc, resource_type)
    if resource_type.name == "User" and not asserts(body, resource_type, "active"):
        # A profile update that leaves ``active`` out (OneLogin's templates) neither
        # deactivates nor revives the User: it stays as it was.
        doc["active"] = before.doc.get("active", True)
    resource = msgspec.structs.replace(
        before,
        external_id=external_id,
        doc=doc,
        version=before.version + 1,
        last_modified=now,
    )
    replaces = asserted or resource_type.name == "Group"
    return Draft(resource=resource, members=(requested or {}) if replaces else None)


def _members(
    members: list[dict[str, Any]] | None, resource_type: ResourceType, own_id: str
) -> dict[str, str | None] | None:
    if members is None:
        return None
    out: dict[str, str | None] = {}
    for index, member in enumerate(members):
        value = member.get("value")
        if not isinstance(value, str) or not value:
            raise InvalidValue(f"'members[{index}].value' is required")
        if value == own_id:
            raise InvalidValue(f"a {resource_type.name} cannot be a member of itself")
        out[value] = member.get("display")  # adding a member twice is adding it once
    return out


def check_if_match(if_match: str | None, current: Resource) -> None:
    """RFC 7644 §3.14 / RFC 7232 §3.1: a write with If-Match proceeds only on a matching version."""
    if if_match is None or current.etag_in(if_match):
        return
    raise PreconditionFailed(
        f"If-Match {if_match} does not match the current version {current.etag}"
    )


def changed_paths(before: Resource, after: Resource) -> set[str]:
    """The attribute paths a replace changes (RFC 7644 §3.5.1), as PATCH reports its own.

    Extension attributes are named ``urn…:attr``; ``members`` when the PUT named them.
    """
    paths = {"externalId"} if before.external_id != after.external_id else set()
    for name in before.doc.keys() | after.doc.keys():
        old, new = before.doc.get(name), after.doc.get(name)
        if old == new:
            continue
        if (
            name.lower().startswith("urn:")
            and isinstance(old or {}, dict)
            and isinstance(new or {}, dict)
        ):
            old, new = old or {}, new or {}
            paths |= {
                f"{name}:{sub}" for sub in old.keys() | new.keys() if old.get(sub) != new.get(sub)
            }
        else:
            paths.add(name)
    if after.members is not None:
        paths.add("members")
    return paths
