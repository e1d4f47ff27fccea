"""What Cedar judges of a change (DESIGN.md "Policies"): the facts, loaded from its transaction.

The tenant's limits and own policies, the owners' live status and
entitlements, the parent, the depth of its chain and its children's bounds.
A batch of changes is judged as it would stand once written: a child whose
parent changes in the same batch sees that parent as it will be.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import msgspec

from app.domain.actor import Actor
from app.domain.lifecycle import State
from app.domain.resource import OwnerRef, Resource
from app.domain.tenancy import Tenant
from app.policy import proposal as p
from app.policy.engine import Decision, PolicyEngine
from app.provisioning import nhi
from app.provisioning.governance import Governance
from app.store.uow import UnitOfWork


class Question(msgspec.Struct, frozen=True, kw_only=True):
    """One change as the judge hears it: who, which action, from what to what."""

    actor: Actor
    kind: str  # the Cedar action before refinement (policy.proposal.actions_for)
    before: Resource | None
    after: Resource
    changed: frozenset[str] = frozenset()
    owners: tuple[OwnerRef, ...] | None = None  # after the change, when it names them
    reason: str = "request"
    gone: bool = False  # its children see it deprovisioned (a teardown)


class Judge:
    def __init__(self, engine: PolicyEngine, governance: Governance) -> None:
        self.engine = engine
        self._governance = governance

    async def decide(
        self, uow: UnitOfWork, tenant: Tenant, questions: Sequence[Question], now: dt.datetime
    ) -> list[tuple[p.Proposal, Decision]]:
        """Every question in one Cedar batch (per caller), with the facts it needs."""
        in_batch = {q.after.id: q for q in questions}
        proposals = [await self._proposal(uow, tenant, q, now, in_batch) for q in questions]
        decisions: list[Decision] = [Decision(allowed=False)] * len(questions)
        by_actor: dict[str, list[int]] = {}
        for index, question in enumerate(questions):
            by_actor.setdefault(question.actor.token_id, []).append(index)
        for indexes in by_actor.values():
            actor = questions[indexes[0]].actor
            found = self.engine.decide_many(
                actor, [proposals[i] for i in indexes], now, tenant.policies
            )
            for index, decision in zip(indexes, found, strict=True):
                decisions[index] = decision
        return list(zip(proposals, decisions, strict=True))

    async def _proposal(
        self,
        uow: UnitOfWork,
        tenant: Tenant,
        question: Question,
        now: dt.datetime,
        in_batch: dict[str, Question],
    ) -> p.Proposal:
        before, after = question.before, question.after
        governed = nhi.governed(after.resource_type, after.doc) or (
            before is not None and nhi.governed(before.resource_type, before.doc)
        )
        lifetimes = self._governance.defaults.for_tenant(tenant.settings)
        parent, depth = (None, 1)
        if governed:
            parent, depth = await self._governance.parent(
                uow, after.tenant_id, after.doc, lifetimes, retired=True
            )
        parent_view = None
        if parent is not None:
            changing = in_batch.get(parent.id)
            parent_view = p.identity_of(
                changing.after if changing else parent, governed=True, now=now
            )
            if changing is not None and changing.gone:
                parent_view = msgspec.structs.replace(parent_view, state=State.DEPROVISIONED.value)
        kept = after.owners if after.owners is not None else (before.owners if before else None)
        owners = question.owners if question.owners is not None else (kept or ())
        after_identity = p.identity_of(
            after, governed=governed, now=now, owners=owners, parent=parent_view
        )
        before_identity = (
            p.identity_of(before, governed=governed, now=now, owners=before.owners or ())
            if before is not None
            else None
        )
        names = p.changed_names(question.changed)
        children = None
        if governed and before is not None and {"expiresAt", "scopes"} & set(names):
            children = await uow.of(after.tenant_id).resources.children_bounds(after.id)
        return p.Proposal(
            actions=p.actions_for(question.kind, before_identity, after_identity, names),
            identity=after_identity,
            before=before_identity,
            changed=names,
            depth=depth,
            limits=lifetimes.limits,
            reason=question.reason,
            children_end=children[0] if children else None,
            children_scopes=tuple(sorted(children[1])) or None if children else None,
        )
