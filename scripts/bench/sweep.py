#!/usr/bin/env python3
"""Sweep benchmark: how soon after their end identities are suspended, and at what rate.

    .venv/bin/python scripts/bench/sweep.py [--burst N] [--spread N] [--seconds S]

On a fresh SQLite database (the embedded default), one tenant with a webhook
configured (so every suspension also plans an outbox row; nothing is sent):

1. **Burst**: N identities (default 10,000) all ending at the same moment, a
   few seconds ahead. The sweeper runs as the scheduler would (its alarm at
   the earliest end) and the benchmark reports how long after that moment
   the last one was suspended, and the rate. Target: all within 30 s.
2. **Spread**: N identities (default 1,000) ending evenly over S seconds
   (default 60), swept by the real scheduler (APScheduler, re-armed at each
   next end; its delivery job idles, since nothing here listens). Lateness =
   the audit event's time − ``expiresAt``, p50 and p99. Target: p99 within 2 s.

Every suspension is a full Mutation: Cedar decides it, the audit event and
the outbox row are written in its transaction.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import _pathfix  # noqa: F401  (first: this folder's http.py is not the standard library's)

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from app.config import from_env  # noqa: E402
from app.domain.clock import SystemClock  # noqa: E402
from app.domain.resource import OwnerRef, Resource  # noqa: E402
from app.domain.tenancy import TenantSettings  # noqa: E402
from app.lifecycle.scheduler import SweepScheduler  # noqa: E402
from app.lifecycle.sweeper import Sweeper  # noqa: E402
from app.main import build_services  # noqa: E402
from app.notify.delivery import Deliverer  # noqa: E402
from app.scim.codec import format_datetime  # noqa: E402
from app.scim.schema import GOVERNANCE_URN  # noqa: E402

KEY = "sweep-benchmark-secret-key-0123456789abcdef"


async def seed(services, tenant_id: str, owner: str, ends: list[dt.datetime]) -> None:  # type: ignore[no-untyped-def]
    """Identities as the pipeline writes them, straight into the store (fast)."""
    now = dt.datetime.now(dt.UTC)
    batch = []
    for index, end in enumerate(ends):
        doc = {
            "name": f"bot-{uuid.uuid4().hex[:10]}-{index}",
            GOVERNANCE_URN: {
                "kind": "agent",
                "purpose": "benchmark",
                "expiresAt": format_datetime(end),
                "hardExpiresAt": format_datetime(now + dt.timedelta(days=700)),
                "lifecycleState": "active",
                "registeredBy": "bench",
            },
        }
        batch.append(
            Resource(
                tenant_id=tenant_id,
                id=str(uuid.uuid4()),
                resource_type="Agent",
                external_id=None,
                doc=doc,
                version=1,
                created=now,
                last_modified=now,
            )
        )
    async with services.db.uow(write=True) as uow:
        for start in range(0, len(batch), 1000):
            chunk = batch[start : start + 1000]
            await uow.of(tenant_id).resources.add_many(chunk)
            for resource in chunk:
                await uow.of(tenant_id).owners.set_owners(
                    resource, "owner", [OwnerRef(value=owner, type="User")]
                )
        await uow.commit()


async def lateness(services, tenant_id: str) -> list[float]:  # type: ignore[no-untyped-def]
    """Seconds from each suspended identity's end to its suspension's audit event."""
    import sqlalchemy as sa

    from app.store.tables import audit_events, resources

    async with services.db.uow() as uow:
        connection = uow.sweep._c
        rows = await connection.execute(
            sa.select(audit_events.c.at, resources.c.expires_at)
            .join(resources, resources.c.id == audit_events.c.resource_id)
            .where(audit_events.c.tenant_id == tenant_id, audit_events.c.action == "suspend")
        )
        return [(at - ends).total_seconds() for at, ends in rows]


class _Idle(Deliverer):
    """The outbox rows are the figure here; sending them is another benchmark's."""

    async def deliver_due(self) -> int:
        return 0


async def prepare(directory: Path):  # type: ignore[no-untyped-def]
    settings = from_env(
        {"TENURE_DATABASE_URL": f"sqlite:///{directory}/sweep.db", "TENURE_SECRET_KEY": KEY}
    )
    services = build_services(settings, SystemClock())
    await services.db.migrate()
    tenant = await services.tenancy.create_tenant(f"bench-{uuid.uuid4().hex[:6]}")
    await services.notifications.set_webhook(tenant.id, "http://127.0.0.1:9/unused")
    # Everything ending at once is the scenario, not a mistake to stop (blast-radius guard).
    await services.tenancy.set_settings(tenant.id, TenantSettings(blast_radius_percent=100))
    owner_id = str(uuid.uuid4())
    now = dt.datetime.now(dt.UTC)
    async with services.db.uow(write=True) as uow:
        await uow.of(tenant.id).resources.add_many(
            [
                Resource(
                    tenant_id=tenant.id,
                    id=owner_id,
                    resource_type="User",
                    external_id=None,
                    doc={"userName": "owner", "active": True},
                    version=1,
                    created=now,
                    last_modified=now,
                )
            ]
        )
        await uow.commit()
    return services, tenant.id, owner_id


async def burst(count: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as scratch:
        services, tenant_id, owner = await prepare(Path(scratch))
        try:
            # Far enough ahead that seeding is over before the moment comes.
            moment = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5 + count / 1000)
            await seed(services, tenant_id, owner, [moment] * count)
            sweeper = Sweeper(services.db, services.provisioning, services.clock)
            await asyncio.sleep(max((moment - dt.datetime.now(dt.UTC)).total_seconds(), 0))
            started = time.perf_counter()
            outcomes = await sweeper.sweep()
            elapsed = time.perf_counter() - started
            late = await lateness(services, tenant_id)
        finally:
            await services.db.dispose()
    done = sum(o.done for o in outcomes)
    return {"count": count, "done": done, "last": max(late), "rate": done / elapsed}


async def spread(count: int, seconds: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as scratch:
        services, tenant_id, owner = await prepare(Path(scratch))
        try:
            start = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
            ends = [start + dt.timedelta(seconds=seconds * i / count) for i in range(count)]
            await seed(services, tenant_id, owner, ends)
            sweeper = Sweeper(services.db, services.provisioning, services.clock)
            timer = SweepScheduler(
                sweeper, _Idle(services.db, services.clock), services.clock,
                dt.timedelta(seconds=60),
            )  # fmt: skip
            await timer.start()
            timer.wake(start)
            await asyncio.sleep((ends[-1] - dt.datetime.now(dt.UTC)).total_seconds() + 5)
            await timer.stop()
            late = sorted(await lateness(services, tenant_id))
        finally:
            await services.db.dispose()
    return {
        "count": count,
        "done": len(late),
        "p50": statistics.median(late),
        "p99": late[min(len(late) - 1, int(len(late) * 0.99))],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=10_000)
    parser.add_argument("--spread", type=int, default=1_000)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    first = asyncio.run(burst(args.burst))
    second = asyncio.run(spread(args.spread, args.seconds))
    print(
        f"- command: `.venv/bin/python scripts/bench/sweep.py --burst {args.burst} "
        f"--spread {args.spread} --seconds {args.seconds:g}`"
    )
    print(f"- python {platform.python_version()}, nproc {os.cpu_count()}, SQLite")
    print("| scenario | figure | target | result |")
    print("| --- | ---: | ---: | --- |")
    ok = first["done"] == first["count"] and first["last"] <= 30
    print(
        f"| {first['count']} ending at once: last suspended after | {first['last']:.1f} s "
        f"| ≤ 30 s | {'PASS' if ok else 'FAIL'} |"
    )
    print(f"| — teardown rate | {first['rate']:.0f} /s | | |")
    ok = second["done"] == second["count"] and second["p99"] <= 2
    print(f"| {second['count']} ending over {args.seconds:g} s: suspended "
          f"| {second['done']:.0f} | all | |")  # fmt: skip
    print(f"| — lateness p50 "
          f"| {second['p50']:.2f} s | | |")  # fmt: skip
    print(f"| — lateness p99 | {second['p99']:.2f} s | ≤ 2 s | {'PASS' if ok else 'FAIL'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
