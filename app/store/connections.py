"""The request log: what each token's client sent lately (bounded: a week, a page per token)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.connections import Seen
from app.store.tables import request_log

_COLUMNS = [request_log.c[name] for name in Seen.__struct_fields__]


class RequestLogRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def record(self, seen: Sequence[Seen]) -> None:
        if seen:
            await self._c.execute(request_log.insert(), [msgspec.structs.asdict(s) for s in seen])

    async def recent(
        self, tenant_id: str, token_id: str, *, limit: int = 20, errors: bool = False
    ) -> list[Seen]:
        """The token's latest requests (or failed ones), newest first."""
        query = (
            sa.select(*_COLUMNS)
            .where(request_log.c.tenant_id == tenant_id, request_log.c.token_id == token_id)
            .order_by(request_log.c.id.desc())
            .limit(limit)
        )
        if errors:
            query = query.where(request_log.c.status >= 400)
        return [Seen(**row._asdict()) for row in await self._c.execute(query)]

    async def first_success(self, tenant_id: str, token_id: str, since: dt.datetime) -> Seen | None:
        """The token's first request since ``since`` that succeeded (2xx)."""
        row = (
            await self._c.execute(
                sa.select(*_COLUMNS)
                .where(
                    request_log.c.tenant_id == tenant_id,
                    request_log.c.token_id == token_id,
                    request_log.c.at >= since,
                    request_log.c.status < 300,
                    request_log.c.status >= 200,
                )
                .order_by(request_log.c.id)
                .limit(1)
            )
        ).first()
        return Seen(**row._asdict()) if row else None

    async def prune(self, before: dt.datetime, limit: int) -> int:
        """Retention, about time and not a tenant: up to ``limit`` of every tenant's oldest
        entries from before ``before``; how many went. Bounded, so that the caller can
        take a busy server's week of requests a batch at a time."""
        oldest = (
            sa.select(request_log.c.id)
            .where(request_log.c.at < before)
            .order_by(request_log.c.at)
            .limit(limit)
        )
        result = await self._c.execute(
            request_log.delete().where(request_log.c.id.in_(oldest.scalar_subquery()))
        )
        return int(result.rowcount or 0)
