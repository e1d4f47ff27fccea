"""A test's copied database (tests/_database.py) is the one the migrations build.

Most tests run on a copy of a database the session migrated once; this compares such a
copy with one migrated from nothing, everything a migration can leave behind: tables,
columns and their defaults, indexes, constraints, sequences, views, triggers, functions,
rows (the Alembic version among them). A new migration that the copy missed fails here.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from app.config import Settings
from app.store.migrate import head_revision
from tests import _database

Structure = dict[str, Any]


def _sqlite_structure(path: str) -> Structure:
    connection = sqlite3.connect(path)
    try:
        catalog = connection.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
        ).fetchall()
        tables = [name for kind, name, _, _ in catalog if kind == "table"]
        return {
            "catalog": catalog,
            "pragmas": {
                pragma: connection.execute(f"PRAGMA {pragma}").fetchall()
                for pragma in ("journal_mode", "user_version", "application_id", "encoding")
            },
            "rows": {
                t: sorted(connection.execute(f'SELECT * FROM "{t}"').fetchall()) for t in tables
            },
        }
    finally:
        connection.close()


# Each catalog query runs with the schema as search_path; names the server qualifies
# with the schema are unqualified before comparing.
_PG_CATALOG = {
    "relations": "SELECT relname, relkind::text, relpersistence::text FROM pg_class "
    "WHERE relnamespace = current_schema()::regnamespace",
    "columns": "SELECT table_name, column_name, ordinal_position, data_type, udt_name, "
    "character_maximum_length, numeric_precision, is_nullable, column_default, is_identity, "
    "is_generated, collation_name FROM information_schema.columns "
    "WHERE table_schema = current_schema()",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes "
    "WHERE schemaname = current_schema()",
    "constraints": "SELECT conrelid::regclass::text, conname, contype::text, "
    "pg_get_constraintdef(oid) FROM pg_constraint "
    "WHERE connamespace = current_schema()::regnamespace",
    "sequences": "SELECT sequence_name, data_type, start_value, minimum_value, maximum_value, "
    "increment, cycle_option FROM information_schema.sequences "
    "WHERE sequence_schema = current_schema()",
    "views": "SELECT table_name, view_definition FROM information_schema.views "
    "WHERE table_schema = current_schema()",
    "triggers": "SELECT event_object_table, trigger_name, action_timing, event_manipulation, "
    "action_statement FROM information_schema.triggers "
    "WHERE trigger_schema = current_schema()",
    "functions": "SELECT proname, pg_get_functiondef(oid) FROM pg_proc "
    "WHERE pronamespace = current_schema()::regnamespace AND prokind IN ('f', 'p')",
}


async def _postgres_structure(url: str, schema: str) -> Structure:
    connection = await asyncpg.connect(url, server_settings={"search_path": schema})
    try:
        structure: Structure = {}
        for name, query in _PG_CATALOG.items():
            rows = await connection.fetch(query)
            structure[name] = sorted(
                tuple(str(v).replace(f"{schema}.", "") if v is not None else None for v in r)
                for r in rows
            )
        tables = [r[0] for r in structure["relations"] if r[1] in ("r", "p")]
        structure["rows"] = {
            t: sorted(tuple(r) for r in await connection.fetch(f'SELECT * FROM "{t}"'))
            for t in tables
        }
        return structure
    finally:
        await connection.close()


def _structure(settings: Settings) -> Structure:
    if settings.database_schema is None:
        return _sqlite_structure(settings.database_url.removeprefix("sqlite:///"))
    return asyncio.run(_postgres_structure(settings.database_url, settings.database_schema))


def _migrated(backend: str, tmp_path: Path, settings: Settings) -> Structure:
    """The structure of a database migrated from nothing, by the real migrations."""
    if backend == "sqlite":
        path = tmp_path / "migrated.db"
        _database.migrate(f"sqlite:///{path}")
        return _sqlite_structure(str(path))
    schema = _database.new_schema()
    _database.execute(settings.database_url, f'CREATE SCHEMA "{schema}"')
    try:
        _database.migrate(settings.database_url, schema)
        return asyncio.run(_postgres_structure(settings.database_url, schema))
    finally:
        _database.execute(settings.database_url, f'DROP SCHEMA "{schema}" CASCADE')


def test_a_copied_database_is_a_migrated_one(
    backend: str, settings: Settings, tmp_path: Path
) -> None:
    copied = _structure(settings)
    assert copied == _migrated(backend, tmp_path, settings)
    # Not two equally empty answers: the copy is at the newest migration, with its tables.
    assert copied["rows"]["alembic_version"] == [(head_revision(),)]
    assert {"resources", "tenants", "tokens", "audit_events"} <= set(copied["rows"])


def test_what_a_test_writes_stays_in_its_own_copy(
    backend: str, settings: Settings, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The template is copied, never shared: a write to one copy is in no later one."""
    write = "INSERT INTO alembic_version (version_num) VALUES ('written-by-a-test')"
    if backend == "sqlite":
        path = settings.database_url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as connection:
            connection.execute(write)
        connection.close()
        request.getfixturevalue("sqlite_template").copy_to(tmp_path / "second.db")
        second = _sqlite_structure(str(tmp_path / "second.db"))
    else:
        assert settings.database_schema is not None
        _database.execute(
            settings.database_url, f'SET search_path = "{settings.database_schema}"; {write}'
        )
        schema = _database.new_schema()
        try:
            request.getfixturevalue("postgres_template").clone(schema)
            second = asyncio.run(_postgres_structure(settings.database_url, schema))
        finally:
            _database.execute(settings.database_url, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    assert sorted(_structure(settings)["rows"]["alembic_version"]) == sorted(
        [(head_revision(),), ("written-by-a-test",)]
    )
    assert second["rows"]["alembic_version"] == [(head_revision(),)]
