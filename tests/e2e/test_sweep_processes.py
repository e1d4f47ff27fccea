"""Sweeper processes (``tenure sweep --once``) on one database: shared work, and a SIGKILL.

Identities are seeded straight into the store, already past their end, each
in a Group, with the tenant's webhook set so each suspension plans a message.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from app.config import Settings
from app.domain.clock import SystemClock
from app.domain.resource import Member, OwnerRef, Resource
from app.domain.tenancy import TenantSettings
from app.main import build_services
from app.scim.codec import format_datetime
from app.scim.schema import GOVERNANCE_URN
from tests.conftest import SECRET_KEY

ROOT = Path(__file__).resolve().parents[2]


async def _seed(settings: Settings, count: int) -> str:
    services = build_services(settings, SystemClock())
    try:
        await services.db.migrate()
        tenant = await services.tenancy.create_tenant(f"t-{uuid.uuid4().hex[:8]}")
        await services.notifications.set_webhook(tenant.id, "http://127.0.0.1:9/nobody")
        # All at once is the point here, not a mistake the blast-radius guard should stop.
        await services.tenancy.set_settings(tenant.id, TenantSettings(blast_radius_percent=100))
        now = dt.datetime.now(dt.UTC)

        def row(kind: str, doc: dict[str, Any]) -> Resource:
            return Resource(
                tenant_id=tenant.id, id=str(uuid.uuid4()), resource_type=kind,
                external_id=None, doc=doc, version=1, created=now, last_modified=now,
            )  # fmt: skip

        owner = row("User", {"userName": "owner", "active": True})
        agents = [
            row(
                "Agent",
                {
                    "name": f"bot-{i:05d}",
                    GOVERNANCE_URN: {
                        "kind": "agent",
                        "purpose": "test",
                        "lifecycleState": "active",
                        "expiresAt": format_datetime(now - dt.timedelta(minutes=1)),
                        "hardExpiresAt": format_datetime(now + dt.timedelta(days=300)),
                        "registeredBy": "seed",
                    },
                },
            )
            for i in range(count)
        ]
        team = row("Group", {"displayName": "all bots"})
        async with services.db.uow(write=True) as uow:
            store = uow.of(owner.tenant_id)
            await store.resources.add_many([owner, team, *agents])
            for agent in agents:
                await store.owners.set_owners(
                    agent, "owner", [OwnerRef(value=owner.id, type="User")]
                )
            await store.memberships.change_members(
                team, clear=False, remove=[],
                add=[Member(value=a.id, type="Agent") for a in agents],
            )  # fmt: skip
            await uow.commit()
        return tenant.id
    finally:
        await services.db.dispose()


async def _query(settings: Settings, statement: str, **params: Any) -> list[Any]:
    services = build_services(settings, SystemClock())
    try:
        async with services.db.engine.begin() as connection:
            result = await connection.execute(sa.text(statement), params)
            return list(result.all()) if result.returns_rows else []
    finally:
        await services.db.dispose()


def _env(settings: Settings) -> dict[str, str]:
    env = {
        **os.environ,
        "TENURE_DATABASE_URL": settings.database_url,
        "TENURE_SECRET_KEY": SECRET_KEY.decode(),
    }
    if settings.database_schema:
        env["TENURE_DATABASE_SCHEMA"] = settings.database_schema
    return env


def _sweep(settings: Settings) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", "from app.cli import main; raise SystemExit(main())",
         "sweep", "--once"],
        cwd=ROOT, env=_env(settings), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def _settled(settings: Settings, tenant_id: str) -> tuple[int, int, int, int]:
    """(suspension events, identities with more than one, outbox rows, half-done identities)."""
    events = asyncio.run(_query(
        settings,
        "SELECT resource_id, count(*) FROM audit_events WHERE tenant_id = :t "
        "AND action = 'suspend' GROUP BY resource_id",
        t=tenant_id,
    ))  # fmt: skip
    outbox = asyncio.run(_query(
        settings, "SELECT count(*) FROM outbox WHERE tenant_id = :t AND kind = 'suspended'",
        t=tenant_id,
    ))[0][0]  # fmt: skip
    # Half done: suspended but still in the Group, or active but out of it.
    half = asyncio.run(_query(
        settings,
        "SELECT count(*) FROM resources r WHERE r.tenant_id = :t AND r.resource_type = 'Agent' "
        "AND ((r.lifecycle_state = 'suspended') = EXISTS ("
        "SELECT 1 FROM group_members m WHERE m.member_id = r.id))",
        t=tenant_id,
    ))[0][0]  # fmt: skip
    return len(events), sum(1 for e in events if e[1] > 1), outbox, half


def test_two_sweeper_processes_share_the_work_and_do_each_identity_once(
    empty_settings: Settings,
) -> None:
    count = 2000 if empty_settings.database_schema else 600
    tenant_id = asyncio.run(_seed(empty_settings, count))
    first, second = _sweep(empty_settings), _sweep(empty_settings)
    outputs = [p.communicate(timeout=300) for p in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, outputs
    lines = [out.decode().splitlines() for out, _ in outputs]
    assert sum(len(x) for x in lines) == count
    if empty_settings.database_schema:  # on PostgreSQL both really work at once
        assert lines[0] and lines[1]
    assert _settled(empty_settings, tenant_id) == (count, 0, count, 0)


def test_a_sweeper_killed_mid_batch_leaves_nothing_half_done(empty_settings: Settings) -> None:
    count = 3000
    tenant_id = asyncio.run(_seed(empty_settings, count))
    victim = _sweep(empty_settings)
    deadline = time.monotonic() + 120
    while _settled(empty_settings, tenant_id)[0] < 200:
        assert victim.poll() is None, victim.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    done, twice, planned, half = _settled(empty_settings, tenant_id)
    assert 0 < done < count, "killed too late to tell"
    assert (twice, half) == (0, 0) and planned == done
    # The killed sweeper's leases (minutes long) would run out; here they are cleared.
    asyncio.run(_query(empty_settings, "UPDATE resources SET sweep_lease = NULL"))
    again = _sweep(empty_settings)
    _out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert _settled(empty_settings, tenant_id) == (count, 0, count, 0)
