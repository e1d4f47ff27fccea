"""The audit trail's storage: append only.

Nothing here updates an event, and only retention (``prune``) deletes any:
the oldest ones, behind a checkpoint that keeps the rest of the chain verifiable.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.audit import (
    CANONICAL_FIELDS,
    GENESIS,
    AuditEvent,
    Canonical,
    Recorded,
    chain_hash,
)
from app.domain.reports import AuditFilter
from app.store.tables import audit_checkpoints, audit_events, audit_heads

_EVENT_FIELDS = AuditEvent.__struct_fields__


class AuditRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection
        self.wrote = False  # events were written in this transaction

    async def append(self, event: AuditEvent) -> None:
        """Write ``event`` in this transaction, to be linked into its chain once committed."""
        await self.append_many([event])

    async def append_many(self, events: list[AuditEvent]) -> None:
        """Write events, in order, unsequenced: no lock on the chain's head.

        The sequencer (``sequence``) gives each its number and hashes in commit
        order; until then it is the tail verification reports as waiting.
        """
        rows = []
        for event in events:
            values = msgspec.structs.asdict(event)
            values["actor_roles"] = ",".join(event.actor_roles)
            values["policy_ids"] = list(event.policy_ids)
            values["changed"] = list(event.changed)
            rows.append(values)
        await self._c.execute(_INSERT, rows)
        self.wrote = True

    async def pending_tenants(self, tenant_id: str | None = None) -> list[str]:
        """Tenants with events written but not yet sequenced (``tenant_id``: that one only)."""
        query = sa.select(audit_events.c.tenant_id).where(audit_events.c.seq.is_(None))
        if tenant_id is not None:
            query = query.where(audit_events.c.tenant_id == tenant_id).limit(1)
        else:
            query = query.distinct()
        return [row[0] for row in await self._c.execute(query)]

    async def pending(self, tenant_id: str) -> int:
        """How many of the tenant's events wait for the sequencer."""
        found = await self._c.execute(
            sa.select(sa.func.count()).where(
                audit_events.c.tenant_id == tenant_id, audit_events.c.seq.is_(None)
            )
        )
        return int(found.scalar() or 0)

    async def sequence(self, tenant_id: str, limit: int) -> int:
        """Link up to ``limit`` of the tenant's committed, unsequenced events into its chain.

        In the order they became visible (committed), oldest first: each gets the
        next number, the previous event's hash and its own, over the stored row as
        verification reads it back. The head row lock is the sequencers' alone:
        two replicas take turns, and writers never wait for it.
        """
        head = await self._head(tenant_id)
        seq, prev = head if head else (0, GENESIS)
        rows = (
            await self._c.execute(
                sa.select(audit_events.c.id, *_RAW[3:])
                .where(audit_events.c.tenant_id == tenant_id, audit_events.c.seq.is_(None))
                .order_by(audit_events.c.id)
                .limit(limit)
                .with_for_update()
            )
        ).all()
        if not rows:
            return 0
        linked = []
        for row in rows:
            seq += 1
            digest = chain_hash(prev, seq, _canonical(row[1:]))
            linked.append(
                {
                    "tenant": tenant_id,
                    "row_id": row[0],
                    "seq": seq,
                    "prev_hash": prev,
                    "hash": digest,
                }
            )
            prev = digest
        await self._c.execute(_LINK, linked)
        if head is None:
            await self._c.execute(
                audit_heads.insert().values(tenant_id=tenant_id, seq=seq, hash=prev)
            )
        else:
            await self._c.execute(
                audit_heads.update()
                .where(audit_heads.c.tenant_id == tenant_id)
                .values(seq=seq, hash=prev)
            )
        return len(rows)

    async def _head(self, tenant_id: str) -> tuple[int, str] | None:
        """The chain's head, locked until commit (by a sequencer or retention only); created
        (and locked) on first use."""
        dialect = self._c.dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert

            # Two first writers of a tenant must not both start a chain.
            await self._c.execute(
                insert(audit_heads)
                .values(tenant_id=tenant_id, seq=0, hash=GENESIS)
                .on_conflict_do_nothing()
            )
        row = (
            await self._c.execute(
                sa.select(audit_heads.c.seq, audit_heads.c.hash)
                .where(audit_heads.c.tenant_id == tenant_id)
                .with_for_update()
            )
        ).first()
        if row is None:
            return None
        return int(row.seq), str(row.hash)

    async def page(
        self, tenant_id: str, where: AuditFilter, *, before: int | None = None, limit: int = 100
    ) -> list[Recorded]:
        """Events matching ``where``, newest first, older than sequence number ``before``."""
        query = (
            sa.select(audit_events)
            .where(
                audit_events.c.tenant_id == tenant_id,
                audit_events.c.seq.is_not(None),
                *_conditions(where),
            )
            .order_by(audit_events.c.seq.desc())
            .limit(limit)
        )
        if before is not None:
            query = query.where(audit_events.c.seq < before)
        return [_recorded(row) for row in await self._c.execute(query)]

    async def history(
        self, tenant_id: str, resource_id: str, *, after: int = 0, limit: int = 100
    ) -> list[Recorded]:
        """One identity's events, oldest first (its tombstone's included)."""
        rows = await self._c.execute(
            sa.select(audit_events)
            .where(
                audit_events.c.tenant_id == tenant_id,
                audit_events.c.resource_id == resource_id,
                audit_events.c.seq > after,
            )
            .order_by(audit_events.c.seq)
            .limit(limit)
        )
        return [_recorded(row) for row in rows]

    async def chain(self, tenant_id: str, *, after: int, limit: int) -> list[Link]:
        """The chain in order from just after ``after``: what verification walks.

        Millions of rows pass through here, so each comes as a plain ``Link``: the
        JSON and time columns as the driver gives them, decoded once by msgspec,
        and no event object built (the generic result processing and the objects
        cost three times the hashing).
        """
        rows = await self._c.execute(
            sa.select(*_RAW)
            .where(audit_events.c.tenant_id == tenant_id, audit_events.c.seq > after)
            .order_by(audit_events.c.seq)
            .limit(limit)
        )
        return [_link(row) for row in rows]

    async def head(self, tenant_id: str) -> tuple[int, str] | None:
        """The chain's head as last recorded (not locked): the last event must match it."""
        row = (
            await self._c.execute(
                sa.select(audit_heads.c.seq, audit_heads.c.hash).where(
                    audit_heads.c.tenant_id == tenant_id
                )
            )
        ).first()
        return (int(row.seq), str(row.hash)) if row and row.seq else None

    async def checkpoint(self, tenant_id: str) -> tuple[int, str] | None:
        """Where the retained chain starts: the last pruned event's number and hash."""
        row = (
            await self._c.execute(
                sa.select(audit_checkpoints.c.seq, audit_checkpoints.c.hash).where(
                    audit_checkpoints.c.tenant_id == tenant_id
                )
            )
        ).first()
        return (int(row.seq), str(row.hash)) if row else None

    async def prune(self, tenant_id: str, older_than: dt.datetime, now: dt.datetime) -> int:
        """Delete the sequenced events before ``older_than`` behind a checkpoint; how many.

        The checkpoint keeps the last deleted event's number and hash, so the
        events kept still verify from it; the head row lock keeps sequencers out.
        """
        await self._head(tenant_id)
        last = (
            await self._c.execute(
                sa.select(audit_events.c.seq, audit_events.c.hash)
                .where(
                    audit_events.c.tenant_id == tenant_id,
                    audit_events.c.at < older_than,
                    audit_events.c.seq.is_not(None),
                )
                .order_by(audit_events.c.seq.desc())
                .limit(1)
            )
        ).first()
        if last is None:
            return 0
        deleted = await self._c.execute(
            audit_events.delete().where(
                audit_events.c.tenant_id == tenant_id, audit_events.c.seq <= last.seq
            )
        )
        values = {"seq": last.seq, "hash": last.hash, "at": now}
        updated = await self._c.execute(
            audit_checkpoints.update()
            .where(audit_checkpoints.c.tenant_id == tenant_id)
            .values(**values)
        )
        if not updated.rowcount:
            await self._c.execute(audit_checkpoints.insert().values(tenant_id=tenant_id, **values))
        return int(deleted.rowcount or 0)

    async def tenants_with_events_before(self, older_than: dt.datetime) -> list[str]:
        rows = await self._c.execute(
            sa.select(audit_events.c.tenant_id)
            .where(audit_events.c.at < older_than)
            .group_by(audit_events.c.tenant_id)
        )
        return [row[0] for row in rows]


def _conditions(where: AuditFilter) -> list[sa.ColumnElement[bool]]:
    c = audit_events.c
    found: list[sa.ColumnElement[bool]] = []
    if where.since is not None:
        found.append(c.at >= where.since)
    if where.until is not None:
        found.append(c.at < where.until)
    if where.actor is not None:
        found.append(sa.or_(c.actor_token == where.actor, c.actor_name == where.actor))
    if where.action is not None:
        # An event's actions are one comma-separated list ("update,extend").
        a = where.action
        found.append(
            sa.or_(
                c.action == a,
                c.action.like(f"{a},%"),
                c.action.like(f"%,{a}"),
                c.action.like(f"%,{a},%"),
            )
        )
    if where.resource_type is not None:
        found.append(c.resource_type == where.resource_type)
    if where.resource_id is not None:
        found.append(c.resource_id == where.resource_id)
    if where.decision is not None:
        found.append(c.decision == where.decision)
    if where.policy_id is not None:
        # policy_ids is a JSON list of strings; its text holds each one quoted.
        found.append(sa.cast(c.policy_ids, sa.Text).contains(f'"{where.policy_id}"'))
    return found


def _recorded(row: Any) -> Recorded:
    values = row._mapping
    event = {name: values[name] for name in _EVENT_FIELDS}
    event["actor_roles"] = tuple(filter(None, (values["actor_roles"] or "").split(",")))
    event["policy_ids"] = tuple(values["policy_ids"] or ())
    event["changed"] = tuple(values["changed"] or ())
    return Recorded(
        seq=int(values["seq"]),
        prev_hash=values["prev_hash"],
        hash=values["hash"],
        event=AuditEvent(**event),
    )


_JSON_FIELDS = ("policy_ids", "changed", "before", "after")
_RAW = [
    audit_events.c.seq,
    audit_events.c.prev_hash,
    audit_events.c.hash,
    *(
        sa.type_coerce(audit_events.c[name], sa.Text).label(name)
        if name in _JSON_FIELDS or name == "at"
        else audit_events.c[name]
        for name in CANONICAL_FIELDS
    ),
]
_AT = CANONICAL_FIELDS.index("at")
_ROLES = CANONICAL_FIELDS.index("actor_roles")
_JSON_AT = tuple(CANONICAL_FIELDS.index(name) for name in _JSON_FIELDS)
_LISTS = tuple(CANONICAL_FIELDS.index(name) for name in ("policy_ids", "changed"))
_decode = msgspec.json.decode


def _moment(value: Any) -> Any:
    """A stored time as the canonical encoding writes it (msgspec's RFC 3339, in UTC).

    SQLite's text (``YYYY-MM-DD HH:MM:SS.ffffff``) is rearranged rather than parsed;
    asyncpg's datetime is encoded as is.
    """
    if value.__class__ is str and len(value) == 26:
        if value.endswith(".000000"):
            return f"{value[:10]}T{value[11:19]}Z"
        return f"{value[:10]}T{value[11:]}Z"
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Link(NamedTuple):
    """One event as verification reads it: its number, hashes and canonical fields."""

    seq: int
    prev_hash: str
    hash: str
    fields: Any  # a Canonical


def _canonical(columns: Any) -> Any:
    """The canonical fields of a stored event (``_RAW[3:]`` columns), decoded as verification
    decodes them: what its hash covers."""
    values = list(columns)
    values[_AT] = _moment(values[_AT])
    for index in _JSON_AT:
        value = values[index]
        if value.__class__ is str:
            values[index] = _decode(value)
    for index in _LISTS:
        values[index] = values[index] or []
    roles = values[_ROLES]
    values[_ROLES] = roles.split(",") if roles else []
    return Canonical(*values)


def _link(row: Any) -> Link:
    values = list(row[3:])  # in CANONICAL_FIELDS order; a million rows: kept lean
    values[_AT] = _moment(values[_AT])
    for index in _JSON_AT:
        value = values[index]
        if value.__class__ is str:
            values[index] = _decode(value)
    for index in _LISTS:
        values[index] = values[index] or []
    roles = values[_ROLES]
    values[_ROLES] = roles.split(",") if roles else []
    return Link(row[0], row[1], row[2], Canonical(*values))


_INSERT = audit_events.insert()
_LINK = (
    audit_events.update()
    .where(
        audit_events.c.tenant_id == sa.bindparam("tenant"),
        audit_events.c.id == sa.bindparam("row_id"),
    )
    .values(seq=sa.bindparam("seq"), prev_hash=sa.bindparam("prev_hash"), hash=sa.bindparam("hash"))
)
