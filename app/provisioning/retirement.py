"""RFC 7644 §3.6 DELETE of a governed identity, and an admin's restore within the grace.

A DELETE revokes at once: suspended (``suspendedReason: deleted``), out of its
Groups, 404 to every SCIM verb, its delegated subtree with it. Its row, history
and what a restore needs (``retirements``) stay until its ``teardownAt``, the
tenant's teardown grace after the DELETE, when the sweeper deprovisions it for
good (policy ``tenure.teardown.disable_first``). Both steps run inside the
mutation's transaction; the notifications they cause are returned for it to plan.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from app.domain.actor import Actor, scheduler
from app.domain.notifications import Message
from app.domain.resource import Resource
from app.notify import plan
from app.provisioning import nhi
from app.provisioning.governance import Governance, subtree
from app.provisioning.judge import Judge
from app.scim.codec import format_datetime
from app.scim.errors import Conflict
from app.store.retirements import Retirement
from app.store.uow import UnitOfWork

# What a DELETE and a restore change of each identity they touch.
_LIFECYCLE_CHANGE = frozenset(
    {"active", f"{nhi.GOVERNANCE}:lifecycleState", f"{nhi.GOVERNANCE}:teardownAt"}
)


class Retirements:
    def __init__(self, judge: Judge, governance: Governance) -> None:
        self._judge = judge
        self._governance = governance

    async def retire(
        self, uow: UnitOfWork, actor: Actor, before: Resource, now: dt.datetime, *,
        reason: str, base_url: str,
    ) -> tuple[Resource, list[Message]]:  # fmt: skip
        """DELETE: the identity and its subtree revoked, restorable for the grace.

        The root is decided as the caller's ``delete`` (Cedar: its registering
        platform, an admin); each descendant, parents first so that each sees
        its parent suspended, as the scheduler's ``suspend`` (reason
        ``cascade``): the consequence of the parent's deletion, as a suspension
        cascades. Returns the root as left, and its owners' notifications.
        """
        grace = await self._governance.teardown_grace(uow, before.tenant_id)
        retired: list[tuple[Resource, Resource]] = []
        for current in await subtree(uow, before):
            root = current is before
            after, changed = _retired(current, "deleted" if root else "cascade", now, grace)
            await self._judge.decide(
                uow, actor if root else scheduler(current.tenant_id),
                "delete" if root else "suspend", current, after,
                now=now, changed=changed, reason=reason if root else "cascade",
            )  # fmt: skip
            await uow.resources.replace(after)
            retired.append((current, after))
        ids = [after.id for _, after in retired]
        groups = await uow.resources.direct_groups(before.tenant_id, ids)
        await uow.resources.leave_groups(before.tenant_id, ids, now)
        for _, after in retired:
            await uow.resources.mark_deleted(after, now)
        await uow.retirements.record(
            [
                Retirement(
                    tenant_id=before.tenant_id,
                    resource_id=after.id,
                    resource_type=after.resource_type,
                    root_id=before.id,
                    retired_at=now,
                    restorable_until=now + grace,
                    prior=nhi.lifecycle_of(previous.doc),
                    groups=tuple(groups[after.id]),
                )
                for previous, after in retired
            ]
        )
        told = [
            plan.teardown_step(
                after,
                step="suspended",
                reason="deleted" if after.id == before.id else "cascade",
                now=now,
                base_url=base_url,
            )
            for _, after in retired
        ]
        return retired[0][1], told

    async def restore(
        self, uow: UnitOfWork, actor: Actor, before: Resource, now: dt.datetime, *,
        reason: str, base_url: str,
    ) -> tuple[Resource, list[Message]]:  # fmt: skip
        """``POST /admin/identities/{id}/restore``: back as it was, within the grace.

        Its lifecycle values before the DELETE, its Groups (those that still
        exist) and the subtree that went with it, parents before children; each
        decided as ``restore`` (policy ``tenure.restore.admin``; back to active,
        also ``reactivate``) and audited. 409 for a child deleted with its
        parent, after the grace, or when its name was taken meanwhile.
        """
        record = await uow.retirements.get(before.tenant_id, before.id)
        if record is None:
            raise Conflict(f"{before.resource_type} {before.id} is not deleted")
        if record.root_id != before.id:
            raise Conflict(
                f"{before.resource_type} {before.id} was deleted with its ancestor "
                f"{record.root_id}: restore that one, and this one comes back with it"
            )
        if now >= record.restorable_until:
            raise Conflict(
                f"{before.resource_type} {before.id} can no longer be restored: its teardown "
                f"grace ended at {format_datetime(record.restorable_until)}"
            )
        taken = {
            r.resource_id: r for r in await uow.retirements.of_root(before.tenant_id, before.id)
        }
        found = {before.id: before}
        for resource_id in taken.keys() - {before.id}:
            child = await uow.resources.get(
                before.tenant_id, "Agent", resource_id, lock=True,
                members=False, groups=False, retired=True,
            )  # fmt: skip
            if child is not None:
                found[child.id] = child
        restored: list[Resource] = []
        for current in _parents_first(before, found):
            after = _restored(current, taken[current.id].prior, now)
            await self._judge.decide(
                uow, actor, "restore", current, after, now=now, changed=_LIFECYCLE_CHANGE,
                reason=reason if current is before else "cascade",
            )  # fmt: skip
            await uow.resources.undelete(after)
            await uow.resources.join_groups(after, taken[current.id].groups, now)
            restored.append(after)
        await uow.retirements.forget(before.tenant_id, [r.id for r in restored])
        told = [
            plan.teardown_step(r, step="restored", reason="restored", now=now, base_url=base_url)
            for r in restored
        ]
        return restored[0], told


def _retired(
    before: Resource, reason: str, now: dt.datetime, grace: dt.timedelta
) -> tuple[Resource, set[str]]:
    """A governed identity as a DELETE leaves it: suspended, torn down a grace from now
    (whenever it was suspended before)."""
    after, changed = nhi.suspended(before, reason, now, None)
    after.doc[nhi.GOVERNANCE]["teardownAt"] = format_datetime(now + grace)
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
