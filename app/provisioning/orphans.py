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
from typing import Any

import msgspec

from app.domain.actor import scheduler
from app.domain.resource import OwnerRef, Resource
from app.notify import plan
from app.provisioning import nhi
from app.provisioning.governance import Governance
from app.provisioning.judge import Denied, Judge
from app.scim.codec import format_datetime
from app.store.uow import UnitOfWork

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def _manager(owner: Resource | None) -> str | None:
    extension = (owner.doc.get(ENTERPRISE) or {}) if owner else {}
    manager = extension.get("manager") if isinstance(extension, dict) else None
    value = manager.get("value") if isinstance(manager, dict) else None
    return value if isinstance(value, str) else None


class Orphans:
    def __init__(self, judge: Judge, governance: Governance) -> None:
        self._judge = judge
        self._governance = governance

    async def owner_changed(
        self, uow: UnitOfWork, owner: Resource, now: dt.datetime, base_url: str
    ) -> list[Any]:
        """Settle every identity ``owner`` owns; the notifications this causes."""
        messages: list[Any] = []
        for nhi_id, resource_type in await uow.resources.owned_by(owner.tenant_id, owner.id):
            identity = await uow.resources.get(
                owner.tenant_id, resource_type, nhi_id, lock=True, members=False, groups=False
            )
            if identity is None or not nhi.governed(resource_type, identity.doc):
                continue
            message = await self._settle(uow, identity, owner, now, base_url)
            if message is not None:
                messages.append(message)
        return messages

    async def _settle(
        self, uow: UnitOfWork, identity: Resource, departed: Resource, now: dt.datetime,
        base_url: str,
    ) -> Any:  # fmt: skip
        refs = identity.owners or ()
        governance = identity.doc.get(nhi.GOVERNANCE) or {}
        owners_active = any(r.relation == "owner" and r.status == "active" for r in refs)
        flagged = "orphanedAt" in governance
        if owners_active and flagged:
            try:
                await self._flag(uow, identity, None, now, reason="owner_returned")
            except Denied as denied:
                await uow.audit.append(denied.event)
            return None
        if owners_active or flagged:
            return None
        heir = await self._heir(uow, identity, departed)
        if heir is not None:
            try:
                return await self._hand_over(uow, identity, heir, now, base_url)
            except Denied as denied:  # e.g. the heir lacks the entitlements: flag it instead
                await uow.audit.append(denied.event)
        tenant = await uow.tenants.get(identity.tenant_id)
        assert tenant is not None
        grace = self._governance.defaults.for_tenant(tenant.settings).orphan_grace
        try:
            flagged_doc = await self._flag(uow, identity, grace, now, "orphaned")
        except Denied as denied:
            # The owner's own change must not fail for what it leaves behind.
            await uow.audit.append(denied.event)
            return None
        return plan.teardown_step(
            flagged_doc, step="orphaned", reason="no_active_owner", now=now, base_url=base_url
        )

    async def _heir(
        self, uow: UnitOfWork, identity: Resource, departed: Resource
    ) -> OwnerRef | None:
        """An active sponsor, else the departed owner's active manager if the tenant allows."""
        sponsors = [r for r in identity.owners or () if r.relation == "sponsor"]
        for sponsor in sponsors:
            if sponsor.status == "active":
                return msgspec.structs.replace(sponsor, relation="owner")
        tenant = await uow.tenants.get(identity.tenant_id)
        if tenant is None or tenant.settings.orphan_handover is False:
            return None
        manager = _manager(departed)
        if manager is None:
            return None
        found = await uow.resources.parties(identity.tenant_id, [manager], "owner")
        heir = found.get(manager)
        return heir if heir is not None and heir.status == "active" else None

    async def _flag(
        self,
        uow: UnitOfWork,
        identity: Resource,
        grace: dt.timedelta | None,
        now: dt.datetime,
        reason: str,
    ) -> Resource:
        """Set (``grace`` given) or clear the orphan flag, as the scheduler's ``flag``."""
        doc = nhi.copy_doc(identity.doc)
        governance = doc.setdefault(nhi.GOVERNANCE, {})
        if grace is None:
            for name in nhi.ORPHAN_FLAGS:
                governance.pop(name, None)
        else:
            governance["orphanedAt"] = format_datetime(now)
            governance["suspendAt"] = format_datetime(now + grace)
        after = msgspec.structs.replace(
            identity, doc=doc, version=identity.version + 1, last_modified=now
        )
        changed = {f"{nhi.GOVERNANCE}:{name}" for name in nhi.ORPHAN_FLAGS}
        await self._judge.decide(
            uow, scheduler(identity.tenant_id), "flag", identity, after,
            now=now, changed=changed, reason=reason,
        )  # fmt: skip
        await uow.resources.replace(after)
        return after

    async def _hand_over(
        self, uow: UnitOfWork, identity: Resource, heir: OwnerRef, now: dt.datetime,
        base_url: str,
    ) -> Any:  # fmt: skip
        sponsors = tuple(r for r in identity.owners or () if r.relation == "sponsor")
        owners = (heir, *sponsors)
        after = msgspec.structs.replace(
            identity, version=identity.version + 1, last_modified=now, owners=owners
        )
        await self._judge.decide(
            uow, scheduler(identity.tenant_id), "update", identity, after,
            now=now, changed={"owners"}, owners=owners, reason="orphaned",
        )  # fmt: skip
        await uow.resources.replace(after)
        await uow.resources.set_owners(after, "owner", [heir])
        return plan.teardown_step(
            after, step="handed_over", reason="owner_left", now=now, base_url=base_url
        )
