"""A tenant's own Cedar policies on top of the shipped defaults (issue: per-tenant policies).

Stored on the tenant's row; each is validated against the schema, together
with the defaults and the tenant's other policies, before it is accepted.
"""

from __future__ import annotations

from app.audit.events import admin_event
from app.domain.actor import Actor
from app.domain.clock import Clock
from app.domain.tenancy import TenantPolicy
from app.policy.engine import PolicyEngine, PolicyError, PolicySource
from app.scim.errors import InvalidValue, NotFound
from app.store.uow import Database, UnitOfWork


class TenantPolicies:
    def __init__(self, db: Database, engine: PolicyEngine, clock: Clock) -> None:
        self._db = db
        self.engine = engine
        self._clock = clock

    async def effective(self, tenant_id: str) -> list[PolicySource]:
        """The defaults and the tenant's own, as decisions for the tenant use them."""
        async with self._db.uow() as uow:
            own = await _own(uow, tenant_id, lock=False)
        return self.engine.effective(own)

    async def add(
        self, tenant_id: str, text: str, *, actor: Actor | None = None
    ) -> tuple[TenantPolicy, ...]:
        """Add the policies in ``text``; 400 with the validator's message if invalid."""
        async with self._db.uow(write=True) as uow:
            own = await _own(uow, tenant_id, lock=True)
            try:
                added = self.engine.check_tenant_policies(text, own)
            except PolicyError as exc:
                raise InvalidValue(f"invalid policy: {exc}") from None
            await uow.tenants.set_policies(tenant_id, (*own, *added))
            for policy in added if actor is not None else ():
                await self._audit(uow, actor, tenant_id, "policy.add", policy.id, {}, policy.text)
            await uow.commit()
        return added

    async def remove(self, tenant_id: str, policy_id: str, *, actor: Actor | None = None) -> None:
        async with self._db.uow(write=True) as uow:
            own = await _own(uow, tenant_id, lock=True)
            kept = tuple(p for p in own if p.id != policy_id)
            if len(kept) == len(own):
                raise NotFound(f"the tenant has no policy {policy_id!r} of its own")
            await uow.tenants.set_policies(tenant_id, kept)
            if actor is not None:
                gone = next(p.text for p in own if p.id == policy_id)
                await self._audit(uow, actor, tenant_id, "policy.remove", policy_id, gone, None)
            await uow.commit()

    async def _audit(
        self, uow: UnitOfWork, actor: Actor, tenant_id: str, action: str, policy_id: str,
        before: object, after: object,
    ) -> None:  # fmt: skip
        await uow.audit.append(
            admin_event(
                actor, tenant_id, action=action, resource_type="Policy", resource_id=policy_id,
                name=policy_id, before={"text": before} if before else {},
                after={"text": after} if after else {}, at=self._clock.now(),
            )
        )  # fmt: skip


async def _own(uow: UnitOfWork, tenant_id: str, *, lock: bool) -> tuple[TenantPolicy, ...]:
    tenant = await uow.tenants.get(tenant_id, lock=lock)
    if tenant is None:
        raise NotFound(f"no tenant {tenant_id!r}")
    return tenant.policies
