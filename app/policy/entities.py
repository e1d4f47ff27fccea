"""Pure: a Proposal as Cedar requests and the entities they name (no cedarpy here).

Kept lean: the call into Cedar holds the GIL, so each request carries only the
principal, the tenant, the identity after the change, its parent and its
owners and sponsors (``policies/tenure.cedarschema``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.domain.actor import Actor
from app.policy.proposal import Identity, Party, Proposal

NAMESPACE = "Tenure"


def uid(kind: str, ident: str) -> dict[str, str]:
    return {"type": f"{NAMESPACE}::{kind}", "id": ident}


def _ref(kind: str, ident: str) -> dict[str, Any]:
    return {"__entity": uid(kind, ident)}


def _datetime(value: dt.datetime) -> dict[str, Any]:
    text = value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return {"__extn": {"fn": "datetime", "arg": text}}


def _duration(value: dt.timedelta) -> dict[str, Any]:
    return {"__extn": {"fn": "duration", "arg": f"{int(value.total_seconds() * 1000)}ms"}}


def _entity(kind: str, ident: str, attrs: dict[str, Any], tenant: str) -> dict[str, Any]:
    return {"uid": uid(kind, ident), "attrs": attrs, "parents": [uid("Tenant", tenant)]}


def _optional(attrs: dict[str, Any], **values: Any) -> dict[str, Any]:
    """Cedar optional attributes: absent, never null."""
    for name, value in values.items():
        if value is None:
            continue
        attrs[name] = _datetime(value) if isinstance(value, dt.datetime) else value
    return attrs


def _party(p: Party, tenant: str) -> dict[str, Any]:
    attrs = {
        "resourceType": p.resource_type,
        "active": p.active,
        "entitlements": list(p.entitlements),
    }
    return _entity("Party", p.id, attrs, tenant)


def _identity(i: Identity) -> dict[str, Any]:
    attrs = _optional(
        {
            "resourceType": i.resource_type,
            "tenant": _ref("Tenant", i.tenant_id),
            "governed": i.governed,
            "lifecycleState": i.state,
            "created": _datetime(i.created),
            "scopes": list(i.scopes),
            "owners": [_ref("Party", p.id) for p in i.owners],
            "sponsors": [_ref("Party", p.id) for p in i.sponsors],
        },
        kind=i.kind,
        purpose=i.purpose,
        environment=i.environment,
        expiresAt=i.expires_at,
        hardExpiresAt=i.hard_expires_at,
        lastAttestedAt=i.last_attested_at,
        suspendedSince=i.suspended_since,
        orphanedSince=i.orphaned_since,
    )
    if i.registered_by is not None:
        attrs["registeredBy"] = _ref("Token", i.registered_by)
    if i.parent is not None:
        attrs["parent"] = _ref("Identity", i.parent.id)
    return _entity("Identity", i.id, attrs, i.tenant_id)


def _principal(actor: Actor) -> dict[str, Any]:
    tenant = actor.tenant_id or ""
    limits = actor.restrictions
    attrs: dict[str, Any] = {
        "roles": sorted(actor.roles),
        "tenant": _ref("Tenant", tenant),
        "kinds": sorted(limits.kinds),
        "environments": sorted(limits.environments),
    }
    if limits.agent_id is not None:
        attrs["agent"] = _ref("Identity", limits.agent_id)
    return _entity("Token", actor.token_id, attrs, tenant)


def context(proposal: Proposal, now: dt.datetime) -> dict[str, Any]:
    """Facts Cedar cannot compute (the ``Facts`` record of the schema)."""
    limits = proposal.limits
    owners = proposal.identity.owners
    facts: dict[str, Any] = {
        "now": _datetime(now),
        "changed": list(proposal.changed),
        "activeOwners": proposal.active_owners,
        "depth": proposal.depth,
        "ownersEntitled": any(o.entitlements for o in owners),
        "ownerEntitlements": sorted({e for o in owners for e in o.entitlements}),
        "reason": proposal.reason,
        "limits": {
            "maxLifetime": _duration(limits.max_lifetime),
            "hardCap": _duration(limits.hard_cap),
            "maxDepth": limits.max_depth,
            "attestationMaxAge": _duration(limits.attestation_max_age),
            "teardownGrace": _duration(limits.teardown_grace),
            "orphanGrace": _duration(limits.orphan_grace),
        },
    }
    before = proposal.before
    if before is not None:
        facts["before"] = _optional(
            {"lifecycleState": before.state},
            kind=before.kind,
            environment=before.environment,
            expiresAt=before.expires_at,
            hardExpiresAt=before.hard_expires_at,
        )
    return facts


def build(
    actor: Actor, proposal: Proposal, now: dt.datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One Cedar request per action of the proposal, and the entities they share."""
    identity = proposal.identity
    tenants = {identity.tenant_id, actor.tenant_id or ""}
    entities = [{"uid": uid("Tenant", t), "attrs": {}, "parents": []} for t in sorted(tenants)]
    entities += [_principal(actor), _identity(identity)]
    if identity.parent is not None and identity.parent.id != identity.id:
        entities.append(_identity(identity.parent))
    parties = {p.id: p for p in (*identity.owners, *identity.sponsors)}
    entities += [_party(p, identity.tenant_id) for p in parties.values()]
    facts = context(proposal, now)
    requests = [
        {
            "principal": uid("Token", actor.token_id),
            "action": {"type": f"{NAMESPACE}::Action", "id": action},
            "resource": uid("Identity", identity.id),
            "context": facts,
        }
        for action in proposal.actions
    ]
    return requests, entities
