"""The resources table and its side tables, always scoped to one tenant."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.resource import GroupRef, Member, OwnerRef, Resource
from app.scim.codec import parse_datetime
from app.scim.errors import PreconditionFailed, Uniqueness
from app.scim.filter import AttrPath, Filter
from app.scim.schema import ResourceType
from app.store.filtering import FilterCompiler
from app.store.promoted import (
    GOVERNANCE,
    MAX_NESTING,
    MEMBER_TYPES,
    UNIQUE_NAME,
    due_at,
    fold,
)
from app.store.sorting import sort_key
from app.store.tables import (
    COUNT_SHARDS,
    group_members,
    nhi_owners,
    resource_counts,
    resources,
)


def _memberships_query() -> sa.Select[Any]:
    """Built once: constructing the recursive statement cost more than running it."""
    gm = group_members
    tenant = sa.bindparam("tenant_id")
    seed = sa.select(
        gm.c.member_id.label("origin"), gm.c.group_id, sa.literal(1).label("depth")
    ).where(gm.c.tenant_id == tenant, gm.c.member_id.in_(sa.bindparam("user_ids", expanding=True)))
    closure = seed.cte("closure", recursive=True)
    closure = closure.union(
        sa.select(closure.c.origin, gm.c.group_id, closure.c.depth + 1).where(
            gm.c.tenant_id == tenant,
            # Only groups are members of groups: keeps the step on the partial index.
            gm.c.member_type == "Group",
            gm.c.member_id == closure.c.group_id,
            closure.c.depth < MAX_NESTING,
        )
    )
    nearest = (
        sa.select(closure.c.origin, closure.c.group_id, sa.func.min(closure.c.depth).label("depth"))
        .group_by(closure.c.origin, closure.c.group_id)
        .subquery()
    )
    return (
        sa.select(
            nearest.c.origin, nearest.c.group_id, nearest.c.depth, _display().label("display")
        )
        .join(resources, resources.c.id == nearest.c.group_id)
        .where(resources.c.deleted_at.is_(None))
        .order_by(nearest.c.origin, nearest.c.depth, nearest.c.group_id)
    )


# Whether a resource is a direct member of any Group: a User in none (most of a
# directory) needs no recursive query for its ``groups``.
_IN_GROUPS = (
    sa.exists()
    .where(
        group_members.c.tenant_id == resources.c.tenant_id,
        group_members.c.member_id == resources.c.id,
    )
    .label("in_groups")
)


def _by_id(*, lock: bool, retired: bool) -> sa.Select[Any]:
    """One resource of a tenant by id; built once per variant, so executing it costs no
    statement construction nor cache-key generation."""
    live = resources.c.deleted_at.is_(None)
    if retired:
        live = sa.or_(live, resources.c.lifecycle_state == "suspended")
    query = sa.select(resources, _IN_GROUPS).where(
        resources.c.tenant_id == sa.bindparam("tenant_id"),
        resources.c.resource_type == sa.bindparam("resource_type"),
        resources.c.id == sa.bindparam("resource_id"),
        live,
    )
    return query.with_for_update() if lock else query


_BY_ID = {
    (lock, retired): _by_id(lock=lock, retired=retired) for lock in (0, 1) for retired in (0, 1)
}


def _shard(resource_id: str) -> int:
    """The count shard of a resource: from its id (a UUID's first digits are random)."""
    try:
        return int(resource_id[:2], 16) % COUNT_SHARDS
    except ValueError:
        return sum(resource_id.encode()) % COUNT_SHARDS


def _upsert_count(insert: Any) -> Any:
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


_UPSERT_COUNT = {"sqlite": _upsert_count(sqlite_insert), "postgresql": _upsert_count(pg_insert)}
_LIVE_COUNT = sa.select(sa.func.coalesce(sa.func.sum(resource_counts.c.live), 0)).where(
    resource_counts.c.tenant_id == sa.bindparam("tenant_id"),
    resource_counts.c.resource_type == sa.bindparam("resource_type"),
)


def _governed(row: Any) -> bool:
    return row.lifecycle_state is not None or row.resource_type in ("Agent", "ServiceAccount")


# Who can be accountable: people and teams, never another non-human identity.
OWNER_TYPES = ("User", "Group")


def _empty_group(table: Any) -> sa.ColumnElement[bool]:
    """A Group owner with no members answers for nothing: it counts as inactive."""
    has_members = (
        sa.select(group_members.c.group_id).where(group_members.c.group_id == table.c.id).exists()
    )
    return sa.and_(table.c.resource_type == "Group", ~has_members)


def holder_status(owner: Any) -> sa.ColumnElement[str]:
    """An owner's or sponsor's standing, joined as ``owner``: active, inactive or removed."""
    return sa.case(
        (sa.or_(owner.c.id.is_(None), owner.c.deleted_at.is_not(None)), "removed"),
        (owner.c.active.is_(False), "inactive"),
        (_empty_group(owner), "inactive"),
        else_="active",
    )


def _entitlements(raw: Any) -> tuple[str, ...]:
    """A User's RFC 7643 §4.1.2 entitlements as their values."""
    if not isinstance(raw, list):
        return ()
    return tuple(
        sorted({e["value"] for e in raw if isinstance(e, dict) and isinstance(e.get("value"), str)})
    )


def _chunks(items: Sequence[Any], size: int = 500) -> list[Sequence[Any]]:
    """Bounded statements: SQLite allows ~32k bound parameters, PostgreSQL 65k."""
    return [items[i : i + size] for i in range(0, len(items), size)]


def _display(*given: Any) -> sa.ColumnElement[str]:
    """A reference's ``display``: what the client gave, else the resource's current name."""
    doc = resources.c.doc
    return sa.func.coalesce(
        *given,
        doc["displayName"].as_string(),
        doc["userName"].as_string(),
        doc["name"].as_string(),
    )


def name_norm(resource: Resource) -> str:
    return fold(str(resource.doc.get(UNIQUE_NAME[resource.resource_type], "")))


def _promoted(resource: Resource) -> dict[str, Any]:
    doc = resource.doc
    active = doc.get("active")
    governance = doc.get(GOVERNANCE) if isinstance(doc.get(GOVERNANCE), dict) else {}
    state = governance.get("lifecycleState")
    if state is not None:
        active = state == "active"  # a governed identity's active is its state's
    expires = governance.get("expiresAt")
    parent = doc.get("parent")
    return {
        "name_norm": name_norm(resource),
        "external_id": resource.external_id,
        "active": active if isinstance(active, bool) else None,
        "version": resource.version,
        "last_modified": resource.last_modified,
        "doc": doc,
        "expires_at": parse_datetime(expires) if isinstance(expires, str) else None,
        "parent_id": parent.get("value") if isinstance(parent, dict) else None,
        "lifecycle_state": state,
        "due_at": due_at(doc),
        "attest_by": _moment(governance.get("attestBy")) if state == "active" else None,
    }


def _uniqueness(resource: Resource) -> Uniqueness:
    attribute = UNIQUE_NAME[resource.resource_type]
    value = resource.doc.get(attribute)
    return Uniqueness(f"a {resource.resource_type} with {attribute} {value!r} already exists")


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


def _moment(value: Any) -> dt.datetime | None:
    return parse_datetime(value) if isinstance(value, str) else None


def _utc(value: Any) -> dt.datetime | None:
    """A datetime read back from SQLite through a RETURNING clause keeps no zone."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


class Window(msgspec.Struct, frozen=True, kw_only=True):
    """Which rows of a result: from an ``offset``, or ``after``/``before`` a row's seq."""

    kind: str  # "offset" | "after" | "before"
    value: int
    limit: int


class Found(msgspec.Struct, frozen=True, kw_only=True):
    resources: list[Resource]
    total: int
    first_seq: int | None  # seq of the first and last row returned, for cursors
    last_seq: int | None
    more: bool  # rows remain beyond this window, in its direction


class ResourceRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    def _live(
        self, tenant_id: str, resource_type: str, *, retired: bool = False
    ) -> sa.ColumnElement[bool]:
        """A resource of the tenant not deleted; ``retired``: or deleted and still restorable
        (suspended, awaiting its teardown), which only the teardown and a restore reach."""
        deleted = resources.c.deleted_at.is_(None)
        if retired:
            deleted = sa.or_(deleted, resources.c.lifecycle_state == "suspended")
        return sa.and_(
            resources.c.tenant_id == tenant_id,
            resources.c.resource_type == resource_type,
            deleted,
        )

    async def get(
        self,
        tenant_id: str,
        resource_type: str,
        resource_id: str,
        *,
        lock: bool = False,
        members: bool = True,
        groups: bool = True,
        retired: bool = False,
    ) -> Resource | None:
        """One live resource of the tenant. ``lock`` holds its row until the transaction ends;
        ``retired`` finds one deleted but still restorable too."""
        params = {
            "tenant_id": tenant_id,
            "resource_type": resource_type,
            "resource_id": resource_id,
        }
        row = (await self._c.execute(_BY_ID[lock, retired], params)).first()
        if row is None:
            return None
        found = await self._hydrate([row], members=members, groups=groups)
        return found[0]

    async def get_kept(
        self, tenant_id: str, resource_type: str, resource_id: str
    ) -> Resource | None:
        """One resource of the tenant, live, deleted or a tombstone (what policies see of a
        parent that is gone)."""
        row = (
            await self._c.execute(
                sa.select(resources).where(
                    resources.c.tenant_id == tenant_id,
                    resources.c.resource_type == resource_type,
                    resources.c.id == resource_id,
                )
            )
        ).first()
        if row is None:
            return None
        return (await self._hydrate([row], members=False, groups=False))[0]

    async def get_many(
        self, tenant_id: str, resource_ids: Sequence[str], *, lock: bool = False
    ) -> list[Resource]:
        """Live resources of the tenant among ``resource_ids`` (any type), with their owners."""
        if not resource_ids:
            return []
        query = sa.select(resources).where(
            resources.c.tenant_id == tenant_id,
            resources.c.deleted_at.is_(None),
            resources.c.id.in_(list(resource_ids)),
        )
        rows = (await self._c.execute(query.with_for_update() if lock else query)).all()
        return await self._hydrate(rows, members=False, groups=False)

    async def search(
        self,
        tenant_id: str,
        resource_type: ResourceType,
        *,
        filter: Filter | None,
        sort_by: AttrPath | None,
        descending: bool,
        window: Window,
        members: bool = True,
        groups: bool = True,
        now: dt.datetime | None = None,
    ) -> Found:
        """One page of a tenant's resources matching ``filter`` (RFC 7644 §3.4.2).

        Without ``sort_by`` the order is creation order (``seq``), which cursors
        page by key; with it, RFC 7644 §3.4.2.3 order, missing values last when
        ascending and first when descending, ties broken by id.
        """
        dialect = self._c.dialect.name
        where = self._live(tenant_id, resource_type.name)
        if filter is not None:
            where = sa.and_(where, FilterCompiler(resource_type, dialect, now).where(filter))

        async def count() -> int:
            if filter is None:
                return await self._live_count(tenant_id, resource_type.name)
            statement = sa.select(sa.func.count()).select_from(resources).where(where)
            return int((await self._c.execute(statement)).scalar_one())

        if window.limit <= 0:
            return Found(
                resources=[], total=await count(), first_seq=None, last_seq=None, more=False
            )
        query = sa.select(resources, _IN_GROUPS).where(where)
        backwards = window.kind == "before"
        if sort_by is not None:
            key = sort_key(sort_by, resource_type, dialect)
            ordered = key.desc().nulls_first() if descending else key.asc().nulls_last()
            query = query.order_by(ordered, resources.c.id)
        elif backwards:
            query = query.where(resources.c.seq < window.value).order_by(resources.c.seq.desc())
        else:
            if window.kind == "after":
                query = query.where(resources.c.seq > window.value)
            query = query.order_by(resources.c.seq)
        if window.kind == "offset":
            query = query.offset(window.value)
        rows = list((await self._c.execute(query.limit(window.limit + 1))).all())
        more = len(rows) > window.limit
        rows = rows[: window.limit]
        first_page = window.value == 0 and window.kind in ("offset", "after")
        # A first page that holds everything is its own count: a lookup by
        # userName or externalId costs one query, not two.
        total = len(rows) if first_page and not more else await count()
        if backwards:
            rows.reverse()
        hydrated = await self._hydrate(rows, members=members, groups=groups)
        return Found(
            resources=hydrated,
            total=total,
            first_seq=rows[0].seq if rows else None,
            last_seq=rows[-1].seq if rows else None,
            more=more,
        )

    async def add(self, resource: Resource) -> None:
        await self.add_many([resource])

    async def add_many(self, batch: Sequence[Resource]) -> None:
        """Insert new resources of one tenant (bulk loads use this too, so counts stay right)."""
        if not batch:
            return
        try:
            for chunk in _chunks(batch):
                await self._c.execute(
                    resources.insert(),
                    [
                        {
                            "id": r.id,
                            "tenant_id": r.tenant_id,
                            "resource_type": r.resource_type,
                            "created": r.created,
                            **_promoted(r),
                        }
                        for r in chunk
                    ],
                )
        except IntegrityError:
            raise _uniqueness(batch[0]) from None
        for resource in batch:
            if resource.members:
                await self._insert_members(resource, resource.members)
        by_shard: dict[tuple[str, int], int] = defaultdict(int)
        for resource in batch:
            by_shard[resource.resource_type, _shard(resource.id)] += 1
        for (resource_type, shard), n in by_shard.items():
            await self._count(batch[0].tenant_id, resource_type, n, shard)

    async def _count(self, tenant_id: str, resource_type: str, delta: int, shard: int) -> None:
        """Move one of the type's count shards (``COUNT_SHARDS``): concurrent creates of a
        tenant rarely touch the same row, so they do not queue behind each other."""
        await self._c.execute(
            _UPSERT_COUNT[self._c.dialect.name],
            {"tenant_id": tenant_id, "resource_type": resource_type, "shard": shard,
             "live": delta},
        )  # fmt: skip

    async def _live_count(self, tenant_id: str, resource_type: str) -> int:
        found = await self._c.execute(
            _LIVE_COUNT, {"tenant_id": tenant_id, "resource_type": resource_type}
        )
        return int(found.scalar() or 0)

    async def replace(
        self, resource: Resource, *, members_changed: bool = False, retired: bool = False
    ) -> None:
        """Write ``resource`` over ``resource.version - 1``; 412 if another write came first."""
        try:
            result = await self._c.execute(
                resources.update()
                .where(
                    self._live(resource.tenant_id, resource.resource_type, retired=retired),
                    resources.c.id == resource.id,
                    resources.c.version == resource.version - 1,
                )
                .values(**_promoted(resource))
            )
        except IntegrityError:
            raise _uniqueness(resource) from None
        if result.rowcount != 1:
            raise PreconditionFailed(f"{resource.resource_type} {resource.id} changed meanwhile")
        if members_changed and resource.members is not None:
            await self._c.execute(
                group_members.delete().where(group_members.c.group_id == resource.id)
            )
            await self._insert_members(resource, resource.members)

    async def delete(self, tenant_id: str, resource_type: str, resource_id: str) -> None:
        """Remove a resource; memberships go with it (ON DELETE CASCADE)."""
        result = await self._c.execute(
            resources.delete().where(
                self._live(tenant_id, resource_type), resources.c.id == resource_id
            )
        )
        if result.rowcount:
            await self._count(tenant_id, resource_type, -1, _shard(resource_id))

    async def group_names(self, tenant_id: str, member_id: str) -> dict[str, str]:
        """The Groups ``member_id`` belongs to directly: id → displayName."""
        rows = await self._c.execute(
            sa.select(resources.c.id, resources.c.doc["displayName"].as_string())
            .select_from(group_members.join(resources, resources.c.id == group_members.c.group_id))
            .where(group_members.c.tenant_id == tenant_id, group_members.c.member_id == member_id)
        )
        return {row[0]: row[1] or "" for row in rows}

    async def ungoverned_users_in(self, tenant_id: str, group_id: str) -> list[str]:
        """The Group's direct User members that are not governed identities (yet)."""
        rows = await self._c.execute(
            sa.select(group_members.c.member_id)
            .select_from(group_members.join(resources, resources.c.id == group_members.c.member_id))
            .where(
                group_members.c.tenant_id == tenant_id,
                group_members.c.group_id == group_id,
                group_members.c.member_type == "User",
                resources.c.lifecycle_state.is_(None),
                resources.c.deleted_at.is_(None),
            )
        )
        return [row[0] for row in rows]

    async def groups_with_member(self, tenant_id: str, member_id: str) -> list[str]:
        rows = await self._c.execute(
            sa.select(group_members.c.group_id).where(
                group_members.c.tenant_id == tenant_id, group_members.c.member_id == member_id
            )
        )
        return [row.group_id for row in rows]

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
                expires_at=_utc(r[4]),
                teardown_at=r[5],
                suspended_reason=r[6],
                suspend_at=_utc(r[7]),
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
        return await self._hydrate(rows, members=False, groups=False)

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

    async def leave_groups(
        self, tenant_id: str, member_ids: str | Sequence[str], now: dt.datetime
    ) -> list[str]:
        """Take the members out of every Group they are in; those Groups' ids (now changed)."""
        wanted = [member_ids] if isinstance(member_ids, str) else list(member_ids)
        rows = await self._c.execute(
            sa.select(group_members.c.group_id)
            .where(group_members.c.tenant_id == tenant_id, group_members.c.member_id.in_(wanted))
            .distinct()
        )
        groups = [row.group_id for row in rows]
        if groups:
            await self._c.execute(
                group_members.delete().where(
                    group_members.c.tenant_id == tenant_id, group_members.c.member_id.in_(wanted)
                )
            )
            await self.touch(tenant_id, groups, now)
        return groups

    async def touch(self, tenant_id: str, resource_ids: Sequence[str], now: dt.datetime) -> None:
        """Bump version and lastModified: a Group whose members changed is a changed Group."""
        if resource_ids:
            await self._c.execute(
                resources.update()
                .where(resources.c.tenant_id == tenant_id, resources.c.id.in_(resource_ids))
                .values(version=resources.c.version + 1, last_modified=now)
            )

    async def emails_of(self, tenant_id: str, user_ids: Sequence[str]) -> list[str]:
        """Each live, active User's primary e-mail (else its first), in the order asked."""
        if not user_ids:
            return []
        rows = await self._c.execute(
            sa.select(resources.c.id, resources.c.doc["emails"].label("emails")).where(
                resources.c.tenant_id == tenant_id,
                resources.c.resource_type == "User",
                resources.c.deleted_at.is_(None),
                resources.c.active.is_not(False),
                resources.c.id.in_(list(user_ids)),
            )
        )
        found: dict[str, str] = {}
        for row in rows:
            emails = [e for e in row.emails or () if isinstance(e, dict) and e.get("value")]
            chosen = next((e for e in emails if e.get("primary") is True), None)
            chosen = chosen or (emails[0] if emails else None)
            if chosen is not None:
                found[row.id] = str(chosen["value"])
        return [found[u] for u in user_ids if u in found]

    async def owned_by(self, tenant_id: str, owner_id: str) -> list[tuple[str, str]]:
        """The live identities ``owner_id`` is an owner of: (id, resource type) pairs."""
        rows = await self._c.execute(
            sa.select(resources.c.id, resources.c.resource_type)
            .join(nhi_owners, nhi_owners.c.nhi_id == resources.c.id)
            .where(
                nhi_owners.c.tenant_id == tenant_id,
                nhi_owners.c.owner_id == owner_id,
                nhi_owners.c.relation == "owner",
                resources.c.deleted_at.is_(None),
            )
            .order_by(resources.c.seq)
        )
        return [(row.id, row.resource_type) for row in rows]

    async def set_owners(self, nhi: Resource, relation: str, refs: Sequence[OwnerRef]) -> None:
        """Replace an identity's owners (or sponsors) with ``refs``."""
        await self._c.execute(
            nhi_owners.delete().where(
                nhi_owners.c.nhi_id == nhi.id, nhi_owners.c.relation == relation
            )
        )
        if refs:
            await self._c.execute(
                nhi_owners.insert(),
                [
                    {
                        "tenant_id": nhi.tenant_id,
                        "nhi_id": nhi.id,
                        "relation": relation,
                        "owner_id": ref.value,
                        "owner_type": ref.type,
                        "display": ref.display,
                    }
                    for ref in refs
                ],
            )

    async def children(self, tenant_id: str, parent_id: str) -> list[str]:
        rows = await self._c.execute(
            sa.select(resources.c.id).where(
                resources.c.tenant_id == tenant_id,
                resources.c.parent_id == parent_id,
                resources.c.deleted_at.is_(None),
            )
        )
        return [row.id for row in rows]

    async def children_bounds(
        self, tenant_id: str, parent_id: str
    ) -> tuple[dt.datetime | None, frozenset[str]] | None:
        """The latest end and all scopes of a parent's live children; None if it has none."""
        rows = (
            await self._c.execute(
                sa.select(resources.c.expires_at, resources.c.doc[GOVERNANCE]["scopes"]).where(
                    resources.c.tenant_id == tenant_id,
                    resources.c.parent_id == parent_id,
                    resources.c.deleted_at.is_(None),
                )
            )
        ).all()
        if not rows:
            return None
        ends = [row[0] for row in rows if row[0] is not None]
        scopes = {
            s for row in rows if isinstance(row[1], list) for s in row[1] if isinstance(s, str)
        }
        return (max(ends) if ends else None), frozenset(scopes)

    async def direct_groups(
        self, tenant_id: str, member_ids: Sequence[str]
    ) -> dict[str, list[str]]:
        """The Groups each of ``member_ids`` is a direct member of: member id → Group ids."""
        out: dict[str, list[str]] = {member_id: [] for member_id in member_ids}
        for chunk in _chunks(list(member_ids)):
            rows = await self._c.execute(
                sa.select(group_members.c.member_id, group_members.c.group_id)
                .where(group_members.c.tenant_id == tenant_id, group_members.c.member_id.in_(chunk))
                .order_by(group_members.c.member_id, group_members.c.group_id)
            )
            for row in rows:
                out[row.member_id].append(row.group_id)
        return out

    async def join_groups(
        self, member: Resource, group_ids: Sequence[str], now: dt.datetime
    ) -> list[str]:
        """Make ``member`` a member again of those of ``group_ids`` still live; their ids."""
        if not group_ids:
            return []
        rows = await self._c.execute(
            sa.select(resources.c.id).where(
                self._live(member.tenant_id, "Group"), resources.c.id.in_(list(group_ids))
            )
        )
        live = [row.id for row in rows]
        for group_id in live:
            await self._c.execute(
                group_members.insert().values(
                    tenant_id=member.tenant_id,
                    group_id=group_id,
                    member_id=member.id,
                    member_type=member.resource_type,
                )
            )
        await self.touch(member.tenant_id, live, now)
        return live

    async def undelete(self, resource: Resource) -> None:
        """A deleted, still restorable identity live again, written as ``resource``.

        Its name may have been taken meanwhile: 409 ``uniqueness``.
        """
        try:
            result = await self._c.execute(
                resources.update()
                .where(
                    resources.c.tenant_id == resource.tenant_id,
                    resources.c.id == resource.id,
                    resources.c.deleted_at.is_not(None),
                    resources.c.version == resource.version - 1,
                )
                .values(deleted_at=None, **_promoted(resource))
            )
        except IntegrityError:
            raise _uniqueness(resource) from None
        if result.rowcount != 1:
            raise PreconditionFailed(f"{resource.resource_type} {resource.id} changed meanwhile")
        await self._count(resource.tenant_id, resource.resource_type, 1, _shard(resource.id))

    async def mark_deleted(self, resource: Resource, now: dt.datetime) -> None:
        """Soft delete: SCIM sees 404 from now on; reports and audit keep the tombstone."""
        result = await self._c.execute(
            resources.update()
            .where(
                self._live(resource.tenant_id, resource.resource_type),
                resources.c.id == resource.id,
            )
            .values(deleted_at=now)
        )
        if result.rowcount:
            await self._count(resource.tenant_id, resource.resource_type, -1, _shard(resource.id))
        await self._c.execute(
            group_members.delete().where(group_members.c.member_id == resource.id)
        )

    async def member_refs(self, group_id: str) -> list[Member]:
        """A group's members as (id, type) only: enough to evaluate a members[…] filter."""
        rows = await self._c.execute(
            sa.select(group_members.c.member_id, group_members.c.member_type).where(
                group_members.c.group_id == group_id
            )
        )
        return [Member(value=row.member_id, type=row.member_type) for row in rows]

    async def change_members(
        self, group: Resource, *, clear: bool, remove: Sequence[str], add: Sequence[Member]
    ) -> bool:
        """Clear, remove, then add members with set-based statements; True if any row changed.

        Adding an existing member inserts nothing (ON CONFLICT DO NOTHING), so
        concurrent PATCHes under the group's row lock never lose a member.
        """
        changed = 0
        where = group_members.c.group_id == group.id
        if clear:
            changed += (await self._c.execute(group_members.delete().where(where))).rowcount
        elif remove:
            for chunk in _chunks(sorted(set(remove))):
                result = await self._c.execute(
                    group_members.delete().where(where, group_members.c.member_id.in_(chunk))
                )
                changed += result.rowcount
        if add:
            # Only the ids not yet members: asyncpg reports no row count for a
            # batch, and "changed" must be exact (it decides the version bump).
            present: set[str] = set()
            for chunk in _chunks([m.value for m in add]):
                rows = await self._c.execute(
                    sa.select(group_members.c.member_id).where(
                        where, group_members.c.member_id.in_(chunk)
                    )
                )
                present.update(row.member_id for row in rows)
            new = [m for m in add if m.value not in present]
            insert = (sqlite_insert if self._c.dialect.name == "sqlite" else pg_insert)(
                group_members
            )
            rows_to_add = [
                {
                    "tenant_id": group.tenant_id,
                    "group_id": group.id,
                    "member_id": m.value,
                    "member_type": m.type,
                    "display": m.display,
                }
                for m in new
            ]
            for chunk in _chunks(rows_to_add):
                await self._c.execute(insert.on_conflict_do_nothing(), chunk)
            changed += len(new)
        return changed > 0

    async def find_members(
        self, tenant_id: str, ids: Iterable[str], types: Sequence[str] = MEMBER_TYPES
    ) -> dict[str, Member]:
        """The live resources of ``types`` of the tenant among ``ids``, with their display names."""
        wanted = list(set(ids))
        if not wanted:
            return {}
        rows = await self._c.execute(
            sa.select(resources.c.id, resources.c.resource_type, _display().label("display")).where(
                resources.c.tenant_id == tenant_id,
                resources.c.deleted_at.is_(None),
                resources.c.resource_type.in_(types),
                resources.c.id.in_(wanted),
            )
        )
        return {
            row.id: Member(value=row.id, type=row.resource_type, display=row.display)
            for row in rows
        }

    async def _insert_members(self, group: Resource, members: Sequence[Member]) -> None:
        if members:
            await self._c.execute(
                group_members.insert(),
                [
                    {
                        "tenant_id": group.tenant_id,
                        "group_id": group.id,
                        "member_id": m.value,
                        "member_type": m.type,
                        "display": m.display,
                    }
                    for m in members
                ],
            )

    async def _hydrate(self, rows: Sequence[Any], *, members: bool, groups: bool) -> list[Resource]:
        """Rows → Resources, with members and computed groups only when they will be used."""
        member_lists: dict[str, list[Member]] = defaultdict(list)
        group_lists: dict[str, list[GroupRef]] = defaultdict(list)
        group_ids = {r.id for r in rows if r.resource_type == "Group"} if members else set()
        user_ids = {r.id for r in rows if r.resource_type != "Group"} if groups else set()
        # Rows read with ``in_groups`` say which are in no Group at all: nothing to look up.
        asked = [r.id for r in rows if r.id in user_ids and r._mapping.get("in_groups", True)]
        owner_lists = await self._owners([r.id for r in rows if _governed(r)])
        if group_ids:
            for m in await self._c.execute(
                sa.select(
                    group_members.c.group_id,
                    group_members.c.member_id,
                    group_members.c.member_type,
                    _display(group_members.c.display).label("display"),
                )
                .join(resources, resources.c.id == group_members.c.member_id)
                .where(group_members.c.group_id.in_(group_ids))
                .order_by(group_members.c.group_id, group_members.c.member_id)
            ):
                member_lists[m.group_id].append(
                    Member(value=m.member_id, type=m.member_type, display=m.display)
                )
        if asked:
            for origin, ref in await self._memberships(rows[0].tenant_id, asked):
                group_lists[origin].append(ref)
        return [
            Resource(
                tenant_id=r.tenant_id,
                id=r.id,
                resource_type=r.resource_type,
                external_id=r.external_id,
                doc=r.doc,
                version=r.version,
                created=r.created,
                last_modified=r.last_modified,
                members=tuple(member_lists[r.id]) if r.id in group_ids else None,
                groups=tuple(group_lists[r.id]) if r.id in user_ids else None,
                owners=tuple(owner_lists.get(r.id, ())) if _governed(r) else None,
            )
            for r in rows
        ]

    async def _owners(self, nhi_ids: list[str]) -> dict[str, list[OwnerRef]]:
        """Owners and sponsors with their live status (no reference ever dangles)."""
        if not nhi_ids:
            return {}
        owner = resources.alias("owner")
        status = holder_status(owner)
        doc = owner.c.doc
        display = sa.func.coalesce(
            nhi_owners.c.display, doc["displayName"].as_string(), doc["userName"].as_string()
        )
        rows = await self._c.execute(
            sa.select(
                nhi_owners.c.nhi_id,
                nhi_owners.c.owner_id,
                nhi_owners.c.owner_type,
                nhi_owners.c.relation,
                display.label("display"),
                status.label("status"),
                doc["entitlements"].label("entitlements"),
            )
            .select_from(nhi_owners.outerjoin(owner, owner.c.id == nhi_owners.c.owner_id))
            .where(nhi_owners.c.nhi_id.in_(nhi_ids))
            .order_by(nhi_owners.c.nhi_id, nhi_owners.c.relation, nhi_owners.c.owner_id)
        )
        found: dict[str, list[OwnerRef]] = defaultdict(list)
        for row in rows:
            found[row.nhi_id].append(
                OwnerRef(
                    value=row.owner_id,
                    type=row.owner_type,
                    relation=row.relation,
                    display=row.display,
                    status=row.status,
                    entitlements=_entitlements(row.entitlements),
                )
            )
        return found

    async def parties(
        self, tenant_id: str, ids: Iterable[str], relation: str
    ) -> dict[str, OwnerRef]:
        """The live Users and Groups among ``ids`` as would-be owners or sponsors, with status."""
        wanted = list(set(ids))
        if not wanted:
            return {}
        rows = await self._c.execute(
            sa.select(
                resources.c.id,
                resources.c.resource_type,
                resources.c.active,
                _empty_group(resources).label("empty"),
                _display().label("display"),
                resources.c.doc["entitlements"].label("entitlements"),
            ).where(
                resources.c.tenant_id == tenant_id,
                resources.c.deleted_at.is_(None),
                resources.c.resource_type.in_(OWNER_TYPES),
                resources.c.id.in_(wanted),
            )
        )
        return {
            row.id: OwnerRef(
                value=row.id,
                type=row.resource_type,
                relation=relation,
                display=row.display,
                status="inactive" if row.active is False or row.empty else "active",
                entitlements=_entitlements(row.entitlements),
            )
            for row in rows
        }

    async def _memberships(self, tenant_id: str, user_ids: list[str]) -> list[tuple[str, GroupRef]]:
        """Direct and indirect groups of each user (RFC 7643 §4.1.2), one recursive query."""
        params = {"tenant_id": tenant_id, "user_ids": user_ids}
        return [
            (
                row.origin,
                GroupRef(
                    value=row.group_id,
                    display=row.display,
                    type="direct" if row.depth == 1 else "indirect",
                ),
            )
            for row in await self._c.execute(_MEMBERSHIPS, params)
        ]


_MEMBERSHIPS = _memberships_query()
