"""Walking a tenant's audit chain (``GET /audit/verify``) and retention behind a checkpoint."""

from __future__ import annotations

import datetime as dt
import gc

from app.domain.audit import GENESIS, chain_hash
from app.domain.clock import Clock
from app.domain.reports import Verification
from app.store.audit import Link
from app.store.uow import Database


class AuditTrail:
    def __init__(self, db: Database, clock: Clock, *, chunk: int = 5000) -> None:
        self._db = db
        self._clock = clock
        self._chunk = chunk

    async def verify(self, tenant_id: str) -> Verification:
        """Recompute every hash in order, from the genesis or the retention checkpoint.

        Broken at the first event whose number is not the next one (a deletion),
        whose ``prev_hash`` is not its predecessor's hash, or whose own hash does
        not cover its content (an edit); and where the last event is not the
        head the appends recorded (the newest ones deleted).
        """
        async with self._db.uow() as uow:
            start = await uow.audit.checkpoint(tenant_id)
            head = await uow.audit.head(tenant_id)
        seq, prev = start if start else (0, GENESIS)
        # The walk makes millions of short-lived, acyclic objects; cyclic collections
        # sweeping the server's whole heap meanwhile cost more than the hashing does.
        paused = gc.isenabled()
        gc.disable()
        try:
            return await self._walk(tenant_id, seq, prev, head)
        finally:
            if paused:
                gc.enable()

    async def _walk(
        self, tenant_id: str, seq: int, prev: str, head: tuple[int, str] | None
    ) -> Verification:
        first: int | None = None
        checked = 0
        while True:
            batch = await self._batch(tenant_id, seq)
            for link in batch:
                if link.seq != seq + 1:
                    return _broken(checked, first, seq, seq + 1, "an event is missing")
                if link.prev_hash != prev or link.hash != chain_hash(prev, link.seq, link.fields):
                    return _broken(checked, first, seq, link.seq, "the event was altered")
                first = link.seq if first is None else first
                seq, prev = link.seq, link.hash
                checked += 1
            if len(batch) < self._chunk:
                break
        if head is not None and (seq, prev) != head:
            missing = min(seq, head[0]) + 1
            return _broken(checked, first, seq, missing, "the newest events are missing")
        return Verification(ok=True, events=checked, first_seq=first, last_seq=seq or None)

    async def _batch(self, tenant_id: str, after: int) -> list[Link]:
        # The walk covers the whole chain: its batches are read off the event loop.
        async with self._db.uow(offload=True) as uow:
            return await uow.audit.chain(tenant_id, after=after, limit=self._chunk)

    async def prune(self) -> dict[str, int]:
        """Delete each tenant's events older than its ``auditRetentionDays``; how many, by tenant.

        A tenant without the setting keeps its events for ever.
        """
        now = self._clock.now()
        async with self._db.uow() as uow:
            retention = {
                t.id: t.settings.audit_retention_days
                for t in await uow.tenants.all()
                if t.settings.audit_retention_days
            }
        pruned: dict[str, int] = {}
        for tenant_id, days in retention.items():
            async with self._db.uow(write=True) as uow:
                gone = await uow.audit.prune(tenant_id, now - dt.timedelta(days=days), now)
                await uow.commit()
            if gone:
                pruned[tenant_id] = gone
        return pruned


def _broken(checked: int, first: int | None, last: int, at: int, problem: str) -> Verification:
    return Verification(
        ok=False,
        events=checked,
        first_seq=first,
        last_seq=last or None,
        broken_at=at,
        problem=problem,
    )
