"""Orphans (DESIGN.md "Lifecycle"): when an owner leaves, what it owned is handed over or flagged.

Runs in the same transaction as the change to the owner (a User deactivated
or deleted, a Group deleted). Each identity left without an active owner is
handed to an active sponsor or, if the tenant allows, to the departed owner's
active manager (enterprise extension) — a ``transferOwnership`` by the
scheduler; failing both it is flagged (``orphanedAt``, and ``suspendAt`` after
the tenant's orphan grace) for the sweeper to suspend unless an owner is
assigned first. An owner coming back clears the flag. Every step is decided
by Cedar like any change (``tenure.scheduler.due``) and audited.
"""

from __future__ import annotations

import datetime as dt

import msgspec

from app.domain.actor import scheduler
from app.domain.governance import write
from app.domain.notifications import Message
from app.domain.resource import OwnerRef, Resource
from app.notify import plan
from app.provisioning import nhi
from app.provisioning.executor import Change, Context, Executor
from app.provisioning.governance import Governance

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def _manager(owner: Resource | None) -> str | None:
    extension = (owner.doc.get(ENTERPRISE) or {}) if owner else {}
    manager = extension.get("manager") if isinstance(extension, dict) else None
    value = manager.get("value") if isinstance(manager, dict) else None
    return value if isinstance(value, str) else None


class Orphans:
    def __init__(self, executor: Executor, governance: Governance) -> None:
        self._executor = executor
        self._governance = governance

    async def owner_changed(self, ctx: Context, owner: Resource) -> None:
        """Settle every identity ``owner`` owns, each a change of its own (a refusal is
        audited and leaves that one as it was: the owner's own change must not fail)."""
        uow = ctx.uow
        store = uow.of(owner.tenant_id)
        for nhi_id, resource_type in await store.owners.owned_by(owner.id):
            identity = await store.resources.get(
                resource_type, nhi_id, lock=True, members=False, groups=False
            )
            if identity is None or not nhi.governed(resource_type, identity.doc):
                continue
            await self._settle(ctx, identity, owner)

    async def _settle(self, ctx: Context, identity: Resource, departed: Resource) -> None:
        refs = identity.owners or ()
        owners_active = any(r.relation == "owner" and r.status == "active" for r in refs)
        flagged = identity.governance.orphaned_at is not None
        if owners_active and flagged:
            await self._execute(ctx, _flag(identity, None, ctx, reason="owner_returned"))
            return
        if owners_active or flagged:
            return
        heir = await self._heir(ctx, identity, departed)
        # A refused hand-over (the heir lacks the entitlements, say) is flagged instead.
        if heir is not None and await self._execute(ctx, _hand_over(identity, heir, ctx)):
            return
        grace = self._governance.lifetimes_of(ctx.tenant).orphan_grace
        await self._execute(ctx, _flag(identity, grace, ctx, reason="orphaned"))

    async def _execute(self, ctx: Context, change: Change) -> bool:
        (decision,) = await self._executor.execute(ctx, [change], each=True)
        return decision.allowed

    async def _heir(self, ctx: Context, identity: Resource, departed: Resource) -> OwnerRef | None:
        """An active sponsor, else the departed owner's active manager if the tenant allows."""
        sponsors = [r for r in identity.owners or () if r.relation == "sponsor"]
        for sponsor in sponsors:
            if sponsor.status == "active":
                return msgspec.structs.replace(sponsor, relation="owner")
        if ctx.tenant.settings.orphan_handover is False:
            return None
        manager = _manager(departed)
        if manager is None:
            return None
        found = await ctx.uow.of(identity.tenant_id).owners.parties([manager], "owner")
        heir = found.get(manager)
        return heir if heir is not None and heir.status == "active" else None


def _flag(identity: Resource, grace: dt.timedelta | None, ctx: Context, reason: str) -> Change:
    """Set (``grace`` given) or clear the orphan flag, as the scheduler's ``flag``."""
    doc = nhi.copy_doc(identity.doc)
    if grace is None:
        write(doc, orphaned_at=None, suspend_at=None)
    else:
        write(doc, orphaned_at=ctx.now, suspend_at=ctx.now + grace)
    after = msgspec.structs.replace(
        identity, doc=doc, version=identity.version + 1, last_modified=ctx.now
    )
    told: tuple[Message, ...] = ()
    if grace is not None:
        told = (
            plan.teardown_step(
                after, step="orphaned", reason="no_active_owner", now=ctx.now,
                base_url=ctx.base_url,
            ),
        )  # fmt: skip
    return Change(
        actor=scheduler(identity.tenant_id), kind="flag", before=identity, after=after,
        changed=frozenset(f"{nhi.GOVERNANCE}:{name}" for name in nhi.ORPHAN_FLAGS),
        reason=reason, messages=told,
    )  # fmt: skip


def _hand_over(identity: Resource, heir: OwnerRef, ctx: Context) -> Change:
    """The identity's owner becomes ``heir`` (its sponsors stay), the scheduler's update."""
    sponsors = tuple(r for r in identity.owners or () if r.relation == "sponsor")
    owners = (heir, *sponsors)
    after = msgspec.structs.replace(
        identity, version=identity.version + 1, last_modified=ctx.now, owners=owners
    )
    step = plan.teardown_step(
        after, step="handed_over", reason="owner_left", now=ctx.now, base_url=ctx.base_url
    )
    return Change(
        actor=scheduler(identity.tenant_id), kind="update", before=identity, after=after,
        changed=frozenset({"owners"}), refs=nhi.Refs(owners={heir.value: heir.display},
                                                     sponsors=None),
        owners=owners, reason="orphaned", messages=(step,),
    )  # fmt: skip
