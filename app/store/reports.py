"""Read-only queries for auditors: ownership, expiring, orphans, summary counts.

Every list is keyset-paged (a page never re-reads what came before), so a
report of any size is walked in bounded pages — by the JSON API one page per
request, by CSV page after page into a stream. Tombstones are kept in: a torn
down identity and a deleted owner still answer "who owned what".
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.reports import Expiring, Governed, Holder, Orphan, Owned
from app.scim.codec import format_datetime, parse_datetime
from app.store.owners import answering_for, holder_of, holder_status
from app.store.promoted import GOVERNANCE
from app.store.tables import audit_events, nhi_owners, outbox, resources

NHI_TYPES = ("Agent", "ServiceAccount")
_NONE: tuple[Any, ...] = ()


def _extension(table: Any, name: str) -> Any:
    """One Governance attribute as text, by a single JSON path (the document parsed once)."""
    return table.c.doc[(GOVERNANCE, name)].as_string()


def _governed_columns(table: Any, *, raw: bool = False) -> list[Any]:
    """The identity's columns; ``raw``: times and scopes as the driver gives them (CSV)."""

    def plain(column: Any, label: str) -> Any:
        return sa.type_coerce(column, sa.Text).label(label) if raw else column.label(label)

    return [
        table.c.id.label("nhi_id"),
        table.c.resource_type.label("nhi_type"),
        table.c.doc["name"].as_string().label("nhi_name"),
        _extension(table, "kind").label("kind"),
        _extension(table, "purpose").label("purpose"),
        plain(table.c.doc[(GOVERNANCE, "scopes")], "scopes"),
        _extension(table, "environment").label("environment"),
        plain(table.c.expires_at, "expires_at"),
        table.c.lifecycle_state,
        plain(table.c.created, "created"),
        plain(table.c.deleted_at, "deleted_at"),
    ]


def _governed(row: Any) -> Governed:
    scopes = row.scopes if isinstance(row.scopes, list) else ()
    return Governed(
        id=row.nhi_id,
        type=row.nhi_type,
        name=row.nhi_name,
        kind=row.kind,
        purpose=row.purpose,
        scopes=tuple(s for s in scopes if isinstance(s, str)),
        environment=row.environment,
        expires_at=row.expires_at,
        state=row.lifecycle_state,
        created=row.created,
        deleted_at=row.deleted_at,
    )


def _holder_columns(owner: Any) -> list[Any]:
    display = sa.func.coalesce(
        nhi_owners.c.display,
        owner.c.doc["displayName"].as_string(),
        owner.c.doc["userName"].as_string(),
    )
    return [
        nhi_owners.c.owner_id,
        nhi_owners.c.owner_type,
        display.label("owner_display"),
        holder_status(owner).label("owner_status"),
    ]


def _holder(row: Any) -> Holder:
    return Holder(
        id=row.owner_id, type=row.owner_type, display=row.owner_display, status=row.owner_status
    )


class ReportRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def ownership(
        self,
        tenant_id: str,
        *,
        after: tuple[str, str] | None = None,
        limit: int = 1000,
        owner_id: str | None = None,
        relation: str = "owner",
        kind: str | None = None,
        state: str | None = None,
        environment: str | None = None,
        raw: bool = False,
    ) -> list[Any]:
        """Who answers for what: (owner, identity) pairs ordered by owner id, then identity id.

        ``Owned`` rows; or, ``raw``, the CSV line of each (ownership's columns), made
        straight from the row — a full report is a hundred thousand of them.
        """
        owner = resources.alias("holder")
        nhi = resources.alias("nhi")
        columns = [*_holder_columns(owner), nhi_owners.c.relation, *_governed_columns(nhi, raw=raw)]
        query = (
            sa.select(*columns)
            .select_from(
                nhi_owners.join(nhi, answering_for(nhi)).outerjoin(owner, holder_of(owner))
            )
            .where(nhi_owners.c.tenant_id == tenant_id)
            .order_by(nhi_owners.c.owner_id, nhi_owners.c.nhi_id)
            .limit(limit)
        )
        if relation != "any":
            query = query.where(nhi_owners.c.relation == relation)
        if owner_id is not None:
            query = query.where(nhi_owners.c.owner_id == owner_id)
        if after is not None:
            query = query.where(
                sa.tuple_(nhi_owners.c.owner_id, nhi_owners.c.nhi_id) > sa.tuple_(*after)
            )
        if kind is not None:
            query = query.where(_extension(nhi, "kind") == kind)
        if state is not None:
            query = query.where(nhi.c.lifecycle_state == state)
        if environment is not None:
            query = query.where(_extension(nhi, "environment") == environment)
        rows = await self._c.execute(query)
        if raw:
            return [_line(row) for row in rows]
        return [
            Owned(owner=_holder(row), relation=row.relation, identity=_governed(row))
            for row in rows
        ]

    async def expiring(
        self,
        tenant_id: str,
        now: dt.datetime,
        until: dt.datetime,
        *,
        after: tuple[dt.datetime, int] | None = None,
        limit: int = 1000,
    ) -> list[tuple[int, Expiring]]:
        """Active identities ending in ``(now, until]``, soonest first, each with its page key."""
        governance = resources.c.doc[GOVERNANCE]
        query = (
            sa.select(
                resources.c.seq,
                governance["expiresAt"].as_string().label("expires_raw"),
                *_governed_columns(resources),
            )
            .where(
                resources.c.tenant_id == tenant_id,
                resources.c.expires_at > now,
                resources.c.expires_at <= until,
                resources.c.deleted_at.is_(None),
                resources.c.lifecycle_state == "active",
            )
            .order_by(resources.c.expires_at, resources.c.seq)
            .limit(limit)
        )
        if after is not None:
            query = query.where(
                sa.tuple_(resources.c.expires_at, resources.c.seq) > sa.tuple_(*after)
            )
        rows = (await self._c.execute(query)).all()
        ids = [row.nhi_id for row in rows]
        owners = await self._holders(tenant_id, ids)
        warned = await self._warnings(tenant_id, {row.nhi_id: row.expires_raw for row in rows})
        out = []
        for row in rows:
            at, days = warned.get(row.nhi_id, (None, None))
            item = Expiring(
                identity=_governed(row),
                owners=tuple(owners.get(row.nhi_id, _NONE)),
                warned_at=at,
                warned_days=days,
            )
            out.append((row.seq, item))
        return out

    async def orphans(
        self, tenant_id: str, *, after: int | None = None, limit: int = 1000
    ) -> list[tuple[int, Orphan]]:
        """Live identities none of whose owners is active, oldest registration first."""
        owner = resources.alias("holder")
        governance = resources.c.doc[GOVERNANCE]
        answered = (
            sa.select(nhi_owners.c.nhi_id)
            .select_from(nhi_owners.join(owner, holder_of(owner)))
            .where(
                answering_for(resources),
                nhi_owners.c.relation == "owner",
                holder_status(owner) == "active",
            )
            .exists()
        )
        query = (
            sa.select(
                resources.c.seq,
                governance["orphanedAt"].as_string().label("orphaned_at"),
                governance["suspendAt"].as_string().label("suspend_at"),
                governance["teardownAt"].as_string().label("teardown_at"),
                *_governed_columns(resources),
            )
            .where(
                resources.c.tenant_id == tenant_id,
                resources.c.resource_type.in_(NHI_TYPES),
                resources.c.deleted_at.is_(None),
                resources.c.lifecycle_state.in_(("staged", "active", "suspended")),
                ~answered,
            )
            .order_by(resources.c.seq)
            .limit(limit)
        )
        if after is not None:
            query = query.where(resources.c.seq > after)
        rows = (await self._c.execute(query)).all()
        owners = await self._holders(tenant_id, [row.nhi_id for row in rows])
        out = []
        for row in rows:
            step, when = _next_step(row)
            item = Orphan(
                identity=_governed(row),
                owners=tuple(owners.get(row.nhi_id, _NONE)),
                since=_time(row.orphaned_at),
                next_step=step,
                next_at=when,
            )
            out.append((row.seq, item))
        return out

    async def counts(
        self, tenant_id: str
    ) -> list[tuple[str, str | None, str | None, str | None, int]]:
        """(type, kind, state, environment, how many) over every governed identity."""
        governance = resources.c.doc[GOVERNANCE]
        kind = governance["kind"].as_string()
        environment = governance["environment"].as_string()
        rows = await self._c.execute(
            sa.select(
                resources.c.resource_type,
                kind,
                resources.c.lifecycle_state,
                environment,
                sa.func.count(),
            )
            .where(
                resources.c.tenant_id == tenant_id,
                resources.c.resource_type.in_(NHI_TYPES),
            )
            .group_by(resources.c.resource_type, kind, resources.c.lifecycle_state, environment)
        )
        return [(r[0], r[1], r[2], r[3], int(r[4])) for r in rows]

    async def lifetimes(
        self, tenant_id: str
    ) -> list[tuple[str | None, dt.datetime, dt.datetime | None]]:
        """(kind, registered, end) of every live identity: what the summary bounds by."""
        rows = await self._c.execute(
            sa.select(
                resources.c.doc[GOVERNANCE]["kind"].as_string(),
                resources.c.created,
                resources.c.expires_at,
            ).where(
                resources.c.tenant_id == tenant_id,
                resources.c.resource_type.in_(NHI_TYPES),
                resources.c.deleted_at.is_(None),
            )
        )
        return [(r[0], r[1], r[2]) for r in rows]

    async def denials(self, tenant_id: str, since: dt.datetime) -> Counter[str]:
        """Denied attempts since ``since``, by deciding policy id."""
        rows = await self._c.execute(
            sa.select(audit_events.c.policy_ids).where(
                audit_events.c.tenant_id == tenant_id,
                audit_events.c.at >= since,
                audit_events.c.decision == "deny",
            )
        )
        found: Counter[str] = Counter()
        for (ids,) in rows:
            found.update(ids or ["(no policy permits it)"])
        return found

    async def teardowns(self, tenant_id: str) -> list[tuple[str, str, int]]:
        """(action, reason, how many) of the scheduler's allowed suspensions and teardowns."""
        rows = await self._c.execute(
            sa.select(audit_events.c.action, audit_events.c.reason, sa.func.count())
            .where(
                audit_events.c.tenant_id == tenant_id,
                audit_events.c.decision == "allow",
                audit_events.c.action.in_(("suspend", "teardown")),
                audit_events.c.reason.is_not(None),
            )
            .group_by(audit_events.c.action, audit_events.c.reason)
        )
        return [(r[0], r[1], int(r[2])) for r in rows]

    async def _holders(self, tenant_id: str, nhi_ids: Sequence[str]) -> dict[str, list[Holder]]:
        if not nhi_ids:
            return {}
        owner = resources.alias("holder")
        rows = await self._c.execute(
            sa.select(nhi_owners.c.nhi_id, *_holder_columns(owner))
            .select_from(nhi_owners.outerjoin(owner, holder_of(owner)))
            .where(
                nhi_owners.c.tenant_id == tenant_id,
                nhi_owners.c.nhi_id.in_(list(nhi_ids)),
                nhi_owners.c.relation == "owner",
            )
            .order_by(nhi_owners.c.nhi_id, nhi_owners.c.owner_id)
        )
        found: dict[str, list[Holder]] = {}
        for row in rows:
            found.setdefault(row.nhi_id, []).append(_holder(row))
        return found

    async def _warnings(
        self, tenant_id: str, ends: dict[str, str | None]
    ) -> dict[str, tuple[dt.datetime, int]]:
        """The last pre-expiry warning planned about each identity's present end."""
        if not ends:
            return {}
        rows = await self._c.execute(
            sa.select(outbox.c.resource_id, outbox.c.dedup_key, outbox.c.created)
            .where(
                outbox.c.tenant_id == tenant_id,
                outbox.c.resource_id.in_(list(ends)),
                outbox.c.kind == "expiry_warning",
            )
            .order_by(outbox.c.created)
        )
        found: dict[str, tuple[dt.datetime, int]] = {}
        for row in rows:
            # expiry_warning:{id}:{expiresAt}:{days}d[:email] — about this end, not an earlier.
            prefix = f"expiry_warning:{row.resource_id}:{ends[row.resource_id]}:"
            key = row.dedup_key.removesuffix(":email")
            if key.startswith(prefix):
                found[row.resource_id] = (row.created, int(key[len(prefix) : -1]))
        return found


def _time(value: Any) -> dt.datetime | None:
    return parse_datetime(value) if isinstance(value, str) else None


def _next_step(row: Any) -> tuple[str, dt.datetime | None]:
    """What the scheduler does next to an ownerless identity, and when."""
    if row.lifecycle_state == "suspended":
        return "teardown", _time(row.teardown_at)
    when = _time(row.suspend_at)
    return ("suspend", when) if when else ("review", None)


_decode = msgspec.json.decode


def _stamp(value: Any) -> str | None:
    """A stored time as the API writes it (``…T…​.mmmZ``): SQLite's text is sliced, not parsed."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return format_datetime(value)
    text = str(value)  # "YYYY-MM-DD HH:MM:SS.ffffff", in UTC
    return f"{text[:10]}T{text[11:19]}{text[19:23] if len(text) > 19 else '.000'}Z"


def _line(row: Any) -> list[Any]:
    (owner_id, owner_type, display, status, relation, nhi_id, nhi_type, name, kind, purpose,
     scopes, environment, expires, state, created, deleted) = row  # fmt: skip
    listed = _decode(scopes) if isinstance(scopes, str | bytes) else scopes
    joined = ";".join(s for s in listed if isinstance(s, str)) if isinstance(listed, list) else ""
    return [owner_id, owner_type, display, status, relation, nhi_id, nhi_type, name, kind,
            purpose, joined, environment, _stamp(expires), state, _stamp(created),
            _stamp(deleted)]  # fmt: skip
