"""Group memberships (RFC 7643 §4.2 ``members``, §4.1.2 a User's ``groups``), tenant-scoped.

Members live in their own table, changed by set-based statements under the
Group's row lock; a User's groups, direct and through nested Groups, come from
one recursive query built once.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.domain.resource import GroupRef, Member, Resource
from app.store.promoted import MAX_NESTING, MEMBER_TYPES
from app.store.sql import TenantBound, chunks, display
from app.store.tables import group_members, resources


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
        sa.select(nearest.c.origin, nearest.c.group_id, nearest.c.depth, display().label("display"))
        .join(resources, resources.c.id == nearest.c.group_id)
        .where(resources.c.tenant_id == tenant, resources.c.deleted_at.is_(None))
        .order_by(nearest.c.origin, nearest.c.depth, nearest.c.group_id)
    )


_MEMBERSHIPS = _memberships_query()


def _same_tenant(resource_id: Any) -> sa.ColumnElement[bool]:
    """Join a member row to its resource within the row's tenant."""
    return sa.and_(
        resources.c.tenant_id == group_members.c.tenant_id, resources.c.id == resource_id
    )


def member_rows_of(group: Any) -> sa.ColumnElement[bool]:
    """Correlates member rows with the Group ``group`` (resources or an alias of it)."""
    return sa.and_(
        group_members.c.tenant_id == group.c.tenant_id, group_members.c.group_id == group.c.id
    )


def in_any_group(member: Any = resources) -> sa.Exists:
    """Whether ``member`` is a direct member of some Group of its tenant."""
    return sa.exists().where(
        group_members.c.tenant_id == member.c.tenant_id,
        group_members.c.member_id == member.c.id,
    )


class MembershipRepository(TenantBound):
    """One tenant's Group memberships."""

    def _of_tenant(self) -> sa.ColumnElement[bool]:
        return group_members.c.tenant_id == self._tenant

    async def group_names(self, member_id: str) -> dict[str, str]:
        """The Groups ``member_id`` belongs to directly: id → displayName."""
        rows = await self._c.execute(
            sa.select(resources.c.id, resources.c.doc["displayName"].as_string())
            .select_from(group_members.join(resources, _same_tenant(group_members.c.group_id)))
            .where(self._of_tenant(), group_members.c.member_id == member_id)
        )
        return {row[0]: row[1] or "" for row in rows}

    async def ungoverned_users_in(self, group_id: str) -> list[str]:
        """The Group's direct User members that are not governed identities (yet)."""
        rows = await self._c.execute(
            sa.select(group_members.c.member_id)
            .select_from(group_members.join(resources, _same_tenant(group_members.c.member_id)))
            .where(
                self._of_tenant(),
                group_members.c.group_id == group_id,
                group_members.c.member_type == "User",
                resources.c.lifecycle_state.is_(None),
                resources.c.deleted_at.is_(None),
            )
        )
        return [row[0] for row in rows]

    async def groups_with_member(self, member_id: str) -> list[str]:
        rows = await self._c.execute(
            sa.select(group_members.c.group_id).where(
                self._of_tenant(), group_members.c.member_id == member_id
            )
        )
        return [row.group_id for row in rows]

    async def leave_groups(self, member_ids: str | Sequence[str], now: dt.datetime) -> list[str]:
        """Take the members out of every Group they are in; those Groups' ids (now changed)."""
        wanted = [member_ids] if isinstance(member_ids, str) else list(member_ids)
        rows = await self._c.execute(
            sa.select(group_members.c.group_id)
            .where(self._of_tenant(), group_members.c.member_id.in_(wanted))
            .distinct()
        )
        groups = [row.group_id for row in rows]
        if groups:
            await self._c.execute(
                group_members.delete().where(
                    self._of_tenant(), group_members.c.member_id.in_(wanted)
                )
            )
            await self.touch(groups, now)
        return groups

    async def touch(self, resource_ids: Sequence[str], now: dt.datetime) -> None:
        """Bump version and lastModified: a Group whose members changed is a changed Group."""
        if resource_ids:
            await self._c.execute(
                resources.update()
                .where(resources.c.tenant_id == self._tenant, resources.c.id.in_(resource_ids))
                .values(version=resources.c.version + 1, last_modified=now)
            )

    async def direct_groups(self, member_ids: Sequence[str]) -> dict[str, list[str]]:
        """The Groups each of ``member_ids`` is a direct member of: member id → Group ids."""
        out: dict[str, list[str]] = {member_id: [] for member_id in member_ids}
        for chunk in chunks(list(member_ids)):
            rows = await self._c.execute(
                sa.select(group_members.c.member_id, group_members.c.group_id)
                .where(self._of_tenant(), group_members.c.member_id.in_(chunk))
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
                resources.c.tenant_id == self._own(member),
                resources.c.resource_type == "Group",
                resources.c.deleted_at.is_(None),
                resources.c.id.in_(list(group_ids)),
            )
        )
        live = [row.id for row in rows]
        for group_id in live:
            await self._c.execute(
                group_members.insert().values(
                    tenant_id=self._own(member),
                    group_id=group_id,
                    member_id=member.id,
                    member_type=member.resource_type,
                )
            )
        await self.touch(live, now)
        return live

    async def members_of(self, group_ids: Iterable[str]) -> dict[str, list[Member]]:
        """Each Group's members with their display names: Group id → members, by id."""
        found: dict[str, list[Member]] = defaultdict(list)
        rows = await self._c.execute(
            sa.select(
                group_members.c.group_id,
                group_members.c.member_id,
                group_members.c.member_type,
                display(group_members.c.display).label("display"),
            )
            .join(resources, _same_tenant(group_members.c.member_id))
            .where(self._of_tenant(), group_members.c.group_id.in_(group_ids))
            .order_by(group_members.c.group_id, group_members.c.member_id)
        )
        for m in rows:
            found[m.group_id].append(
                Member(value=m.member_id, type=m.member_type, display=m.display)
            )
        return found

    async def replace(self, group: Resource, members: Sequence[Member]) -> None:
        """The Group's members are exactly ``members`` (a PUT's, or a PATCH's result)."""
        await self._c.execute(
            group_members.delete().where(
                group_members.c.tenant_id == self._own(group), group_members.c.group_id == group.id
            )
        )
        await self.insert(group, members)

    async def forget(self, member: Resource) -> None:
        """``member`` is in no Group any more (it is gone from SCIM's view)."""
        await self._c.execute(
            group_members.delete().where(
                group_members.c.tenant_id == self._own(member),
                group_members.c.member_id == member.id,
            )
        )

    async def member_refs(self, group_id: str) -> list[Member]:
        """A group's members as (id, type) only: enough to evaluate a members[…] filter."""
        rows = await self._c.execute(
            sa.select(group_members.c.member_id, group_members.c.member_type).where(
                self._of_tenant(), group_members.c.group_id == group_id
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
        where = sa.and_(
            group_members.c.tenant_id == self._own(group), group_members.c.group_id == group.id
        )
        if clear:
            changed += (await self._c.execute(group_members.delete().where(where))).rowcount
        elif remove:
            for chunk in chunks(sorted(set(remove))):
                result = await self._c.execute(
                    group_members.delete().where(where, group_members.c.member_id.in_(chunk))
                )
                changed += result.rowcount
        if add:
            # Only the ids not yet members: asyncpg reports no row count for a
            # batch, and "changed" must be exact (it decides the version bump).
            present: set[str] = set()
            for chunk in chunks([m.value for m in add]):
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
                    "tenant_id": self._own(group),
                    "group_id": group.id,
                    "member_id": m.value,
                    "member_type": m.type,
                    "display": m.display,
                }
                for m in new
            ]
            for chunk in chunks(rows_to_add):
                await self._c.execute(insert.on_conflict_do_nothing(), chunk)
            changed += len(new)
        return changed > 0

    async def find_members(
        self, ids: Iterable[str], types: Sequence[str] = MEMBER_TYPES
    ) -> dict[str, Member]:
        """The live resources of ``types`` of the tenant among ``ids``, with their display names."""
        wanted = list(set(ids))
        if not wanted:
            return {}
        rows = await self._c.execute(
            sa.select(resources.c.id, resources.c.resource_type, display().label("display")).where(
                resources.c.tenant_id == self._tenant,
                resources.c.deleted_at.is_(None),
                resources.c.resource_type.in_(types),
                resources.c.id.in_(wanted),
            )
        )
        return {
            row.id: Member(value=row.id, type=row.resource_type, display=row.display)
            for row in rows
        }

    async def insert(self, group: Resource, members: Sequence[Member]) -> None:
        if members:
            await self._c.execute(
                group_members.insert(),
                [
                    {
                        "tenant_id": self._own(group),
                        "group_id": group.id,
                        "member_id": m.value,
                        "member_type": m.type,
                        "display": m.display,
                    }
                    for m in members
                ],
            )

    async def closure(self, user_ids: list[str]) -> list[tuple[str, GroupRef]]:
        """Direct and indirect groups of each user (RFC 7643 §4.1.2), one recursive query."""
        params = {"tenant_id": self._tenant, "user_ids": user_ids}
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
