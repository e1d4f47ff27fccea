"""The resources table: one tenant's reads and writes of SCIM resources.

A resource's memberships and owners are in their own repositories
(memberships.py, owners.py), read with it when asked; the live counts its
writes move are in counts.py; what the sweeper claims is in sweep.py.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.lifecycle import State
from app.domain.resource import GroupRef, Resource
from app.scim.errors import PreconditionFailed, Uniqueness
from app.scim.filter import AttrPath, Filter
from app.scim.schema import ResourceType
from app.store.counts import CountRepository
from app.store.filtering import FilterCompiler
from app.store.memberships import MembershipRepository, in_any_group
from app.store.owners import OwnerRepository
from app.store.promoted import GOVERNANCE, UNIQUE_NAME, due_of, fold, lifecycle_record
from app.store.sorting import sort_key
from app.store.sql import TenantBound, chunks
from app.store.tables import resources

# Whether a resource is a direct member of any Group: a User in none (most of a
# directory) needs no recursive query for its ``groups``.
_IN_GROUPS = in_any_group().label("in_groups")


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


def _replace(*, retired: bool) -> sa.Update:
    """A resource written over the version it was read at; the SET clause is the promoted
    columns passed with it (``_promoted``). Built once per variant, as ``_by_id``."""
    live = resources.c.deleted_at.is_(None)
    if retired:
        live = sa.or_(live, resources.c.lifecycle_state == "suspended")
    return resources.update().where(
        resources.c.tenant_id == sa.bindparam("of_tenant"),
        resources.c.resource_type == sa.bindparam("of_type"),
        resources.c.id == sa.bindparam("of_id"),
        resources.c.version == sa.bindparam("of_version"),
        live,
    )


_REPLACE = {retired: _replace(retired=retired) for retired in (False, True)}
_INSERT = resources.insert()


def _governed(row: Any) -> bool:
    return row.lifecycle_state is not None or row.resource_type in ("Agent", "ServiceAccount")


def name_norm(resource: Resource) -> str:
    return fold(str(resource.doc.get(UNIQUE_NAME[resource.resource_type], "")))


def _promoted(resource: Resource) -> dict[str, Any]:
    doc = resource.doc
    active = doc.get("active")
    # Parsed once per write: the promoted state, end, attestation and due time read it.
    recorded = lifecycle_record(doc)
    governance = recorded if recorded is not None else resource.governance
    state = recorded.lifecycle_state if recorded is not None else None
    if state is not None:
        active = state is State.ACTIVE  # a governed identity's active is its state's
    parent = doc.get("parent")
    return {
        "name_norm": name_norm(resource),
        "external_id": resource.external_id,
        "active": active if isinstance(active, bool) else None,
        "version": resource.version,
        "last_modified": resource.last_modified,
        "doc": doc,
        "expires_at": governance.expires_at,
        "parent_id": parent.get("value") if isinstance(parent, dict) else None,
        "lifecycle_state": state.value if state is not None else None,
        "due_at": due_of(recorded) if recorded is not None else None,
        "attest_by": governance.attest_by if state is State.ACTIVE else None,
    }


def _uniqueness(resource: Resource) -> Uniqueness:
    attribute = UNIQUE_NAME[resource.resource_type]
    value = resource.doc.get(attribute)
    return Uniqueness(f"a {resource.resource_type} with {attribute} {value!r} already exists")


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


class ResourceRepository(TenantBound):
    """One tenant's resources (with its memberships and owners, which hydrate them)."""

    def __init__(
        self,
        connection: AsyncConnection,
        memberships: MembershipRepository,
        owners: OwnerRepository,
        counts: CountRepository,
    ) -> None:
        super().__init__(connection, memberships.tenant_id)
        self.memberships = memberships
        self.counts = counts
        self.owners = owners

    def _live(self, resource_type: str, *, retired: bool = False) -> sa.ColumnElement[bool]:
        """A resource of the tenant not deleted; ``retired``: or deleted and still restorable
        (suspended, awaiting its teardown), which only the teardown and a restore reach."""
        deleted = resources.c.deleted_at.is_(None)
        if retired:
            deleted = sa.or_(deleted, resources.c.lifecycle_state == "suspended")
        return sa.and_(
            resources.c.tenant_id == self._tenant,
            resources.c.resource_type == resource_type,
            deleted,
        )

    async def get(
        self,
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
            "tenant_id": self._tenant,
            "resource_type": resource_type,
            "resource_id": resource_id,
        }
        row = (await self._c.execute(_BY_ID[lock, retired], params)).first()
        if row is None:
            return None
        found = await self.hydrate([row], members=members, groups=groups)
        return found[0]

    async def get_kept(self, resource_type: str, resource_id: str) -> Resource | None:
        """One resource of the tenant, live, deleted or a tombstone (what policies see of a
        parent that is gone)."""
        row = (
            await self._c.execute(
                sa.select(resources).where(
                    resources.c.tenant_id == self._tenant,
                    resources.c.resource_type == resource_type,
                    resources.c.id == resource_id,
                )
            )
        ).first()
        if row is None:
            return None
        return (await self.hydrate([row], members=False, groups=False))[0]

    async def get_many(self, resource_ids: Sequence[str], *, lock: bool = False) -> list[Resource]:
        """Live resources of the tenant among ``resource_ids`` (any type), with their owners."""
        if not resource_ids:
            return []
        query = sa.select(resources).where(
            resources.c.tenant_id == self._tenant,
            resources.c.deleted_at.is_(None),
            resources.c.id.in_(list(resource_ids)),
        )
        rows = (await self._c.execute(query.with_for_update() if lock else query)).all()
        return await self.hydrate(rows, members=False, groups=False)

    async def search(
        self,
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
        where = self._live(resource_type.name)
        if filter is not None:
            where = sa.and_(
                where, FilterCompiler(resource_type, dialect, self._tenant, now).where(filter)
            )

        async def count() -> int:
            if filter is None:
                return await self.counts.live(resource_type.name)
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
        hydrated = await self.hydrate(rows, members=members, groups=groups)
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
        for resource in batch:
            self._own(resource)
        try:
            for chunk in chunks(batch):
                rows = [
                    {
                        "id": r.id,
                        "tenant_id": r.tenant_id,
                        "resource_type": r.resource_type,
                        "created": r.created,
                        **_promoted(r),
                    }
                    for r in chunk
                ]
                # One row (every create) goes as one statement, not the executemany path.
                await self._c.execute(_INSERT, rows[0] if len(rows) == 1 else rows)
        except IntegrityError:
            raise _uniqueness(batch[0]) from None
        for resource in batch:
            if resource.members:
                await self.memberships.insert(resource, resource.members)
        by_type: dict[str, list[str]] = defaultdict(list)
        for resource in batch:
            by_type[resource.resource_type].append(resource.id)
        for resource_type, ids in by_type.items():
            await self.counts.moved(resource_type, ids, 1)

    async def replace(
        self, resource: Resource, *, members_changed: bool = False, retired: bool = False
    ) -> None:
        """Write ``resource`` over ``resource.version - 1``; 412 if another write came first."""
        self._own(resource)
        try:
            result = await self._c.execute(
                _REPLACE[retired],
                {
                    "of_tenant": self._tenant,
                    "of_type": resource.resource_type,
                    "of_id": resource.id,
                    "of_version": resource.version - 1,
                    **_promoted(resource),
                },
            )
        except IntegrityError:
            raise _uniqueness(resource) from None
        if result.rowcount != 1:
            raise PreconditionFailed(f"{resource.resource_type} {resource.id} changed meanwhile")
        if members_changed and resource.members is not None:
            await self.memberships.replace(resource, resource.members)

    async def delete(self, resource_type: str, resource_id: str) -> None:
        """Remove a resource; memberships go with it (ON DELETE CASCADE)."""
        result = await self._c.execute(
            resources.delete().where(self._live(resource_type), resources.c.id == resource_id)
        )
        if result.rowcount:
            await self.counts.moved(resource_type, [resource_id], -1)

    async def emails_of(self, user_ids: Sequence[str]) -> list[str]:
        """Each live, active User's primary e-mail (else its first), in the order asked."""
        if not user_ids:
            return []
        rows = await self._c.execute(
            sa.select(resources.c.id, resources.c.doc["emails"].label("emails")).where(
                resources.c.tenant_id == self._tenant,
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

    async def children(self, parent_id: str) -> list[str]:
        rows = await self._c.execute(
            sa.select(resources.c.id).where(
                resources.c.tenant_id == self._tenant,
                resources.c.parent_id == parent_id,
                resources.c.deleted_at.is_(None),
            )
        )
        return [row.id for row in rows]

    async def children_bounds(
        self, parent_id: str
    ) -> tuple[dt.datetime | None, frozenset[str]] | None:
        """The latest end and all scopes of a parent's live children; None if it has none."""
        rows = (
            await self._c.execute(
                sa.select(resources.c.expires_at, resources.c.doc[GOVERNANCE]["scopes"]).where(
                    resources.c.tenant_id == self._tenant,
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

    async def undelete(self, resource: Resource) -> None:
        """A deleted, still restorable identity live again, written as ``resource``.

        Its name may have been taken meanwhile: 409 ``uniqueness``.
        """
        try:
            result = await self._c.execute(
                resources.update()
                .where(
                    resources.c.tenant_id == self._own(resource),
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
        await self.counts.moved(resource.resource_type, [resource.id], 1)

    async def mark_deleted(self, resource: Resource, now: dt.datetime) -> None:
        """Soft delete: SCIM sees 404 from now on; reports and audit keep the tombstone."""
        self._own(resource)
        result = await self._c.execute(
            resources.update()
            .where(
                self._live(resource.resource_type),
                resources.c.id == resource.id,
            )
            .values(deleted_at=now)
        )
        if result.rowcount:
            await self.counts.moved(resource.resource_type, [resource.id], -1)
        await self.memberships.forget(resource)

    async def hydrate(self, rows: Sequence[Any], *, members: bool, groups: bool) -> list[Resource]:
        """Rows → Resources, with members and computed groups only when they will be used.

        The rows are of this repository's tenant, and so is every statement here.
        """
        if not rows:
            return []
        for row in rows:
            self._own(row)
        group_lists: dict[str, list[GroupRef]] = defaultdict(list)
        group_ids = {r.id for r in rows if r.resource_type == "Group"} if members else set()
        user_ids = {r.id for r in rows if r.resource_type != "Group"} if groups else set()
        # Rows read with ``in_groups`` say which are in no Group at all: nothing to look up.
        asked = [r.id for r in rows if r.id in user_ids and r._mapping.get("in_groups", True)]
        owner_lists = await self.owners.of([r.id for r in rows if _governed(r)])
        member_lists = await self.memberships.members_of(group_ids) if group_ids else {}
        if asked:
            for origin, ref in await self.memberships.closure(asked):
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
                members=tuple(member_lists.get(r.id, ())) if r.id in group_ids else None,
                groups=tuple(group_lists[r.id]) if r.id in user_ids else None,
                owners=tuple(owner_lists.get(r.id, ())) if _governed(r) else None,
            )
            for r in rows
        ]
