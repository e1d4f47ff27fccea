"""The audit trail's storage: append only (nothing here updates or deletes an event)."""

from __future__ import annotations

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.audit import GENESIS, AuditEvent, chain_hash
from app.store.tables import audit_events, audit_heads


class AuditRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def append(self, event: AuditEvent) -> int:
        """Add ``event`` at the head of its tenant's chain; its sequence number."""
        return (await self.append_many([event]))[-1]

    async def append_many(self, events: list[AuditEvent]) -> list[int]:
        """Add events of one tenant at the head of its chain, in order; their numbers."""
        tenant_id = events[0].tenant_id
        head = await self._head(tenant_id)
        seq, prev = head if head else (0, GENESIS)
        rows, numbers = [], []
        for event in events:
            assert event.tenant_id == tenant_id
            seq += 1
            digest = chain_hash(prev, seq, event)
            values = msgspec.structs.asdict(event)
            values["actor_roles"] = ",".join(event.actor_roles)
            values["policy_ids"] = list(event.policy_ids)
            values["changed"] = list(event.changed)
            rows.append({**values, "seq": seq, "prev_hash": prev, "hash": digest})
            numbers.append(seq)
            prev = digest
        await self._c.execute(audit_events.insert(), rows)
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
        return numbers

    async def _head(self, tenant_id: str) -> tuple[int, str] | None:
        """The chain's head, locked until commit; created (and locked) on first use."""
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
