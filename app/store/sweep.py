"""What the sweeper claims and plans by (DESIGN.md "Lifecycle"): due identities, leases,
ends ahead, and how much of a tenant is due at once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.resource import Resource
from app.store.promoted import GOVERNANCE
from app.store.sql import utc
from app.store.tables import resources

if TYPE_CHECKING:
    from app.store.uow import TenantStore


class Due(msgspec.Struct, frozen=True, kw_only=True):
    """A governed identity the sweeper must look at, and what it needs to know of it."""

    tenant_id: str
    resource_type: str
    resource_id: str
    state: str | None = None
    expires_at: dt.datetime | None = None
    teardown_at: str | None = None
    suspended_reason: str | None = None
    suspend_at: dt.datetime | None = None  # an orphan's


class SweepRepository:
    """The sweep's claims, across tenants (a tenant's own resources: ``of(tenant_id)``)."""

    def __init__(self, connection: AsyncConnection, of: Callable[[str], TenantStore]) -> None:
        self._c = connection
        self._of = of

    async def claim_due(
        self,
        now: dt.datetime,
        lease_until: dt.datetime,
        limit: int,
        tenant_id: str | None = None,
        *,
        claim: bool = True,
        exclude: Sequence[str] = (),
    ) -> list[Due]:
        """Governed identities due by ``now``, earliest first, claimed until ``lease_until``.

        On PostgreSQL the rows are picked ``FOR UPDATE SKIP LOCKED`` and leased in
        one statement, so concurrent sweepers (several replicas) never pick the
        same identity; a sweeper that dies leaves leases that simply run out.
        ``claim=False`` only looks (a dry run).
        """
        # Deleted identities awaiting their teardown are due too; tombstones never are.
        picked = (
            sa.select(resources.c.seq)
            .where(
                resources.c.due_at <= now,
                sa.or_(resources.c.sweep_lease.is_(None), resources.c.sweep_lease < now),
                *([resources.c.tenant_id == tenant_id] if tenant_id else []),
                *([resources.c.tenant_id.not_in(list(exclude))] if exclude else []),
            )
            .order_by(resources.c.due_at)
            .limit(limit)
        )
        governance = resources.c.doc[GOVERNANCE]
        columns = (
            resources.c.tenant_id,
            resources.c.resource_type,
            resources.c.id,
            resources.c.lifecycle_state,
            resources.c.expires_at,
            governance["teardownAt"].as_string(),
            governance["suspendedReason"].as_string(),
            governance["suspendAt"].as_string(),
        )
        if not claim:
            rows = await self._c.execute(
                sa.select(*columns).where(resources.c.seq.in_(picked.scalar_subquery()))
            )
        else:
            rows = await self._c.execute(
                resources.update()
                .where(
                    resources.c.seq.in_(picked.with_for_update(skip_locked=True).scalar_subquery())
                )
                .values(sweep_lease=lease_until)
                .returning(*columns)
            )
        return [
            Due(
                tenant_id=r[0],
                resource_type=r[1],
                resource_id=r[2],
                state=r[3],
                expires_at=utc(r[4]),
                teardown_at=r[5],
                suspended_reason=r[6],
                suspend_at=utc(r[7]),
            )
            for r in rows
        ]

    async def expiring(
        self,
        tenant_id: str,
        after: dt.datetime,
        until: dt.datetime,
        *,
        moment: str = "expiresAt",
        limit: int = 10_000,
    ) -> list[Resource]:
        """A tenant's active governed identities whose ``moment`` lies in ``(after, until]``.

        ``moment`` is ``expiresAt`` (their end) or ``attestBy`` (an owner's
        attestation is due), each an indexed column; owners come along.
        """
        column = resources.c.attest_by if moment == "attestBy" else resources.c.expires_at
        rows = (
            await self._c.execute(
                sa.select(resources)
                .where(
                    resources.c.tenant_id == tenant_id,
                    column > after,
                    column <= until,
                    resources.c.deleted_at.is_(None),
                    resources.c.lifecycle_state == "active",
                )
                .order_by(column, resources.c.seq)
                .limit(limit)
            )
        ).all()
        return await self._of(tenant_id).resources.hydrate(rows, members=False, groups=False)

    async def pressure(self, now: dt.datetime) -> list[tuple[str, int, int]]:
        """Per tenant with identities to suspend now: (tenant, how many, active identities)."""
        due = sa.func.sum(sa.case((resources.c.due_at <= now, 1), else_=0))
        rows = await self._c.execute(
            sa.select(resources.c.tenant_id, due.label("due"), sa.func.count().label("active"))
            .where(resources.c.deleted_at.is_(None), resources.c.lifecycle_state == "active")
            .group_by(resources.c.tenant_id)
            .having(due > 0)
        )
        return [(row.tenant_id, int(row.due), int(row.active)) for row in rows]

    async def hold(self, tenant_id: str, resource_id: str, until: dt.datetime) -> None:
        """Leave an identity the sweeper could not settle alone until ``until``."""
        await self._c.execute(
            resources.update()
            .where(resources.c.tenant_id == tenant_id, resources.c.id == resource_id)
            .values(sweep_lease=until)
        )

    async def next_due(self) -> dt.datetime | None:
        """The earliest moment any identity is due (the sweeper's next alarm)."""
        row = await self._c.execute(
            sa.select(sa.func.min(resources.c.due_at)).where(resources.c.due_at.is_not(None))
        )
        value = row.scalar()
        if value is not None and value.tzinfo is None:  # SQLite's min() loses the type
            value = value.replace(tzinfo=dt.UTC)
        return value  # type: ignore[no-any-return]
