"""How many live resources of each type a tenant has (RFC 7644 §3.4.2 ``totalResults``).

Kept in ``COUNT_SHARDS`` rows per tenant and type, each moved by the writes of
the resources whose ids fall in it: concurrent creates of a tenant rarely touch
the same row, so they do not queue behind each other on a count.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.store.sql import TenantBound
from app.store.tables import COUNT_SHARDS, resource_counts


def _shard(resource_id: str) -> int:
    """The count shard of a resource: from its id (a UUID's first digits are random)."""
    try:
        return int(resource_id[:2], 16) % COUNT_SHARDS
    except ValueError:
        return sum(resource_id.encode()) % COUNT_SHARDS


def _upsert(insert: Any) -> Any:
    return (
        insert(resource_counts)
        .values(
            tenant_id=sa.bindparam("tenant_id"),
            resource_type=sa.bindparam("resource_type"),
            shard=sa.bindparam("shard"),
            live=sa.bindparam("live"),
        )
        .on_conflict_do_update(
            index_elements=["tenant_id", "resource_type", "shard"],
            set_={"live": resource_counts.c.live + sa.bindparam("live")},
        )
    )


# Built once, as every statement a write runs.
_UPSERT = {"sqlite": _upsert(sqlite_insert), "postgresql": _upsert(pg_insert)}
_LIVE = sa.select(sa.func.coalesce(sa.func.sum(resource_counts.c.live), 0)).where(
    resource_counts.c.tenant_id == sa.bindparam("tenant_id"),
    resource_counts.c.resource_type == sa.bindparam("resource_type"),
)


class CountRepository(TenantBound):
    """One tenant's live counts."""

    async def moved(self, resource_type: str, resource_ids: Iterable[str], delta: int) -> None:
        """Each of ``resource_ids`` (of ``resource_type``) came (+1) or went (-1)."""
        by_shard: dict[int, int] = defaultdict(int)
        for resource_id in resource_ids:
            by_shard[_shard(resource_id)] += delta
        for shard, n in by_shard.items():
            await self._c.execute(
                _UPSERT[self._c.dialect.name],
                {"tenant_id": self._tenant, "resource_type": resource_type, "shard": shard,
                 "live": n},
            )  # fmt: skip

    async def live(self, resource_type: str) -> int:
        found = await self._c.execute(
            _LIVE, {"tenant_id": self._tenant, "resource_type": resource_type}
        )
        return int(found.scalar() or 0)
