"""The auditor reports (DESIGN.md "reports/"): read-only, keyset-paged, JSON or streamed CSV.

Each list report is a ``Listing``: one query that returns rows after a sort
key. The JSON API reads one page per request and hands out a signed cursor
(RFC 9865) for the next; CSV reads page after page into a stream, so no
report, however large, is ever held in memory whole.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from app.domain.audit import Recorded
from app.domain.clock import Clock
from app.domain.reports import AuditFilter
from app.domain.tenancy import TenantSettings
from app.policy.proposal import Limits
from app.reports import views
from app.scim import cursor
from app.scim.codec import format_datetime, parse_datetime
from app.scim.errors import NotFound
from app.store.uow import Database, UnitOfWork

Key = tuple[str | int, ...]
Fetch = Callable[[UnitOfWork, Key | None, int], Awaitable[list[tuple[Key, Any]]]]

# Kinds bounded by the agent lifetime; service accounts by their own.
_AGENT_KINDS = ("agent", "workload", "bot")


class Listing:
    """One report over one tenant, with its parameters fixed: paged or streamed."""

    def __init__(
        self,
        db: Database,
        key: bytes,
        tenant_id: str,
        query: str,
        fetch: Fetch,
        columns: list[str],
        render: Callable[[Any], dict[str, Any]],
        cells: Callable[[Any], list[Any]],
        raw: Fetch | None = None,
    ) -> None:
        self._raw = raw  # a query that returns CSV lines straight away, if there is one
        self._db = db
        self._key = key
        self._tenant = tenant_id
        self._query = query
        self._fetch = fetch
        self.columns = columns
        self._render = render
        self._cells = cells

    async def page(self, after: str | None, count: int) -> tuple[list[dict[str, Any]], str | None]:
        """Up to ``count`` items after the cursor, and the cursor of the next page (if any)."""
        start = cursor.decode_keyset(self._key, after, self._tenant, self._query) if after else None
        async with self._db.uow() as uow:
            found = await self._fetch(uow, start, count + 1)
        more = len(found) > count
        found = found[:count]
        next_cursor = (
            cursor.encode_keyset(self._key, self._tenant, self._query, found[-1][0])
            if more
            else None
        )
        return [self._render(item) for _, item in found], next_cursor

    async def lines(self, chunk: int = 2000) -> AsyncIterator[list[list[Any]]]:
        """Every row as CSV cells, a page at a time (one short read transaction each)."""
        if self._raw is not None:
            async for found in self._walk(chunk, self._raw):
                yield found
            return
        async for found in self._walk(chunk):
            yield [self._cells(item) for item in found]

    async def items(self, chunk: int = 2000) -> AsyncIterator[list[dict[str, Any]]]:
        """Every row as its JSON object, a page at a time."""
        async for found in self._walk(chunk):
            yield [self._render(item) for item in found]

    async def _walk(self, chunk: int, fetch: Fetch | None = None) -> AsyncIterator[list[Any]]:
        start: Key | None = None
        while True:
            # A stream may run to millions of rows: its pages are read off the event loop.
            async with self._db.uow(offload=True) as uow:
                found = await (fetch or self._fetch)(uow, start, chunk)
            if not found:
                return
            yield [item for _, item in found]
            if len(found) < chunk:
                return
            start = found[-1][0]


class Reports:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        key: bytes,
        limits: Callable[[TenantSettings], Limits],
        sequence: Callable[[str], Awaitable[int]],
    ) -> None:
        self._db = db
        self._clock = clock
        self._key = key
        self._limits = limits
        # The audit trail is read whole and in order: what is written is sequenced first.
        self._sequence = sequence

    def _listing(
        self,
        tenant_id: str,
        name: str,
        params: tuple[Any, ...],
        fetch: Fetch,
        columns: list[str],
        render: Callable[[Any], dict[str, Any]],
        cells: Callable[[Any], list[Any]],
        raw: Fetch | None = None,
    ) -> Listing:
        query = cursor.fingerprint(name, *params)
        return Listing(
            self._db, self._key, tenant_id, query, fetch, columns, render, cells, raw=raw
        )

    def ownership(
        self,
        tenant_id: str,
        *,
        owner: str | None = None,
        relation: str = "owner",
        kind: str | None = None,
        state: str | None = None,
        environment: str | None = None,
    ) -> Listing:
        """Per owner (User or Group, inactive and deleted ones too), the identities it answers
        for, tombstones included; ordered by owner, then identity."""

        async def rows(uow: UnitOfWork, after: Key | None, limit: int, raw: bool) -> list[Any]:
            return await uow.reports.ownership(
                tenant_id,
                after=(str(after[0]), str(after[1])) if after else None,
                limit=limit,
                owner_id=owner,
                relation=relation,
                kind=kind,
                state=state,
                environment=environment,
                raw=raw,
            )

        async def fetch(uow: UnitOfWork, after: Key | None, limit: int) -> list[tuple[Key, Any]]:
            return [((r.owner.id, r.identity.id), r) for r in await rows(uow, after, limit, False)]

        async def lines(uow: UnitOfWork, after: Key | None, limit: int) -> list[tuple[Key, Any]]:
            # owner id and identity id are the line's first and sixth cells
            return [((line[0], line[5]), line) for line in await rows(uow, after, limit, True)]

        params = (owner, relation, kind, state, environment)
        return self._listing(
            tenant_id, "ownership", params, fetch, views.OWNERSHIP, views.ownership,
            views.ownership_cells, raw=lines,
        )  # fmt: skip

    def expiring(self, tenant_id: str, within: dt.timedelta) -> Listing:
        """Active identities ending within ``within`` from now, soonest first, with their owners
        and the last warning they were sent about this end."""
        now = self._clock.now()
        until = now + within

        async def fetch(uow: UnitOfWork, after: Key | None, limit: int) -> list[tuple[Key, Any]]:
            ends = parse_datetime(str(after[0])) if after else None
            start = (ends, int(after[1])) if after and ends else None
            rows = await uow.reports.expiring(tenant_id, now, until, after=start, limit=limit)
            return [
                ((e.identity.expires_at.isoformat(), seq), e)
                for seq, e in rows
                if e.identity.expires_at
            ]

        return self._listing(
            tenant_id, "expiring", (int(within.total_seconds()),), fetch, views.EXPIRING,
            views.expiring, views.expiring_cells,
        )  # fmt: skip

    def orphans(self, tenant_id: str) -> Listing:
        """Live identities with no active owner: since when, what happens next and when."""

        async def fetch(uow: UnitOfWork, after: Key | None, limit: int) -> list[tuple[Key, Any]]:
            rows = await uow.reports.orphans(
                tenant_id, after=int(after[0]) if after else None, limit=limit
            )
            return [((seq,), o) for seq, o in rows]

        return self._listing(
            tenant_id, "orphans", (), fetch, views.ORPHANS, views.orphan, views.orphan_cells
        )

    async def audit(self, tenant_id: str, where: AuditFilter) -> Listing:
        """Audit events matching ``where``, newest first."""
        await self._sequence(tenant_id)

        async def fetch(uow: UnitOfWork, after: Key | None, limit: int) -> list[tuple[Key, Any]]:
            rows = await uow.audit.page(
                tenant_id, where, before=int(after[0]) if after else None, limit=limit
            )
            return [((r.seq,), r) for r in rows]

        return self._listing(
            tenant_id, "audit", _fields(where), fetch, views.AUDIT, views.audit_event,
            views.audit_cells,
        )  # fmt: skip

    async def history(self, tenant_id: str, resource_id: str) -> Listing:
        """An identity's whole audit history, oldest first, tombstone included; 404 if none."""
        await self._sequence(tenant_id)
        async with self._db.uow() as uow:
            found = await uow.audit.history(tenant_id, resource_id, limit=1)
        if not found:
            raise NotFound(f"no audit history for {resource_id!r} in this tenant")

        async def fetch(uow: UnitOfWork, after: Key | None, limit: int) -> list[tuple[Key, Any]]:
            rows: list[Recorded] = await uow.audit.history(
                tenant_id, resource_id, after=int(after[0]) if after else 0, limit=limit
            )
            return [((r.seq,), r) for r in rows]

        return self._listing(
            tenant_id, "history", (resource_id,), fetch, views.AUDIT, views.audit_event,
            views.audit_cells,
        )  # fmt: skip

    async def summary(self, tenant_id: str, *, denial_days: int = 30) -> dict[str, Any]:
        """Counts by type, kind, state and environment; identities without an end or ending
        later than the tenant's maximum lifetime allows; denials by policy; teardowns by reason."""
        now = self._clock.now()
        async with self._db.uow() as uow:
            tenant = await uow.tenants.get(tenant_id)
            if tenant is None:
                raise NotFound(f"no tenant {tenant_id!r}")
            limits = self._limits(tenant.settings)
            counts = await uow.reports.counts(tenant_id)
            lifetimes = await uow.reports.lifetimes(tenant_id)
            denials = await uow.reports.denials(tenant_id, now - dt.timedelta(days=denial_days))
            teardowns = await uow.reports.teardowns(tenant_id)
        by: dict[str, Counter[str]] = {
            k: Counter() for k in ("byType", "byKind", "byState", "byEnvironment")
        }
        for resource_type, kind, state, environment, n in counts:
            by["byType"][resource_type] += n
            by["byKind"][kind or "(none)"] += n
            by["byState"][state or "(none)"] += n
            by["byEnvironment"][environment or "(none)"] += n
        without = sum(1 for _, _, end in lifetimes if end is None)
        past = 0
        for kind, _, end in lifetimes:
            longest = (
                limits.agent_lifetime if kind in _AGENT_KINDS else limits.service_account_lifetime
            )
            if end is not None and end > now + longest:
                past += 1
        by_reason: dict[str, dict[str, int]] = {}
        for action, reason, n in sorted(teardowns):
            step = "deprovisioned" if action == "teardown" else "suspended"
            by_reason.setdefault(reason, {})[step] = n
        return {
            "tenant": tenant_id,
            "at": format_datetime(now),
            "identities": {
                "total": sum(by["byType"].values()),
                **{k: dict(sorted(v.items())) for k, v in by.items()},
            },
            "withoutExpiry": without,
            "pastMaxLifetime": past,
            "denials": {
                "sinceDays": denial_days,
                "total": sum(denials.values()),
                "byPolicy": dict(denials.most_common()),
            },
            "teardowns": {"byReason": by_reason},
        }


def _fields(where: AuditFilter) -> tuple[Any, ...]:
    return tuple(
        format_datetime(v) if isinstance(v, dt.datetime) else v
        for v in (getattr(where, f) for f in where.__struct_fields__)
    )
