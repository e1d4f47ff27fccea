"""The outbox: messages planned with their cause, claimed and settled by deliverers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.notifications import Delivery, Message, Queued
from app.domain.tenancy import SmtpServer
from app.store.tables import outbox, sweep_marks, tenants


class OutboxRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def plan(self, messages: Sequence[Message], held: Sequence[Message] = ()) -> int:
        """Add what is not there yet (by de-duplication key); how many were new. ``held``:
        for a channel the tenant has not configured yet, kept until it is (``release``)."""
        if not messages and not held:
            return 0
        rows = [
            {
                **msgspec.structs.asdict(m),
                "state": state,
                "attempts": 0,
                "next_attempt_at": m.created,
            }
            for state, batch in (("pending", messages), ("held", held))
            for m in batch
        ]
        dialect = self._c.dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            statement = pg_insert(outbox).on_conflict_do_nothing()
        else:
            from sqlalchemy.dialects.sqlite import insert as lite_insert

            statement = lite_insert(outbox).on_conflict_do_nothing()
        # RETURNING counts exactly: asyncpg reports no row count for a batch.
        result = await self._c.execute(statement.returning(outbox.c.id), rows)
        return len(result.all())

    async def claim(self, now: dt.datetime, lease_until: dt.datetime, limit: int) -> list[Delivery]:
        """Pending messages due by ``now``, leased (``FOR UPDATE SKIP LOCKED`` on PostgreSQL)."""
        picked = (
            sa.select(outbox.c.id)
            .where(
                outbox.c.state == "pending",
                outbox.c.next_attempt_at <= now,
                sa.or_(outbox.c.lease.is_(None), outbox.c.lease < now),
            )
            .order_by(outbox.c.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        claimed = await self._c.execute(
            outbox.update()
            .where(outbox.c.id.in_(picked.scalar_subquery()))
            .values(lease=lease_until)
            .returning(outbox.c.id)
        )
        ids = [row[0] for row in claimed]
        if not ids:
            return []
        rows = await self._c.execute(
            sa.select(
                outbox.c.id,
                outbox.c.tenant_id,
                outbox.c.kind,
                outbox.c.channel,
                outbox.c.message_id,
                outbox.c.payload,
                outbox.c.attempts,
                outbox.c.created,
                tenants.c.webhook_url,
                tenants.c.webhook_secret,
                tenants.c.smtp,
            )
            .select_from(outbox.outerjoin(tenants, tenants.c.id == outbox.c.tenant_id))
            .where(outbox.c.id.in_(ids))
            .order_by(outbox.c.next_attempt_at)
        )
        return [_delivery(row._mapping) for row in rows]

    async def settle(
        self,
        message_id: int,
        *,
        state: str,
        attempts: int,
        now: dt.datetime,
        next_attempt_at: dt.datetime | None = None,
        error: str | None = None,
    ) -> None:
        """Record an attempt: ``sent``, ``dead``, or ``pending`` again at ``next_attempt_at``."""
        await self._c.execute(
            outbox.update()
            .where(outbox.c.id == message_id)
            .values(
                state=state,
                attempts=attempts,
                lease=None,
                last_error=error,
                sent_at=now if state == "sent" else None,
                next_attempt_at=next_attempt_at or now,
            )
        )

    async def of_tenant(self, tenant_id: str, state: str | None, limit: int) -> list[Queued]:
        query = sa.select(
            outbox.c.id, outbox.c.kind, outbox.c.state, outbox.c.attempts, outbox.c.message_id,
            outbox.c.next_attempt_at, outbox.c.last_error, outbox.c.created, outbox.c.sent_at,
            outbox.c.payload,
        ).where(outbox.c.tenant_id == tenant_id)  # fmt: skip
        if state is not None:
            query = query.where(outbox.c.state == state)
        rows = await self._c.execute(query.order_by(outbox.c.id.desc()).limit(limit))
        return [Queued(**row._mapping) for row in rows]

    async def release(self, tenant_id: str | None, channel: str, now: dt.datetime) -> int:
        """Held messages of ``channel`` (a tenant's, or every tenant's) to be sent now."""
        result = await self._c.execute(
            outbox.update()
            .where(
                outbox.c.state == "held",
                outbox.c.channel == channel,
                *([outbox.c.tenant_id == tenant_id] if tenant_id is not None else []),
            )
            .values(state="pending", next_attempt_at=now)
        )
        return int(result.rowcount or 0)

    async def requeue(self, tenant_id: str, message_id: int, now: dt.datetime) -> bool:
        """A dead message back to pending, to be tried again at once; False if none."""
        result = await self._c.execute(
            outbox.update()
            .where(
                outbox.c.tenant_id == tenant_id,
                outbox.c.id == message_id,
                outbox.c.state == "dead",
            )
            .values(state="pending", attempts=0, next_attempt_at=now, lease=None)
        )
        return result.rowcount == 1

    async def mark(self, name: str) -> dt.datetime | None:
        row = await self._c.execute(sa.select(sweep_marks.c.at).where(sweep_marks.c.name == name))
        return row.scalar()  # type: ignore[no-any-return]

    async def set_mark(self, name: str, at: dt.datetime) -> None:
        updated = await self._c.execute(
            sweep_marks.update().where(sweep_marks.c.name == name).values(at=at)
        )
        if updated.rowcount == 0:
            await self._c.execute(sweep_marks.insert().values(name=name, at=at))


def _delivery(row: Any) -> Delivery:
    smtp = row["smtp"]
    values = {k: row[k] for k in Delivery.__struct_fields__ if k != "smtp"}
    return Delivery(**values, smtp=msgspec.convert(smtp, SmtpServer) if smtp else None)
