"""Auditor reports over HTTP, on a seeded tenant with a tombstone, an inactive and a deleted
owner, an owning team, a warning sent and a denial recorded; JSON and CSV agree."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import pytest

from tests.conftest import Harness, TenantAccess
from tests.samples import assert_error, group, stamp, user

AGENT = "urn:ietf:params:scim:schemas:core:2.0:Agent"
ACCOUNT = "urn:tenure:params:scim:schemas:core:1.0:ServiceAccount"
GOV = "urn:tenure:params:scim:schemas:extension:nhi:1.0:Governance"
T0 = dt.datetime(2026, 11, 28, 9, tzinfo=dt.UTC)


@dataclass
class Seeded:
    tenant: TenantAccess
    ana: str
    bob: str
    carl: str
    team: str
    billing: str  # ana's, ends in 30 days, warned
    deploy: str  # bob's; bob deactivated: orphaned
    ci: str  # the team's service account
    old: str  # carl's; carl deleted: orphaned
    short: str  # ana's, expired, suspended, torn down: a tombstone


def _post(harness: Harness, tenant: TenantAccess, endpoint: str, body: dict[str, Any]) -> str:
    made = harness.client.post(f"/scim/v2/{endpoint}", json=body, headers=tenant.headers("admin"))
    assert made.status_code == 201, made.text
    return made.json()["id"]  # type: ignore[no-any-return]


def _nhi(owner: str, name: str, days: int, **governance: Any) -> dict[str, Any]:
    return {
        "schemas": [AGENT, GOV],
        "name": name,
        "owners": [{"value": owner}],
        GOV: {"purpose": f"{name} work", "expiresAt": stamp(T0 + dt.timedelta(days=days)),
              **governance},
    }  # fmt: skip


@pytest.fixture
def seeded(harness: Harness, tenant: TenantAccess) -> Seeded:
    hooked = harness.client.put(
        "/admin/webhook", json={"url": "http://127.0.0.1:9/x"}, headers=tenant.headers("admin")
    )
    assert hooked.status_code == 200
    ana = _post(harness, tenant, "Users", user("ana@example.com"))
    bob = _post(harness, tenant, "Users", user("bob@example.com"))
    carl = _post(harness, tenant, "Users", user("carl@example.com"))
    team = _post(harness, tenant, "Groups", group("Platform Team", members=[ana]))
    billing = _post(
        harness, tenant, "Agents",
        _nhi(ana, "billing-bot", 30, environment="prod", scopes=["billing:read", "=cmd"]),
    )  # fmt: skip
    deploy = _post(harness, tenant, "Agents", _nhi(bob, "deploy-bot", 60))
    ci = _post(
        harness, tenant, "ServiceAccounts",
        {**_nhi(team, "ci-account", 80), "schemas": [ACCOUNT, GOV]},
    )  # fmt: skip
    old = _post(harness, tenant, "Agents", _nhi(carl, "old-bot", 60))
    short = _post(harness, tenant, "Agents", _nhi(ana, "short-bot", 1))
    refused = harness.client.post(
        "/scim/v2/Agents", json=_nhi(ana, "greedy-bot", 200), headers=tenant.headers("admin")
    )
    assert refused.status_code == 403
    sweeper = harness.client.app.state.sweeper
    harness.clock.advance(dt.timedelta(days=2))
    harness.run(sweeper.sweep())  # short-bot suspended
    harness.clock.advance(dt.timedelta(days=8))
    harness.run(sweeper.sweep())  # …and torn down
    off = harness.client.patch(
        f"/scim/v2/Users/{bob}",
        json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
              "Operations": [{"op": "replace", "path": "active", "value": False}]},
        headers=tenant.headers(),
    )  # fmt: skip
    assert off.status_code == 200
    gone = harness.client.delete(f"/scim/v2/Users/{carl}", headers=tenant.headers())
    assert gone.status_code == 204
    harness.clock.advance(dt.timedelta(days=7))  # T0 + 17 days
    # billing-bot, 14 days left: its webhook message, and the e-mail to ana, held (the
    # server has no mail server) until one is configured.
    assert harness.run(sweeper.plan_warnings()) == 2
    return Seeded(tenant, ana, bob, carl, team, billing, deploy, ci, old, short)


def _get(harness: Harness, seeded: Seeded, path: str, roles: str = "auditor", **kw: Any) -> Any:
    headers = seeded.tenant.headers(roles) | kw.pop("headers", {})
    response = harness.client.get(path, headers=headers, **kw)
    assert response.status_code == 200, response.text
    return response


def _csv(response: Any) -> list[dict[str, str]]:
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def _all_pages(harness: Harness, seeded: Seeded, path: str, count: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    base, _, query = path.partition("?")
    params: dict[str, Any] = dict(parse_qsl(query)) | {"count": count}
    while True:
        page = _get(harness, seeded, base, params=params).json()
        assert len(page["items"]) <= count
        items += page["items"]
        if page["nextCursor"] is None:
            return items
        params["cursor"] = page["nextCursor"]


def test_ownership_names_every_owner_and_identity_tombstones_included(
    harness: Harness, seeded: Seeded
) -> None:
    s = seeded
    rows = _get(harness, s, "/reports/ownership").json()["items"]
    found = {
        (r["owner"]["id"], r["owner"]["status"], r["identity"]["id"], r["identity"]["state"])
        for r in rows
    }
    assert found == {
        (s.ana, "active", s.billing, "active"),
        (s.ana, "active", s.short, "deprovisioned"),
        (s.bob, "inactive", s.deploy, "active"),
        (s.team, "active", s.ci, "active"),
        (s.carl, "removed", s.old, "active"),
    }
    assert [r["owner"]["id"] for r in rows] == sorted(r["owner"]["id"] for r in rows)
    billing = next(r for r in rows if r["identity"]["id"] == s.billing)
    assert billing["owner"] == {
        "id": s.ana, "type": "User", "display": "ana@example.com", "status": "active"
    }  # fmt: skip
    assert billing["identity"] | {"created": None} == {
        "id": s.billing,
        "resourceType": "Agent",
        "name": "billing-bot",
        "kind": "agent",
        "purpose": "billing-bot work",
        "scopes": ["billing:read", "=cmd"],
        "environment": "prod",
        "expiresAt": stamp(T0 + dt.timedelta(days=30)),
        "state": "active",
        "created": None,
        "deletedAt": None,
    }
    team = next(r for r in rows if r["identity"]["id"] == s.ci)
    assert team["owner"]["type"] == "Group" and team["identity"]["kind"] == "service_account"

    def ids(query: str) -> set[str]:
        listed = _get(harness, s, f"/reports/ownership?{query}").json()["items"]
        return {r["identity"]["id"] for r in listed}

    assert ids(f"owner={s.ana}") == {s.billing, s.short}
    assert ids("state=deprovisioned") == {s.short}
    assert ids("kind=service_account") == {s.ci}
    assert ids("environment=prod") == {s.billing}
    assert ids("relation=sponsor") == set()

    # Paged two at a time, the pages add up to the whole, in the same order.
    assert _all_pages(harness, s, "/reports/ownership", 2) == rows

    # CSV: the same facts, flat; a cell a spreadsheet would run is quoted.
    for response in (
        _get(harness, s, "/reports/ownership", headers={"Accept": "text/csv"}),
        _get(harness, s, "/reports/ownership?format=csv"),
    ):
        lines = _csv(response)
        assert {(r["owner_id"], r["owner_status"], r["identity_id"], r["state"])
                for r in lines} == found  # fmt: skip
        billing_line = next(r for r in lines if r["identity_id"] == s.billing)
        assert billing_line["scopes"] == "billing:read;=cmd"  # inside a cell: not at its start
        assert billing_line["expires_at"] == stamp(T0 + dt.timedelta(days=30))
        assert billing_line["owner_display"] == "ana@example.com"
        assert "attachment" in response.headers["content-disposition"]


def test_expiring_soonest_first_with_owners_and_warnings(harness: Harness, seeded: Seeded) -> None:
    s = seeded
    month = _get(harness, s, "/reports/expiring?within=P30D").json()["items"]
    assert [i["identity"]["id"] for i in month] == [s.billing]
    (billing,) = month
    assert billing["owners"] == [
        {"id": s.ana, "type": "User", "display": "ana@example.com", "status": "active"}
    ]
    assert billing["warned"] is True and billing["warnedDaysAhead"] == 14
    assert billing["warnedAt"] == stamp(T0 + dt.timedelta(days=17))
    two_months = _get(harness, s, "/reports/expiring?within=P60D").json()["items"]
    assert [i["identity"]["id"] for i in two_months] == [s.billing, s.deploy, s.old]
    assert [i["warned"] for i in two_months] == [True, False, False]
    assert _all_pages(harness, s, "/reports/expiring?within=P60D", 1) == two_months
    lines = _csv(_get(harness, s, "/reports/expiring?within=P60D&format=csv"))
    assert [r["identity_id"] for r in lines] == [s.billing, s.deploy, s.old]
    assert lines[0]["warned_days_ahead"] == "14" and lines[1]["warned_at"] == ""
    assert lines[1]["owners"] == f"User:{s.bob}:bob@example.com:inactive"
    for bad in ("P", "30 days", "P0D", "P99999D"):
        assert_error(
            harness.client.get(
                f"/reports/expiring?within={bad}", headers=s.tenant.headers("auditor")
            ),
            400,
            "invalidValue",
        )


def test_orphans_say_since_when_and_what_happens_next(harness: Harness, seeded: Seeded) -> None:
    s = seeded
    items = _get(harness, s, "/reports/orphans").json()["items"]
    assert [i["identity"]["id"] for i in items] == [s.deploy, s.old]
    deploy, old = items
    assert deploy["owners"] == [
        {"id": s.bob, "type": "User", "display": "bob@example.com", "status": "inactive"}
    ]
    assert old["owners"][0]["status"] == "removed"
    for orphan in items:
        assert orphan["orphanedSince"] == stamp(T0 + dt.timedelta(days=10))
        assert orphan["nextStep"] == "suspend"
        assert orphan["nextAt"] == stamp(T0 + dt.timedelta(days=13))  # 72 h of grace
    lines = _csv(_get(harness, s, "/reports/orphans", headers={"Accept": "text/csv"}))
    assert [(r["identity_id"], r["next_step"]) for r in lines] == [
        (s.deploy, "suspend"), (s.old, "suspend")
    ]  # fmt: skip


def test_summary_counts(harness: Harness, seeded: Seeded) -> None:
    s = seeded
    summary = _get(harness, s, "/reports/summary").json()
    assert summary["identities"] == {
        "total": 5,
        "byType": {"Agent": 4, "ServiceAccount": 1},
        "byKind": {"agent": 4, "service_account": 1},
        "byState": {"active": 4, "deprovisioned": 1},
        "byEnvironment": {"(none)": 4, "prod": 1},
    }
    assert summary["withoutExpiry"] == 0 and summary["pastMaxLifetime"] == 0
    assert summary["denials"] == {
        "sinceDays": 30, "total": 1, "byPolicy": {"tenure.expiry.max_lifetime": 1}
    }  # fmt: skip
    assert summary["teardowns"] == {"byReason": {"expired": {"deprovisioned": 1, "suspended": 1}}}
    lines = _csv(_get(harness, s, "/reports/summary?format=csv"))
    assert {"section": "byState", "key": "deprovisioned", "count": "1"} in lines
    assert {
        "section": "denialsByPolicy",
        "key": "tenure.expiry.max_lifetime",
        "count": "1",
    } in lines
    assert {"section": "teardownsByReason", "key": "expired:deprovisioned", "count": "1"} in lines
    # A lowered limit shows who now lives longer than allowed.
    lowered = harness.client.put(
        "/admin/settings", json={"agentLifetimeDays": 20}, headers=s.tenant.headers("admin")
    )
    assert lowered.status_code == 200
    assert _get(harness, s, "/reports/summary").json()["pastMaxLifetime"] == 2  # deploy, old


def test_history_keeps_a_torn_down_identity(harness: Harness, seeded: Seeded) -> None:
    s = seeded
    gone = harness.client.get(f"/scim/v2/Agents/{s.short}", headers=s.tenant.headers("auditor"))
    assert_error(gone, 404)
    events = _get(harness, s, f"/reports/identities/{s.short}/history").json()["items"]
    assert [(e["actions"], e["actor"]["name"], e["reason"]) for e in events] == [
        (["create"], "admin client", None),
        (["suspend"], "scheduler", "expired"),
        (["teardown"], "scheduler", "expired"),
    ]
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    lines = _csv(_get(harness, s, f"/reports/identities/{s.short}/history?format=csv"))
    assert [r["action"] for r in lines] == ["create", "suspend", "teardown"]
    assert_error(
        harness.client.get(
            "/reports/identities/no-such-id/history", headers=s.tenant.headers("auditor")
        ),
        404,
    )


def test_the_audit_log_filters_newest_first(harness: Harness, seeded: Seeded) -> None:
    s = seeded
    everything = _get(harness, s, "/audit?count=1000").json()["items"]
    assert [e["seq"] for e in everything] == sorted((e["seq"] for e in everything), reverse=True)
    assert _all_pages(harness, s, "/audit", 7) == everything

    def seqs(query: str) -> list[int]:
        return [e["seq"] for e in _get(harness, s, f"/audit?{query}").json()["items"]]

    denied = [e for e in everything if e["decision"] == "deny"]
    assert len(denied) == 1 and denied[0]["policyIds"] == ["tenure.expiry.max_lifetime"]
    assert seqs("decision=deny") == [denied[0]["seq"]]
    assert seqs("policyId=tenure.expiry.max_lifetime") == [denied[0]["seq"]]
    by_scheduler = [e["seq"] for e in everything if e["actor"]["name"] == "scheduler"]
    assert seqs("actor=scheduler") == by_scheduler and by_scheduler
    assert seqs("action=teardown") == [e["seq"] for e in everything if "teardown" in e["actions"]]
    assert seqs(f"resourceId={s.short}") == [
        e["seq"] for e in everything if e["resource"]["id"] == s.short
    ]
    assert seqs("resourceType=User") == [
        e["seq"] for e in everything if e["resource"]["type"] == "User"
    ]
    later = stamp(T0 + dt.timedelta(days=5))
    assert seqs(f"since={later}") == [e["seq"] for e in everything if e["at"] >= later]
    assert seqs(f"until={later}") == [e["seq"] for e in everything if e["at"] < later]
    lines = _csv(_get(harness, s, "/audit?decision=deny&format=csv"))
    assert [r["policy_ids"] for r in lines] == ["tenure.expiry.max_lifetime"]
    for bad in ("decision=maybe", "since=yesterday", f"since={later}&until={later}", "count=0"):
        assert_error(
            harness.client.get(f"/audit?{bad}", headers=s.tenant.headers("auditor")),
            400,
            "invalidValue",
        )
    other = _get(harness, s, "/reports/ownership?count=1").json()["nextCursor"]
    assert_error(
        harness.client.get(f"/audit?cursor={other}", headers=s.tenant.headers("auditor")),
        400,
        "invalidCursor",
    )


def test_reports_are_for_auditors_and_admins_of_the_tenant_only(
    harness: Harness, seeded: Seeded
) -> None:
    s = seeded
    for roles in ("auditor", "admin"):
        assert _get(harness, s, "/reports/summary", roles).json()["identities"]["total"] == 5
    for roles in ("idp", "platform"):
        for path in ("/reports/ownership", "/audit", "/audit/verify", "/reports/summary"):
            assert_error(harness.client.get(path, headers=s.tenant.headers(roles)), 403)
    stranger = harness.tenant()
    elsewhere = harness.client.get("/reports/ownership", headers=stranger.headers("auditor"))
    assert elsewhere.json()["items"] == []
    assert_error(
        harness.client.get(
            f"/reports/identities/{s.short}/history", headers=stranger.headers("auditor")
        ),
        404,
    )
    cursor = _get(harness, s, "/reports/ownership?count=1").json()["nextCursor"]
    assert_error(
        harness.client.get(
            f"/reports/ownership?count=1&cursor={cursor}", headers=stranger.headers("auditor")
        ),
        400,
        "invalidCursor",
    )


def test_auditors_cannot_write(harness: Harness, seeded: Seeded) -> None:
    s = seeded
    auditor = s.tenant.headers("auditor")
    before = harness.sql("SELECT count(*) FROM resources WHERE tenant_id = :t", t=s.tenant.id)
    patch = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
             "Operations": [{"op": "replace", "path": "displayName", "value": "x"}]}  # fmt: skip
    attempts = [
        harness.client.post("/scim/v2/Users", json=user("eve@example.com"), headers=auditor),
        harness.client.post("/scim/v2/Agents", json=_nhi(s.ana, "sneaky", 5), headers=auditor),
        harness.client.patch(f"/scim/v2/Agents/{s.billing}", json=patch, headers=auditor),
        harness.client.put(
            f"/scim/v2/Users/{s.ana}", json=user("ana@example.com"), headers=auditor
        ),
        harness.client.delete(f"/scim/v2/Agents/{s.billing}", headers=auditor),
        harness.client.post("/admin/tokens", json={"name": "x", "roles": "admin"}, headers=auditor),
        harness.client.put("/admin/settings", json={"agentLifetimeDays": 1}, headers=auditor),
        harness.client.put("/admin/webhook", json={"url": "https://x.example"}, headers=auditor),
        harness.client.post("/admin/policies", json={"id": "x", "text": "x"}, headers=auditor),
    ]
    for response in attempts:
        assert_error(response, 403)
    bulk = harness.client.post(
        "/scim/v2/Bulk",
        json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
              "Operations": [{"method": "POST", "path": "/Users", "bulkId": "a",
                              "data": user("mallory@example.com")}]},
        headers=auditor,
    )  # fmt: skip
    assert bulk.json()["Operations"][0]["status"] == "403"
    after = harness.sql("SELECT count(*) FROM resources WHERE tenant_id = :t", t=s.tenant.id)
    assert after == before
    assert _get(harness, s, f"/scim/v2/Agents/{s.billing}", "admin").json()["name"] == "billing-bot"


def test_the_reports_are_documented_in_openapi(harness: Harness) -> None:
    ui = harness.client.get("/docs")
    assert ui.status_code == 200 and ui.headers["content-type"].startswith("text/html")
    spec = harness.client.get("/docs/openapi.json").json()
    documented = {
        "/reports/ownership": {"owner", "relation", "kind", "state", "environment"},
        "/reports/expiring": {"within"},
        "/reports/orphans": set(),
        "/reports/summary": set(),
        "/reports/identities/{resource_id}/history": set(),
        "/audit": {"since", "until", "actor", "action", "resourceType", "resourceId",
                   "decision", "policyId"},
        "/audit/verify": set(),
    }  # fmt: skip
    for path, own in documented.items():
        operation = spec["paths"][path]["get"]
        names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        paged = set() if path in ("/reports/summary", "/audit/verify") else {"cursor", "count"}
        formats = set() if path == "/audit/verify" else {"format"}
        assert names == own | paged | formats, path
        assert operation["summary"] and operation.get("description")


def test_csv_cells_a_spreadsheet_would_run_are_quoted(
    harness: Harness, tenant: TenantAccess
) -> None:
    owner = _post(harness, tenant, "Users", user("formula@example.com"))
    body = _nhi(owner, "sheet-bot", 10)
    body[GOV]["purpose"] = '=HYPERLINK("http://evil.example","x")'
    agent = _post(harness, tenant, "Agents", body)
    response = harness.client.get(
        "/reports/ownership?format=csv", headers=tenant.headers("auditor")
    )
    (line,) = [r for r in _csv(response) if r["identity_id"] == agent]
    assert line["purpose"] == "'" + '=HYPERLINK("http://evil.example","x")'
    shown = harness.client.get("/reports/ownership", headers=tenant.headers("auditor")).json()
    assert shown["items"][0]["identity"]["purpose"].startswith("=HYPERLINK")  # JSON: as is
