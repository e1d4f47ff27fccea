"""``GET /audit/verify``: an edit or deletion of any event shows at that event; retention
deletes the oldest behind a checkpoint and the rest still verifies; and every kind of
mutation leaves exactly one event."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from tests.conftest import Harness, TenantAccess
from tests.samples import assert_error, stamp, user

AGENT = "urn:ietf:params:scim:schemas:core:2.0:Agent"
GOV = "urn:tenure:params:scim:schemas:extension:nhi:1.0:Governance"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def verify(harness: Harness, tenant: TenantAccess) -> dict[str, Any]:
    answer = harness.client.get("/audit/verify", headers=tenant.headers("auditor"))
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def users(harness: Harness, tenant: TenantAccess, *names: str) -> list[str]:
    made = []
    for name in names:
        created = harness.client.post("/scim/v2/Users", json=user(name), headers=tenant.headers())
        assert created.status_code == 201, created.text
        made.append(created.json()["id"])
    return made


def count(harness: Harness, tenant: TenantAccess) -> int:
    """The tenant's events about identities (issuing the test's tokens is audited too)."""
    return int(
        harness.sql(
            "SELECT count(*) FROM audit_events WHERE tenant_id = :t AND resource_type <> 'Token'",
            t=tenant.id,
        )[0][0]
    )


def newest(harness: Harness, tenant: TenantAccess) -> int:
    return int(
        harness.sql("SELECT max(seq) FROM audit_events WHERE tenant_id = :t", t=tenant.id)[0][0]
    )


def test_an_intact_chain_verifies(harness: Harness, tenant: TenantAccess) -> None:
    tenant.headers("idp")
    start = verify(harness, tenant)  # the tokens' issue: the chain's first events
    assert start["ok"] is True and start["events"] == start["lastSeq"] == 2
    assert start["brokenAt"] is None and start["problem"] is None
    users(harness, tenant, "a@example.com", "b@example.com", "c@example.com")
    assert verify(harness, tenant) == {
        "ok": True, "events": 5, "firstSeq": 1, "lastSeq": 5, "brokenAt": None, "problem": None,
        "pending": 0,
    }  # fmt: skip


def test_an_edited_event_breaks_the_chain_there(harness: Harness, tenant: TenantAccess) -> None:
    users(harness, tenant, *(f"u{i}@example.com" for i in range(5)))
    other = harness.tenant()
    users(harness, other, "x@example.com")
    harness.execute(
        "UPDATE audit_events SET actor_name = 'someone else' WHERE tenant_id = :t AND seq = 3",
        t=tenant.id,
    )
    found = verify(harness, tenant)
    assert (found["ok"], found["brokenAt"], found["problem"]) == (
        False, 3, "the event was altered"
    )  # fmt: skip
    assert found["events"] == 2  # 1 and 2 verified before it
    assert verify(harness, other)["ok"] is True  # another tenant's chain is its own


def test_a_deleted_event_breaks_the_chain_there(harness: Harness, tenant: TenantAccess) -> None:
    users(harness, tenant, *(f"u{i}@example.com" for i in range(5)))
    harness.execute("DELETE FROM audit_events WHERE tenant_id = :t AND seq = 2", t=tenant.id)
    found = verify(harness, tenant)
    assert (found["ok"], found["brokenAt"], found["problem"]) == (
        False, 2, "an event is missing"
    )  # fmt: skip


def test_deleting_the_newest_events_is_noticed(harness: Harness, tenant: TenantAccess) -> None:
    users(harness, tenant, *(f"u{i}@example.com" for i in range(5)))
    tenant.headers("auditor")  # issued (an event too) before the deletion
    last = newest(harness, tenant)
    harness.execute(
        "DELETE FROM audit_events WHERE tenant_id = :t AND seq >= :s", t=tenant.id, s=last - 1
    )
    found = verify(harness, tenant)
    assert (found["ok"], found["brokenAt"], found["problem"]) == (
        False, last - 1, "the newest events are missing"
    )  # fmt: skip


def test_retention_deletes_the_oldest_behind_a_checkpoint(
    harness: Harness, tenant: TenantAccess
) -> None:
    admin, auditor = tenant.headers("admin"), tenant.headers("auditor")
    assert_error(
        harness.client.put("/admin/settings", json={"auditRetentionDays": 7}, headers=admin),
        400,
        "invalidValue",
    )
    kept = harness.client.put("/admin/settings", json={"auditRetentionDays": 30}, headers=admin)
    assert kept.status_code == 200 and kept.json()["auditRetentionDays"] == 30
    users(harness, tenant, "old1@example.com", "old2@example.com", "old3@example.com")
    old = newest(harness, tenant)  # the tokens, the settings and three Users
    other = harness.tenant()  # keeps everything: no retention set
    users(harness, other, "x@example.com")
    kept_elsewhere = count(harness, other)
    harness.clock.advance(dt.timedelta(days=40))
    users(harness, tenant, "new1@example.com", "new2@example.com")
    trail = harness.client.app.state.services.audit
    assert harness.run(trail.prune()) == {tenant.id: old}
    assert harness.run(trail.prune()) == {}  # nothing more is due
    assert count(harness, tenant) == 2 and count(harness, other) == kept_elsewhere
    found = verify(harness, tenant)
    assert (found["ok"], found["events"], found["firstSeq"], found["lastSeq"]) == (
        True, 2, old + 1, old + 2
    )  # fmt: skip
    listed = harness.client.get("/audit", headers=auditor).json()["items"]
    assert [e["seq"] for e in listed] == [old + 2, old + 1]
    since = stamp(harness.clock.now() - dt.timedelta(days=1))
    assert [e["seq"] for e in harness.client.get(
        f"/audit?since={since}", headers=auditor
    ).json()["items"]] == [old + 2, old + 1]  # fmt: skip
    # The first event kept is still bound to the checkpoint: altering it shows.
    harness.execute(
        "UPDATE audit_events SET resource_name = 'x' WHERE tenant_id = :t AND seq = :s",
        t=tenant.id, s=old + 1,
    )  # fmt: skip
    assert verify(harness, tenant)["brokenAt"] == old + 1
    # Deleting the first kept one shows too.
    harness.execute(
        "DELETE FROM audit_events WHERE tenant_id = :t AND seq = :s", t=tenant.id, s=old + 1
    )
    assert verify(harness, tenant)["brokenAt"] == old + 1


def test_every_kind_of_mutation_leaves_exactly_one_event(
    harness: Harness, tenant: TenantAccess
) -> None:
    def step(expected: int, response: Any, status: int) -> None:
        assert response.status_code == status, response.text
        assert count(harness, tenant) == before[0] + expected
        before[0] = count(harness, tenant)

    platform = tenant.headers("platform")  # its accountable owner is made first
    tenant.headers("auditor")
    before = [count(harness, tenant)]
    idp = tenant.headers()
    created = harness.client.post("/scim/v2/Users", json=user("k@example.com"), headers=idp)
    step(1, created, 201)
    url = f"/scim/v2/Users/{created.json()['id']}"
    step(1, harness.client.put(url, json=user("k@example.com", displayName="K"), headers=idp), 200)
    patch = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title",
                                                    "value": "Dr"}]}  # fmt: skip
    step(1, harness.client.patch(url, json=patch, headers=idp), 200)
    step(1, harness.client.delete(url, headers=idp), 204)
    step(
        1,
        harness.client.post(
            "/scim/v2/Users", json=user("k@example.com"), headers=tenant.headers("auditor")
        ),
        403,
    )  # fmt: skip — a denial
    bulk = harness.client.post(
        "/scim/v2/Bulk",
        json={"Operations": [
            {"method": "POST", "path": "/Users", "bulkId": f"b{i}",
             "data": user(f"bulk{i}@example.com")} for i in range(3)
        ]},
        headers=idp,
    )  # fmt: skip
    step(3, bulk, 200)
    agent = harness.client.post(
        "/scim/v2/Agents",
        json={"schemas": [AGENT, GOV], "name": "brief",
              GOV: {"expiresAt": stamp(harness.clock.now() + dt.timedelta(hours=1))}},
        headers=platform,
    )  # fmt: skip
    step(1, agent, 201)
    harness.clock.advance(dt.timedelta(hours=2))
    swept = harness.run(harness.client.app.state.sweeper.sweep())
    assert [(o.action, o.done) for o in swept] == [("suspend", True)]
    assert count(harness, tenant) == before[0] + 1  # the scheduler's suspension
    assert verify(harness, tenant)["ok"] is True


def test_administrators_changes_are_in_the_trail_without_secrets(
    harness: Harness, tenant: TenantAccess
) -> None:
    admin, auditor = tenant.headers("admin"), tenant.headers("auditor")
    changed = harness.client.patch("/admin/settings", json={"agentLifetimeDays": 30}, headers=admin)
    assert changed.status_code == 200
    issued = harness.client.post(
        "/admin/tokens", json={"name": "ci", "roles": "platform"}, headers=admin
    ).json()
    assert harness.client.delete(f"/admin/tokens/{issued['id']}", headers=admin).status_code == 204
    hooked = harness.client.put(
        "/admin/webhook", json={"url": "https://hooks.example.com/t"}, headers=admin
    ).json()
    mailed = harness.client.put(
        "/admin/smtp",
        json={"host": "mail.example.com", "username": "u", "password": "s3cret-pass",
              "from": "t@example.com"},
        headers=admin,
    )  # fmt: skip
    assert mailed.status_code == 200
    policy = harness.client.post(
        "/admin/policies",
        json={"policy": '@id("acme.quiet")\n@reason("r")\nforbid (principal, action, resource)'
                        ' when { false };'},
        headers=admin,
    )  # fmt: skip
    assert policy.status_code == 201, policy.text
    assert harness.client.delete("/admin/policies/acme.quiet", headers=admin).status_code == 204
    listed = harness.client.get("/audit?count=1000", headers=auditor)
    trail = [(e["actions"][0], e["resource"]["type"]) for e in listed.json()["items"]]
    for expected in (("settings.update", "Tenant"), ("token.issue", "Token"),
                     ("token.revoke", "Token"), ("webhook.set", "Tenant"), ("smtp.set", "Tenant"),
                     ("policy.add", "Policy"), ("policy.remove", "Policy")):  # fmt: skip
        assert expected in trail
    settings = next(e for e in listed.json()["items"] if e["actions"] == ["settings.update"])
    assert settings["after"] == {"agent_lifetime_days": 30} and settings["before"] == {}
    assert settings["actor"]["roles"] == ["admin"]
    for secret in (issued["token"], hooked["secret"], "s3cret-pass"):
        assert secret not in listed.text
    smtp = next(e for e in listed.json()["items"] if e["actions"] == ["smtp.set"])
    assert smtp["after"]["passwordSet"] is True and "password" not in smtp["after"]
    assert verify(harness, tenant)["ok"] is True


def test_writers_never_wait_on_the_chain_and_the_sequencer_links_in_commit_order(
    harness: Harness, tenant: TenantAccess
) -> None:
    """A change's events are written in its own transaction, unsequenced; the sequencer
    links what has committed, in the order it became visible, and takes the head alone."""
    from app.domain.audit import AuditEvent

    trail = harness.client.app.state.services.audit
    before = verify(harness, tenant)["lastSeq"]  # the tokens' issue, sequenced

    def event(name: str) -> AuditEvent:
        return AuditEvent(
            tenant_id=tenant.id, at=harness.clock.now(), actor_token="t", actor_name=name,
            actor_roles=("idp",), action="update", resource_type="User", resource_id=name,
            resource_name=name, decision="allow", policy_ids=(),
        )  # fmt: skip

    async def write(name: str) -> None:
        async with harness.db.uow(write=True) as uow:
            await uow.audit.append(event(name))
            await uow.commit()

    async def interleaved() -> int:
        # An older transaction is still open while a younger one writes and commits:
        # on PostgreSQL the younger does not wait for it (no lock on the chain's head).
        older = harness.db.uow(write=True)
        uow = await older.__aenter__()
        try:
            await uow.audit.append(event("older"))
            if harness.db.dialect == "postgresql":
                await asyncio.wait_for(write("younger"), 10)
            linked_meanwhile = await trail.sequence(tenant.id)  # only what has committed
            await uow.commit()
        finally:
            await older.__aexit__(None, None, None)
        if harness.db.dialect != "postgresql":  # SQLite: one writer at a time
            await write("younger")
        await trail.sequence(tenant.id)
        return linked_meanwhile

    linked_meanwhile = harness.run(interleaved())
    order = [
        row[0]
        for row in harness.sql(
            "SELECT actor_name FROM audit_events WHERE tenant_id = :t AND actor_token = 't' "
            "ORDER BY seq",
            t=tenant.id,
        )
    ]
    if harness.db.dialect == "postgresql":
        assert linked_meanwhile == 1
        assert order == ["younger", "older"]  # in commit order, not in the order written
    else:
        assert linked_meanwhile == 0
        assert order == ["older", "younger"]
    result = verify(harness, tenant)
    assert result["ok"] is True and result["pending"] == 0
    assert result["lastSeq"] == before + 2
