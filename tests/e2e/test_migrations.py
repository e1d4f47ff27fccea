"""Alembic migrations build exactly the schema app/store/tables.py describes."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from app.config import Settings
from app.store.migrate import upgrade
from app.store.tables import metadata, resources, tenants
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


def test_identities_registered_before_attestation_deadlines_get_them(
    empty_settings: Settings,
) -> None:
    """0007 fills ``attestBy`` and ``attestationSuspendAt`` in from the tenant's settings, so
    an identity registered earlier is not exempt from attestation."""
    gov = "urn:tenure:params:scim:schemas:extension:nhi:1.0:Governance"
    created = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    old_doc = {
        "name": "old-bot",
        gov: {"lifecycleState": "active", "expiresAt": "2027-01-01T00:00:00Z"},
    }

    async def run() -> tuple[dict[str, Any], dt.datetime, dt.datetime]:
        db = Database(empty_settings.database_url, schema=empty_settings.database_schema)
        try:
            await upgrade(db.engine, "0006")
            async with db.engine.begin() as connection:
                await connection.execute(
                    tenants.insert().values(
                        id="t1", name="acme", created=created, settings={"attestation_days": 30}
                    )
                )
                await connection.execute(
                    resources.insert().values(
                        id="r1", tenant_id="t1", resource_type="Agent", name_norm="old-bot",
                        version=1, created=created, last_modified=created, doc=old_doc,
                        lifecycle_state="active", expires_at=dt.datetime(2027, 1, 1, tzinfo=dt.UTC),
                    )
                )  # fmt: skip
            await upgrade(db.engine)
            async with db.engine.connect() as connection:
                row = (
                    await connection.execute(
                        sa.select(resources.c.doc, resources.c.due_at, resources.c.attest_by)
                    )
                ).one()
            return row.doc, row.due_at, row.attest_by
        finally:
            await db.dispose()

    doc, due_at, attest_by = asyncio.run(run())
    assert doc[gov]["attestBy"] == "2026-01-31T00:00:00.000Z"  # registered + 30 days
    assert doc[gov]["attestationSuspendAt"] == "2026-02-07T00:00:00.000Z"  # + 7 days' grace
    assert attest_by == dt.datetime(2026, 1, 31, tzinfo=dt.UTC)
    assert due_at == dt.datetime(2026, 2, 7, tzinfo=dt.UTC)  # before its end: it is suspended
