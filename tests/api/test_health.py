"""Liveness and readiness."""

from __future__ import annotations

from litestar.testing import TestClient

from app.config import Settings
from app.main import create_app
from tests.conftest import Harness
from tests.samples import assert_error


def test_healthz_and_readyz(harness: Harness) -> None:
    assert harness.client.get("/healthz").json() == {"status": "ok"}
    ready = harness.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ok"


def test_readyz_is_503_until_migrated(empty_settings: Settings) -> None:
    with TestClient(create_app(empty_settings)) as client:
        assert client.get("/healthz").status_code == 200
        response = client.get("/readyz")
        assert response.status_code == 503
        assert "migration" in response.json()["detail"]
        client.blocking_portal.call(client.app.state.services.db.migrate)
        assert client.get("/readyz").status_code == 200


def test_readyz_is_503_when_the_database_is_unreachable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(
        database_url="postgresql://nobody@127.0.0.1:1/none",
        secret_key=b"k" * 40,
    )
    with TestClient(create_app(settings)) as client:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["detail"].startswith("database unreachable")
        # A request that needs the database gets a SCIM 500 that leaks nothing.
        token = "tnr_0123456789abcdef." + "A" * 43
        failed = client.get("/scim/v2/Users", headers={"Authorization": f"Bearer {token}"})
        body = assert_error(failed, 500)
        assert "127.0.0.1" not in body["detail"] and "nobody" not in body["detail"]
