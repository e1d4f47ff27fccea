"""Hostile inputs answer 400 (or 404) with an RFC 7644 §3.12 Error body and write nothing.

Each case here once answered 500 on one backend or both: JSON nested too deep
for the decoder, projection parameters of the wrong JSON type, integers wider
than 64 bits, NUL characters and names longer than their column (PostgreSQL
refuses both, SQLite took them), dates and durations no date arithmetic can
hold, and request targets longer than the application reads. The bounds are
``app/domain/limits.py``, documented in the README ("Limits").
"""

from __future__ import annotations

import datetime as dt
import socket
from typing import Any
from urllib.parse import quote

import pytest

from app.cli import main
from app.domain.limits import (
    MAX_DATETIME,
    MAX_JSON_DEPTH,
    MAX_NAME_LENGTH,
    MAX_REQUEST_TARGET,
    MAX_TOKEN_TEXT,
    MIN_DATETIME,
)
from app.scim.codec import parse_datetime
from tests.conftest import SECRET_KEY, Harness, TenantAccess, create
from tests.refusals import error_of, snapshot
from tests.samples import GROUP, user

AGENT = "urn:ietf:params:scim:schemas:core:2.0:Agent"
SERVICE_ACCOUNT = "urn:tenure:params:scim:schemas:core:1.0:ServiceAccount"
GOV = "urn:tenure:params:scim:schemas:extension:nhi:1.0:Governance"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
HUGE = 99999999999999999999999  # wider than 64 bits


def refused(
    harness: Harness,
    tenant: TenantAccess,
    method: str,
    url: str,
    status: int = 400,
    scim_type: str | None = None,
    mentions: str | None = None,
    **request: Any,
) -> dict[str, Any]:
    """The request answers ``status`` with an Error body, and the tenant's rows are unchanged."""
    before = snapshot(harness, tenant)
    response = harness.client.request(method, url, **request)
    where = f"{method} {url[:200]}"
    assert response.status_code == status, (where, response.status_code, response.text[:300])
    body = error_of(response)
    assert body.get("scimType") == scim_type, (where, body)
    if mentions is not None:
        assert mentions in body["detail"], (where, body)
    assert snapshot(harness, tenant) == before, where
    return body


def nested(depth: int) -> str:
    """A JSON value of ``depth`` nested objects: ``{"a":{"a":…1…}}``."""
    return '{"a":' * depth + "1" + "}" * depth


def as_json(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "Content-Type": "application/scim+json"}


def patch_op(op: str, path: str | None, value: Any) -> dict[str, Any]:
    operation = {"op": op, "value": value} | ({"path": path} if path else {})
    return {"schemas": [PATCH_OP], "Operations": [operation]}


# --- JSON nesting -------------------------------------------------------------


def test_json_nested_past_the_limit_is_refused_on_every_body(
    harness: Harness, tenant: TenantAccess
) -> None:
    someone = create(harness, tenant, "Users", user("someone"))["id"]
    idp, admin, operator = tenant.headers("idp"), tenant.headers("admin"), harness.operator
    platform = tenant.headers("platform")
    deep = nested(1000)  # about 6 KB
    assert 5_000 < len(deep) < 7_000
    for method, url, text, headers in (
        ("POST", "/scim/v2/Users", '{"userName": "deep", "x": ' + deep + "}", idp),
        ("PUT", f"/scim/v2/Users/{someone}", '{"userName": "someone", "x": ' + deep + "}", idp),
        ("PATCH", f"/scim/v2/Users/{someone}", '{"Operations": [' + deep + "]}", idp),
        ("POST", "/scim/v2/Groups", '{"displayName": "g", "members": ' + deep + "}", idp),
        ("POST", "/scim/v2/Agents", '{"name": "deep", "x": ' + deep + "}", platform),
        ("POST", "/scim/v2/Bulk", '{"Operations": [' + deep + "]}", idp),
        ("POST", "/scim/v2/Users/.search", '{"filter": ' + deep + "}", idp),
        ("POST", "/scim/v2/.search", deep, idp),
        ("PUT", "/admin/settings", deep, admin),
        ("PATCH", "/admin/settings", deep, admin),
        ("POST", "/admin/tokens", deep, admin),
        ("PUT", "/admin/webhook", deep, admin),
        ("PUT", "/admin/smtp", deep, admin),
        ("POST", "/admin/policies", deep, admin),
        ("POST", "/admin/policies/evaluate", deep, admin),
        ("POST", "/admin/tenants", deep, operator),
        ("POST", "/admin/onboard", deep, operator),
    ):
        refused(
            harness,
            tenant,
            method,
            url,
            scim_type="invalidSyntax",
            mentions=str(MAX_JSON_DEPTH),
            content=text.encode(),
            headers=as_json(headers),
        )


def test_json_nesting_up_to_the_limit_is_read(harness: Harness, tenant: TenantAccess) -> None:
    # The body object is one level; an unknown attribute (ignored) takes the rest.
    text = '{"userName": "deep", "x": ' + nested(MAX_JSON_DEPTH - 1) + "}"
    response = harness.client.post(
        "/scim/v2/Users", content=text.encode(), headers=as_json(tenant.headers())
    )
    assert response.status_code == 201, response.text
    too_deep = '{"userName": "deeper", "x": ' + nested(MAX_JSON_DEPTH) + "}"
    refused(
        harness,
        tenant,
        "POST",
        "/scim/v2/Users",
        scim_type="invalidSyntax",
        content=too_deep.encode(),
        headers=as_json(tenant.headers()),
    )


# --- attributes / excludedAttributes of the wrong type ------------------------


def test_projection_parameters_must_be_text_or_a_list_of_text(
    harness: Harness, tenant: TenantAccess
) -> None:
    searches = [
        ("/scim/v2/Users/.search", tenant.headers()),
        ("/scim/v2/Agents/.search", tenant.headers("platform")),
        ("/scim/v2/.search", tenant.headers()),
    ]
    for value in (5, 0, True, False, 1.5, {"userName": True}, [["userName"]], [1]):
        for url, headers in searches:
            for name in ("attributes", "excludedAttributes"):
                refused(
                    harness,
                    tenant,
                    "POST",
                    url,
                    scim_type="invalidValue",
                    mentions=name,
                    json={name: value},
                    headers=headers,
                )


# --- integers wider than 64 bits ----------------------------------------------


def test_integers_beyond_64_bits_are_refused(harness: Harness, tenant: TenantAccess) -> None:
    idp = tenant.headers()
    for name in ("startIndex", "count"):
        for value in (HUGE, -HUGE, 2**63):
            expected = {"scim_type": "invalidValue", "mentions": name, "headers": idp}
            refused(harness, tenant, "GET", f"/scim/v2/Users?{name}={value}", **expected)
            for url in ("/scim/v2/Users/.search", "/scim/v2/.search"):
                refused(harness, tenant, "POST", url, json={name: value}, **expected)
    # A filter's number literal is compared in SQL too.
    refused(
        harness,
        tenant,
        "GET",
        "/scim/v2/Users",
        scim_type="invalidFilter",
        mentions="64 bits",
        params={"filter": f"title eq {HUGE} or title pr"},
        headers=idp,
    )
    # The widest startIndex still reads: an empty page past the end, on both backends.
    page = harness.client.get(f"/scim/v2/Users?startIndex={2**63 - 1}", headers=idp)
    assert page.status_code == 200, page.text
    assert page.json().get("Resources", []) == []
    assert page.json()["itemsPerPage"] == 0


def test_an_outbox_id_that_is_no_message_is_not_found(
    harness: Harness, tenant: TenantAccess
) -> None:
    admin = tenant.headers("admin")
    for message_id in (str(HUGE), str(2**63), "-1", "0", "abc", "1e3"):
        refused(harness, tenant, "POST", f"/admin/outbox/{message_id}/retry", 404, headers=admin)


def test_settings_stay_within_sane_ranges(harness: Harness, tenant: TenantAccess) -> None:
    admin = tenant.headers("admin")
    for body in (
        {"agentLifetimeDays": HUGE},
        {"serviceAccountLifetimeDays": 2**63},
        {"hardCapDays": -HUGE},
        {"teardownGraceHours": HUGE},
        {"attestationDays": 10**6},
        {"warningDays": [HUGE]},
        {"warningDays": [14, -1]},
        {"auditRetentionDays": HUGE},
        {"blastRadiusPercent": HUGE},
    ):
        for method in ("PUT", "PATCH"):
            refused(
                harness,
                tenant,
                method,
                "/admin/settings",
                scim_type="invalidValue",
                json=body,
                headers=admin,
            )


# --- NUL characters -------------------------------------------------------------


def test_nul_in_a_body_is_refused(harness: Harness, tenant: TenantAccess) -> None:
    idp, admin, platform = tenant.headers(), tenant.headers("admin"), tenant.headers("platform")
    someone = create(harness, tenant, "Users", user("someone"))["id"]
    nul = "a\u0000b"
    bulk = {
        "schemas": [BULK],
        "Operations": [{"method": "POST", "path": "/Users", "bulkId": "1", "data": user(nul)}],
    }
    members = {"schemas": [GROUP], "displayName": "g", "members": [{"value": nul}]}
    for method, url, body, headers in (
        ("POST", "/scim/v2/Users", user(nul), idp),
        ("POST", "/scim/v2/Users", user("t", title=nul), idp),
        ("POST", "/scim/v2/Users", {**user("k"), nul: "x"}, idp),
        ("PUT", f"/scim/v2/Users/{someone}", user(nul), idp),
        ("PATCH", f"/scim/v2/Users/{someone}", patch_op("replace", "title", nul), idp),
        ("POST", "/scim/v2/Groups", members, idp),
        ("POST", "/scim/v2/Bulk", bulk, idp),
        ("POST", "/scim/v2/Agents", {"schemas": [AGENT], "name": nul}, platform),
        ("POST", "/admin/tokens", {"name": nul, "roles": "idp"}, admin),
        ("PUT", "/admin/webhook", {"url": f"https://x.example/{nul}"}, admin),
        ("PUT", "/admin/settings", {"alertEmails": [f"{nul}@x.example"]}, admin),
    ):
        refused(
            harness,
            tenant,
            method,
            url,
            scim_type="invalidValue",
            mentions="NUL",
            json=body,
            headers=headers,
        )


def test_nul_in_a_filter_literal_is_an_invalid_filter(
    harness: Harness, tenant: TenantAccess
) -> None:
    idp = tenant.headers()
    # The filter's own string escape: the URL and the JSON around it carry no NUL.
    escaped = 'userName eq "a\\u0000b"'
    for method, url, request in (
        ("GET", "/scim/v2/Users", {"params": {"filter": escaped}}),
        ("POST", "/scim/v2/Users/.search", {"json": {"filter": escaped}}),
        ("POST", "/scim/v2/.search", {"json": {"filter": escaped}}),
        ("GET", "/scim/v2/Groups", {"params": {"filter": 'members[value eq "\\u0000"]'}}),
    ):
        refused(
            harness,
            tenant,
            method,
            url,
            scim_type="invalidFilter",
            mentions="NUL",
            headers=idp,
            **request,
        )


def test_nul_in_the_request_target_is_refused(harness: Harness, tenant: TenantAccess) -> None:
    idp, auditor, admin = tenant.headers(), tenant.headers("auditor"), tenant.headers("admin")
    for method, url, headers in (
        ("GET", "/scim/v2/Users?filter=userName%20eq%20a%00b", idp),
        ("GET", "/scim/v2/Users?filter=userName%20eq%20%22a%00b%22", idp),
        ("GET", "/scim/v2/Users?sortBy=userName%00", idp),
        ("GET", "/scim/v2/Users?attributes=user%00Name", idp),
        ("GET", "/scim/v2/Users?cursor=%00", idp),
        ("GET", "/scim/v2/Users/a%00b", idp),
        ("DELETE", "/scim/v2/Users/a%00b", idp),
        ("PUT", "/scim/v2/Groups/%00", idp),
        ("GET", "/reports/ownership?owner=a%00b", auditor),
        ("GET", "/reports/identities/a%00b/history", auditor),
        ("GET", "/audit?actor=a%00b", auditor),
        ("GET", "/audit?resourceId=%00", auditor),
        ("DELETE", "/admin/tokens/a%00b", admin),
        ("DELETE", "/admin/policies/a%00b", admin),
        ("GET", "/admin/tenants/a%00b", harness.operator),
    ):
        refused(harness, tenant, method, url, mentions="NUL", headers=headers, json={})


def test_token_texts_longer_than_their_column_are_invalid_values(
    harness: Harness, tenant: TenantAccess
) -> None:
    admin, owner = tenant.headers("admin"), tenant.owner()
    platform = {"name": "ci", "roles": "platform", "owner": owner, "purpose": "tests"}
    for body in (
        {**platform, "purpose": "p" * (MAX_TOKEN_TEXT + 1)},
        {**platform, "environments": [f"environment-{i}" for i in range(40)]},
        {**platform, "environments": "e" * (MAX_TOKEN_TEXT + 1)},
    ):
        refused(
            harness,
            tenant,
            "POST",
            "/admin/tokens",
            scim_type="invalidValue",
            mentions=str(MAX_TOKEN_TEXT),
            json=body,
            headers=admin,
        )
    issued = harness.client.post(
        "/admin/tokens", json={**platform, "purpose": "p" * MAX_TOKEN_TEXT}, headers=admin
    )
    assert issued.status_code == 201, issued.text


# --- names longer than their column ---------------------------------------------


def test_names_longer_than_their_column_are_invalid_values(
    harness: Harness, tenant: TenantAccess
) -> None:
    idp, platform = tenant.headers(), tenant.headers("platform")
    someone = create(harness, tenant, "Users", user("someone"))["id"]
    long = "x" * (MAX_NAME_LENGTH + 1)
    # Lower-casing "İ" doubles it: the folded name the uniqueness index holds is longer.
    folds_long = "İ" * (MAX_NAME_LENGTH // 2 + 1)
    member = {"schemas": [GROUP], "displayName": "g", "members": [{"value": someone}]}
    for name, method, url, body, headers in (
        ("userName", "POST", "/scim/v2/Users", user(long), idp),
        ("userName", "POST", "/scim/v2/Users", user(folds_long), idp),
        ("externalId", "POST", "/scim/v2/Users", user("e", externalId=long), idp),
        ("displayName", "POST", "/scim/v2/Users", user("d", displayName=long), idp),
        ("userName", "PUT", f"/scim/v2/Users/{someone}", user(long), idp),
        (
            "userName",
            "PATCH",
            f"/scim/v2/Users/{someone}",
            patch_op("replace", "userName", long),
            idp,
        ),
        (
            "externalId",
            "PATCH",
            f"/scim/v2/Users/{someone}",
            patch_op("add", None, {"externalId": long}),
            idp,
        ),
        ("displayName", "POST", "/scim/v2/Groups", {"schemas": [GROUP], "displayName": long}, idp),
        (
            "display",
            "POST",
            "/scim/v2/Groups",
            {**member, "members": [{"value": someone, "display": long}]},
            idp,
        ),
        ("name", "POST", "/scim/v2/Agents", {"schemas": [AGENT], "name": long}, platform),
        (
            "name",
            "POST",
            "/scim/v2/ServiceAccounts",
            {"schemas": [SERVICE_ACCOUNT], "name": long},
            platform,
        ),
    ):
        refused(
            harness,
            tenant,
            method,
            url,
            scim_type="invalidValue",
            mentions=name,
            json=body,
            headers=headers,
        )
    # At the limit, the same names are kept, whole.
    fits = "y" * MAX_NAME_LENGTH
    created = harness.client.post("/scim/v2/Users", json=user(fits, externalId=fits), headers=idp)
    assert created.status_code == 201, created.text
    assert created.json()["userName"] == fits and created.json()["externalId"] == fits
    agent = harness.client.post(
        "/scim/v2/Agents", json={"schemas": [AGENT], "name": fits}, headers=platform
    )
    assert agent.status_code == 201, agent.text


# --- dates and durations ----------------------------------------------------------


OUT_OF_RANGE = ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00+14:00", "0001-01-01T00:00:00"]


def test_dates_outside_the_range_are_invalid_values(harness: Harness, tenant: TenantAccess) -> None:
    platform = tenant.headers("platform")
    agent = create_agent(harness, platform)
    for moment in OUT_OF_RANGE:
        for name in ("lastAttestedAt", "expiresAt", "hardExpiresAt", "lastActivityAt"):
            expected = {"scim_type": "invalidValue", "mentions": name, "headers": platform}
            body = {"schemas": [AGENT, GOV], "name": f"b-{name}", GOV: {name: moment}}
            refused(harness, tenant, "POST", "/scim/v2/Agents", json=body, **expected)
            change = patch_op("replace", f"{GOV}:{name}", moment)
            refused(harness, tenant, "PATCH", f"/scim/v2/Agents/{agent}", json=change, **expected)


def create_agent(harness: Harness, headers: dict[str, str]) -> str:
    created = harness.client.post(
        "/scim/v2/Agents", json={"schemas": [AGENT], "name": "a"}, headers=headers
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def test_dates_outside_the_range_in_filters_and_report_parameters(
    harness: Harness, tenant: TenantAccess
) -> None:
    platform, auditor = tenant.headers("platform"), tenant.headers("auditor")
    for moment in OUT_OF_RANGE:
        for text in (f'meta.created gt "{moment}"', f'{GOV}:expiresAt lt "{moment}"'):
            refused(
                harness,
                tenant,
                "GET",
                "/scim/v2/Agents",
                scim_type="invalidFilter",
                params={"filter": text},
                headers=platform,
            )
        for name in ("since", "until"):
            refused(
                harness,
                tenant,
                "GET",
                "/audit",
                scim_type="invalidValue",
                mentions=name,
                params={name: moment},
                headers=auditor,
            )


def test_the_date_range_is_what_the_readme_says() -> None:
    assert dt.datetime(1900, 1, 1, tzinfo=dt.UTC) == MIN_DATETIME
    assert dt.datetime(9000, 1, 1, tzinfo=dt.UTC) == MAX_DATETIME
    assert parse_datetime("1900-01-01T00:00:00Z") == MIN_DATETIME
    assert parse_datetime("1900-01-01T00:59:59+01:00") is None
    assert parse_datetime("8999-12-31T23:59:59.999Z") is not None
    assert parse_datetime("9000-01-01T00:00:00Z") is None
    assert parse_datetime("8999-12-31T23:00:00-01:00") is None


TOO_LONG = ["999999999999d", "P99999999999999D", "PT99999999999999999999H", "9999999999w", "P3661D"]


def test_durations_too_long_for_a_date_are_invalid_values(
    harness: Harness, tenant: TenantAccess
) -> None:
    admin, auditor = tenant.headers("admin"), tenant.headers("auditor")
    for text in TOO_LONG:
        token = {"name": "n", "roles": "idp", "expiresIn": text}
        refused(
            harness,
            tenant,
            "POST",
            "/admin/tokens",
            scim_type="invalidValue",
            json=token,
            headers=admin,
        )
        refused(
            harness,
            tenant,
            "GET",
            "/reports/expiring",
            scim_type="invalidValue",
            mentions="within",
            params={"within": text},
            headers=auditor,
        )
    # Ten years is the longest; it still adds to today.
    issued = harness.client.post(
        "/admin/tokens", json={"name": "n", "roles": "idp", "expiresIn": "P3660D"}, headers=admin
    )
    assert issued.status_code == 201, issued.text
    assert harness.client.get("/reports/expiring?within=P3660D", headers=auditor).status_code == 200


def test_the_cli_answers_a_too_long_duration_with_one_line(
    capsys: pytest.CaptureFixture[str], empty_settings: Any
) -> None:
    env = {
        "TENURE_DATABASE_URL": empty_settings.database_url,
        "TENURE_SECRET_KEY": SECRET_KEY.decode(),
    }
    if empty_settings.database_schema:
        env["TENURE_DATABASE_SCHEMA"] = empty_settings.database_schema
    assert main(["migrate"], env) == 0
    assert main(["tenant", "create", "acme"], env) == 0
    capsys.readouterr()
    for text in TOO_LONG:
        for argv in (
            ["token", "issue", "--tenant", "acme", "--role", "idp", "--name", "n"],
            ["report", "expiring", "--tenant", "acme"],
        ):
            option = "--expires-in" if argv[0] == "token" else "--within"
            code = main([*argv, option, text], env)
            captured = capsys.readouterr()
            assert code == 2, (argv, captured)
            assert captured.out == ""
            lines = captured.err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
            assert option in lines[0] and "ten years" in lines[0], lines
    # Nothing was issued.
    assert main(["token", "list", "--tenant", "acme"], env) == 0
    assert capsys.readouterr().out == ""


# --- request targets ---------------------------------------------------------------


def test_a_request_target_past_the_limit_is_answered_by_the_application(
    harness: Harness, tenant: TenantAccess
) -> None:
    idp = tenant.headers()
    for size in (MAX_REQUEST_TARGET + 1, 20_000, 60_000):
        refused(
            harness,
            tenant,
            "GET",
            "/scim/v2/Users?filter=" + "a" * size,
            mentions=str(MAX_REQUEST_TARGET),
            headers=idp,
        )
    # Up to the limit, the request is the application's to judge (here: the filter's length).
    prefix = "/scim/v2/Users?filter="
    at_limit = harness.client.get(prefix + "a" * (MAX_REQUEST_TARGET - len(prefix)), headers=idp)
    assert at_limit.status_code == 400
    assert error_of(at_limit)["scimType"] == "invalidFilter"


def _raw_request(base: str, target: str) -> tuple[int, str, bytes]:
    """One HTTP/1.1 request on a socket (HTTP clients refuse long URLs before sending)."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(
            f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
        )
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    named = [line for line in lines if line.lower().startswith("content-type:")]
    content_type = named[0].split(":", 1)[1].strip() if named else ""
    return int(lines[0].split()[1]), content_type, body


def test_a_long_request_target_on_a_real_server(server: str) -> None:
    """Up to uvicorn's own limit (about 64 KB), the application answers, in SCIM's format."""
    for size in (MAX_REQUEST_TARGET + 1, 60_000):
        status, content_type, body = _raw_request(server, "/scim/v2/Users?filter=" + "a" * size)
        assert status == 400
        assert content_type.startswith("application/scim+json")
        assert b'"status":"400"' in body and str(MAX_REQUEST_TARGET).encode() in body
    # The same path, short, reaches authentication as usual.
    status, _, _ = _raw_request(server, "/scim/v2/Users?filter=" + quote('userName eq "x"'))
    assert status == 401
    # Past uvicorn's limit it answers itself: still a 400, never a 5xx.
    status, _, _ = _raw_request(server, "/scim/v2/Users?filter=" + "a" * 100_000)
    assert status == 400
