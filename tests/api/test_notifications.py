"""Notifications: planned with their cause, delivered signed to a real local webhook receiver.

Signatures are checked with the Standard Webhooks reference library; the
receiver is a real HTTP server on a free port that can fail or stall on cue.
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from standardwebhooks import Webhook

from app.lifecycle.sweeper import Sweeper
from app.notify.delivery import Deliverer
from tests.conftest import Harness, TenantAccess
from tests.samples import assert_error, stamp

AGENT = "urn:ietf:params:scim:schemas:core:2.0:Agent"
GOV = "urn:tenure:params:scim:schemas:extension:nhi:1.0:Governance"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class Receiver:
    """A webhook endpoint: records what arrives; fails the first ``failures`` with 500 and
    stalls the first ``stalls`` longer than a sender's timeout."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.failures = 0
        self.stalls = 0
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                if receiver.stalls:
                    # Answers, but after the sender gave up: that try failed too.
                    receiver.stalls -= 1
                    time.sleep(1.5)
                    status = 204
                else:
                    status = 500 if receiver.failures else 204
                    receiver.failures = max(receiver.failures - 1, 0)
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/tenure"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def payloads(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.server.shutdown()


def hook(harness: Harness, tenant: TenantAccess, url: str) -> str:
    made = harness.client.put("/admin/webhook", json={"url": url}, headers=tenant.headers("admin"))
    assert made.status_code == 200, made.text
    return made.json()["secret"]  # type: ignore[no-any-return]


def register(harness: Harness, tenant: TenantAccess, name: str, days: float) -> Any:
    end = stamp(harness.clock.now() + dt.timedelta(days=days))
    created = harness.client.post(
        "/scim/v2/Agents",
        json={"schemas": [AGENT, GOV], "name": name, GOV: {"expiresAt": end}},
        headers=tenant.headers("platform"),
    )
    assert created.status_code == 201, created.text
    return created.json()


def replace(
    harness: Harness, tenant: TenantAccess, agent: dict[str, Any], path: str, value: Any,
    role: str = "admin",
) -> None:  # fmt: skip
    """PATCH one attribute of ``agent`` (RFC 7644 §3.5.2.3 replace), which must succeed."""
    changed = harness.client.patch(
        f"/scim/v2/Agents/{agent['id']}",
        json={
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": path, "value": value}],
        },
        headers=tenant.headers(role),
    )
    assert changed.status_code == 200, changed.text


def sweeper(harness: Harness) -> Sweeper:
    return harness.client.app.state.sweeper  # type: ignore[no-any-return]


def deliver(harness: Harness, deliverer: Deliverer | None = None) -> int:
    chosen = deliverer or harness.client.app.state.deliverer
    return harness.run(chosen.deliver_due())  # type: ignore[no-any-return]


def verify(secret: str, headers: dict[str, str], body: bytes) -> None:
    """With the reference library's signer (its verify also checks the wall clock)."""
    sent = dt.datetime.fromtimestamp(int(headers["webhook-timestamp"]), dt.UTC)
    expected = Webhook(secret).sign(headers["webhook-id"], sent, body.decode())
    assert headers["webhook-signature"] == expected


def outbox(harness: Harness, tenant: TenantAccess, state: str | None = None) -> list[Any]:
    query = f"?state={state}" if state else ""
    listed = harness.client.get(f"/admin/outbox{query}", headers=tenant.headers("admin"))
    assert listed.status_code == 200, listed.text
    return listed.json()["items"]  # type: ignore[no-any-return]


def test_the_webhook_is_set_by_admins_with_a_secret_shown_once(
    harness: Harness, tenant: TenantAccess
) -> None:
    admin = tenant.headers("admin")
    assert harness.client.get("/admin/webhook", headers=admin).json() == {
        "url": None,
        "configured": False,
    }
    for bad in ({"url": "ftp://example.com/x"}, {"url": "not a url"}, {"address": "x"}):
        assert_error(
            harness.client.put("/admin/webhook", json=bad, headers=admin), 400, "invalidValue"
        )
    secret = hook(harness, tenant, "https://hooks.example.com/tenure")
    assert secret.startswith("whsec_")
    shown = harness.client.get("/admin/webhook", headers=admin)
    assert shown.json() == {"url": "https://hooks.example.com/tenure", "configured": True}
    assert secret not in shown.text
    assert hook(harness, tenant, "https://hooks.example.com/tenure") != secret  # rotated
    for roles in ("platform", "auditor", "idp"):
        assert_error(harness.client.get("/admin/webhook", headers=tenant.headers(roles)), 403)
    assert harness.client.delete("/admin/webhook", headers=admin).status_code == 204
    assert harness.client.get("/admin/webhook", headers=admin).json()["configured"] is False


def test_suspension_and_teardown_reach_the_owners_signed(
    harness: Harness, tenant: TenantAccess, receiver: Receiver
) -> None:
    secret = hook(harness, tenant, receiver.url)
    agent = register(harness, tenant, "expiring", 15)  # beyond every warning lead
    harness.clock.advance(dt.timedelta(days=16))
    harness.run(sweeper(harness).sweep())
    assert deliver(harness) == 1
    assert deliver(harness) == 0  # at least once, and here exactly once
    ((headers, body),) = receiver.received
    verify(secret, headers, body)
    event = json.loads(body)
    assert event["type"] == "identity.suspended"
    data = event["data"]
    assert data["identity"]["id"] == agent["id"] and data["reason"] == "expired"
    assert [o["value"] for o in data["identity"]["owners"]] == [tenant.owner()]
    assert data["identity"]["link"].endswith(f"/scim/v2/Agents/{agent['id']}")
    assert data["due"] == stamp(harness.clock.now() + dt.timedelta(days=7))

    harness.clock.advance(dt.timedelta(days=7, minutes=1))
    harness.run(sweeper(harness).sweep())
    assert deliver(harness) == 1
    assert [p["type"] for p in receiver.payloads()] == [
        "identity.suspended",
        "identity.deprovisioned",
    ]
    assert [i["state"] for i in outbox(harness, tenant)] == ["sent", "sent"]
    assert len({h["webhook-id"] for h, _ in receiver.received}) == 2


def test_a_failing_receiver_gets_the_message_once_it_recovers_under_the_same_id(
    harness: Harness, tenant: TenantAccess, receiver: Receiver
) -> None:
    hook(harness, tenant, receiver.url)
    register(harness, tenant, "flaky", 15)  # beyond every warning lead
    harness.clock.advance(dt.timedelta(days=16))
    harness.run(sweeper(harness).sweep())
    receiver.stalls, receiver.failures = 1, 2
    patient = Deliverer(harness.db, harness.clock, timeout=0.5)
    assert deliver(harness, patient) == 0  # timed out
    (pending,) = outbox(harness, tenant, "pending")
    assert pending["attempts"] == 1 and "Timeout" in pending["lastError"]
    assert deliver(harness, patient) == 0  # not due again yet: backoff
    for attempt in (2, 3, 4):
        harness.clock.advance(dt.timedelta(minutes=5))
        sent = deliver(harness, patient)
        assert sent == (1 if attempt == 4 else 0)
    (done,) = outbox(harness, tenant, "sent")
    # A stall (timed out), two 500s, then through: four tries, one id.
    assert done["attempts"] == 4 and done["lastError"] is None
    ids = {headers["webhook-id"] for headers, _ in receiver.received}
    assert len(receiver.received) == 4 and ids == {done["webhookId"]}


def test_a_message_that_keeps_failing_goes_dead_and_can_be_retried(
    harness: Harness, tenant: TenantAccess, receiver: Receiver
) -> None:
    hook(harness, tenant, receiver.url)
    register(harness, tenant, "doomed", 15)  # beyond every warning lead
    harness.clock.advance(dt.timedelta(days=16))
    harness.run(sweeper(harness).sweep())
    receiver.failures = 99
    short = Deliverer(harness.db, harness.clock, max_attempts=2)
    deliver(harness, short)
    harness.clock.advance(dt.timedelta(minutes=5))
    deliver(harness, short)
    (dead,) = outbox(harness, tenant, "dead")
    assert dead["attempts"] == 2 and dead["lastError"] == "HTTP 500"
    assert outbox(harness, tenant, "pending") == []
    assert_error(
        harness.client.get("/admin/outbox?state=lost", headers=tenant.headers("admin")),
        400,
        "invalidValue",
    )
    assert_error(
        harness.client.post("/admin/outbox/999999/retry", headers=tenant.headers("admin")), 404
    )
    other = harness.tenant()
    assert_error(
        harness.client.post(f"/admin/outbox/{dead['id']}/retry", headers=other.headers("admin")),
        404,
    )
    receiver.failures = 0
    retried = harness.client.post(
        f"/admin/outbox/{dead['id']}/retry", headers=tenant.headers("admin")
    )
    assert retried.status_code == 200
    assert deliver(harness, short) == 1
    assert [i["state"] for i in outbox(harness, tenant)] == ["sent"]


def test_owners_are_warned_ahead_once_per_lead(
    harness: Harness, tenant: TenantAccess, receiver: Receiver
) -> None:
    hook(harness, tenant, receiver.url)
    agent = register(harness, tenant, "warned", 20)
    plans = sweeper(harness).plan_warnings
    assert harness.run(plans()) == 0
    for days_ahead, lead in ((6.1, 14), (17.1, 3), (19.1, 1)):
        target = dt.datetime(2026, 11, 28, 9, tzinfo=dt.UTC) + dt.timedelta(days=days_ahead)
        harness.clock.advance(target - harness.clock.now())
        assert harness.run(plans()) == 1, lead
        assert harness.run(plans()) == 0  # the same moment planned once
    deliver(harness)
    warnings = [p["data"] for p in receiver.payloads()]
    assert [w["daysLeft"] for w in warnings] == [14, 3, 1]
    assert {w["identity"]["id"] for w in warnings} == {agent["id"]}
    assert {w["due"] for w in warnings} == {agent[GOV]["expiresAt"]}


def test_owners_are_warned_before_attestation_is_due_and_when_it_is_overdue(
    harness: Harness, tenant: TenantAccess, receiver: Receiver
) -> None:
    """Each tenant its own leads: this one warns 7 days and 1 day ahead, another the server's."""
    hook(harness, tenant, receiver.url)
    settings = harness.client.put(
        "/admin/settings",
        json={"attestationDays": 30, "warningDays": [7, 1]},
        headers=tenant.headers("admin"),
    )
    assert settings.status_code == 200, settings.text
    other = harness.tenant()
    hook(harness, other, receiver.url)
    harness.client.put(
        "/admin/settings", json={"attestationDays": 60}, headers=other.headers("admin")
    )
    agent = register(harness, tenant, "attested", 85)
    elsewhere = register(harness, other, "elsewhere", 85)
    plans = sweeper(harness).plan_warnings
    assert harness.run(plans()) == 0
    start = harness.clock.now()
    for day in range(1, 32):
        harness.clock.advance(start + dt.timedelta(days=day) - harness.clock.now())
        harness.run(plans())
    deliver(harness)
    mine = [p for p in receiver.payloads() if p["data"]["identity"]["id"] == agent["id"]]
    assert [(p["type"], p["data"]["daysLeft"]) for p in mine] == [
        ("identity.attestation_due", 7),
        ("identity.attestation_due", 1),
        ("identity.attestation_overdue", 0),
    ]
    assert {p["data"]["due"] for p in mine[:2]} == {agent[GOV]["attestBy"]}
    assert mine[2]["data"]["due"] == agent[GOV]["attestationSuspendAt"]
    theirs = [p for p in receiver.payloads() if p["data"]["identity"]["id"] == elsewhere["id"]]
    assert theirs == []  # 60 days: nothing due within a month
    harness.clock.advance(dt.timedelta(days=30))
    harness.run(plans())
    deliver(harness)
    theirs = [p for p in receiver.payloads() if p["data"]["identity"]["id"] == elsewhere["id"]]
    # Its warnings fell while the scheduler was away: caught up, the most pressing only.
    assert [(p["type"], p["data"]["daysLeft"]) for p in theirs] == [
        ("identity.attestation_overdue", 0)
    ]


def test_an_end_set_inside_a_warning_lead_is_warned_at_once_and_only_once(
    harness: Harness, tenant: TenantAccess, receiver: Receiver
) -> None:
    """Registered with two days left (leads 14, 3, 1): the owners hear now, for the 3-day
    lead, not only when the 1-day lead passes; a renewal to a near end likewise."""
    hook(harness, tenant, receiver.url)
    soon = register(harness, tenant, "soon", 2)
    later = register(harness, tenant, "later", 30)
    plans = sweeper(harness).plan_warnings
    assert harness.run(plans()) == 0, "the sweep plans nothing more for that lead"
    assert deliver(harness) == 1
    (first,) = [p["data"] for p in receiver.payloads()]
    assert first["identity"]["id"] == soon["id"] and first["reason"] == "expiry_warning"
    assert first["daysLeft"] == 2 and first["due"] == soon[GOV]["expiresAt"]

    # The one with thirty days left is renewed to five days from now: warned now (the
    # 14-day lead); a change that leaves its end alone warns no one again.
    end = stamp(harness.clock.now() + dt.timedelta(days=5))
    replace(harness, tenant, later, f"{GOV}:expiresAt", end)
    replace(harness, tenant, later, "description", "still soon")
    assert deliver(harness) == 1
    second = receiver.payloads()[1]["data"]
    assert second["identity"]["id"] == later["id"] and second["daysLeft"] == 5
    assert [o["value"] for o in second["identity"]["owners"]] == [tenant.owner()]

    # When the 1-day lead of the first passes, the sweep warns again, once.
    harness.clock.advance(dt.timedelta(days=1, hours=1))
    assert harness.run(plans()) == 1
    assert deliver(harness) == 1
    third = receiver.payloads()[2]["data"]
    assert third["identity"]["id"] == soon["id"] and third["daysLeft"] == 1


def test_what_is_planned_before_a_webhook_exists_is_held_and_sent_once_one_is(
    harness: Harness, tenant: TenantAccess, receiver: Receiver
) -> None:
    soon = register(harness, tenant, "early", 2)  # warned at once: no webhook yet
    (held,) = outbox(harness, tenant, "held")
    assert (
        held["kind"] == "expiry_warning" and held["payload"]["data"]["identity"]["id"] == soon["id"]
    )
    assert deliver(harness) == 0 and receiver.received == []  # held is not sent
    other = harness.tenant()
    hook(harness, other, receiver.url)  # another tenant's webhook releases nothing here
    assert deliver(harness) == 0 and outbox(harness, tenant, "held") != []
    secret = hook(harness, tenant, receiver.url)
    assert outbox(harness, tenant, "held") == []
    assert deliver(harness) == 1
    ((headers, body),) = receiver.received
    verify(secret, headers, body)
    assert json.loads(body)["data"]["identity"]["id"] == soon["id"]
    assert [i["state"] for i in outbox(harness, tenant)] == ["sent"]


def test_a_suspension_a_client_asks_for_is_told_to_the_owners(
    harness: Harness, tenant: TenantAccess, receiver: Receiver
) -> None:
    hook(harness, tenant, receiver.url)
    agent = register(harness, tenant, "paused", 30)
    replace(harness, tenant, agent, "active", False, role="platform")
    assert deliver(harness) == 1
    (event,) = receiver.payloads()
    assert event["type"] == "identity.suspended" and event["tenant"] == tenant.id
    data = event["data"]
    assert data["identity"]["id"] == agent["id"] and data["reason"] == "requested"
    assert [o["value"] for o in data["identity"]["owners"]] == [tenant.owner()]
    assert data["due"] is None  # a requested suspension schedules no teardown
    replace(harness, tenant, agent, "description", "still paused", role="platform")
    assert deliver(harness) == 0  # told once
