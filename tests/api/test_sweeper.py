"""The lifecycle sweeper: expired identities suspended, then torn down, as Cedar allows.

Driven through the app's own sweeper (``app.state.sweeper``) on the test clock,
and through the scheduler that fires it inside a running app.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

import msgspec
from litestar.testing import TestClient

from app.config import Settings
from app.domain.clock import FixedClock
from app.lifecycle.sweeper import Outcome, Sweeper
from app.main import build_services, create_app
from tests.conftest import Harness, TenantAccess
from tests.samples import GROUP, stamp

AGENT = "urn:ietf:params:scim:schemas:core:2.0:Agent"
GOV = "urn:tenure:params:scim:schemas:extension:nhi:1.0:Governance"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def register(harness: Harness, tenant: TenantAccess, name: str, days: float, **extra: Any) -> Any:
    end = stamp(harness.clock.now() + dt.timedelta(days=days))
    body = {"schemas": [AGENT, GOV], "name": name, GOV: {"expiresAt": end}, **extra}
    created = harness.client.post("/scim/v2/Agents", json=body, headers=tenant.headers("platform"))
    assert created.status_code == 201, created.text
    return created.json()


def read(harness: Harness, tenant: TenantAccess, agent_id: str) -> Any:
    return harness.client.get(f"/scim/v2/Agents/{agent_id}", headers=tenant.headers("admin"))


def sweep(harness: Harness, **options: Any) -> list[Outcome]:
    sweeper: Sweeper = harness.client.app.state.sweeper
    return harness.run(sweeper.sweep(**options))  # type: ignore[no-any-return]


def trail(harness: Harness, resource_id: str) -> list[tuple[str, str, str | None, str]]:
    rows = harness.sql(
        "SELECT action, actor_token, reason, decision FROM audit_events "
        "WHERE resource_id = :r ORDER BY seq",
        r=resource_id,
    )
    return [tuple(row) for row in rows]


def test_an_expired_identity_is_suspended_then_torn_down(
    harness: Harness, tenant: TenantAccess
) -> None:
    expiring = register(harness, tenant, "expiring", 1)
    child = register(harness, tenant, "child", 1, parent={"value": expiring["id"]})
    lasting = register(harness, tenant, "lasting", 30)
    team = harness.client.post(
        "/scim/v2/Groups",
        json={"schemas": [GROUP], "displayName": "bots",
              "members": [{"value": expiring["id"]}, {"value": lasting["id"]}]},
        headers=tenant.headers("admin"),
    ).json()  # fmt: skip

    assert sweep(harness) == []  # nothing is due yet
    harness.clock.advance(dt.timedelta(days=1, minutes=5))
    swept_at = harness.clock.now()
    outcomes = sweep(harness)
    assert sorted((o.resource_id, o.action, o.reason, o.done) for o in outcomes) == sorted(
        [(expiring["id"], "suspend", "expired", True), (child["id"], "suspend", "expired", True)]
    )
    gone = read(harness, tenant, expiring["id"]).json()
    assert gone["active"] is False
    governance = gone[GOV]
    assert governance["lifecycleState"] == "suspended"
    assert governance["suspendedReason"] == "expired"
    assert governance["teardownAt"] == stamp(swept_at + dt.timedelta(days=7))
    members = harness.client.get(
        f"/scim/v2/Groups/{team['id']}", headers=tenant.headers("admin")
    ).json()["members"]
    assert [m["value"] for m in members] == [lasting["id"]]
    assert read(harness, tenant, lasting["id"]).json()["active"] is True
    assert trail(harness, expiring["id"])[-1] == ("suspend", "scheduler", "expired", "allow")
    assert sweep(harness) == []  # done once, not again

    harness.clock.advance(dt.timedelta(days=7))
    outcomes = sweep(harness)
    # The child was torn down with its parent (or on its own, if it came first).
    assert {o.resource_id for o in outcomes} <= {expiring["id"], child["id"]}
    assert all(o.done and o.action == "teardown" for o in outcomes)
    for agent in (expiring, child):
        assert read(harness, tenant, agent["id"]).status_code == 404
    assert ("teardown", "scheduler", "expired", "allow") in trail(harness, expiring["id"])
    assert read(harness, tenant, lasting["id"]).json()["active"] is True


def test_a_renewal_before_the_sweep_keeps_the_identity(
    harness: Harness, tenant: TenantAccess
) -> None:
    agent = register(harness, tenant, "renewed", 1)
    harness.clock.advance(dt.timedelta(hours=23))
    renewed = harness.client.patch(
        f"/scim/v2/Agents/{agent['id']}",
        json={"schemas": [PATCH_OP], "Operations": [
            {"op": "replace", "path": f"{GOV}:lastAttestedAt", "value": stamp(harness.clock.now())},
            {"op": "replace", "path": f"{GOV}:expiresAt",
             "value": stamp(harness.clock.now() + dt.timedelta(days=30))},
        ]},
        headers=tenant.headers("platform"),
    )  # fmt: skip
    assert renewed.status_code == 200, renewed.text
    harness.clock.advance(dt.timedelta(days=2))
    assert sweep(harness) == []
    assert read(harness, tenant, agent["id"]).json()["active"] is True


def test_an_identity_suspended_on_request_is_torn_down_after_it_expires(
    harness: Harness, tenant: TenantAccess
) -> None:
    agent = register(harness, tenant, "paused", 2)
    paused = harness.client.patch(
        f"/scim/v2/Agents/{agent['id']}",
        json={"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active",
                                                     "value": False}]},
        headers=tenant.headers("platform"),
    )  # fmt: skip
    assert paused.status_code == 200
    harness.clock.advance(dt.timedelta(days=1))
    assert sweep(harness) == []  # suspended on request, not yet expired: not the sweeper's
    harness.clock.advance(dt.timedelta(days=2))
    assert [(o.action, o.done) for o in sweep(harness)] == [("suspend", True)]
    governance = read(harness, tenant, agent["id"]).json()[GOV]
    # Suspended since the request: the grace counts from then.
    assert governance["suspendedReason"] == "expired"
    assert governance["teardownAt"] == stamp(
        harness.clock.now() - dt.timedelta(days=3) + dt.timedelta(days=7)
    )
    harness.clock.advance(dt.timedelta(days=4, minutes=1))
    assert [(o.action, o.done) for o in sweep(harness)] == [("teardown", True)]


def test_a_dry_run_says_what_it_would_do_and_writes_nothing(
    harness: Harness, tenant: TenantAccess
) -> None:
    agent = register(harness, tenant, "dry", 1)
    version = agent["meta"]["version"]
    harness.clock.advance(dt.timedelta(days=2))
    for roles in ("idp", "admin"):
        tenant.headers(roles)  # issued (and audited) before counting
    before = harness.sql("SELECT count(*) FROM audit_events")[0][0]
    outcomes = sweep(harness, dry_run=True)
    assert [(o.resource_id, o.action, o.done) for o in outcomes] == [(agent["id"], "suspend", True)]
    # Past its end it reads as suspended already; nothing was written.
    unchanged = read(harness, tenant, agent["id"]).json()
    assert unchanged["meta"]["version"] == version and "suspendedReason" not in unchanged[GOV]
    assert harness.sql("SELECT count(*) FROM audit_events")[0][0] == before
    assert [o.resource_id for o in sweep(harness, tenant_id="no-such-tenant")] == []
    assert [o.resource_id for o in sweep(harness, tenant_id=tenant.id)] == [agent["id"]]


def test_two_sweepers_share_the_work_and_never_do_an_identity_twice(
    harness: Harness, tenant: TenantAccess
) -> None:
    ids = [register(harness, tenant, f"bot-{i:03d}", 1)["id"] for i in range(120)]
    harness.clock.advance(dt.timedelta(days=2))
    # All at once is the point here, not a mistake the blast-radius guard should stop.
    harness.client.put(
        "/admin/settings", json={"blastRadiusPercent": 100}, headers=tenant.headers("admin")
    )

    async def both() -> list[list[Outcome]]:
        parts = [build_services(harness.settings, harness.clock) for _ in range(2)]
        try:
            sweepers = [Sweeper(s.db, s.provisioning, s.clock, batch=10) for s in parts]
            return list(await asyncio.gather(*(s.sweep() for s in sweepers)))
        finally:
            for s in parts:
                await s.db.dispose()

    first, second = harness.run(both())
    if harness.db.engine.dialect.name == "postgresql":
        assert first and second  # both took part (SQLite serialises writers: maybe one)
    done = [o.resource_id for o in first + second if o.done]
    assert sorted(done) == sorted(ids)
    events = harness.sql(
        "SELECT resource_id, count(*) FROM audit_events WHERE action = 'suspend' "
        "AND tenant_id = :t GROUP BY resource_id",
        t=tenant.id,
    )
    assert sorted(row[0] for row in events) == sorted(ids)
    assert {row[1] for row in events} == {1}


def test_the_scheduler_sweeps_inside_a_running_app(settings: Settings, clock: FixedClock) -> None:
    live = msgspec.structs.replace(settings, scheduler=True, sweep_interval_seconds=1)
    with TestClient(create_app(live, clock=clock)) as client:
        harness = Harness(client, live, clock)
        tenant = harness.tenant()
        agent = register(harness, tenant, "timed", 1)
        clock.advance(dt.timedelta(days=2))
        deadline = time.monotonic() + 15
        while read(harness, tenant, agent["id"]).json()[GOV]["lifecycleState"] != "suspended":
            assert time.monotonic() < deadline, "the scheduler did not sweep"
            time.sleep(0.2)


def test_the_scheduler_wakes_at_an_identitys_end_not_an_interval_later(
    settings: Settings,
) -> None:
    """A registration re-arms the alarm: suspended within seconds of its end (the real clock)."""
    from app.domain.clock import SystemClock

    live = msgspec.structs.replace(settings, scheduler=True, sweep_interval_seconds=3600)
    clock = SystemClock()
    with TestClient(create_app(live, clock=clock)) as client:
        harness = Harness(client, live, clock)  # type: ignore[arg-type]
        tenant = harness.tenant()
        ends = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3)
        body = {"schemas": [AGENT, GOV], "name": "brief", GOV: {"expiresAt": ends.isoformat()}}
        created = client.post("/scim/v2/Agents", json=body, headers=tenant.headers("platform"))
        assert created.status_code == 201, created.text
        agent_id = created.json()["id"]
        deadline = time.monotonic() + 20
        while True:
            rows = harness.sql(
                "SELECT at FROM audit_events WHERE resource_id = :r AND action = 'suspend'",
                r=agent_id,
            )
            if rows:
                break
            assert time.monotonic() < deadline, "the alarm did not fire"
            time.sleep(0.2)
        at = rows[0][0]
        at = dt.datetime.fromisoformat(at) if isinstance(at, str) else at
        at = at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at
        assert dt.timedelta(0) <= at - ends < dt.timedelta(seconds=3)


def test_a_sweep_that_would_suspend_too_much_at_once_stops_and_alerts(
    harness: Harness, tenant: TenantAccess
) -> None:
    webhook = harness.client.put(
        "/admin/webhook", json={"url": "http://127.0.0.1:9/x"}, headers=tenant.headers("admin")
    )
    assert webhook.status_code == 200
    ending = [register(harness, tenant, f"batch-{i}", 1)["id"] for i in range(12)]
    for i in range(20):
        register(harness, tenant, f"steady-{i}", 30)
    harness.clock.advance(dt.timedelta(days=2))
    assert sweep(harness) == []  # 12 of 32 active (37 %) > 20 %: nothing suspended
    assert all(read(harness, tenant, i).json()[GOV].get("suspendedReason") is None for i in ending)
    alerts = harness.sql(
        "SELECT action, resource_type, reason, detail FROM audit_events "
        "WHERE tenant_id = :t AND action = 'alert'",
        t=tenant.id,
    )
    assert len(alerts) == 1 and alerts[0][:3] == ("alert", "Tenant", "blast_radius")
    assert "12 of 32 active identities" in alerts[0][3]
    planned = harness.sql(
        "SELECT count(*) FROM outbox WHERE tenant_id = :t AND kind = 'blast_radius'", t=tenant.id
    )
    assert planned[0][0] == 1
    assert sweep(harness) == []  # still stopped, and alerted once a day only
    assert len(harness.sql("SELECT 1 FROM audit_events WHERE action = 'alert'")) == 1
    raised = harness.client.put(
        "/admin/settings", json={"blastRadiusPercent": 50}, headers=tenant.headers("admin")
    )
    assert raised.status_code == 200 and raised.json()["blastRadiusPercent"] == 50
    assert sorted(o.resource_id for o in sweep(harness) if o.done) == sorted(ending)


def test_an_identity_nobody_attests_to_is_flagged_then_suspended_after_the_grace(
    harness: Harness, tenant: TenantAccess
) -> None:
    def account(name: str) -> Any:
        created = harness.client.post(
            "/scim/v2/ServiceAccounts",
            json={"schemas": ["urn:tenure:params:scim:schemas:core:1.0:ServiceAccount"],
                  "name": name},
            headers=tenant.headers("platform"),
        )  # fmt: skip
        assert created.status_code == 201, created.text
        return created.json()

    forgotten, cared_for = account("forgotten"), account("cared-for")
    assert forgotten[GOV]["attestBy"] == stamp(harness.clock.now() + dt.timedelta(days=90))
    assert forgotten[GOV]["attestationSuspendAt"] == stamp(
        harness.clock.now() + dt.timedelta(days=97)
    )
    harness.clock.advance(dt.timedelta(days=60))
    attested = harness.client.patch(
        f"/scim/v2/ServiceAccounts/{cared_for['id']}",
        json={"schemas": [PATCH_OP], "Operations": [
            {"op": "replace", "path": f"{GOV}:lastAttestedAt", "value": stamp(harness.clock.now())}
        ]},
        headers=tenant.headers("platform"),
    )  # fmt: skip
    assert attested.status_code == 200, attested.text
    assert attested.json()[GOV]["attestBy"] == stamp(harness.clock.now() + dt.timedelta(days=90))

    harness.clock.advance(dt.timedelta(days=31))
    overdue = harness.client.get(
        f"/scim/v2/ServiceAccounts/{forgotten['id']}", headers=tenant.headers("admin")
    ).json()
    assert overdue[GOV]["complianceIssues"] == ["attestation_overdue"]
    assert overdue["active"] is True
    assert sweep(harness) == []  # flagged, owners told; the grace (7 days) runs
    harness.clock.advance(dt.timedelta(days=6))
    swept = sweep(harness)
    assert [(o.resource_id, o.action, o.reason, o.done) for o in swept] == [
        (forgotten["id"], "suspend", "unattested", True)
    ]
    assert trail(harness, forgotten["id"])[-1] == ("suspend", "scheduler", "unattested", "allow")
    harness.clock.advance(dt.timedelta(days=60))
    assert [(o.resource_id, o.reason) for o in sweep(harness) if o.action == "suspend"] == [
        (cared_for["id"], "unattested")
    ]


def test_a_tenant_without_attestation_grace_suspends_at_the_deadline(
    harness: Harness, tenant: TenantAccess
) -> None:
    settings = harness.client.put(
        "/admin/settings",
        json={"attestationDays": 30, "attestationGraceHours": 0},
        headers=tenant.headers("admin"),
    )
    assert settings.status_code == 200, settings.text
    assert settings.json()["attestationGraceHours"] == 0
    agent = register(harness, tenant, "strict", 60)
    assert agent[GOV]["attestationSuspendAt"] == agent[GOV]["attestBy"]
    harness.clock.advance(dt.timedelta(days=30))
    assert [(o.resource_id, o.reason, o.done) for o in sweep(harness)] == [
        (agent["id"], "unattested", True)
    ]


def test_suspending_a_parent_suspends_its_subtree(harness: Harness, tenant: TenantAccess) -> None:
    parent = register(harness, tenant, "parent", 30)
    child = register(harness, tenant, "child", 20, parent={"value": parent["id"]})
    grandchild = register(harness, tenant, "grandchild", 10, parent={"value": child["id"]})
    off = harness.client.patch(
        f"/scim/v2/Agents/{parent['id']}",
        json={"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active",
                                                     "value": False}]},
        headers=tenant.headers("platform"),
    )  # fmt: skip
    assert off.status_code == 200, off.text
    for agent in (child, grandchild):
        shown = read(harness, tenant, agent["id"]).json()
        assert shown["active"] is False
        assert shown[GOV]["suspendedReason"] == "cascade"
        assert "teardownAt" not in shown[GOV]  # a requested suspension: nothing follows
        assert trail(harness, agent["id"])[-1] == ("suspend", "scheduler", "cascade", "allow")
