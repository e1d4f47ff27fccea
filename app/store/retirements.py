"""Deleted identities a restore can still bring back (DESIGN.md "Identity model").

A client's DELETE of an Agent or ServiceAccount revokes it at once; for the
tenant's teardown grace its row keeps what a restore needs: the lifecycle
values it had, the Groups it left, and which deletion its subtree went with.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.store.tables import retirements


class Retirement(msgspec.Struct, frozen=True, kw_only=True):
    tenant_id: str
    resource_id: str
    resource_type: str
    root_id: str  # the identity whose DELETE took this one (itself, or an ancestor)
    retired_at: dt.datetime
    restorable_until: dt.datetime
    prior: dict[str, Any]  # Governance lifecycle values before the DELETE
    groups: tuple[str, ...]  # the Groups it was taken out of


def _read(row: Any) -> Retirement:
    def utc(value: dt.datetime) -> dt.datetime:
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value

    return Retirement(
        tenant_id=row.tenant_id,
        resource_id=row.resource_id,
        resource_type=row.resource_type,
        root_id=row.root_id,
        retired_at=utc(row.retired_at),
        restorable_until=utc(row.restorable_until),
        prior=dict(row.prior or {}),
        groups=tuple(row.groups or ()),
    )


class RetirementRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def record(self, items: Sequence[Retirement]) -> None:
        if items:
            await self._c.execute(
                retirements.insert(),
                [{**msgspec.structs.asdict(r), "groups": list(r.groups)} for r in items],
            )

    async def get(self, tenant_id: str, resource_id: str) -> Retirement | None:
        row = (
            await self._c.execute(
                sa.select(retirements).where(
                    retirements.c.tenant_id == tenant_id,
                    retirements.c.resource_id == resource_id,
                )
            )
        ).first()
        return _read(row) if row is not None else None

    async def of_root(self, tenant_id: str, root_id: str) -> list[Retirement]:
        """Everything one DELETE took: the identity itself and its subtree."""
        rows = await self._c.execute(
            sa.select(retirements).where(
                retirements.c.tenant_id == tenant_id, retirements.c.root_id == root_id
            )
        )
        return [_read(row) for row in rows]

    async def forget(self, tenant_id: str, resource_ids: Sequence[str]) -> None:
        if resource_ids:
            await self._c.execute(
                retirements.delete().where(
                    retirements.c.tenant_id == tenant_id,
                    retirements.c.resource_id.in_(list(resource_ids)),
                )
            )
