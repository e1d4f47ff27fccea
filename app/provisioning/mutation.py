"""SCIM and scheduler commands (DESIGN.md "The one path"): load, plan, hand to the executor.

A ``Mutation`` is decoded once at the edge. ``Provisioning.run`` opens its one
transaction and loads its ``Context`` (the tenant, read once), reads the
resource (locked, version-checked), plans the ``Change`` (the pure rules are in
nhi.py, compute.py, scim/patch.py) and hands it to ``Executor.execute``, the
only place that decides, writes, audits and notifies. Follow-ups — a suspended
parent's subtree, what a departed owner leaves behind, Users the tenant's
agentUsers rule picks out — are more changes planned into the same transaction.
A deny rolls it all back; its audit event is then written on its own.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import msgspec

from app.domain.actor import Actor, scheduler
from app.domain.clock import Clock
from app.domain.governance import write
from app.domain.lifecycle import State
from app.domain.notifications import Message
from app.domain.resource import OwnerRef, Resource
from app.notify import plan
from app.provisioning import members, nhi
from app.provisioning.adoption import Adoption
from app.provisioning.commands import CEDAR_ACTION, Mutation, MutationKind
from app.provisioning.compute import (
    changed_paths,
    check_if_match,
    draft_create,
    draft_replace,
)
from app.provisioning.executor import (
    Change,
    Context,
    Denied,
    Executor,
    Verdict,
    Write,
    load_context,
)
from app.provisioning.governance import (
    Governance,
    named_refs,
    sends_governance,
    subtree,
    with_aliases,
)
from app.provisioning.judge import Judge
from app.provisioning.memberships import apply_member_delta, resolve_members
from app.provisioning.orphans import Orphans
from app.provisioning.retirement import Retirements
from app.scim.codec import asserts
from app.scim.errors import Forbidden, InvalidValue, Mutability, NotFound
from app.scim.patch import apply_patch, read_patch
from app.scim.schema import Registry, ResourceType
from app.store.promoted import due_at
from app.store.uow import Database, UnitOfWork


class Provisioning:
    """Runs Mutations against the store; the only writer of SCIM resources."""

    def __init__(
        self,
        db: Database,
        registry: Registry,
        clock: Clock,
        governance: Governance,
        judge: Judge,
    ) -> None:
        self._db = db
        self._registry = registry
        self._clock = clock
        self._governance = governance
        self.judge = judge
        self.executor = Executor(judge, governance)
        self.orphans = Orphans(self.executor, governance)
        self.adoption = Adoption(self.executor, governance)
        self.retirements = Retirements(self.executor, governance)
        # Told when a change makes an identity due (the lifecycle scheduler's alarm).
        self.on_due: Callable[[dt.datetime], None] | None = None
        # Where notifications link to (TENURE_PUBLIC_URL, else the listening address),
        # and whether owners are e-mailed too (SMTP is configured).
        self.base_url = ""
        self.email = False
        # Owners are warned this many days before an end (a tenant's own setting wins).
        self.warning_days: tuple[int, ...] = (14, 3, 1)

    async def run(self, mutation: Mutation) -> Resource | None:
        """Apply ``mutation``; returns the state after (None for a delete)."""
        tenant_id = _tenant_of(mutation.actor)
        resource_type = self._registry.resource_type(mutation.resource_type)
        try:
            async with self._db.uow(write=True) as uow:
                ctx = await self._context(uow, tenant_id)
                after = await self._apply(ctx, mutation, resource_type)
                if after is not None and mutation.kind is not MutationKind.DELETE:
                    after = await self._with_relations(uow, after, mutation)
                await uow.commit()
        except Denied as denied:
            # The change rolled back; its denial is recorded on its own.
            async with self._db.uow(write=True) as uow:
                await uow.audit.append(denied.event)
                await uow.commit()
            raise
        # A deleted identity is due at its teardown: the alarm hears of it too.
        due = due_at(after.doc) if after is not None else None
        if due is not None and self.on_due is not None:
            self.on_due(due)
        return None if mutation.kind is MutationKind.DELETE else after

    async def suspend_many(
        self, tenant_id: str, targets: list[tuple[str, str]], reason: str
    ) -> list[tuple[str, str | None]]:
        """The scheduler's suspensions of many identities of one tenant, in one transaction.

        Each is what ``_suspend`` does to one (decided, audited, out of its
        Groups, notified), with one Cedar batch for all; a denied one is left
        as it was. Returns (id, None) for each suspended, (id, why) for each not.
        """
        actor = scheduler(tenant_id)
        async with self._db.uow(write=True) as uow:
            ctx = await self._context(uow, tenant_id)
            grace = self._governance.lifetimes_of(ctx.tenant).teardown_grace
            found = {
                r.id: r
                for r in await uow.of(tenant_id).resources.get_many(
                    [i for _, i in targets], lock=True
                )
            }
            skipped: list[tuple[str, str | None]] = []
            changes: list[Change] = []
            for resource_type, resource_id in targets:
                before = found.get(resource_id)
                if before is None or not nhi.governed(resource_type, before.doc):
                    skipped.append((resource_id, "not found"))
                    continue
                after, changed = nhi.suspended(before, reason, ctx.now, grace)
                step = plan.teardown_step(
                    after, step="suspended", reason=reason, now=ctx.now, base_url=self.base_url
                )
                changes.append(
                    Change(
                        actor=actor,
                        kind="suspend",
                        before=before,
                        after=after,
                        changed=frozenset(changed),
                        reason=reason,
                        leave_groups=True,
                        messages=(step,),
                    )
                )
            if not changes:
                return skipped
            decisions = await self.executor.execute(ctx, changes, each=True)
            results: list[tuple[str, str | None]] = []
            for change, decision in zip(changes, decisions, strict=True):
                results.append((change.after.id, None if decision.allowed else decision.explain()))
            for change, decision in zip(changes, decisions, strict=True):
                if decision.allowed:
                    await self._suspend_subtree(ctx, change.after)
            await uow.commit()
        return results + skipped

    async def restore(self, actor: Actor, resource_id: str) -> Resource:
        """``POST /admin/identities/{id}/restore``: a deleted identity back (``_restore``)."""
        async with self._db.uow() as uow:
            found = await uow.retirements.get(_tenant_of(actor), resource_id)
        if found is None:
            raise NotFound(f"no deleted identity {resource_id} that can still be restored")
        restored = await self.run(
            Mutation(
                kind=MutationKind.RESTORE,
                actor=actor,
                resource_type=found.resource_type,
                resource_id=resource_id,
            )
        )
        assert restored is not None
        return restored

    async def evaluate(self, mutation: Mutation) -> tuple[list[Verdict], Resource | None]:
        """A dry run: every decision ``mutation`` would meet, and nothing written.

        The change runs in full inside a transaction that is rolled back, so
        what Cedar sees is exactly what a real run would give it.
        """
        tenant_id = _tenant_of(mutation.actor)
        resource_type = self._registry.resource_type(mutation.resource_type)
        verdicts: list[Verdict] = []
        async with self._db.uow(write=True) as uow:
            ctx = await self._context(uow, tenant_id, verdicts)
            after = await self._apply(ctx, mutation, resource_type)
            # No commit: leaving the block rolls everything back.
        return verdicts, after

    async def _context(
        self, uow: UnitOfWork, tenant_id: str, verdicts: list[Verdict] | None = None
    ) -> Context:
        return await load_context(
            uow, tenant_id, self._clock.now(), base_url=self.base_url, email=self.email,
            verdicts=verdicts,
        )  # fmt: skip

    async def _apply(
        self, ctx: Context, mutation: Mutation, resource_type: ResourceType
    ) -> Resource | None:
        body = with_aliases(mutation.body or {})
        if mutation.kind is MutationKind.CREATE:
            return await self._create(ctx, mutation, body, resource_type)
        assert mutation.resource_id is not None
        # Locked, without side tables: a group of 100,000 members is not read to rename it;
        # a User's few Groups are read with it when the answer shows them (no read back).
        # A deleted identity is out of reach of every SCIM verb; only its teardown and a
        # restore find it.
        wants_groups = mutation.with_groups and mutation.kind in (
            MutationKind.REPLACE, MutationKind.PATCH,
        )  # fmt: skip
        before = await ctx.store.resources.get(
            mutation.resource_type, mutation.resource_id, lock=True,
            members=False, groups=wants_groups and resource_type.name != "Group",
            retired=mutation.kind in (MutationKind.TEARDOWN, MutationKind.RESTORE),
        )  # fmt: skip
        if before is None:
            raise NotFound(f"{mutation.resource_type} {mutation.resource_id} not found")
        check_if_match(mutation.if_match, before)
        if mutation.kind is MutationKind.RESTORE:
            return await self.retirements.restore(ctx, mutation.actor, before, mutation.reason)
        if mutation.kind is MutationKind.DELETE and nhi.governed(before.resource_type, before.doc):
            return await self.retirements.retire(ctx, mutation.actor, before, mutation.reason)
        if mutation.kind in (MutationKind.DELETE, MutationKind.TEARDOWN):
            await self._delete(ctx, mutation, before)
            return None
        if mutation.kind is MutationKind.SUSPEND:
            return await self._suspend(ctx, mutation, before)
        if mutation.kind is MutationKind.REPLACE:
            return await self._replace(ctx, mutation, before, body, resource_type)
        return await self._patch(ctx, mutation, before, body, resource_type)

    async def _create(
        self, ctx: Context, mutation: Mutation, body: dict[str, Any], resource_type: ResourceType
    ) -> Resource:
        uow = ctx.uow
        draft = draft_create(
            body, resource_type, tenant_id=ctx.tenant.id, resource_id=str(uuid.uuid4()),
            now=ctx.now,
        )  # fmt: skip
        after = await resolve_members(uow, draft)
        after = await self._governance.adopted(uow, after, groups={}) or after
        nhi.check_extensions(resource_type.name, after.doc)
        refs = resolved = None
        if nhi.governed(resource_type.name, after.doc):
            doc = dict(after.doc)
            refs = nhi.take_refs(doc, named_refs(body, resource_type))
            if resource_type.name == "User" and refs.owners is None:
                owner = await self._governance.user_owner(uow, after)
                refs = msgspec.structs.replace(refs, owners={owner: None}) if owner else refs
            after, refs = await self._governance.created(
                uow, msgspec.structs.replace(after, doc=doc), refs, mutation.actor, ctx.now
            )
            resolved = await self._governance.resolve_refs(uow, after, refs)
        change = Change(
            actor=mutation.actor, kind="create", before=None, after=after, write=Write.ADD,
            refs=refs, owners=resolved or (),
            messages=self._warned_at_once(ctx, None, _told(None, after, resolved)),
        )  # fmt: skip
        await self.executor.execute(ctx, [change])
        if after.resource_type == "Group" and after.members:
            await self.adoption.adopt(ctx, mutation.actor, after)
        if after.resource_type != "Group":
            after = msgspec.structs.replace(after, groups=())  # new: a member of no Group yet
        return after

    def _warned_at_once(
        self, ctx: Context, before: Resource | None, told: Resource
    ) -> tuple[Message, ...]:
        """``plan.warned_at_once`` for a governed identity (``told``: with its owners)."""
        if not nhi.governed(told.resource_type, told.doc):
            return ()
        leads = ctx.tenant.settings.warning_days or self.warning_days
        found = plan.warned_at_once(before, told, leads=leads, now=ctx.now, base_url=self.base_url)
        return tuple(found)

    async def _replace(
        self,
        ctx: Context,
        mutation: Mutation,
        before: Resource,
        body: dict[str, Any],
        resource_type: ResourceType,
    ) -> Resource:
        draft = draft_replace(before, body, resource_type, now=ctx.now)
        after = await resolve_members(ctx.uow, draft)
        nhi.check_extensions(resource_type.name, after.doc)
        changed = changed_paths(before, after)
        refs = None
        enrolled = _enrolls(before, after)
        if nhi.governed(resource_type.name, before.doc) or enrolled:
            doc = dict(after.doc)
            refs = nhi.take_refs(doc, named_refs(body, resource_type))
            after = msgspec.structs.replace(after, doc=doc)
            if enrolled:
                after, refs = await self.adoption.enrolled(ctx, mutation.actor, after, refs)
            else:
                after = self._governance.changed(
                    before,
                    after,
                    active_named=asserts(body, resource_type, "active"),
                    now=ctx.now,
                    extension_sent=sends_governance(body),
                )
            changed = changed_paths(before, after) | _named(refs)
        return await self._write(
            ctx, mutation, before, after, changed, refs,
            members_changed=draft.members is not None, enrolled=enrolled,
        )  # fmt: skip

    async def _write(
        self,
        ctx: Context,
        mutation: Mutation,
        before: Resource,
        after: Resource,
        changed: set[str],
        refs: nhi.Refs | None,
        *,
        members_changed: bool = False,
        enrolled: bool = False,
        leave_groups: bool = False,
        messages: tuple[Message, ...] = (),
    ) -> Resource:
        """Plan a replace, patch or suspension with its owners, execute it, then its follow-ups.

        An orphan given an active owner is no orphan any more; a User or Group
        that stops being an active owner leaves its identities to ``orphans``. A
        User the write makes governed (``enrolled``) is decided as a ``create``
        of the identity, as if it had been registered so.
        """
        uow = ctx.uow
        resolved = await self._governance.resolve_refs(uow, before, refs) if refs else None
        if nhi.governed(after.resource_type, after.doc):
            after = self._governance.reattested(ctx.tenant, before, after)
        if resolved is not None and any(
            r.relation == "owner" and r.status == "active" for r in resolved
        ):
            after, changed = _unflagged(after, changed)
        told = _told(before, after, resolved)
        messages += self._warned_at_once(ctx, before, told)
        if not messages and _suspends(before, after):
            # A client's own suspension (``active: false``): its owners hear of it too.
            reason = after.governance.suspended_reason or "requested"
            messages = (
                plan.teardown_step(
                    told, step="suspended", reason=reason, now=ctx.now, base_url=self.base_url
                ),
            )
        change = Change(
            actor=mutation.actor, kind="create" if enrolled else CEDAR_ACTION[mutation.kind],
            before=before, after=after, changed=frozenset(changed), refs=refs, owners=resolved,
            reason=mutation.reason, members_changed=members_changed, leave_groups=leave_groups,
            messages=messages,
        )  # fmt: skip
        await self.executor.execute(ctx, [change])
        if _suspends(before, after):
            await self._suspend_subtree(ctx, after)
        owner_moved = (
            after.resource_type == "User" and before.doc.get("active") != after.doc.get("active")
        ) or (after.resource_type == "Group" and ("members" in changed or members_changed))
        if owner_moved:
            await self.orphans.owner_changed(ctx, after)
        if after.resource_type == "User" or owner_moved:
            after = await self.adoption.adopt(ctx, mutation.actor, after)
        return after

    async def _delete(self, ctx: Context, mutation: Mutation, before: Resource) -> None:
        """Hard for Users and Groups; a teardown deprovisions a governed identity for good.

        Tearing down a parent tears down its subtree (Vault's token hierarchy):
        each child is decided too (reason ``cascade``), seeing its parent gone,
        all in one batch.
        """
        action = CEDAR_ACTION[mutation.kind]
        if not nhi.governed(before.resource_type, before.doc):
            change = Change(
                actor=mutation.actor, kind=action, before=before, after=before,
                write=Write.DELETE, reason=mutation.reason,
            )  # fmt: skip
            await self.executor.execute(ctx, [change])
            # What it owned keeps the reference (status "removed") and is settled now.
            await self.orphans.owner_changed(ctx, before)
            return
        changes = []
        for resource in await subtree(ctx.uow, before):
            reason = mutation.reason if resource is before else "cascade"
            step = plan.teardown_step(
                resource, step="deprovisioned", reason=reason, now=ctx.now,
                base_url=self.base_url,
            )  # fmt: skip
            changes.append(
                Change(
                    actor=mutation.actor,
                    kind=action,
                    before=resource,
                    after=resource,
                    write=Write.TOMBSTONE,
                    reason=reason,
                    messages=(step,),
                )
            )
        await self.executor.execute(ctx, changes)

    async def _suspend(self, ctx: Context, mutation: Mutation, before: Resource) -> Resource:
        """The scheduler's suspension: inactive, out of its Groups, torn down after the grace.

        All in the one transaction, so no identity is ever left half suspended.
        """
        if not nhi.governed(before.resource_type, before.doc):
            raise InvalidValue(f"a {before.resource_type} without governance cannot be suspended")
        grace = self._governance.lifetimes_of(ctx.tenant).teardown_grace
        after, changed = nhi.suspended(before, mutation.reason, ctx.now, grace)
        step = plan.teardown_step(
            after, step="suspended", reason=mutation.reason, now=ctx.now, base_url=self.base_url
        )
        return await self._write(
            ctx, mutation, before, after, changed, None, leave_groups=True, messages=(step,)
        )

    async def _suspend_subtree(self, ctx: Context, root: Resource) -> None:
        """A suspended parent's subtree is suspended with it, in one batch.

        By the scheduler (reason ``cascade``): the suspension is the parent's
        consequence, not a choice the caller must be allowed to make child by
        child; each child is judged seeing its parent suspended. A requested
        suspension is mirrored as one (no teardown follows); the scheduler's sets
        each child's teardown time too. A child a policy keeps is left as it is.
        """
        below = (await subtree(ctx.uow, root))[1:]
        descendants = [r for r in below if r.governance.lifecycle_state is State.ACTIVE]
        if not descendants:
            return
        requested = root.governance.suspended_reason == "requested"
        grace = None if requested else self._governance.lifetimes_of(ctx.tenant).teardown_grace
        changes = []
        for child in descendants:
            after, changed = nhi.suspended(child, "cascade", ctx.now, grace)
            changes.append(
                Change(
                    actor=scheduler(root.tenant_id),
                    kind="suspend",
                    before=child,
                    after=after,
                    changed=frozenset(changed),
                    reason="cascade",
                    leave_groups=True,
                )
            )
        await self.executor.execute(ctx, changes, each=True)

    async def _patch(
        self,
        ctx: Context,
        mutation: Mutation,
        before: Resource,
        body: dict[str, Any],
        resource_type: ResourceType,
    ) -> Resource:
        """RFC 7644 §3.5.2: atomic; a PATCH that changes nothing writes nothing.

        A Group's membership delta goes to the members table first, by set-based
        statements whose result says whether anything changed; a deny still
        rolls it back with the rest.
        """
        operations = read_patch(body)
        delta = members.MemberDelta()
        if resource_type.name == "Group":
            operations, delta = members.split(operations)
        current = dict(before.doc)
        if before.external_id is not None:
            current["externalId"] = before.external_id
        governed = nhi.governed(resource_type.name, before.doc)
        if governed:
            current = nhi.with_refs(current, before)
        result = apply_patch(current, operations, resource_type)
        doc = dict(result.doc)
        external_id = doc.pop("externalId", None)
        members_changed = await apply_member_delta(ctx.uow, before, delta, resource_type)
        changed = set(result.changed) | ({"members"} if members_changed else set())
        if not changed:
            # Nothing to write; still the caller's to be allowed (an auditor's no-op is a 403).
            noop = Change(
                actor=mutation.actor, kind="update", before=before, after=before, write=Write.NONE
            )
            await self.executor.execute(ctx, [noop])
            return before
        after = msgspec.structs.replace(
            before,
            doc=doc,
            external_id=external_id,
            version=before.version + 1,
            last_modified=ctx.now,
        )
        refs = None
        nhi.check_extensions(resource_type.name, doc)
        enrolled = _enrolls(before, after)
        if governed and "active" in result.changed and "active" not in result.doc:
            raise Mutability(
                "'active' of a governed identity follows its lifecycle and cannot be removed: "
                "replace it with false to suspend, true to reactivate"
            )
        if governed or enrolled:
            paths = {
                "owners": ("owners", f"{nhi.OWNERS}:owners"),  # core, or a governed User's
                "sponsors": (f"{nhi.GOVERNANCE}:sponsors",),
            }
            named = {
                name
                for name, found in paths.items()
                for path in found
                if any(c == path or c.startswith(path + ".") for c in result.changed)
            }
            doc = dict(doc)
            refs = nhi.take_refs(doc, named)
            refs = nhi.Refs(
                owners=refs.owners if "owners" in named else None,
                sponsors=refs.sponsors if "sponsors" in named else None,
            )
            after = msgspec.structs.replace(after, doc=doc)
            if enrolled:
                after, refs = await self.adoption.enrolled(ctx, mutation.actor, after, refs)
            else:
                # A PATCH says what it removes: an end removed is removed (policies decide).
                after = self._governance.changed(
                    before, after, active_named="active" in result.changed, now=ctx.now,
                    keep_end=False,
                )  # fmt: skip
        return await self._write(ctx, mutation, before, after, changed, refs, enrolled=enrolled)

    async def _with_relations(
        self, uow: UnitOfWork, resource: Resource, mutation: Mutation
    ) -> Resource:
        """Reload side tables the response shows, inside the same transaction."""
        wants_members = resource.resource_type == "Group" and mutation.with_members
        wants_groups = resource.resource_type != "Group" and mutation.with_groups
        # Members as written lack the live display of those sent without one: read them
        # back; so do a governed identity's owners, whose status is read live.
        governed = nhi.governed(resource.resource_type, resource.doc)
        if wants_members or (resource.groups is None and wants_groups) or governed:
            reloaded = await uow.of(resource.tenant_id).resources.get(
                resource.resource_type,
                resource.id,
                members=wants_members,
                groups=wants_groups,
            )
            assert reloaded is not None
            return reloaded
        return resource


def _told(
    before: Resource | None, after: Resource, resolved: tuple[OwnerRef, ...] | None
) -> Resource:
    """``after`` with the owners and sponsors its notifications name: those the write
    resolved, else (it named none) those it had."""
    owners = resolved if resolved is not None else (before.owners if before else None)
    return msgspec.structs.replace(after, owners=owners or ())


def _suspends(before: Resource, after: Resource) -> bool:
    """Does this write suspend an active governed identity?"""
    was, now = before.governance.lifecycle_state, after.governance.lifecycle_state
    governed = nhi.governed(after.resource_type, after.doc)
    return governed and was is State.ACTIVE and now is State.SUSPENDED


def _enrolls(before: Resource, after: Resource) -> bool:
    """Does this write make a User a governed identity (it gains a ``kind``)?"""
    return not nhi.governed(before.resource_type, before.doc) and nhi.governed(
        after.resource_type, after.doc
    )


def _unflagged(after: Resource, changed: set[str]) -> tuple[Resource, set[str]]:
    """``after`` without the orphan flags, if it carries them."""
    governance = after.governance
    if governance.orphaned_at is None and governance.suspend_at is None:
        return after, changed
    doc = nhi.copy_doc(after.doc)
    write(doc, orphaned_at=None, suspend_at=None)
    flags = {f"{nhi.GOVERNANCE}:{name}" for name in nhi.ORPHAN_FLAGS}
    return msgspec.structs.replace(after, doc=doc), changed | flags


def _tenant_of(actor: Actor) -> str:
    if actor.tenant_id is None:
        raise Forbidden("this token belongs to no tenant")
    return actor.tenant_id


def _named(refs: nhi.Refs | None) -> set[str]:
    """A write that names owners or sponsors changes them (even to the same set)."""
    if refs is None:
        return set()
    named = {"owners"} if refs.owners is not None else set()
    return named | ({f"{nhi.GOVERNANCE}:sponsors"} if refs.sponsors is not None else set())
