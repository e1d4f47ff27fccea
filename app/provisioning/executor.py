"""The one place every change is decided, written, audited and notified (DESIGN.md).

Planners (mutation.py, orphans.py, retirement.py) turn a command into
``Change`` values: the identity before and after, what changed, the relations
and memberships to write, the notifications it causes. ``Executor.execute``
takes a batch of them, in one transaction:

1. Cedar decides them all in one batch (``Judge``); a deny raises ``Denied``
   with its audit event, and the transaction rolls back — or, for changes that
   stand on their own (``each=True``: a sweep, an orphan's hand-over), the
   denied ones are left out and their denials audited with the rest;
2. the store writes them, in order;
3. their audit events are appended (the sequencer links them after commit);
4. their notifications are planned into the outbox.

A dry run (``Context.verdicts``) records every decision, denies nothing and
audits nothing; its caller rolls the transaction back.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
from collections.abc import Sequence

import msgspec

from app.audit.events import event as audit_event
from app.domain.actor import Actor
from app.domain.audit import AuditEvent
from app.domain.notifications import Message
from app.domain.resource import OwnerRef, Resource
from app.domain.tenancy import Tenant
from app.notify.routing import route
from app.policy.engine import Decision
from app.provisioning import nhi
from app.provisioning.governance import Governance
from app.provisioning.judge import Judge, Question
from app.scim.errors import Forbidden, NotFound
from app.store.retirements import Retirement
from app.store.uow import TenantStore, UnitOfWork

log = logging.getLogger("tenure.policy")


class Denied(Forbidden):
    """A policy deny: 403 whose detail names the deciding policies (RFC 7644 §3.12).

    Carries its audit event: the change's transaction rolls back, and the
    caller records the denial in a short transaction of its own.
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


class Write(enum.Enum):
    """What the store does with a decided change."""

    ADD = "add"  # a new resource
    REPLACE = "replace"  # over its previous version
    DELETE = "delete"  # a User or Group, for good (memberships go with it)
    TOMBSTONE = "tombstone"  # a governed identity deprovisioned: the row kept
    RETIRE = "retire"  # a client's DELETE: suspended, out of its Groups, 404, restorable
    UNDELETE = "undelete"  # a restore: live again, back in its Groups
    NONE = "none"  # decided only (a PATCH that changes nothing)


class Change(msgspec.Struct, frozen=True, kw_only=True):
    """One resource's step, planned: everything the executor needs to carry it out."""

    actor: Actor
    kind: str  # the Cedar action before refinement: create, update, delete, suspend, …
    before: Resource | None
    after: Resource
    write: Write = Write.REPLACE
    changed: frozenset[str] = frozenset()
    refs: nhi.Refs | None = None  # the owners / sponsors it names, as the client sent them
    owners: tuple[OwnerRef, ...] | None = None  # …resolved (live status), after the change
    reason: str = "request"
    members_changed: bool = False  # a Group's members were replaced with ``after.members``
    leave_groups: bool = False  # out of every Group it is in (a suspension)
    join_groups: tuple[str, ...] = ()  # back into these (a restore)
    retirement: Retirement | None = None  # what a restore will need (RETIRE)
    messages: tuple[Message, ...] = ()


class Context(msgspec.Struct, kw_only=True):
    """What one run of a command loads once and every step of it shares."""

    uow: UnitOfWork
    tenant: Tenant
    now: dt.datetime
    base_url: str = ""
    email: bool = False
    verdicts: list[Verdict] | None = None  # a dry run's decisions, when it is one

    @property
    def dry_run(self) -> bool:
        return self.verdicts is not None

    @property
    def store(self) -> TenantStore:
        """The tenant's resources, memberships and owners, bound to it."""
        return self.uow.of(self.tenant.id)


class Executor:
    def __init__(self, judge: Judge, governance: Governance) -> None:
        self.judge = judge
        self._governance = governance

    async def execute(
        self, ctx: Context, changes: Sequence[Change], *, each: bool = False
    ) -> list[Decision]:
        """Decide ``changes`` in one batch, then write, audit and notify them (see above).

        ``each``: the changes stand on their own; a denied one is left out, audited.
        """
        if not changes:
            return []
        judged = await self.judge.decide(
            ctx.uow, ctx.tenant, [_question(c) for c in changes], ctx.now
        )
        events: list[AuditEvent] = []
        written: list[Change] = []
        for change, (proposal, decision) in zip(changes, judged, strict=True):
            if ctx.verdicts is not None:
                ctx.verdicts.append(
                    Verdict(
                        resource_type=change.after.resource_type,
                        resource_id=change.after.id,
                        decision=decision,
                    )
                )
                written.append(change)  # as if allowed, so later steps plan what follows
                continue
            event = audit_event(
                change.actor,
                actions=decision.actions or proposal.actions,
                before=change.before,
                after=_shown(change),
                changed=change.changed,
                allowed=decision.allowed,
                policy_ids=decision.policy_ids,
                at=ctx.now,
                reason=proposal.reason,
                detail=None if decision.allowed else decision.explain(),
            )
            if not decision.allowed:
                _log_denial(ctx.tenant, change, decision)
                if not each:
                    raise Denied(decision, event)
            events.append(event)
            if decision.allowed:
                written.append(change)
        for change in written:
            await self._write(ctx, change)
        if ctx.verdicts is None:
            if events:
                await ctx.uow.audit.append_many(events)
            messages = [m for c in written for m in c.messages]
            if messages:
                await route(ctx.uow, messages, email=ctx.email)
        return [decision for _, decision in judged]

    async def _write(self, ctx: Context, change: Change) -> None:
        uow, store, after = ctx.uow, ctx.store, change.after
        if change.write is Write.ADD:
            await store.resources.add(after)
        elif change.write is Write.REPLACE:
            await store.resources.replace(after, members_changed=change.members_changed)
        elif change.write is Write.DELETE:
            containing = await store.memberships.groups_with_member(after.id)
            await store.resources.delete(after.resource_type, after.id)
            await store.memberships.touch(containing, ctx.now)
        elif change.write is Write.TOMBSTONE:
            await self._governance.tombstone(store, after, ctx.now)
            await uow.retirements.forget(after.tenant_id, [after.id])
        elif change.write is Write.RETIRE:
            await store.resources.replace(after)
            groups = await store.memberships.direct_groups([after.id])
            await store.memberships.leave_groups(after.id, ctx.now)
            await store.resources.mark_deleted(after, ctx.now)
            assert change.retirement is not None
            record = msgspec.structs.replace(change.retirement, groups=tuple(groups[after.id]))
            await uow.retirements.record([record])
        elif change.write is Write.UNDELETE:
            await store.resources.undelete(after)
            await store.memberships.join_groups(after, change.join_groups, ctx.now)
            await uow.retirements.forget(after.tenant_id, [after.id])
        if change.refs is not None and change.owners is not None:
            await self._governance.write_refs(store, after, change.refs, change.owners)
        if change.leave_groups:
            await store.memberships.leave_groups(after.id, ctx.now)


def _question(change: Change) -> Question:
    # A decision on a resource that goes (a delete, a teardown) is about it as it is.
    gone = change.write in (Write.DELETE, Write.TOMBSTONE)
    return Question(
        actor=change.actor,
        kind=change.kind,
        before=change.before,
        after=change.after,
        changed=change.changed,
        owners=change.owners,
        reason=change.reason,
        gone=gone,
    )


def _shown(change: Change) -> Resource:
    """The resource as its audit event shows it: with the owners the change names."""
    if change.owners is None:
        return change.after
    return msgspec.structs.replace(change.after, owners=change.owners)


def _log_denial(tenant: Tenant, change: Change, decision: Decision) -> None:
    log.warning(
        "policy denied a change",
        extra={
            "tenant": tenant.id,
            "token": change.actor.token_id,
            "actions": list(decision.actions),
            "resource_type": change.after.resource_type,
            "resource_id": change.after.id,
            "policies": list(decision.policy_ids),
        },
    )


async def load_context(
    uow: UnitOfWork, tenant_id: str, now: dt.datetime, **options: object
) -> Context:
    """A command's context: its tenant (settings, limits, own policies), read once."""
    tenant = await uow.tenants.get(tenant_id)
    if tenant is None:
        raise NotFound(f"no tenant {tenant_id!r}")
    return Context(uow=uow, tenant=tenant, now=now, **options)  # type: ignore[arg-type]
