"""Owners and sponsors of non-human identities (DESIGN.md "Identity model"), tenant-scoped.

Kept in their own indexed table: a reference stays when its User or Group goes,
read as ``removed``, so an identity visibly loses an accountable owner.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from app.domain.resource import OwnerRef, Resource
from app.store.memberships import member_rows_of
from app.store.sql import TenantBound, display
from app.store.tables import nhi_owners, resources

# Who can be accountable: people and teams, never another non-human identity.
OWNER_TYPES = ("User", "Group")


def _empty_group(table: Any) -> sa.ColumnElement[bool]:
    """A Group owner with no members answers for nothing: it counts as inactive."""
    has_members = sa.exists().where(member_rows_of(table))
    return sa.and_(table.c.resource_type == "Group", ~has_members)


def holder_of(owner: Any) -> sa.ColumnElement[bool]:
    """Join an owner row to its User or Group (``owner``, an alias of resources), in its tenant."""
    return sa.and_(owner.c.tenant_id == nhi_owners.c.tenant_id, owner.c.id == nhi_owners.c.owner_id)


def answering_for(nhi: Any) -> sa.ColumnElement[bool]:
    """Join an owner row to the identity it answers for (``nhi``), in its tenant."""
    return sa.and_(nhi_owners.c.tenant_id == nhi.c.tenant_id, nhi_owners.c.nhi_id == nhi.c.id)


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


# Built once: every change to a User asks what it owns (orphan hand-over).
_OWNED_BY = (
    sa.select(resources.c.id, resources.c.resource_type)
    .join(nhi_owners, answering_for(resources))
    .where(
        nhi_owners.c.tenant_id == sa.bindparam("tenant_id"),
        nhi_owners.c.owner_id == sa.bindparam("owner_id"),
        nhi_owners.c.relation == "owner",
        resources.c.deleted_at.is_(None),
    )
    .order_by(resources.c.seq)
)


class OwnerRepository(TenantBound):
    """One tenant's owners and sponsors."""

    async def owned_by(self, owner_id: str) -> list[tuple[str, str]]:
        """The live identities ``owner_id`` is an owner of: (id, resource type) pairs."""
        rows = await self._c.execute(_OWNED_BY, {"tenant_id": self._tenant, "owner_id": owner_id})
        return [(row.id, row.resource_type) for row in rows]

    async def set_owners(self, nhi: Resource, relation: str, refs: Sequence[OwnerRef]) -> None:
        """Replace an identity's owners (or sponsors) with ``refs``."""
        await self._c.execute(
            nhi_owners.delete().where(
                nhi_owners.c.tenant_id == self._own(nhi),
                nhi_owners.c.nhi_id == nhi.id,
                nhi_owners.c.relation == relation,
            )
        )
        if refs:
            await self._c.execute(
                nhi_owners.insert(),
                [
                    {
                        "tenant_id": self._own(nhi),
                        "nhi_id": nhi.id,
                        "relation": relation,
                        "owner_id": ref.value,
                        "owner_type": ref.type,
                        "display": ref.display,
                    }
                    for ref in refs
                ],
            )

    async def parties(self, ids: Iterable[str], relation: str) -> dict[str, OwnerRef]:
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
                display().label("display"),
                resources.c.doc["entitlements"].label("entitlements"),
            ).where(
                resources.c.tenant_id == self._tenant,
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

    async def of(self, nhi_ids: list[str]) -> dict[str, list[OwnerRef]]:
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
            .select_from(nhi_owners.outerjoin(owner, holder_of(owner)))
            .where(nhi_owners.c.tenant_id == self._tenant, nhi_owners.c.nhi_id.in_(nhi_ids))
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
