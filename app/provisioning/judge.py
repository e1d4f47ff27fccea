"""Step 3 of every mutation (DESIGN.md): gather what Cedar needs, decide, audit, or refuse.

The facts come from the same transaction as the change: the tenant's limits
and own policies, the owners' live status and entitlements, the parent, the
depth of its chain and its children's bounds. An allowed change's audit event
joins its transaction; a denied one travels with the 403 (``Denied``) to be
recorded on its own. A dry run (``trial``) records decisions instead, and its
transaction is rolled back.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import logging
from collections.abc import Iterator

import msgspec

from app.audit.events import event as audit_event
from app.domain.actor import Actor
from app.domain.audit import AuditEvent
from app.domain.lifecycle import State
from app.domain.resource import OwnerRef, Resource
from app.domain.tenancy import Tenant
from app.policy import proposal as p
from app.policy.engine import Decision, PolicyEngine
from app.provisioning import nhi
from app.provisioning.governance import Governance
from app.scim.errors import Forbidden, NotFound
from app.store.uow import UnitOfWork

log = logging.getLogger("tenure.policy")


class Denied(Forbidden):
    """A policy deny: 403 whose detail names the deciding policies (RFC 7644 §3.12).

    Carries its audit event: the change's transaction rolls back, and the
    pipeline records the denial in a short transaction of its own.
    """

    def __init__(self, decision: Decision, event: AuditEvent) -> None:
        super().__init__(decision.explain())
        self.decision = decision
        self.event = event


class Verdict(msgspec.Struct, frozen=True, kw_only=True):
    """One decision of a dry run: which identity, and what Cedar said."""

    resource_type: str
    resource_id: str
    decision: Decision


_trial: contextvars.ContextVar[list[Verdict] | None] = contextvars.ContextVar(
    "tenure_policy_trial", default=None
)


@contextlib.contextmanager
def trial() -> Iterator[list[Verdict]]:
    """Within this block decisions are recorded, not enforced (``/admin/policies/evaluate``)."""
    verdicts: list[Verdict] = []
    token = _trial.set(verdicts)
    try:
        yield verdicts
    finally:
        _trial.reset(token)


class Judge:
    def __init__(self, engine: PolicyEngine, governance: Governance) -> None:
        self.engine = engine
        self._governance = governance

    async def decide(
        self,
        uow: UnitOfWork,
        actor: Actor,
        kind: str,
        before: Resource | None,
        after: Resource,
        *,
        now: dt.datetime,
        changed: tuple[str, ...] | list[str] | set[str] = (),
        owners: tuple[OwnerRef, ...] | None = None,
        reason: str = "request",
    ) -> Decision:
        """Decide ``kind`` of ``before`` → ``after``; raise Denied unless every action is allowed.

        ``owners`` are the owners and sponsors after the change when it names
        them; otherwise ``after`` keeps those of ``before``.
        """
        tenant = await self._tenant(uow, after.tenant_id)
        proposal = await self._proposal(
            uow, tenant, kind, before, after, now=now, changed=changed, owners=owners, reason=reason
        )
        decision = self.engine.decide(actor, proposal, now, tenant.policies)
        shown = after if owners is None else msgspec.structs.replace(after, owners=owners)
        await self._enforce(uow, tenant, actor, before, shown, changed, proposal, decision, now)
        return decision

    async def decide_subtree(
        self,
        uow: UnitOfWork,
        actor: Actor,
        kind: str,
        subtree: list[Resource],
        *,
        now: dt.datetime,
        reason: str,
    ) -> None:
        """A teardown and its cascade (the root first), decided in one batch."""
        tenant = await self._tenant(uow, subtree[0].tenant_id)
        proposals = [
            await self._proposal(
                uow, tenant, kind, r, r, now=now, reason=reason if i == 0 else "cascade"
            )
            for i, r in enumerate(subtree)
        ]
        # As the cascade would leave them: each child's parent is torn down with it.
        proposals[1:] = [_parent_gone(q) for q in proposals[1:]]
        decisions = self.engine.decide_many(actor, proposals, now, tenant.policies)
        for resource, proposal, decision in zip(subtree, proposals, decisions, strict=True):
            await self._enforce(uow, tenant, actor, resource, resource, (), proposal, decision, now)

    async def decide_each(
        self,
        uow: UnitOfWork,
        actor: Actor,
        kind: str,
        changes: list[tuple[Resource, Resource, set[str]]],
        *,
        now: dt.datetime,
        reason: str,
    ) -> list[Decision]:
        """Many independent changes of one tenant in one batch (the sweeper's).

        Unlike ``decide`` a deny raises nothing: its audit event joins this
        transaction and the caller leaves that one change out.
        """
        tenant = await self._tenant(uow, changes[0][1].tenant_id)
        proposals = [
            await self._proposal(uow, tenant, kind, b, a, now=now, changed=c, reason=reason)
            for b, a, c in changes
        ]
        decisions = self.engine.decide_many(actor, proposals, now, tenant.policies)
        events: list[AuditEvent] = []
        for (before, after, changed), proposal, decision in zip(
            changes, proposals, decisions, strict=True
        ):
            try:
                await self._enforce(
                    uow, tenant, actor, before, after, changed, proposal, decision, now,
                    events=events,
                )  # fmt: skip
            except Denied as denied:
                events.append(denied.event)
        if events and _trial.get() is None:
            await uow.audit.append_many(events)
        return decisions

    async def _tenant(self, uow: UnitOfWork, tenant_id: str) -> Tenant:
        tenant = await uow.tenants.get(tenant_id)
        if tenant is None:
            raise NotFound(f"no tenant {tenant_id!r}")
        return tenant

    async def _proposal(
        self,
        uow: UnitOfWork,
        tenant: Tenant,
        kind: str,
        before: Resource | None,
        after: Resource,
        *,
        now: dt.datetime,
        changed: tuple[str, ...] | list[str] | set[str] = (),
        owners: tuple[OwnerRef, ...] | None = None,
        reason: str = "request",
    ) -> p.Proposal:
        """What Cedar judges, with the facts loaded from this transaction."""
        governed = nhi.governed(after.resource_type, after.doc) or (
            before is not None and nhi.governed(before.resource_type, before.doc)
        )
        lifetimes = self._governance.defaults.for_tenant(tenant.settings)
        parent, depth = (None, 1)
        if governed:
            parent, depth = await self._governance.parent(
                uow, after.tenant_id, after.doc, lifetimes, retired=True
            )
        kept = after.owners if after.owners is not None else (before.owners if before else None)
        after_identity = p.identity_of(
            after,
            governed=governed,
            now=now,
            owners=owners if owners is not None else (kept or ()),
            parent=p.identity_of(parent, governed=True, now=now) if parent else None,
        )
        before_identity = (
            p.identity_of(before, governed=governed, now=now, owners=before.owners or ())
            if before is not None
            else None
        )
        names = p.changed_names(changed)
        children = None
        if governed and before is not None and {"expiresAt", "scopes"} & set(names):
            children = await uow.resources.children_bounds(after.tenant_id, after.id)
        return p.Proposal(
            actions=p.actions_for(kind, before_identity, after_identity, names),
            identity=after_identity,
            before=before_identity,
            changed=names,
            depth=depth,
            limits=lifetimes.limits,
            reason=reason,
            children_end=children[0] if children else None,
            children_scopes=tuple(sorted(children[1])) or None if children else None,
        )

    async def _enforce(
        self,
        uow: UnitOfWork,
        tenant: Tenant,
        actor: Actor,
        before: Resource | None,
        after: Resource,
        changed: tuple[str, ...] | list[str] | set[str],
        proposal: p.Proposal,
        decision: Decision,
        now: dt.datetime,
        events: list[AuditEvent] | None = None,
    ) -> None:
        """Record the decision: audit it with the change, or refuse with its event.

        ``events`` collects an allowed change's event for the caller to write
        with its batch's.
        """
        verdicts = _trial.get()
        if verdicts is not None:
            verdicts.append(
                Verdict(resource_type=after.resource_type, resource_id=after.id, decision=decision)
            )
            return
        event = audit_event(
            actor,
            actions=decision.actions or proposal.actions,
            before=before,
            after=after,
            changed=changed,
            allowed=decision.allowed,
            policy_ids=decision.policy_ids,
            at=now,
            reason=proposal.reason,
            detail=None if decision.allowed else decision.explain(),
        )
        if decision.allowed:
            if events is not None:
                events.append(event)
            else:
                await uow.audit.append(event)
            return
        log.warning(
            "policy denied a change",
            extra={
                "tenant": tenant.id,
                "token": actor.token_id,
                "actions": list(decision.actions),
                "resource_type": after.resource_type,
                "resource_id": after.id,
                "policies": list(decision.policy_ids),
            },
        )
        raise Denied(decision, event)


def _parent_gone(proposal: p.Proposal) -> p.Proposal:
    parent = proposal.identity.parent
    if parent is None:
        return proposal
    gone = msgspec.structs.replace(parent, state=State.DEPROVISIONED.value)
    return msgspec.structs.replace(
        proposal, identity=msgspec.structs.replace(proposal.identity, parent=gone)
    )
