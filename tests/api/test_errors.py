"""Every failure is an RFC 7644 §3.12 Error body and writes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Harness, TenantAccess
from tests.samples import USER, assert_error, user


def _count(harness: Harness, tenant: TenantAccess) -> int:
    return harness.client.get("/scim/v2/Users?count=0", headers=tenant.headers()).json()[
        "totalResults"
    ]


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b'{"userName": "x",}', b"", b"\xff\xfe", b'"a string"', b"[1, 2]"],
    ids=["garbage", "trailing-comma", "empty", "not-utf8", "string", "array"],
)
def test_malformed_body_is_invalid_syntax(
    harness: Harness, tenant: TenantAccess, raw: bytes
) -> None:
    headers = {**tenant.headers(), "Content-Type": "application/scim+json"}
    response = harness.client.post("/scim/v2/Users", content=raw, headers=headers)
    assert_error(response, 400, "invalidSyntax")
    assert _count(harness, tenant) == 0


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ({"schemas": [USER]}, "userName"),
        (user(userName=42), "userName"),
        (user(active="maybe"), "active"),
        (user(name="Barbara Jensen"), "name"),
        (user(userName=["a", "b"]), "userName"),
        (user(emails=[{"value": 7}]), "emails[0].value"),
        (user(x509Certificates=[{"value": "not base64!"}]), "x509Certificates"),
    ],
    ids=[
        "missing-userName",
        "number-userName",
        "non-boolean-active",
        "string-for-complex",
        "list-for-single",
        "number-in-sub-attribute",
        "bad-binary",
    ],
)
def test_wrong_types_and_missing_required_are_invalid_value(
    harness: Harness, tenant: TenantAccess, body: dict[str, Any], mentions: str
) -> None:
    response = harness.client.post("/scim/v2/Users", json=body, headers=tenant.headers())
    error = assert_error(response, 400, "invalidValue")
    assert mentions in error["detail"]
    assert _count(harness, tenant) == 0


def test_a_failed_replace_leaves_the_resource_as_it_was(
    harness: Harness, tenant: TenantAccess
) -> None:
    created = harness.client.post("/scim/v2/Users", json=user(), headers=tenant.headers()).json()
    url = f"/scim/v2/Users/{created['id']}"
    response = harness.client.put(url, json=user(active="sometimes"), headers=tenant.headers())
    assert_error(response, 400, "invalidValue")
    assert harness.client.get(url, headers=tenant.headers()).json() == created


@pytest.mark.parametrize(
    "content_type",
    [
        "application/scim+json",
        "application/scim+json; charset=utf-8",
        "application/json",
        "application/json;charset=UTF-8",
        "Application/SCIM+JSON",
    ],
)
def test_json_media_types_are_accepted(
    harness: Harness, tenant: TenantAccess, content_type: str
) -> None:
    response = harness.client.post(
        "/scim/v2/Users",
        content=b'{"userName": "media"}',
        headers={**tenant.headers(), "Content-Type": content_type},
    )
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/scim+json")


def test_other_media_types_are_415(harness: Harness, tenant: TenantAccess) -> None:
    response = harness.client.post(
        "/scim/v2/Users",
        content=b"userName=x",
        headers={**tenant.headers(), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_error(response, 415)
    assert _count(harness, tenant) == 0


def test_body_over_max_payload_size_is_413(harness: Harness, tenant: TenantAccess) -> None:
    spc = harness.client.get("/scim/v2/ServiceProviderConfig", headers=tenant.headers()).json()
    limit = spc["bulk"]["maxPayloadSize"]
    assert limit == harness.settings.max_payload_size
    body = user(title="x" * limit)
    response = harness.client.post("/scim/v2/Users", json=body, headers=tenant.headers())
    assert_error(response, 413)
    assert _count(harness, tenant) == 0


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "tnr_0123456789abcdef.xyz",
        "Basic dXNlcjpwYXNz",
        "Bearer nope",
    ],
    ids=["missing", "empty", "no-credentials", "blank", "no-scheme", "basic", "unknown-token"],
)
def test_missing_or_bad_authorization_is_401(
    harness: Harness, tenant: TenantAccess, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    for response in (
        harness.client.get("/scim/v2/Users", headers=headers),
        harness.client.post("/scim/v2/Users", json=user(), headers=headers),
        harness.client.get("/scim/v2/ServiceProviderConfig", headers=headers),
    ):
        assert_error(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert _count(harness, tenant) == 0


def test_a_token_with_a_wrong_secret_is_401(harness: Harness, tenant: TenantAccess) -> None:
    token = tenant.token("idp")
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    response = harness.client.get("/scim/v2/Users", headers={"Authorization": f"Bearer {forged}"})
    assert_error(response, 401)


def test_unknown_paths_and_methods_are_scim_errors(harness: Harness, tenant: TenantAccess) -> None:
    assert_error(harness.client.get("/scim/v2/Widgets", headers=tenant.headers()), 404)
    assert_error(harness.client.get("/scim/v2/Widgets/1", headers=tenant.headers()), 404)
    assert_error(harness.client.get("/nowhere", headers=tenant.headers()), 404)
    response = harness.client.delete("/scim/v2/Users", headers=tenant.headers())
    assert_error(response, 405)
