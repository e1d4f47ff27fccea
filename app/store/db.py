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


_JSON: dict[str, Any] = {
    "json_serializer": _json_dumps,
    "json_deserializer": msgspec.json.decode,
}


_UNGATED = 2


def create_engine(url: str, *, schema: str | None = None, pool_size: int = 10) -> AsyncEngine:
    """Build the engine; ``schema`` pins PostgreSQL's search_path (a deployment's or a test's)."""
    url = async_url(url)
    options: dict[str, Any] = dict(_JSON)
    if url.startswith("sqlite"):
        options["connect_args"] = {"timeout": 30}
        engine = create_async_engine(url, **options)
        _configure_sqlite(engine.sync_engine, busy_ms=30_000)
        return engine
    # Listing statements differ only in bound values (resource type, tenant);
    # a cached generic plan would scan past every other type's rows.
    server_settings = {"plan_cache_mode": "force_custom_plan"}
    if schema:
        server_settings["search_path"] = schema
    connect_args: dict[str, Any] = {"server_settings": server_settings}
    engine = create_async_engine(
        url,
        # Units of work take at most ``pool_size`` (the gate in store/uow.py), so the
        # pool keeps every connection it opens: an overflow connection is closed on
        # return, and under load one was opened (TLS attempt included) per request.
        # The overflow serves only what bypasses the gate (readiness probe, migrations).
        pool_size=pool_size,
        max_overflow=_UNGATED,
        # No ping per checkout (a round trip per request): a connection the server
        # dropped fails its statement, which invalidates it and the pool reconnects.
        pool_pre_ping=False,
        connect_args=connect_args,
        **options,
    )
    return engine


def create_loop_engine(url: str) -> sa.Engine | None:
    """SQLite's engine for bounded work, run on the event loop itself (None elsewhere).

    A statement through aiosqlite pays a hop to its thread and back, which costs
    more than SQLite's own work for a read by id or a mutation's few writes. Run
    synchronously instead, a unit of work never yields to the loop between its
    statements, so the process's writers also queue in order rather than wait
    in SQLite's busy handler. Unbounded work keeps the threaded engine.
    """
    if not url.startswith("sqlite://"):
        return None
    engine = sa.create_engine(
        url,
        connect_args={"timeout": 5, "check_same_thread": False},
        pool_size=4,
        max_overflow=8,
        **_JSON,
    )
    # Waiting for another process's write lock blocks the loop: wait less.
    _configure_sqlite(engine, busy_ms=5_000, on_loop=True)
    return engine


def _configure_sqlite(engine: sa.Engine, *, busy_ms: int, on_loop: bool = False) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so writers can BEGIN IMMEDIATE:
        # a deferred transaction that later writes can fail with SQLITE_BUSY
        # instead of waiting for the lock.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        # LIKE must honour case: caseExact attributes (id, externalId) are
        # compared as is, the others are folded on both sides beforehand.
        cursor.execute("PRAGMA case_sensitive_like=ON")
        # No memory map and a modest page cache per connection: at 50,000 Users a
        # 256 MiB map and a 64 MiB cache held 160 MiB more of the process's memory for
        # no measurable gain on reads by index (scripts/bench/http.py); the OS page
        # cache still keeps the file's hot pages. 4 MiB rather than 8: the reader and
        # the writer on the loop each fill theirs, and reads and filters measured the
        # same with either.
        cursor.execute("PRAGMA mmap_size=0")
        cursor.execute("PRAGMA cache_size=-4096")
        cursor.close()
        # Case-insensitive SCIM comparisons fold with Python's str.lower; SQLite's
        # own lower() folds ASCII only.
        dbapi_connection.create_function("tenure_lower", 1, _lower, deterministic=True)

    @event.listens_for(engine, "begin")
    def on_begin(connection: sa.Connection) -> None:
        begin = "BEGIN IMMEDIATE" if connection.get_execution_options().get(_WRITE) else "BEGIN"
        if on_loop:
            # Straight to the sqlite3 connection: a statement through SQLAlchemy's
            # execution path costs more than SQLite's BEGIN itself, every unit of work.
            connection.connection.driver_connection.execute(begin)  # type: ignore[union-attr]
        else:
            connection.exec_driver_sql(begin)


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def write_options(write: bool = True) -> dict[str, Any]:
    """Execution options that mark a connection's transaction as a writer (or not)."""
    return {_WRITE: write}
