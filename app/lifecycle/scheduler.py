"""When the sweeper runs: on an interval, and at the next identity's due time; delivery;
and, hourly, audit retention.

APScheduler 3 (``AsyncIOScheduler``, in memory, one per process). Replicas
coordinate in the database (the sweeper's leases), not here. Missed runs
after downtime coalesce into one run at start, never skipped; a mutation that
sets an earlier due time re-arms the alarm (``wake``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from apscheduler.job import Job
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from app.domain.clock import Clock
from app.lifecycle.sweeper import Sweeper
from app.notify.delivery import Deliverer

log = logging.getLogger("tenure.scheduler")

_SWEEP, _ALARM, _DELIVER, _RETENTION = "sweep", "next-due", "deliver", "audit-retention"
# How often due notifications (retries included) are sent, between sweeps.
_DELIVERY_INTERVAL = dt.timedelta(seconds=5)


class SweepScheduler:
    def __init__(
        self,
        sweeper: Sweeper,
        deliverer: Deliverer,
        clock: Clock,
        interval: dt.timedelta,
        *,
        retention: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        self._retention = retention
        self._sweeper = sweeper
        self._deliverer = deliverer
        self._clock = clock
        self._interval = interval
        self._scheduler: AsyncIOScheduler | None = None
        self._alarm: dt.datetime | None = None
        self._alarm_job: Job | None = None
        self._alarms = 0

    async def start(self) -> None:
        self._scheduler = AsyncIOScheduler(timezone=dt.UTC)
        self._scheduler.add_job(
            self._run,
            "interval",
            seconds=self._interval.total_seconds(),
            id=_SWEEP,
            next_run_time=dt.datetime.now(dt.UTC),  # catch up at once after downtime
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )
        self._scheduler.add_job(
            self._deliver,
            "interval",
            seconds=_DELIVERY_INTERVAL.total_seconds(),
            id=_DELIVER,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )
        if self._retention is not None:
            self._scheduler.add_job(
                self._prune,
                "interval",
                hours=1,
                id=_RETENTION,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=None,
            )
        self._scheduler.start()

    async def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None

    def wake(self, due: dt.datetime) -> None:
        """A change made something due at ``due``: sweep then if that is sooner than planned."""
        if self._scheduler is None or (self._alarm is not None and self._alarm <= due):
            return
        self._alarm = due
        # The app's clock may be a test's; the scheduler counts in wall time.
        delay = max((due - self._clock.now()).total_seconds(), 0.0)
        if self._alarm_job is not None:
            with contextlib.suppress(JobLookupError):  # it may have fired already
                self._alarm_job.remove()
        # A new id each time: re-armed from inside a running alarm, the same id
        # would count as a second instance of a running job and be skipped.
        self._alarms += 1
        self._alarm_job = self._scheduler.add_job(
            self._run,
            "date",
            run_date=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=delay),
            id=f"{_ALARM}-{self._alarms}",
            misfire_grace_time=None,
        )

    async def _run(self) -> None:
        self._alarm = None
        try:
            outcomes = await self._sweeper.sweep()
            if outcomes:
                log.info(
                    "swept",
                    extra={
                        "done": sum(o.done for o in outcomes),
                        "skipped": sum(not o.done for o in outcomes),
                    },
                )
            await self._sweeper.plan_warnings()
            following = await self._sweeper.next_due()
        except Exception:  # a failed sweep must not stop the next ones
            log.exception("sweep failed")
            return
        if following is not None:
            self.wake(following)
        await self._deliver()

    async def _prune(self) -> None:
        try:
            if self._retention is not None:
                await self._retention()
        except Exception:  # the next hour tries again
            log.exception("audit retention failed")

    async def _deliver(self) -> None:
        try:
            await self._deliverer.deliver_due()
        except Exception:  # delivery failures are retried; the timer must live on
            log.exception("delivery failed")
