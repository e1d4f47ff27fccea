"""Writing resources as SCIM JSON (RFC 7643 §3.1 meta, RFC 7644 §3.4.2 ListResponse)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.domain.lifecycle import State, effective
from app.domain.resource import Resource
from app.scim.codec import format_datetime
from app.scim.schema import (
    GOVERNANCE_URN,
    LIST_RESPONSE_URN,
    OWNERS_URN,
    Registry,
    ResourceType,
)


def render(
    resource: Resource,
    resource_type: ResourceType,
    base_url: str,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """The full representation of ``resource``; ``base_url`` ends with ``/scim/v2``.

    ``meta.location`` and ``$ref`` values are absolute URIs (RFC 7643 §3.1).
    Attributes returned ``never`` are never in ``doc`` to begin with.
    """
    schemas = [resource_type.schema.id]
    # An extension with nothing in it is unassigned (RFC 7643 §2.5): neither listed nor shown.
    schemas += [e.schema.id for e in resource_type.extensions if resource.doc.get(e.schema.id)]
    out: dict[str, Any] = {"schemas": schemas, "id": resource.id}
    if resource.external_id is not None:
        out["externalId"] = resource.external_id
    # Core attributes first, then each extension's object (as RFC 7643 §8 examples).
    out.update((k, v) for k, v in resource.doc.items() if not k.startswith("urn:"))
    out.update((k, v) for k, v in resource.doc.items() if k.startswith("urn:") and v != {})
    if resource.members is not None:
        out["members"] = [
            {
                "value": m.value,
                "$ref": f"{base_url}/{m.type}s/{m.value}",
                "type": m.type,
                **({"display": m.display} if m.display is not None else {}),
            }
            for m in resource.members
        ]
    if resource.groups:
        out["groups"] = [
            {
                "value": g.value,
                "$ref": f"{base_url}/Groups/{g.value}",
                "type": g.type,
                **({"display": g.display} if g.display is not None else {}),
            }
            for g in resource.groups
        ]
    parent = resource.doc.get("parent")
    if isinstance(parent, dict) and "value" in parent:
        out["parent"] = {**parent, "$ref": f"{base_url}{resource_type.endpoint}/{parent['value']}"}
    if resource.owners is not None or GOVERNANCE_URN in resource.doc:
        _governance(out, resource, base_url, now)
    out["meta"] = {
        "resourceType": resource_type.name,
        "created": format_datetime(resource.created),
        "lastModified": format_datetime(resource.last_modified),
        "location": f"{base_url}{resource_type.endpoint}/{resource.id}",
        "version": resource.etag,
    }
    return out


def _governance(
    out: dict[str, Any], resource: Resource, base_url: str, now: dt.datetime | None
) -> None:
    """Owners, sponsors and the effective state of a governed identity (DESIGN.md).

    Past ``expiresAt`` the identity reads as suspended and inactive at once,
    before any sweep has run; ``complianceIssues`` says why.
    """
    refs = resource.owners or ()

    def shown(relation: str) -> list[dict[str, Any]]:
        return [
            {
                "value": r.value,
                "$ref": f"{base_url}/{r.type}s/{r.value}",
                "type": r.type,
                **({"display": r.display} if r.display is not None else {}),
                "status": r.status,
            }
            for r in refs
            if r.relation == relation
        ]

    owners, sponsors = shown("owner"), shown("sponsor")
    # Agents and ServiceAccounts have a core ``owners``; a governed User's are in their
    # own extension, since the User schema (RFC 7643 §4.1) has none.
    if owners and resource.resource_type == "User":
        out[OWNERS_URN] = {"owners": owners}
        out["schemas"] = [*out["schemas"], OWNERS_URN]
    elif owners:
        out["owners"] = owners
    governance = dict(out.get(GOVERNANCE_URN) or {})
    if sponsors:
        governance["sponsors"] = sponsors
    if "lifecycleState" in governance:
        record = resource.governance
        moment = record.expires_at
        state = (
            effective(record.lifecycle_state, moment, now)
            if now is not None
            else record.lifecycle_state
        )
        governance["lifecycleState"] = state.value
        out["active"] = state is State.ACTIVE
        issues = [] if now is None or moment is None or moment > now else ["expired"]
        if resource.owners is not None and not any(
            r.status == "active" for r in refs if r.relation == "owner"
        ):
            issues.append("no_active_owner")
        due = record.attest_by
        if now is not None and due is not None and due <= now and state is State.ACTIVE:
            issues.append("attestation_overdue")
        if issues:
            governance["complianceIssues"] = issues
    if governance:
        out[GOVERNANCE_URN] = governance
        if GOVERNANCE_URN not in out["schemas"]:
            out["schemas"] = [*out["schemas"], GOVERNANCE_URN]


def list_response(
    resources: list[dict[str, Any]],
    total: int,
    start_index: int | None,
    next_cursor: str | None = None,
    previous_cursor: str | None = None,
) -> dict[str, Any]:
    """RFC 7644 §3.4.2 ListResponse, RFC 9865 §2 cursors (``start_index`` None: by cursor)."""
    body: dict[str, Any] = {"schemas": [LIST_RESPONSE_URN], "totalResults": total}
    if start_index is not None:
        body["startIndex"] = start_index
    body["itemsPerPage"] = len(resources)
    if next_cursor is not None:
        body["nextCursor"] = next_cursor
    if previous_cursor is not None:
        body["previousCursor"] = previous_cursor
    body["Resources"] = resources
    return body


def with_location(document: dict[str, Any], base_url: str) -> dict[str, Any]:
    """A discovery document with its ``meta.location`` made absolute.

    The files under ``schemas/`` carry locations relative to ``/v2``; served
    documents must say where they really are.
    """
    out = dict(document)
    meta = dict(out.get("meta", {}))
    location = meta.get("location")
    if isinstance(location, str) and location.startswith("/v2"):
        meta["location"] = base_url + location[len("/v2") :]
    if meta:
        out["meta"] = meta
    return out


def schema_documents(registry: Registry, base_url: str) -> list[dict[str, Any]]:
    return [with_location(s.document, base_url) for s in registry.schemas.values()]
