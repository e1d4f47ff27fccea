"""Walking a tenant's audit chain (``GET /audit/verify``) and retention behind a checkpoint."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import logging

import msgspec

from app.domain.audit import GENESIS, chain_hash
from app.domain.clock import Clock
from app.domain.reports import Verification
from app.store.audit import Link
from app.store.uow import Database

log = logging.getLogger("tenure.audit")


class AuditTrail:
    """The chain: sequenced after the writes, verified, and pruned behind a checkpoint.

    A change writes its events unsequenced in its own transaction, so no writer
    of a tenant waits for another on the chain's head. The sequencer links them
    in the order they became visible (committed), as transparency logs sequence
    their entries: a running server does so moments later (``run``), and every
    read of the trail (the API, reports, ``verify``) sequences first, so what it
    shows is whole and in order.
    """

    def __init__(self, db: Database, clock: Clock, *, chunk: int = 5000) -> None:
        self._db = db
        self._clock = clock
        self._chunk = chunk
        self._wake = asyncio.Event()

    async def sequence(self, tenant_id: str | None = None) -> int:
        """Link every committed, unsequenced event (of one tenant, or all); how many."""
        linked = 0
        async with self._db.uow() as uow:
            tenants = await uow.audit.pending_tenants(tenant_id)
        for tenant in tenants:
            while True:
                async with self._db.uow(write=True) as uow:
                    done = await uow.audit.sequence(tenant, self._chunk)
                    await uow.commit()
                linked += done
                if done < self._chunk:
                    break
        return linked

    async def sequence_all(self) -> None:
        """What is written, sequenced (at shutdown): nothing left waiting, or, with the
        database out of reach, left for the next start (or another replica) to link."""
        try:
            await self.sequence()
        except Exception as exc:
            log.warning("audit events left unsequenced", extra={"error": type(exc).__name__})

    def written(self) -> None:
        """Told after a commit that wrote events: the running sequencer wakes."""
        self._wake.set()

    async def run(self, interval: float = 1.0) -> None:
        """Sequence as events are written (woken by ``written``), and at least every
        ``interval`` seconds: another replica's writes are this one's to link too."""
        failing = False
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)
            self._wake.clear()
            try:
                await self.sequence()
                failing = False
            except Exception:
                if not failing:  # once per outage, not once a second
                    log.exception("audit events not sequenced yet; the next turns retry")
                failing = True

    async def verify(self, tenant_id: str) -> Verification:
        """Recompute every hash in order, from the genesis or the retention checkpoint.

        Broken at the first event whose number is not the next one (a deletion),
        whose ``prev_hash`` is not its predecessor's hash, or whose own hash does
        not cover its content (an edit); and where the last event is not the
        head the sequencer recorded (the newest ones deleted). What is written but
        not yet sequenced (a change still committing) is counted as ``pending``.
        """
        await self.sequence(tenant_id)
        async with self._db.uow() as uow:
            start = await uow.audit.checkpoint(tenant_id)
            head = await uow.audit.head(tenant_id)
        seq, prev = start if start else (0, GENESIS)
        # The walk makes millions of short-lived, acyclic objects; cyclic collections
        # sweeping the server's whole heap meanwhile cost more than the hashing does.
        paused = gc.isenabled()
        gc.disable()
        try:
            result = await self._walk(tenant_id, seq, prev, head)
        finally:
            if paused:
                gc.enable()
        async with self._db.uow() as uow:
            waiting = await uow.audit.pending(tenant_id)
        return msgspec.structs.replace(result, pending=waiting)

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
        await self.sequence()
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
