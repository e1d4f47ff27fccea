"""Alembic migrations build exactly the schema app/store/tables.py describes."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from app.config import Settings
from app.store.tables import metadata
from app.store.uow import Database


def test_migrations_match_the_tables(empty_settings: Settings) -> None:
    async def diff() -> list[object]:
        db = Database(empty_settings.database_url, schema=empty_settings.database_schema)
        try:
            await db.migrate()
            await db.migrate()  # idempotent
            async with db.engine.connect() as connection:
                return await connection.run_sync(
                    lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
                )
        finally:
            await db.dispose()

    assert asyncio.run(diff()) == []
