"""Pure: a Proposal as Cedar requests and the entities they name (no cedarpy here).

Kept lean: the call into Cedar holds the GIL and its cost grows with every
attribute it parses, so a request carries the principal and its tenant (parsed
once per client and kept), the identity after the change, the few attributes
policies read of its parent, and its owners and sponsors; empty values are
left out (``policies/tenure.cedarschema``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from app.domain.actor import Actor
from app.policy.proposal import Identity, Limits, Party, Proposal

NAMESPACE = "Tenure"
# The action groups of policies/tenure.cedarschema. Decisions are made without
# the schema (it costs), so the groups travel as entities; a test checks that
# decisions with and without the schema agree.
ACTION_GROUPS: dict[str, tuple[str, ...]] = {
    "create": ("keep", "renew"),
    "extend": ("keep", "renew"),
    "reactivate": ("keep", "renew"),
    "update": ("keep",),
    "transferOwnership": ("keep",),
    "attest": ("keep",),
    "restore": ("keep",),
    "delete": ("retire",),
    "teardown": ("retire", "sweep"),
    "suspend": ("sweep",),
    "flag": (),
}
_encode = msgspec.json.Encoder().encode


def uid(kind: str, ident: str) -> dict[str, str]:
    return {"type": f"{NAMESPACE}::{kind}", "id": ident}


def _ref(kind: str, ident: str) -> dict[str, Any]:
    return {"__entity": uid(kind, ident)}


def _datetime(value: dt.datetime) -> dict[str, Any]:
    if value.tzinfo is not dt.UTC:  # the store and the clock hand out UTC already
        value = value.astimezone(dt.UTC)
    text = value.isoformat(timespec="milliseconds").replace("+00:00", "Z")
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
    attrs: dict[str, Any] = {"resourceType": p.resource_type, "active": p.active}
    if p.entitlements:
        attrs["entitlements"] = list(p.entitlements)
    return _entity("Party", p.id, attrs, tenant)


def _refs(kind: str, parties: tuple[Party, ...]) -> list[dict[str, Any]] | None:
    return [_ref(kind, p.id) for p in parties] or None


def _identity(i: Identity) -> dict[str, Any]:
    attrs = _optional(
        {"resourceType": i.resource_type, "governed": i.governed, "lifecycleState": i.state},
        created=i.created,
        kind=i.kind,
        purpose=i.purpose,
        environment=i.environment,
        expiresAt=i.expires_at,
        hardExpiresAt=i.hard_expires_at,
        lastAttestedAt=i.last_attested_at,
        suspendedSince=i.suspended_since,
        orphanedSince=i.orphaned_since,
        scopes=list(i.scopes) or None,
        owners=_refs("Party", i.owners),
        sponsors=_refs("Party", i.sponsors),
    )
    if i.registered_by is not None:
        attrs["registeredBy"] = i.registered_by
    if i.parent is not None:
        attrs["parent"] = _ref("Identity", i.parent.id)
    return _entity("Identity", i.id, attrs, i.tenant_id)


def _parent(i: Identity) -> dict[str, Any]:
    """Only what policies read of a parent: the call's cost grows with every attribute."""
    attrs = _optional(
        {"resourceType": i.resource_type, "governed": i.governed, "lifecycleState": i.state},
        expiresAt=i.expires_at,
        scopes=list(i.scopes) or None,
        environment=i.environment,
        registeredBy=i.registered_by,
    )
    return _entity("Identity", i.id, attrs, i.tenant_id)


def _tenant(ident: str, limits: Limits) -> dict[str, Any]:
    attrs = {
        "agentLifetime": _duration(limits.agent_lifetime),
        "serviceAccountLifetime": _duration(limits.service_account_lifetime),
        "hardCap": _duration(limits.hard_cap),
        "maxDepth": limits.max_depth,
        "attestationMaxAge": _duration(limits.attestation_max_age),
        "attestationGrace": _duration(limits.attestation_grace),
        "teardownGrace": _duration(limits.teardown_grace),
        "orphanGrace": _duration(limits.orphan_grace),
        "delegationAcrossEnvironments": limits.delegation_across_environments,
    }
    return {"uid": uid("Tenant", ident), "attrs": attrs, "parents": []}


def _principal(actor: Actor) -> dict[str, Any]:
    tenant = actor.tenant_id or ""
    limits = actor.restrictions
    attrs: dict[str, Any] = {
        "id": actor.token_id,
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
    owners = proposal.identity.owners
    # Every field costs parsing time in Cedar: the empty and the default are left out.
    facts: dict[str, Any] = {
        "now": _datetime(now),
        "activeOwners": proposal.active_owners,
        "depth": proposal.depth,
    }
    if proposal.changed:
        facts["changed"] = list(proposal.changed)
    entitlements = {e for o in owners for e in o.entitlements}
    if entitlements:
        facts["ownerEntitlements"] = sorted(entitlements)
    if proposal.reason != "request":
        facts["reason"] = proposal.reason
    if proposal.children_end is not None:
        facts["childrenEnd"] = _datetime(proposal.children_end)
    if proposal.children_scopes is not None:
        facts["childrenScopes"] = list(proposal.children_scopes)
    before, after = proposal.before, proposal.identity
    if before is not None:
        # Only what moved: an unchanged value needs no guard, and each one costs.
        moved = _optional(
            {},
            lifecycleState=before.state if before.state != after.state else None,
            kind=before.kind if before.kind != after.kind else None,
            environment=before.environment if before.environment != after.environment else None,
            hardExpiresAt=before.hard_expires_at
            if before.hard_expires_at != after.hard_expires_at
            else None,
        )
        if moved:
            facts["before"] = moved
    return facts


class Built(msgspec.Struct, frozen=True, kw_only=True):
    """A proposal as Cedar input: the caller and its tenant (the same for every write
    of one client, so parsed once and kept by ``base_key``) and what this write names."""

    base_key: tuple[Any, ...]
    entities: list[dict[str, Any]]
    requests: list[dict[str, Any]]


def _actions() -> list[dict[str, Any]]:
    action = f"{NAMESPACE}::Action"
    groups = sorted({g for parents in ACTION_GROUPS.values() for g in parents})
    return [
        {
            "uid": {"type": action, "id": name},
            "attrs": {},
            "parents": [{"type": action, "id": g} for g in parents],
        }
        for name, parents in ACTION_GROUPS.items()
    ] + [{"uid": {"type": action, "id": g}, "attrs": {}, "parents": []} for g in groups]


def base(actor: Actor, proposal: Proposal) -> list[dict[str, Any]]:
    """The caller, the tenants involved with their bounds, and the action groups."""
    tenants = sorted({proposal.identity.tenant_id, actor.tenant_id or ""})
    return [_tenant(t, proposal.limits) for t in tenants] + [_principal(actor), *_actions()]


def build(actor: Actor, proposal: Proposal, now: dt.datetime) -> Built:
    """One Cedar request per action of the proposal, and the entities they share."""
    identity = proposal.identity
    limits = proposal.limits
    entities = [_identity(identity)]
    if identity.parent is not None and identity.parent.id != identity.id:
        entities.append(_parent(identity.parent))
    parties = {p.id: p for p in (*identity.owners, *identity.sponsors)}
    entities += [_party(p, identity.tenant_id) for p in parties.values()]
    # Encoded once, shared by the requests of every action.
    facts = _encode(context(proposal, now)).decode()
    requests = [
        {
            "principal": uid("Token", actor.token_id),
            "action": {"type": f"{NAMESPACE}::Action", "id": action},
            "resource": uid("Identity", identity.id),
            "context": facts,
        }
        for action in proposal.actions
    ]
    key = (
        actor.token_id,
        actor.roles,
        actor.tenant_id,
        actor.restrictions,
        identity.tenant_id,
        limits,
    )
    return Built(base_key=key, entities=entities, requests=requests)
