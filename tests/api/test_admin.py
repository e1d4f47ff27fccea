"""Tenants and tokens over HTTP: operators onboard tenants, tenant admins manage tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

from tests.conftest import SECRET_KEY, Harness, TenantAccess
from tests.samples import assert_error, user


def test_operator_creates_and_lists_tenants(harness: Harness) -> None:
    created = harness.client.post("/admin/tenants", json={"name": "acme"}, headers=harness.operator)
    assert created.status_code == 201
    assert created.json()["name"] == "acme"
    duplicate = harness.client.post(
        "/admin/tenants", json={"name": "acme"}, headers=harness.operator
    )
    assert_error(duplicate, 409, "uniqueness")
    listed = harness.client.get("/admin/tenants", headers=harness.operator).json()["items"]
    assert [t["name"] for t in listed] == ["acme"]
    one = harness.client.get("/admin/tenants/acme", headers=harness.operator).json()
    assert one == created.json()
    assert_error(harness.client.get("/admin/tenants/nope", headers=harness.operator), 404)


def test_tenant_names_are_validated(harness: Harness) -> None:
    for bad in ("", "Has Space", "UPPER", "-leading", "x" * 64):
        response = harness.client.post(
            "/admin/tenants", json={"name": bad}, headers=harness.operator
        )
        assert_error(response, 400, "invalidValue")
    response = harness.client.post(
        "/admin/tenants", json={"name": "ok", "extra": 1}, headers=harness.operator
    )
    assert_error(response, 400, "invalidValue")
    assert harness.client.get("/admin/tenants", headers=harness.operator).json()["items"] == []


def test_only_operators_manage_tenants(harness: Harness, tenant: TenantAccess) -> None:
    for roles in ("admin", "idp", "auditor"):
        response = harness.client.get("/admin/tenants", headers=tenant.headers(roles))
        assert_error(response, 403)
        response = harness.client.post(
            "/admin/tenants", json={"name": "sneaky"}, headers=tenant.headers(roles)
        )
        assert_error(response, 403)


def test_an_issued_token_is_shown_once_and_stored_only_as_a_keyed_hash(
    harness: Harness, tenant: TenantAccess
) -> None:
    issued = harness.client.post(
        "/admin/tokens",
        json={"name": "okta", "roles": ["idp"], "expiresIn": "90d"},
        headers=tenant.headers("admin"),
    )
    assert issued.status_code == 201, issued.text
    body = issued.json()
    plaintext = body["token"]
    assert plaintext.startswith(f"tnr_{body['id']}.")
    assert len(plaintext.split(".", 1)[1]) >= 43  # 32 random bytes, base64url
    assert body["roles"] == ["idp"]
    assert body["expiresAt"] == "2027-02-26T09:00:00.000Z"

    listed = harness.client.get("/admin/tokens", headers=tenant.headers("admin")).json()["items"]
    mine = next(t for t in listed if t["id"] == body["id"])
    assert "token" not in mine
    assert all("hash" not in key.lower() for key in mine)

    rows = harness.sql("SELECT secret_hash FROM tokens WHERE id = :id", id=body["id"])
    expected = hmac.new(SECRET_KEY, plaintext.encode(), hashlib.sha256).hexdigest()
    assert rows == [(expected,)]
    every_column = harness.sql("SELECT * FROM tokens")
    assert plaintext not in str(every_column)
    assert plaintext.split(".", 1)[1] not in str(every_column)

    works = harness.client.get("/scim/v2/Users", headers={"Authorization": f"Bearer {plaintext}"})
    assert works.status_code == 200


def test_last_used_at_is_recorded(harness: Harness, tenant: TenantAccess) -> None:
    token_id = tenant.token("idp").split(".")[0].removeprefix("tnr_")

    def last_used() -> str | None:
        items = harness.client.get("/admin/tokens", headers=tenant.headers("admin")).json()
        return next(t for t in items["items"] if t["id"] == token_id)["lastUsedAt"]

    assert last_used() is None
    harness.client.get("/scim/v2/Users", headers=tenant.headers("idp"))
    assert last_used() == "2026-11-28T09:00:00.000Z"
    harness.clock.advance(dt.timedelta(minutes=10))
    harness.client.get("/scim/v2/Users", headers=tenant.headers("idp"))
    assert last_used() == "2026-11-28T09:10:00.000Z"


def test_revoked_tokens_stop_working(harness: Harness, tenant: TenantAccess) -> None:
    issued = harness.client.post(
        "/admin/tokens", json={"name": "tmp", "roles": "idp"}, headers=tenant.headers("admin")
    ).json()
    auth = {"Authorization": f"Bearer {issued['token']}"}
    assert harness.client.get("/scim/v2/Users", headers=auth).status_code == 200
    revoked = harness.client.delete(
        f"/admin/tokens/{issued['id']}", headers=tenant.headers("admin")
    )
    assert revoked.status_code == 204
    assert_error(harness.client.get("/scim/v2/Users", headers=auth), 401)
    assert_error(harness.client.post("/scim/v2/Users", json=user(), headers=auth), 401)
    listed = harness.client.get("/admin/tokens", headers=tenant.headers("admin")).json()["items"]
    assert next(t for t in listed if t["id"] == issued["id"])["revokedAt"] is not None
    missing = harness.client.delete(
        "/admin/tokens/0000000000000000", headers=tenant.headers("admin")
    )
    assert_error(missing, 404)


def test_expired_tokens_stop_working(harness: Harness, tenant: TenantAccess) -> None:
    issued = harness.client.post(
        "/admin/tokens",
        json={"name": "short", "roles": "auditor", "expiresIn": "PT1H"},
        headers=tenant.headers("admin"),
    ).json()
    auth = {"Authorization": f"Bearer {issued['token']}"}
    assert harness.client.get("/scim/v2/Users", headers=auth).status_code == 200
    harness.clock.advance(dt.timedelta(minutes=59))
    assert harness.client.get("/scim/v2/Users", headers=auth).status_code == 200
    harness.clock.advance(dt.timedelta(minutes=1))
    assert_error(harness.client.get("/scim/v2/Users", headers=auth), 401)


def test_token_requests_are_validated(harness: Harness, tenant: TenantAccess) -> None:
    admin = tenant.headers("admin")
    for body in (
        {"name": "x", "roles": "wizard"},
        {"name": "x", "roles": []},
        {"name": "", "roles": "idp"},
        {"name": "x", "roles": "idp", "expiresIn": "soon"},
        {"name": "x", "roles": "idp", "expiresIn": "0d"},
        {"roles": "idp"},
    ):
        assert_error(
            harness.client.post("/admin/tokens", json=body, headers=admin), 400, "invalidValue"
        )
    operator = harness.client.post(
        "/admin/tokens", json={"name": "x", "roles": "operator"}, headers=admin
    )
    assert_error(operator, 403)
    listed = harness.client.get("/admin/tokens", headers=admin).json()["items"]
    assert [t["name"] for t in listed] == ["admin client"]


def test_only_tenant_admins_manage_tokens_and_only_their_own(harness: Harness) -> None:
    a, b = harness.tenant(), harness.tenant()
    for roles in ("idp", "platform", "auditor"):
        assert_error(harness.client.get("/admin/tokens", headers=a.headers(roles)), 403)
    b_token_id = b.token("idp").split(".")[0].removeprefix("tnr_")
    a_admin = a.headers("admin")
    assert_error(harness.client.delete(f"/admin/tokens/{b_token_id}", headers=a_admin), 404)
    assert harness.client.get("/scim/v2/Users", headers=b.headers("idp")).status_code == 200
    a_ids = {t["id"] for t in harness.client.get("/admin/tokens", headers=a_admin).json()["items"]}
    assert b_token_id not in a_ids


def test_operator_issues_lists_and_revokes_tenant_tokens(harness: Harness) -> None:
    tenant = harness.tenant("globex")
    issued = harness.client.post(
        "/admin/tenants/globex/tokens",
        json={"name": "first admin", "roles": "admin"},
        headers=harness.operator,
    )
    assert issued.status_code == 201
    auth = {"Authorization": f"Bearer {issued.json()['token']}"}
    assert harness.client.get("/admin/tokens", headers=auth).status_code == 200
    listed = harness.client.get(f"/admin/tenants/{tenant.id}/tokens", headers=harness.operator)
    assert [t["id"] for t in listed.json()["items"]] == [issued.json()["id"]]
    revoked = harness.client.delete(
        f"/admin/tenants/globex/tokens/{issued.json()['id']}", headers=harness.operator
    )
    assert revoked.status_code == 204
    assert_error(harness.client.get("/admin/tokens", headers=auth), 401)
