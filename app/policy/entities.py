"""Pure: a mutation as a Cedar request and the entities it names (no cedarpy here)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from app.domain.actor import Actor

NAMESPACE = "Tenure"


class Subject(msgspec.Struct, frozen=True, kw_only=True):
    """What a policy judges: the identity as it would be after the change."""

    resource_type: str
    resource_id: str
    tenant_id: str


def _uid(kind: str, ident: str) -> dict[str, str]:
    return {"type": f"{NAMESPACE}::{kind}", "id": ident}


def build(
    actor: Actor, action: str, subject: Subject, now: dt.datetime
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The Cedar request and its entities (DESIGN.md "Policies")."""
    tenant = _uid("Tenant", subject.tenant_id)
    principal_tenant = _uid("Tenant", actor.tenant_id or "")
    entities = [
        {"uid": tenant, "attrs": {}, "parents": []},
        {
            "uid": _uid("Token", actor.token_id),
            "attrs": {
                "roles": sorted(actor.roles),
                "tenant": {"__entity": principal_tenant},
            },
            "parents": [principal_tenant],
        },
        {
            "uid": _uid("Identity", subject.resource_id),
            "attrs": {"resourceType": subject.resource_type, "tenant": {"__entity": tenant}},
            "parents": [tenant],
        },
    ]
    if principal_tenant != tenant:
        entities.append({"uid": principal_tenant, "attrs": {}, "parents": []})
    request = {
        "principal": _uid("Token", actor.token_id),
        "action": {"type": f"{NAMESPACE}::Action", "id": action},
        "resource": _uid("Identity", subject.resource_id),
        "context": {
            "now": {
                "__extn": {"fn": "datetime", "arg": now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"}
            }
        },
    }
    return request, entities
