"""Pure: what a policy judges — a proposed change as plain data (DESIGN.md "Policies").

The Mutation pipeline loads the facts (owners' status, the parent, the tenant's
limits) and hands them over; ``identity_of`` and ``actions_for`` turn stored
resources into what Cedar sees. No cedarpy here.
"""

from __future__ import annotations

import datetime as dt

import msgspec

from app.domain.lifecycle import State, effective
from app.domain.resource import OwnerRef, Resource

# Cedar action ids; a write is one or more of them (``actions_for``).
CREATE, UPDATE, DELETE = "create", "update", "delete"
EXTEND, TRANSFER, SUSPEND = "extend", "transferOwnership", "suspend"
REACTIVATE, ATTEST, TEARDOWN = "reactivate", "attest", "teardown"
FLAG, RESTORE = "flag", "restore"
ACTIONS = (
    CREATE, UPDATE, DELETE, EXTEND, TRANSFER, SUSPEND, REACTIVATE, ATTEST, TEARDOWN, FLAG, RESTORE,
)  # fmt: skip

# Paths (URN prefix dropped) that name a refined action rather than a plain update.
# Server-managed ones follow from ``active`` and are no update of their own.
_REFINED = frozenset(
    {"active", "expiresAt", "owners", "lastAttestedAt"}
    | {"lifecycleState", "suspendedReason", "suspendedAt", "teardownAt", "registeredBy"}
    | {"orphanedAt", "suspendAt"}
)


class Party(msgspec.Struct, frozen=True, kw_only=True):
    """An owner or sponsor as policies see it."""

    id: str
    resource_type: str  # "User" | "Group"
    active: bool
    entitlements: tuple[str, ...] = ()


class Identity(msgspec.Struct, frozen=True, kw_only=True):
    """A resource as policies see it (Cedar entity ``Tenure::Identity``)."""

    id: str
    resource_type: str
    tenant_id: str
    created: dt.datetime
    governed: bool = False
    state: str = State.ACTIVE.value  # effective
    kind: str | None = None
    purpose: str | None = None
    environment: str | None = None
    expires_at: dt.datetime | None = None
    hard_expires_at: dt.datetime | None = None
    last_attested_at: dt.datetime | None = None
    suspended_since: dt.datetime | None = None
    orphaned_since: dt.datetime | None = None
    registered_by: str | None = None  # token id
    scopes: tuple[str, ...] = ()
    owners: tuple[Party, ...] = ()
    sponsors: tuple[Party, ...] = ()
    parent: Identity | None = None


class Limits(msgspec.Struct, frozen=True, kw_only=True):
    """A tenant's bounds (its settings over the server's defaults)."""

    agent_lifetime: dt.timedelta  # the longest an agent, workload or bot is registered for
    service_account_lifetime: dt.timedelta
    hard_cap: dt.timedelta
    max_depth: int
    attestation_max_age: dt.timedelta
    attestation_grace: dt.timedelta  # overdue this long before the scheduler suspends
    teardown_grace: dt.timedelta
    orphan_grace: dt.timedelta
    delegation_across_environments: bool = False  # a child may leave its parent's environment


class Proposal(msgspec.Struct, frozen=True, kw_only=True):
    """One change to judge: every action it amounts to, on the identity after it."""

    actions: tuple[str, ...]
    identity: Identity
    before: Identity | None = None
    changed: tuple[str, ...] = ()
    depth: int = 1
    limits: Limits
    reason: str = "request"
    # A parent's live children, when the change moves its end or its scopes.
    children_end: dt.datetime | None = None
    children_scopes: tuple[str, ...] | None = None

    @property
    def active_owners(self) -> int:
        return sum(1 for owner in self.identity.owners if owner.active)


def party(ref: OwnerRef) -> Party:
    return Party(
        id=ref.value,
        resource_type=ref.type,
        active=ref.status == "active",
        entitlements=ref.entitlements,
    )


def identity_of(
    resource: Resource,
    *,
    governed: bool,
    now: dt.datetime,
    owners: tuple[OwnerRef, ...] = (),
    parent: Identity | None = None,
) -> Identity:
    """A stored resource (before or after a change) as policies see it."""
    if not governed:
        return Identity(
            id=resource.id,
            resource_type=resource.resource_type,
            tenant_id=resource.tenant_id,
            created=resource.created,
        )
    governance = resource.governance
    state = effective(governance.lifecycle_state, governance.expires_at, now)
    suspended_since = governance.suspended_at
    if state is State.SUSPENDED and governance.lifecycle_state is State.ACTIVE:
        suspended_since = governance.expires_at  # suspended by its end date, before any sweep
    return Identity(
        id=resource.id,
        resource_type=resource.resource_type,
        tenant_id=resource.tenant_id,
        # A User adopted as an identity later (mapping) counts from then, not its creation.
        created=governance.registered_at or resource.created,
        governed=True,
        state=state.value,
        kind=governance.kind,
        purpose=governance.purpose,
        environment=governance.environment,
        expires_at=governance.expires_at,
        hard_expires_at=governance.hard_expires_at,
        last_attested_at=governance.last_attested_at,
        suspended_since=suspended_since,
        orphaned_since=governance.orphaned_at,
        registered_by=governance.registered_by,
        scopes=governance.scopes or (),
        owners=tuple(party(r) for r in owners if r.relation == "owner"),
        sponsors=tuple(party(r) for r in owners if r.relation == "sponsor"),
        parent=parent,
    )


def changed_names(paths: tuple[str, ...] | list[str] | set[str]) -> tuple[str, ...]:
    """Changed attribute paths as policies name them: schema URN prefixes dropped."""
    names = set()
    for path in paths:
        head, _, tail = path.rpartition(":") if path.lower().startswith("urn:") else ("", "", path)
        names.add(tail if head else path)
    return tuple(sorted(names))


def actions_for(
    kind: str, before: Identity | None, after: Identity, changed: tuple[str, ...]
) -> tuple[str, ...]:
    """The Cedar actions a write amounts to (DESIGN.md "Policies"); each must be allowed.

    A change of a governed identity is refined: a later ``expiresAt`` is
    ``extend``, other owners ``transferOwnership``, active→suspended
    ``suspend``, back ``reactivate``, a new ``lastAttestedAt`` ``attest``; the
    rest of what it changes is ``update``. A plain User or Group is
    create, update or delete only.
    """
    if kind == RESTORE:
        # Back to active is a reactivation too, with the rules of a life that restarts.
        return (RESTORE, REACTIVATE) if after.state == State.ACTIVE.value else (RESTORE,)
    if kind in (CREATE, DELETE, SUSPEND, TEARDOWN, FLAG) or before is None or not after.governed:
        return (kind,) if kind in ACTIONS else (UPDATE,)
    actions = []
    if before.state != after.state:
        if after.state == State.SUSPENDED.value:
            actions.append(SUSPEND)
        elif after.state == State.ACTIVE.value:
            actions.append(REACTIVATE)
    if after.expires_at is not None and (
        before.expires_at is None or after.expires_at > before.expires_at
    ):
        actions.append(EXTEND)
    if {o.id for o in before.owners} != {o.id for o in after.owners}:
        actions.append(TRANSFER)
    if after.last_attested_at is not None and after.last_attested_at != before.last_attested_at:
        actions.append(ATTEST)
    plain = [name for name in changed if name.split(".", 1)[0] not in _REFINED]
    shortened = (
        after.expires_at is not None
        and before.expires_at is not None
        and after.expires_at < before.expires_at
    )
    if plain or shortened or not actions:
        actions.append(UPDATE)
    return tuple(actions)
