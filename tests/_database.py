"""Each test's own database, copied from one the session migrated.

Alembic's migrations cost about 0.3 s a test, most of the suite's time; a file copy
(SQLite) or one replayed dump of a migrated schema (PostgreSQL) costs milliseconds. The
template is built by the real migrations when a session first needs it, so a migration
added tomorrow is in it without anyone touching this file. What keeps the shortcut
honest: tests/e2e/test_database_template.py compares a copy with a freshly migrated
database (tables, columns, indexes, constraints, rows, Alembic version), and the tests
that ask for ``empty_settings`` (tests/e2e/test_migrations.py, the CLI's ``migrate``) still
run every migration for real.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sqlite3
import subprocess
import threading
import uuid
import warnings
from collections.abc import Coroutine
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from app.store.uow import Database

T = TypeVar("T")


async def _migrate(url: str, schema: str | None = None) -> None:
    db = Database(url, schema=schema)
    try:
        await db.migrate()
    finally:
        await db.dispose()


def migrate(url: str, schema: str | None = None) -> None:
    """The real thing: every Alembic migration, as ``tenure migrate`` runs them."""
    asyncio.run(_migrate(url, schema))


async def _execute(url: str, statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        # No arguments: the simple query protocol, so a whole script is one round trip
        # and one implicit transaction.
        await connection.execute(statement)
    finally:
        await connection.close()


def execute(url: str, statement: str) -> None:
    asyncio.run(_execute(url, statement))


def new_schema() -> str:
    return f"t_{uuid.uuid4().hex[:16]}"


class SqliteTemplate:
    """One migrated SQLite file; a test's database is a byte copy of it."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "template.db"
        migrate(f"sqlite:///{self.path}")
        # Fold the write-ahead log into the file, so the file alone is the database; a
        # log left behind anyway (another process holding it open) is copied with it.
        connection = sqlite3.connect(self.path)
        try:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            connection.close()

    def copy_to(self, target: Path) -> None:
        shutil.copyfile(self.path, target)
        wal = self.path.with_name(self.path.name + "-wal")
        if wal.exists() and wal.stat().st_size:
            # Never the -shm index: SQLite rebuilds it from the log.
            shutil.copyfile(wal, target.with_name(target.name + "-wal"))


class PostgresTemplate:
    """A migrated schema, dumped once (schema and rows) and replayed per test.

    The template schema lives only as long as pg_dump needs it; what is kept is the
    script. Without a usable pg_dump (absent, older than the server) each test's schema is
    migrated instead: slower, never different.

    A worker thread builds the next test's schema while the current test runs, and drops
    a finished test's schema after it: PostgreSQL does that work on the other core instead
    of the test waiting for it. Each schema still serves exactly one test.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._parts: list[str] | None = None
        # Random, so that replacing it in the dump can only touch schema names.
        name = f"tenure_template_{uuid.uuid4().hex[:12]}"
        execute(url, f'CREATE SCHEMA "{name}"')
        try:
            migrate(url, name)
            script = self._dump(name)
        finally:
            execute(url, f'DROP SCHEMA "{name}" CASCADE')
        if script is not None:
            self._parts = script.split(name)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="postgres-template", daemon=True
        )
        self._thread.start()
        self._turn = asyncio.Lock()  # one connection: one statement at a time
        self._connection: Any = self._submit(self._connect()).result()
        self._next = self._submit(self._create(new_schema()))
        self._dropping: list[Future[None]] = []

    def _dump(self, schema: str) -> str | None:
        pg_dump = shutil.which("pg_dump")
        if pg_dump is None:
            warnings.warn(
                "pg_dump not found: every PostgreSQL test migrates its own schema", stacklevel=1
            )
            return None
        done = subprocess.run(
            [
                pg_dump,
                "--no-owner",
                "--no-privileges",
                "--no-comments",
                "--inserts",  # rows a migration seeds (alembic_version) as plain SQL
                f"--schema={schema}",
                f"--dbname={self.url}",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            warnings.warn(
                f"pg_dump failed ({done.stderr.strip()}): every PostgreSQL test migrates its "
                "own schema",
                stacklevel=1,
            )
            return None
        # psql meta-commands (\restrict in newer releases) are not SQL; comments are noise.
        lines = [
            line
            for line in done.stdout.splitlines()
            if not line.startswith(("\\", "--")) and line.strip()
        ]
        return "\n".join(lines)

    def _submit(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    async def _connect(self) -> Any:
        import asyncpg

        return await asyncpg.connect(self.url)

    async def _create(self, schema: str) -> str:
        async with self._turn:
            if self._parts is None:
                await self._connection.execute(f'CREATE SCHEMA "{schema}"')
                await _migrate(self.url, schema)
            else:
                # No arguments: the simple query protocol, so the script is one round trip
                # and one implicit transaction.
                await self._connection.execute(schema.join(self._parts))
        return schema

    async def _drop(self, schema: str) -> None:
        async with self._turn:
            await self._connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    def take(self) -> str:
        """A migrated schema for one test alone; building the next one starts now."""
        schema = self._next.result()
        self._next = self._submit(self._create(new_schema()))
        return schema

    def release(self, schema: str) -> None:
        """Drop a finished test's schema, without waiting (``close`` waits)."""
        for dropped in [f for f in self._dropping if f.done()]:
            dropped.result()  # a drop that failed fails the test after, not silently
        self._dropping = [f for f in self._dropping if not f.done()]
        self._dropping.append(self._submit(self._drop(schema)))

    def clone(self, schema: str) -> None:
        """Create ``schema`` as the migrated one, now."""
        self._submit(self._create(schema)).result()

    def close(self) -> None:
        try:
            with contextlib.suppress(Exception):  # a failed build already failed its test
                self.release(self._next.result())
            for dropping in self._dropping:
                dropping.result()
            self._submit(self._connection.close()).result()
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()
