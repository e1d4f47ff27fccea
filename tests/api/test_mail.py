"""E-mail to owners and to a tenant's alert addresses, through a real SMTP server (aiosmtpd).

The server's own mail server (``TENURE_SMTP_*``) or a tenant's (``/admin/smtp``).
"""

from __future__ import annotations

import datetime as dt
import email
import socket
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from typing import Any

import msgspec
import pytest
from aiosmtpd.controller import Controller
from litestar.testing import TestClient

from app.config import Settings
from app.domain.clock import FixedClock
from app.main import create_app
from tests.conftest import Harness, TenantAccess
from tests.samples import assert_error, stamp, user

AGENT = "urn:ietf:params:scim:schemas:core:2.0:Agent"
GOV = "urn:tenure:params:scim:schemas:extension:nhi:1.0:Governance"


class Inbox:
    def __init__(self) -> None:
        self.envelopes: list[Any] = []
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 OK"

    def take(self) -> list[tuple[Any, EmailMessage]]:
        """The mails received so far, which are then no longer in the inbox."""
        taken = self.mails()
        self.envelopes.clear()
        return taken

    def mails(self) -> list[tuple[Any, EmailMessage]]:
        return [
            (e, email.message_from_bytes(e.content, policy=policy.default))  # type: ignore[misc]
            for e in self.envelopes
        ]


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    running = Inbox()
    running.controller.start()
    yield running
    running.controller.stop()


def owner_and_agent(harness: Harness, tenant: TenantAccess, days: float) -> tuple[Any, Any]:
    owner = harness.client.post(
        "/scim/v2/Users",
        json=user("ana@example.com", emails=[
            {"value": "ana.work@example.com", "primary": True},
            {"value": "ana@home.example"},
        ]),
        headers=tenant.headers(),
    ).json()  # fmt: skip
    agent = harness.client.post(
        "/scim/v2/Agents",
        json={"schemas": [AGENT, GOV], "name": "mailer", "owners": [{"value": owner["id"]}],
              GOV: {"purpose": "reports",
                    "expiresAt": stamp(harness.clock.now() + dt.timedelta(days=days))}},
        headers=tenant.headers("admin"),
    )  # fmt: skip
    assert agent.status_code == 201, agent.text
    return owner, agent.json()


def mail_server(harness: Harness, tenant: TenantAccess, inbox: Inbox, sender: str) -> None:
    """The tenant's own mail server: the test's inbox."""
    made = harness.client.put(
        "/admin/smtp",
        json={"host": "127.0.0.1", "port": inbox.port, "starttls": False, "from": sender},
        headers=tenant.headers("admin"),
    )
    assert made.status_code == 200, made.text


def alert_emails(harness: Harness, tenant: TenantAccess, *addresses: str) -> None:
    alerting = harness.client.put(
        "/admin/settings", json={"alertEmails": list(addresses)}, headers=tenant.headers("admin")
    )
    assert alerting.status_code == 200, alerting.text


def registration_warning(harness: Harness, inbox: Inbox, tenant: TenantAccess) -> EmailMessage:
    """An agent registered with a day left: its owner is warned at once, not a day later,
    in words: the tenant and the identity in the subject, what happens when, what to do."""
    assert harness.run(harness.client.app.state.deliverer.deliver_due()) == 1
    ((envelope, mail),) = inbox.take()
    assert envelope.rcpt_tos == ["ana.work@example.com"]
    assert mail["Subject"] == f"[{tenant.name}] Agent 'mailer' ends tomorrow"
    text = mail.get_content()
    assert "Tenure suspends it" in text and "To keep it, an owner renews it" in text
    assert "expiry_warning" not in text and "day(s)" not in text  # no raw codes
    return mail


def sweep_and_deliver(harness: Harness) -> int:
    state = harness.client.app.state
    harness.run(state.sweeper.sweep())
    return harness.run(state.deliverer.deliver_due())  # type: ignore[no-any-return]


def test_owners_are_emailed_through_the_servers_smtp(
    settings: Settings, clock: FixedClock, inbox: Inbox
) -> None:
    mailing = msgspec.structs.replace(
        settings, smtp_host="127.0.0.1", smtp_port=inbox.port, smtp_from="tenure@example.com"
    )
    with TestClient(create_app(mailing, clock=clock)) as client:
        harness = Harness(client, mailing, clock)
        tenant = harness.tenant()
        _, agent = owner_and_agent(harness, tenant, 1)
        registration_warning(harness, inbox, tenant)
        clock.advance(dt.timedelta(days=2))
        assert sweep_and_deliver(harness) == 1
        ((envelope, mail),) = inbox.mails()
        assert envelope.rcpt_tos == ["ana.work@example.com"]
        assert envelope.mail_from == "tenure@example.com"
        assert mail["Subject"] == f"[{tenant.name}] Agent 'mailer' was suspended"
        text = mail.get_content()
        assert "Why: it reached its end date." in text and "Its purpose: reports" in text
        assert "It is torn down on " in text
        assert f"/scim/v2/Agents/{agent['id']}" in text
        listed = client.get("/admin/outbox", headers=tenant.headers("admin")).json()["items"]
        mails = [i for i in listed if "to" in i["payload"]]
        assert sorted((i["state"], i["payload"]["to"], i["kind"]) for i in mails) == [
            ("sent", ["ana.work@example.com"], "expiry_warning"),
            ("sent", ["ana.work@example.com"], "suspended"),
        ]
        # The tenant has no webhook: its twins are held, to go once one is set.
        hooks = sorted((i["state"], i["kind"]) for i in listed if "to" not in i["payload"])
        assert hooks == [("held", "expiry_warning"), ("held", "suspended")]


def test_a_tenant_sends_through_its_own_smtp_server(
    harness: Harness, tenant: TenantAccess, inbox: Inbox
) -> None:
    """The server has no mail server; this tenant brings its own, and only it gets e-mail."""
    admin = tenant.headers("admin")
    assert harness.client.get("/admin/smtp", headers=admin).json() == {"configured": False}
    good = {"host": "127.0.0.1", "port": inbox.port, "starttls": False, "from": "it@acme.example"}
    for bad in (
        {**good, "port": 0},
        {**good, "from": "nobody"},
        {**good, "host": ""},
        {**good, "password": "hunter2"},  # no username to go with it
        {**good, "relay": "x"},
    ):
        refused = harness.client.put("/admin/smtp", json=bad, headers=admin)
        assert_error(refused, 400, "invalidValue")
    assert harness.client.get("/admin/smtp", headers=admin).json() == {"configured": False}
    secret = harness.client.put(
        "/admin/smtp", json={**good, "username": "relay", "password": "s3cret-pass"}, headers=admin
    )
    assert secret.status_code == 200 and "s3cret-pass" not in secret.text
    assert secret.json()["passwordSet"] is True
    shown = harness.client.get("/admin/smtp", headers=admin)
    assert "s3cret-pass" not in shown.text and shown.json()["username"] == "relay"
    made = harness.client.put("/admin/smtp", json=good, headers=admin)  # no login, for aiosmtpd
    assert made.json() == {
        "configured": True,
        "host": "127.0.0.1",
        "port": inbox.port,
        "starttls": False,
        "username": None,
        "passwordSet": False,
        "from": "it@acme.example",
    }
    # Another tenant's admin sees its own (none); a platform token may not look.
    other = harness.tenant()
    assert harness.client.get("/admin/smtp", headers=other.headers("admin")).json() == {
        "configured": False
    }
    assert_error(harness.client.get("/admin/smtp", headers=tenant.headers("platform")), 403)

    owner_and_agent(harness, tenant, 1)
    owner_and_agent(harness, other, 1)
    registration_warning(harness, inbox, tenant)  # this tenant's only: the other has no mail server
    harness.clock.advance(dt.timedelta(days=2))
    assert sweep_and_deliver(harness) == 1
    ((envelope, mail),) = inbox.mails()
    assert envelope.mail_from == "it@acme.example"
    assert envelope.rcpt_tos == ["ana.work@example.com"]
    assert mail["Subject"] == f"[{tenant.name}] Agent 'mailer' was suspended"
    assert harness.client.delete("/admin/smtp", headers=admin).status_code == 204
    assert harness.client.get("/admin/smtp", headers=admin).json() == {"configured": False}


def test_a_stopped_sweep_emails_the_tenants_alert_addresses(
    harness: Harness, tenant: TenantAccess, inbox: Inbox
) -> None:
    mail_server(harness, tenant, inbox, "tenure@acme.example")
    alert_emails(harness, tenant, "secops@acme.example", "oncall@acme.example")
    for i in range(12):
        created = harness.client.post(
            "/scim/v2/Agents",
            json={"schemas": [AGENT, GOV], "name": f"batch-{i}",
                  GOV: {"expiresAt": stamp(harness.clock.now() + dt.timedelta(hours=1))}},
            headers=tenant.headers("platform"),
        )  # fmt: skip
        assert created.status_code == 201, created.text
    harness.clock.advance(dt.timedelta(hours=2))
    assert sweep_and_deliver(harness) == 1  # all 12 due at once: stopped, and one alert
    ((envelope, mail),) = inbox.mails()
    assert sorted(envelope.rcpt_tos) == ["oncall@acme.example", "secops@acme.example"]
    assert mail["Subject"] == (
        f"[{tenant.name}] A sweep was stopped before suspending too much at once"
    )
    assert "would suspend 12 of 12 active identities" in mail.get_content()


def test_e_mail_planned_before_any_mail_server_is_held_and_sent_once_the_tenant_sets_one(
    harness: Harness, tenant: TenantAccess, inbox: Inbox
) -> None:
    admin = tenant.headers("admin")
    owner_and_agent(harness, tenant, 1)  # warned at once; the server has no mail server
    held = harness.client.get("/admin/outbox?state=held", headers=admin).json()["items"]
    mails = [i for i in held if "to" in i["payload"]]
    assert [(i["kind"], i["payload"]["to"]) for i in mails] == [
        ("expiry_warning", ["ana.work@example.com"])
    ]
    assert harness.run(harness.client.app.state.deliverer.deliver_due()) == 0
    mail_server(harness, tenant, inbox, "it@acme.example")
    registration_warning(harness, inbox, tenant)
    still = harness.client.get("/admin/outbox?state=held", headers=admin).json()["items"]
    assert [i["kind"] for i in still] == ["expiry_warning"]  # the webhook's twin: no webhook


def test_sponsors_hear_of_a_suspension_and_alert_addresses_of_an_identity_nobody_answers_for(
    harness: Harness, tenant: TenantAccess, inbox: Inbox
) -> None:
    admin = tenant.headers("admin")
    mail_server(harness, tenant, inbox, "tenure@acme.example")
    alert_emails(harness, tenant, "secops@acme.example")

    def person(name: str) -> str:
        made = harness.client.post(
            "/scim/v2/Users",
            json=user(f"{name}@acme.example", emails=[{"value": f"{name}@acme.example",
                                                       "primary": True}]),
            headers=tenant.headers(),
        )  # fmt: skip
        assert made.status_code == 201, made.text
        return made.json()["id"]  # type: ignore[no-any-return]

    ana, sam, bob = person("ana"), person("sam"), person("bob")
    end = stamp(harness.clock.now() + dt.timedelta(days=15))  # beyond every warning lead
    for name, owner, sponsors in (("sponsored", ana, [{"value": sam}]), ("bobs", bob, [])):
        created = harness.client.post(
            "/scim/v2/Agents",
            json={"schemas": [AGENT, GOV], "name": name, "owners": [{"value": owner}],
                  GOV: {"expiresAt": end, "purpose": "reports", "sponsors": sponsors}},
            headers=admin,
        )  # fmt: skip
        assert created.status_code == 201, created.text

    # Bob leaves: his agent has no active owner and no sponsor, so the tenant's alert
    # address hears that it is orphaned (Bob's own address is no one's to write to now).
    left = harness.client.patch(
        f"/scim/v2/Users/{bob}",
        json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
              "Operations": [{"op": "replace", "path": "active", "value": False}]},
        headers=tenant.headers(),
    )  # fmt: skip
    assert left.status_code == 200, left.text
    assert harness.run(harness.client.app.state.deliverer.deliver_due()) == 1
    ((envelope, mail),) = inbox.take()
    assert envelope.rcpt_tos == ["secops@acme.example"]
    assert mail["Subject"] == f"[{tenant.name}] Agent 'bobs' has no active owner"

    harness.clock.advance(dt.timedelta(days=16))
    harness.run(harness.client.app.state.sweeper.sweep())
    harness.run(harness.client.app.state.deliverer.deliver_due())
    suspended = {
        m["Subject"]: sorted(e.rcpt_tos)
        for e, m in inbox.take()
        if m["Subject"].endswith("was suspended")
    }
    assert suspended[f"[{tenant.name}] Agent 'sponsored' was suspended"] == [
        "ana@acme.example",
        "sam@acme.example",
    ]
