"""Onboarding a customer in one call (``POST /admin/onboard``) and the connection report."""

from __future__ import annotations

from typing import Any

from tests.conftest import Harness, TenantAccess
from tests.samples import assert_error, user

NO_USERS = """
// Closes: nothing; a test of the connection self-test.
@id("acme.no-users")
@reason("no Users until the directory is approved")
forbid (principal, action == Tenure::Action::"create", resource)
when { resource.resourceType == "User" };
"""


def onboard(harness: Harness, **body: Any) -> Any:
    return harness.client.post("/admin/onboard", json=body, headers=harness.operator)


def test_onboarding_makes_a_tenant_its_tokens_and_says_what_to_paste(harness: Harness) -> None:
    made = onboard(harness, tenant="acme", identityProvider="Okta")
    assert made.status_code == 201, made.text
    answer = made.json()
    assert answer["tenant"]["name"] == "acme" and answer["identityProvider"] == "okta"
    idp, platform = answer["tokens"]["identityProvider"], answer["tokens"]["platform"]
    steps = answer["instructions"]
    assert steps["provider"] == "Okta"
    assert steps["scimBaseUrl"].endswith("/scim/v2")
    assert steps["authorizationHeader"] == f"Authorization: Bearer {idp['token']}"
    assert idp["token"] in steps["authentication"]
    assert any("userName" in line for line in steps["attributeMapping"])
    assert any("Push Groups" in line for line in steps["providerSettings"])
    assert steps["guide"] == "docs/idp/okta.md"

    # The identity provider's token provisions; the platform's registers agents.
    pushed = harness.client.post(
        "/scim/v2/Users",
        json=user("first@acme.example"),
        headers={"Authorization": f"Bearer {idp['token']}"},
    )
    assert pushed.status_code == 201, pushed.text
    tokens = harness.client.get("/admin/tenants/acme/tokens", headers=harness.operator).json()
    admin = answer["tokens"]["admin"]
    assert sorted((t["id"], ",".join(t["roles"])) for t in tokens["items"]) == sorted(
        [(idp["id"], "idp"), (platform["id"], "platform"), (admin["id"], "admin")]
    )
    # The tenant's admin takes it from here without the operator.
    own = harness.client.get(
        "/admin/connection", headers={"Authorization": f"Bearer {admin['token']}"}
    )
    assert own.status_code == 200 and own.json()["identityProvider"] == "okta"
    without = onboard(harness, tenant="beta", identityProvider="entra", platformToken=False,
                      adminToken=False)  # fmt: skip
    assert without.status_code == 201
    assert list(without.json()["tokens"]) == ["identityProvider"]


def test_bad_onboarding_is_refused_and_leaves_nothing(harness: Harness) -> None:
    assert onboard(harness, tenant="acme", identityProvider="okta").status_code == 201
    before = harness.client.get("/admin/tenants", headers=harness.operator).json()["items"]
    unknown = onboard(harness, tenant="other", identityProvider="myspace")
    assert_error(unknown, 400, "invalidValue")
    assert "unknown identity provider 'myspace'" in unknown.json()["detail"]
    assert "okta" in unknown.json()["detail"]
    twice = onboard(harness, tenant="acme", identityProvider="entra")
    assert_error(twice, 409, "uniqueness")
    assert "acme" in twice.json()["detail"]
    assert_error(onboard(harness, tenant="Not A Name!"), 400, "invalidValue")
    assert_error(onboard(harness, tenant="x", colour="red"), 400, "invalidValue")
    assert_error(onboard(harness, identityProvider="okta"), 400, "invalidValue")
    after = harness.client.get("/admin/tenants", headers=harness.operator).json()["items"]
    assert after == before
    tokens = harness.client.get("/admin/tenants/acme/tokens", headers=harness.operator).json()
    assert len(tokens["items"]) == 3  # the duplicate issued nothing
    tenant = harness.tenant()
    assert_error(
        harness.client.post(
            "/admin/onboard", json={"tenant": "sneaky"}, headers=tenant.headers("admin")
        ),
        403,
    )


def test_the_connection_report_shows_requests_errors_and_a_self_test(
    harness: Harness, tenant: TenantAccess
) -> None:
    idp = tenant.headers("idp")
    assert harness.client.get("/scim/v2/Users", headers=idp).status_code == 200
    bad = harness.client.post("/scim/v2/Users", json={"schemas": []}, headers=idp)
    assert bad.status_code == 400
    harness.run(harness.client.app.state.services.connections.flush())
    report = harness.client.get(
        f"/admin/tenants/{tenant.id}/connection", headers=harness.operator
    ).json()
    assert report["tenant"] == {"id": tenant.id, "name": tenant.name}
    assert report["scimBaseUrl"].endswith("/scim/v2")
    (seen,) = [t for t in report["tokens"] if t["roles"] == ["idp"]]
    assert [(r["method"], r["path"], r["status"]) for r in seen["requests"]] == [
        ("POST", "/scim/v2/Users", 400),
        ("GET", "/scim/v2/Users", 200),
    ]
    (error,) = seen["errors"]
    assert error["status"] == 400 and error["scimType"] == "invalidValue"
    assert error["detail"] == bad.json()["detail"]
    assert report["selfTest"]["ok"] is True
    assert [c["name"] for c in report["selfTest"]["checks"]] == [
        "database", "identity provider token", "policies allow provisioning"
    ]  # fmt: skip
    # The tenant's own admin sees it too; another tenant's and non-admins do not.
    mine = harness.client.get("/admin/connection", headers=tenant.headers("admin"))
    assert mine.status_code == 200 and mine.json()["tenant"]["id"] == tenant.id
    assert harness.client.get(
        f"/admin/tenants/{tenant.name}/connection", headers=tenant.headers("admin")
    ).status_code == 200  # fmt: skip
    other = harness.tenant()
    assert_error(
        harness.client.get(
            f"/admin/tenants/{tenant.id}/connection", headers=other.headers("admin")
        ),
        403,
    )
    assert_error(harness.client.get("/admin/connection", headers=idp), 403)
    assert_error(
        harness.client.get("/admin/tenants/nobody/connection", headers=harness.operator), 404
    )


def test_the_self_test_names_what_is_wrong(harness: Harness, tenant: TenantAccess) -> None:
    admin = tenant.headers("admin")
    added = harness.client.post("/admin/policies", json={"policy": NO_USERS}, headers=admin)
    assert added.status_code in (200, 201), added.text
    tokens = harness.client.get("/admin/tokens", headers=admin).json()["items"]
    for token in tokens:
        if token["roles"] == ["idp"]:
            harness.client.delete(f"/admin/tokens/{token['id']}", headers=admin)
    report = harness.client.get("/admin/connection", headers=admin).json()
    checks = {c["name"]: c for c in report["selfTest"]["checks"]}
    assert report["selfTest"]["ok"] is False
    assert checks["database"]["ok"] is True
    assert checks["identity provider token"] == {
        "name": "identity provider token", "ok": False, "detail": "none: issue one with role idp"
    }  # fmt: skip
    assert checks["policies allow provisioning"]["ok"] is False
    assert "acme.no-users" in checks["policies allow provisioning"]["detail"]


def test_the_request_log_keeps_a_week_and_lets_older_entries_go_in_batches(
    harness: Harness, tenant: TenantAccess
) -> None:
    """A busy server's week-old requests are many: retention takes them a bounded batch
    at a time (each its own short transaction) until none is left, and keeps the rest."""
    import datetime as dt

    from app.domain.connections import Seen
    from app.store.tables import request_log

    idp = tenant.headers("idp")
    assert harness.client.get("/scim/v2/Users", headers=idp).status_code == 200
    connections = harness.client.app.state.services.connections
    harness.run(connections.flush())  # the first flush prunes too (nothing old yet)
    token_id = idp["Authorization"].split("_", 1)[1].split(".", 1)[0]
    now = harness.clock.now()

    def seen(at: dt.datetime) -> Seen:
        return Seen(
            tenant_id=tenant.id, token_id=token_id, at=at, method="GET",
            path="/scim/v2/Users", status=200, scim_type=None, detail=None,
        )  # fmt: skip

    old = [seen(now - dt.timedelta(days=8, seconds=i)) for i in range(4_500)]
    kept = [seen(now - dt.timedelta(days=6, seconds=i)) for i in range(30)]

    async def load_and_count() -> int:
        async with harness.db.uow(write=True) as uow:
            await uow.requests.record(old + kept)
            await uow.commit()
        return await count()

    async def count() -> int:
        import sqlalchemy as sa

        async with harness.db.engine.connect() as connection:
            found = await connection.execute(
                sa.select(sa.func.count())
                .select_from(request_log)
                .where(request_log.c.tenant_id == tenant.id)
            )
            return int(found.scalar_one())

    before = harness.run(load_and_count())
    assert before == 4_500 + 30 + 1
    harness.clock.advance(dt.timedelta(minutes=11))  # the next prune is due
    from sqlalchemy import event

    deletes: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("DELETE FROM request_log"):
            deletes.append(statement)

    engine = harness.db.loop_engine or harness.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        harness.run(connections.flush())
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(deletes) == 3, "4,500 entries went in bounded batches (2,000, 2,000, 500)"
    assert harness.run(count()) == 30 + 1, "every entry older than a week went, the rest stayed"
    recent = harness.client.get(
        f"/admin/tenants/{tenant.id}/connection", headers=harness.operator
    ).json()
    (mine,) = [t for t in recent["tokens"] if t["roles"] == ["idp"]]
    assert mine["requests"][0]["path"] == "/scim/v2/Users"
