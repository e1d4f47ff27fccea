"""Test harness: every test gets its own database (SQLite file or PostgreSQL schema)
and talks to a real app over HTTP (Litestar's TestClient)."""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import uvicorn
from litestar.testing import TestClient

from app.config import Settings
from app.domain.actor import Role
from app.domain.clock import FixedClock
from app.main import create_app
from app.provisioning.tenancy import Tenancy
from app.store.uow import Database
from tests import _database
from tests.schema_check import check_response

SECRET_KEY = b"test-secret-key-that-is-long-enough-0123456789"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


def _postgres_url() -> str | None:
    url = os.environ.get("TENURE_TEST_POSTGRES_URL") or DEFAULT_PG
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 5432), 2):
            return url
    except OSError:
        return None


POSTGRES_URL = _postgres_url()


def pytest_sessionstart(session: pytest.Session) -> None:
    if POSTGRES_URL is None and os.environ.get("CI") == "true":
        raise pytest.UsageError(
            "CI=true but PostgreSQL does not answer (TENURE_TEST_POSTGRES_URL or 127.0.0.1:5432)"
        )


def _backends() -> list[Any]:
    postgres = pytest.param(
        "postgres",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(POSTGRES_URL is None, reason="PostgreSQL is not reachable"),
        ],
    )
    return ["sqlite", postgres]


@pytest.fixture(params=_backends())
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _sqlite_settings(path: Path) -> Settings:
    # The lifecycle scheduler is off: tests sweep when they mean to (test_sweeper.py).
    return Settings(database_url=f"sqlite:///{path}", secret_key=SECRET_KEY, scheduler=False)


def _postgres_settings(schema: str) -> Settings:
    assert POSTGRES_URL is not None
    return Settings(
        database_url=POSTGRES_URL, database_schema=schema, secret_key=SECRET_KEY, scheduler=False
    )


@pytest.fixture
def empty_settings(backend: str, tmp_path: Path) -> Iterator[Settings]:
    """Settings for a database of this test's own, not yet migrated."""
    if backend == "sqlite":
        yield _sqlite_settings(tmp_path / "tenure.db")
        return
    assert POSTGRES_URL is not None
    schema = _database.new_schema()
    _database.execute(POSTGRES_URL, f'CREATE SCHEMA "{schema}"')
    try:
        yield _postgres_settings(schema)
    finally:
        _database.execute(POSTGRES_URL, f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> _database.SqliteTemplate:
    """One SQLite database migrated for the whole session (built when first asked for)."""
    return _database.SqliteTemplate(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[_database.PostgresTemplate]:
    """One PostgreSQL schema migrated for the whole session, kept as a script."""
    assert POSTGRES_URL is not None
    template = _database.PostgresTemplate(POSTGRES_URL)
    yield template
    template.close()


@pytest.fixture
def settings(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Settings]:
    """Settings for a database of this test's own at the newest migration: a copy of the
    session's migrated template (tests/_database.py), not every migration again."""
    if backend == "sqlite":
        template: _database.SqliteTemplate = request.getfixturevalue("sqlite_template")
        template.copy_to(tmp_path / "tenure.db")
        yield _sqlite_settings(tmp_path / "tenure.db")
        return
    postgres: _database.PostgresTemplate = request.getfixturevalue("postgres_template")
    schema = postgres.take()
    try:
        yield _postgres_settings(schema)
    finally:
        postgres.release(schema)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC))


class Harness:
    """One running app, an operator token, and helpers that act as users would."""

    def __init__(self, client: TestClient[Any], settings: Settings, clock: FixedClock) -> None:
        self.client = client
        self.settings = settings
        self.clock = clock
        services = client.app.state.services
        self.db: Database = services.db
        tenancy: Tenancy = services.tenancy
        # The operator's first token comes from the CLI in real life; here, the same call.
        issued = self.run(tenancy.issue_token(None, frozenset({Role.OPERATOR}), "test operator"))
        self.operator = {"Authorization": f"Bearer {issued.plaintext}"}

    def run(self, awaitable: Any) -> Any:
        """Run a coroutine on the app's event loop (its connection pool lives there)."""

        async def wrapper() -> Any:
            return await awaitable

        return self.client.blocking_portal.call(wrapper)

    def tenant(self, name: str | None = None) -> TenantAccess:
        name = name or f"t-{uuid.uuid4().hex[:8]}"
        response = self.client.post("/admin/tenants", json={"name": name}, headers=self.operator)
        assert response.status_code == 201, response.text
        return TenantAccess(self, response.json())

    def seed_users(self, tenant: TenantAccess, count: int, prefix: str = "seeded") -> list[str]:
        """Many plain Users at once through the store's bulk insert (HTTP one by one is slow)."""
        from app.domain.resource import Resource

        now = self.clock.now()
        batch = [
            Resource(
                tenant_id=tenant.id,
                id=str(uuid.uuid4()),
                resource_type="User",
                external_id=None,
                doc={"userName": f"{prefix}{i:05d}", "active": True},
                version=1,
                created=now,
                last_modified=now,
            )
            for i in range(count)
        ]

        async def insert() -> None:
            async with self.db.uow(write=True) as uow:
                await uow.of(tenant.id).resources.add_many(batch)
                await uow.commit()

        self.run(insert())
        return [r.id for r in batch]

    def sequence(self) -> None:
        """Link what was written to the audit trail into its chain, as the running server's
        sequencer does moments later (the harness's app runs without it)."""
        self.run(self.client.app.state.services.audit.sequence())

    def sql(self, statement: str, **params: Any) -> list[Any]:
        import sqlalchemy as sa

        if "audit_" in statement:
            self.sequence()  # the trail as a running server shows it

        async def query() -> list[Any]:
            async with self.db.engine.connect() as connection:
                return list((await connection.execute(sa.text(statement), params)).all())

        return self.run(query())  # type: ignore[no-any-return]

    def execute(self, statement: str, **params: Any) -> None:
        """A write behind the service's back (tampering, in the audit tests), committed."""
        import sqlalchemy as sa

        if "audit_" in statement:
            self.sequence()  # tampering with what is chained, not with what awaits it

        async def write() -> None:
            async with self.db.engine.begin() as connection:
                await connection.execute(sa.text(statement), params)

        self.run(write())


USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"


class TenantAccess:
    def __init__(self, harness: Harness, tenant: dict[str, Any]) -> None:
        self.harness = harness
        self.id: str = tenant["id"]
        self.name: str = tenant["name"]
        self._tokens: dict[str, str] = {}
        self._owner: str | None = None

    @property
    def owners(self) -> set[str]:
        """The accountable owner, if a platform token made one (a User of the tenant)."""
        return {self._owner} if self._owner else set()

    def owner(self) -> str:
        """The User accountable for what the tenant's platform token registers."""
        if self._owner is None:
            response = self.harness.client.post(
                "/scim/v2/Users",
                json={"schemas": [USER_URN], "userName": "accountable.owner"},
                headers=self.headers("idp"),
            )
            assert response.status_code == 201, response.text
            self._owner = response.json()["id"]
        return self._owner

    def token(self, roles: str = "idp") -> str:
        if roles not in self._tokens:
            request: dict[str, Any] = {"name": f"{roles} client", "roles": roles}
            if "platform" in roles:
                # Policy tenure.accountability.*: what a platform registers needs both.
                request |= {"owner": self.owner(), "purpose": "automated tests"}
            response = self.harness.client.post(
                f"/admin/tenants/{self.name}/tokens",
                json=request,
                headers=self.harness.operator,
            )
            assert response.status_code == 201, response.text
            self._tokens[roles] = response.json()["token"]
        return self._tokens[roles]

    def headers(self, roles: str = "idp") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(roles)}"}


def create(
    harness: Harness, tenant: TenantAccess, endpoint: str, body: dict[str, Any]
) -> dict[str, Any]:
    """POST a resource that must be created; its representation."""
    response = harness.client.post(f"/scim/v2/{endpoint}", json=body, headers=tenant.headers())
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.fixture
def harness(settings: Settings, clock: FixedClock) -> Iterator[Harness]:
    with TestClient(create_app(settings, clock=clock)) as client:
        client.event_hooks = {"response": [_strictly_as_served(client)]}
        yield Harness(client, settings, clock)


def _strictly_as_served(client: TestClient[Any]) -> Any:
    """Every SCIM resource any test receives is checked against the schemas the server
    serves (tests/schema_check.py): what it returns is what it advertises."""
    registry = client.app.state.services.registry

    def hook(response: Any) -> None:
        response.read()
        check_response(
            response.request.method,
            str(response.request.url),
            response.status_code,
            response.headers.get("content-type", ""),
            response.content,
            registry,
        )

    return hook


@pytest.fixture
def tenant(harness: Harness) -> TenantAccess:
    return harness.tenant()


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    """A real uvicorn server on a free port, in a thread, on this test's database."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_config=None)
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not running.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        running.should_exit = True
        thread.join(timeout=20)
