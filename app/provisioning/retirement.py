"""RFC 7644 §3.6 DELETE of a governed identity, and an admin's restore within the grace.

A DELETE revokes at once: suspended (``suspendedReason: deleted``), out of its
Groups, 404 to every SCIM verb, its delegated subtree with it. Its row, history
and what a restore needs (``retirements``) stay until its ``teardownAt``, the
tenant's teardown grace after the DELETE, when the sweeper deprovisions it for
good (policy ``tenure.teardown.disable_first``). Both steps run inside the
mutation's transaction, carried out by the executor like any change.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from app.domain.actor import Actor, scheduler
from app.domain.governance import write
from app.domain.resource import Resource
from app.notify import plan
from app.provisioning import nhi
from app.provisioning.executor import Change, Context, Executor, Write
from app.provisioning.governance import Governance, subtree
from app.scim.codec import format_datetime
from app.scim.errors import Conflict
from app.store.retirements import Retirement

# What a DELETE and a restore change of each identity they touch.
_LIFECYCLE_CHANGE = frozenset(
    {"active", f"{nhi.GOVERNANCE}:lifecycleState", f"{nhi.GOVERNANCE}:teardownAt"}
)


class Retirements:
    def __init__(self, executor: Executor, governance: Governance) -> None:
        self._executor = executor
        self._governance = governance

    async def retire(self, ctx: Context, actor: Actor, before: Resource, reason: str) -> Resource:
        """DELETE: the identity and its subtree revoked, restorable for the grace.

        The root is decided as the caller's ``delete`` (Cedar: its registering
        platform, an admin); each descendant as the scheduler's ``suspend``
        (reason ``cascade``), seeing its parent suspended: the consequence of the
        parent's deletion, as a suspension cascades. A deny of any keeps them
        all. Returns the root as left.
        """
        grace = self._governance.lifetimes_of(ctx.tenant).teardown_grace
        changes = []
        for current in await subtree(ctx.uow, before):
            root = current is before
            after, changed = _retired(current, "deleted" if root else "cascade", ctx.now, grace)
            step = plan.teardown_step(
                after, step="suspended", reason="deleted" if root else "cascade", now=ctx.now,
                base_url=ctx.base_url,
            )  # fmt: skip
            record = Retirement(
                tenant_id=before.tenant_id, resource_id=after.id,
                resource_type=after.resource_type, root_id=before.id, retired_at=ctx.now,
                restorable_until=ctx.now + grace, prior=nhi.lifecycle_of(current.doc), groups=(),
            )  # fmt: skip
            changes.append(
                Change(
                    actor=actor if root else scheduler(current.tenant_id),
                    kind="delete" if root else "suspend",
                    before=current,
                    after=after,
                    write=Write.RETIRE,
                    changed=frozenset(changed),
                    reason=reason if root else "cascade",
                    retirement=record,
                    messages=(step,),
                )
            )
        await self._executor.execute(ctx, changes)
        return changes[0].after

    async def restore(self, ctx: Context, actor: Actor, before: Resource, reason: str) -> Resource:
        """``POST /admin/identities/{id}/restore``: back as it was, within the grace.

        Its lifecycle values before the DELETE, its Groups (those that still
        exist) and the subtree that went with it, parents before children; each
        decided as ``restore`` (policy ``tenure.restore.admin``; back to active,
        also ``reactivate``) and audited. 409 for a child deleted with its
        parent, after the grace, or when its name was taken meanwhile.
        """
        uow = ctx.uow
        record = await uow.retirements.get(before.tenant_id, before.id)
        if record is None:
            raise Conflict(f"{before.resource_type} {before.id} is not deleted")
        if record.root_id != before.id:
            raise Conflict(
                f"{before.resource_type} {before.id} was deleted with its ancestor "
                f"{record.root_id}: restore that one, and this one comes back with it"
            )
        if ctx.now >= record.restorable_until:
            raise Conflict(
                f"{before.resource_type} {before.id} can no longer be restored: its teardown "
                f"grace ended at {format_datetime(record.restorable_until)}"
            )
        taken = {
            r.resource_id: r for r in await uow.retirements.of_root(before.tenant_id, before.id)
        }
        found = {before.id: before}
        for resource_id in taken.keys() - {before.id}:
            child = await uow.of(before.tenant_id).resources.get(
                "Agent", resource_id, lock=True,
                members=False, groups=False, retired=True,
            )  # fmt: skip
            if child is not None:
                found[child.id] = child
        changes = []
        for current in _parents_first(before, found):
            after = _restored(current, taken[current.id].prior, ctx.now)
            step = plan.teardown_step(
                after, step="restored", reason="restored", now=ctx.now, base_url=ctx.base_url
            )
            changes.append(
                Change(
                    actor=actor,
                    kind="restore",
                    before=current,
                    after=after,
                    write=Write.UNDELETE,
                    changed=_LIFECYCLE_CHANGE,
                    reason=reason if current is before else "cascade",
                    join_groups=taken[current.id].groups,
                    messages=(step,),
                )
            )
        await self._executor.execute(ctx, changes)
        return changes[0].after


def _retired(
    before: Resource, reason: str, now: dt.datetime, grace: dt.timedelta
) -> tuple[Resource, set[str]]:
    """A governed identity as a DELETE leaves it: suspended, torn down a grace from now
    (whenever it was suspended before)."""
    after, changed = nhi.suspended(before, reason, now, None)
    write(after.doc, teardown_at=now + grace)
    return after, changed | {f"{nhi.GOVERNANCE}:suspendedReason"}


def _restored(before: Resource, prior: dict[str, Any], now: dt.datetime) -> Resource:
    """A deleted identity with the lifecycle values it had before its DELETE."""
    doc = nhi.copy_doc(before.doc)
    governance = doc.setdefault(nhi.GOVERNANCE, {})
    for name in nhi.LIFECYCLE:
        governance.pop(name, None)
    governance.update(prior)
    return msgspec.structs.replace(before, doc=doc, version=before.version + 1, last_modified=now)


def _parents_first(root: Resource, found: dict[str, Resource]) -> list[Resource]:
    """``root`` and those of ``found`` below it, each after its parent."""
    ordered, index = [root], 0
    while index < len(ordered):
        parent_id = ordered[index].id
        ordered += [
            r for r in found.values() if (r.doc.get("parent") or {}).get("value") == parent_id
        ]
        index += 1
    return ordered
