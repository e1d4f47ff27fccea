"""Structured JSON logs carry a request id and never a token or a password."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from app.api.logs import JsonFormatter
from tests.conftest import Harness, TenantAccess
from tests.samples import user


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def logs() -> Iterator[Lines]:
    handler = Lines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_access_log_is_json_with_request_id_and_caller(
    harness: Harness, tenant: TenantAccess, logs: Lines
) -> None:
    headers = {**tenant.headers(), "X-Request-Id": "req-123"}
    logs.lines.clear()  # only the request under test
    response = harness.client.get("/scim/v2/Users", headers=headers)
    assert response.headers["x-request-id"] == "req-123"
    entries = [json.loads(line) for line in logs.lines]
    access = [e for e in entries if e["logger"] == "tenure.access"]
    assert len(access) == 1
    entry = access[0]
    assert entry["request_id"] == "req-123"
    assert entry["status"] == 200
    assert entry["method"] == "GET"
    assert entry["path"] == "/scim/v2/Users"
    assert entry["tenant_id"] == tenant.id
    assert entry["token_id"] == tenant.token().split(".")[0].removeprefix("tnr_")
    assert entry["duration_ms"] >= 0


def test_unknown_paths_get_a_request_id_and_an_access_line(
    harness: Harness, tenant: TenantAccess, logs: Lines
) -> None:
    response = harness.client.get("/nowhere", headers={"X-Request-Id": "lost-1"})
    assert response.status_code == 404
    assert response.headers["x-request-id"] == "lost-1"
    access = [json.loads(line) for line in logs.lines if '"tenure.access"' in line]
    assert [(e["path"], e["status"], e["request_id"]) for e in access] == [
        ("/nowhere", 404, "lost-1")
    ]


def test_request_ids_are_generated_when_missing_or_unsafe(
    harness: Harness, tenant: TenantAccess
) -> None:
    generated = harness.client.get("/scim/v2/Users", headers=tenant.headers())
    assert len(generated.headers["x-request-id"]) == 32
    unsafe = harness.client.get(
        "/scim/v2/Users", headers={**tenant.headers(), "X-Request-Id": "bad id\twith spaces"}
    )
    assert unsafe.headers["x-request-id"] != "bad id\twith spaces"


def test_no_token_or_password_reaches_the_logs(
    harness: Harness, tenant: TenantAccess, logs: Lines
) -> None:
    password = "Pa55word-never-logged"
    token = tenant.token("admin")
    headers = {"Authorization": f"Bearer {token}"}
    harness.client.post("/scim/v2/Users", json=user(password=password), headers=headers)
    harness.client.post("/scim/v2/Users", json=user(password=password), headers=headers)  # 409
    harness.client.post("/admin/tokens", json={"name": "n", "roles": "idp"}, headers=headers)
    harness.client.get("/scim/v2/Users", headers={"Authorization": f"Bearer {token}x"})  # 401
    logging.getLogger("tenure.test").info("echo %s", token)  # even a careless log call
    assert len(logs.lines) >= 5
    secret = token.split(".", 1)[1]
    for line in logs.lines:
        assert password not in line
        assert secret not in line
