"""Engine and connections: SQLite (WAL) by default, PostgreSQL for several replicas."""

from __future__ import annotations

from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

_WRITE = "tenure_write"


def async_url(url: str) -> str:
    """Accept plain ``sqlite:///`` and ``postgresql://`` URLs and pick the async drivers."""
    for plain, driver in (
        ("sqlite://", "sqlite+aiosqlite://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


def _json_dumps(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def create_engine(url: str, *, schema: str | None = None, pool_size: int = 10) -> AsyncEngine:
    """Build the engine; ``schema`` pins PostgreSQL's search_path (a deployment's or a test's)."""
    url = async_url(url)
    options: dict[str, Any] = {
        "json_serializer": _json_dumps,
        "json_deserializer": msgspec.json.decode,
    }
    if url.startswith("sqlite"):
        options["connect_args"] = {"timeout": 30}
        engine = create_async_engine(url, **options)
        _configure_sqlite(engine)
        return engine
    # Listing statements differ only in bound values (resource type, tenant);
    # a cached generic plan would scan past every other type's rows.
    server_settings = {"plan_cache_mode": "force_custom_plan"}
    if schema:
        server_settings["search_path"] = schema
    connect_args: dict[str, Any] = {"server_settings": server_settings}
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        connect_args=connect_args,
        **options,
    )
    return engine


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so writers can BEGIN IMMEDIATE:
        # a deferred transaction that later writes can fail with SQLITE_BUSY
        # instead of waiting for the lock.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # LIKE must honour case: caseExact attributes (id, externalId) are
        # compared as is, the others are folded on both sides beforehand.
        cursor.execute("PRAGMA case_sensitive_like=ON")
        # Reads of a large directory: map the file and keep a bigger page cache.
        cursor.execute("PRAGMA mmap_size=268435456")
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()
        # Case-insensitive SCIM comparisons fold with Python's str.lower; SQLite's
        # own lower() folds ASCII only.
        dbapi_connection.create_function("tenure_lower", 1, _lower, deterministic=True)

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(connection: sa.Connection) -> None:
        write = connection.get_execution_options().get(_WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def write_options() -> dict[str, Any]:
    """Execution options that mark a connection's transaction as a writer."""
    return {_WRITE: True}
