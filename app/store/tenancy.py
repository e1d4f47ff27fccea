"""Tenants and tokens."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.actor import Restrictions, parse_names, parse_roles
from app.domain.tenancy import SmtpServer, Tenant, TenantPolicy, TenantSettings, Token
from app.scim.errors import Uniqueness
from app.store.tables import tenants, tokens

# Built once: constructing a statement and its cache key cost twice what running it
# does on SQLite (scripts/bench/http.py profiles), and every change reads its tenant.
_TENANT = tenants.select().where(tenants.c.id == sa.bindparam("tenant_id"))
_TENANT_LOCKED = _TENANT.with_for_update()


class TenantRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection
        # Read once per transaction: a mutation asks for its tenant's settings and
        # policies at several steps, and nothing in one mutation changes them.
        self._seen: dict[str, Tenant | None] = {}

    async def add(self, tenant: Tenant) -> None:
        try:
            async with self._c.begin_nested():
                await self._c.execute(
                    tenants.insert().values(id=tenant.id, name=tenant.name, created=tenant.created)
                )
        except IntegrityError:
            raise Uniqueness(f"a tenant named {tenant.name!r} already exists") from None

    async def get(self, tenant_id: str, *, lock: bool = False) -> Tenant | None:
        if not lock and tenant_id in self._seen:
            return self._seen[tenant_id]
        query = _TENANT_LOCKED if lock else _TENANT
        row = (await self._c.execute(query, {"tenant_id": tenant_id})).first()
        found = _tenant(row) if row else None
        self._seen[tenant_id] = found
        return found

    async def set_settings(self, tenant_id: str, settings: TenantSettings) -> None:
        self._seen.pop(tenant_id, None)
        await self._c.execute(
            tenants.update()
            .where(tenants.c.id == tenant_id)
            .values(settings=msgspec.to_builtins(settings) or None)
        )

    async def set_policies(self, tenant_id: str, policies: tuple[TenantPolicy, ...]) -> None:
        self._seen.pop(tenant_id, None)
        await self._c.execute(
            tenants.update()
            .where(tenants.c.id == tenant_id)
            .values(policies=msgspec.to_builtins(policies) or None)
        )

    async def set_webhook(self, tenant_id: str, url: str | None, secret: str | None) -> None:
        self._seen.pop(tenant_id, None)
        await self._c.execute(
            tenants.update()
            .where(tenants.c.id == tenant_id)
            .values(webhook_url=url, webhook_secret=secret)
        )

    async def set_smtp(self, tenant_id: str, smtp: SmtpServer | None) -> None:
        self._seen.pop(tenant_id, None)
        await self._c.execute(
            tenants.update()
            .where(tenants.c.id == tenant_id)
            .values(smtp=msgspec.to_builtins(smtp) if smtp else None)
        )

    async def by_name(self, name: str) -> Tenant | None:
        row = (await self._c.execute(tenants.select().where(tenants.c.name == name))).first()
        return _tenant(row) if row else None

    async def all(self) -> list[Tenant]:
        rows = await self._c.execute(tenants.select().order_by(tenants.c.created, tenants.c.name))
        return [_tenant(row) for row in rows]


def _tenant(row: Any) -> Tenant:
    values = dict(row._mapping)
    values["settings"] = msgspec.convert(values.get("settings") or {}, TenantSettings)
    values["policies"] = msgspec.convert(values.get("policies") or [], tuple[TenantPolicy, ...])
    values["smtp"] = msgspec.convert(values["smtp"], SmtpServer) if values.get("smtp") else None
    return Tenant(**values)


def _token(row: Any) -> Token:
    values = dict(row._mapping)
    values["roles"] = parse_roles(values["roles"])
    values["restrictions"] = Restrictions(
        kinds=parse_names(values.pop("kinds")),
        environments=parse_names(values.pop("environments")),
        agent_id=values.pop("agent_id"),
    )
    return Token(**values)


class TokenRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def add(self, token: Token) -> None:
        await self._c.execute(
            tokens.insert().values(
                id=token.id,
                tenant_id=token.tenant_id,
                name=token.name,
                roles=",".join(sorted(token.roles)),
                secret_hash=token.secret_hash,
                created=token.created,
                expires_at=token.expires_at,
                owner_id=token.owner_id,
                purpose=token.purpose,
                kinds=",".join(sorted(token.restrictions.kinds)) or None,
                environments=",".join(sorted(token.restrictions.environments)) or None,
                agent_id=token.restrictions.agent_id,
            )
        )

    async def get(self, token_id: str) -> Token | None:
        row = (await self._c.execute(tokens.select().where(tokens.c.id == token_id))).first()
        return _token(row) if row else None

    async def of_tenant(self, tenant_id: str | None) -> list[Token]:
        where = (
            tokens.c.tenant_id.is_(None) if tenant_id is None else tokens.c.tenant_id == tenant_id
        )
        rows = await self._c.execute(tokens.select().where(where).order_by(tokens.c.created))
        return [_token(row) for row in rows]

    async def revoke(self, tenant_id: str | None, token_id: str, now: dt.datetime) -> bool:
        """Revoke a token of ``tenant_id``; False if none. Revoking twice keeps the first time."""
        where = (
            tokens.c.tenant_id.is_(None) if tenant_id is None else tokens.c.tenant_id == tenant_id
        )
        result = await self._c.execute(
            tokens.update()
            .where(tokens.c.id == token_id, where)
            .values(revoked_at=sa.func.coalesce(tokens.c.revoked_at, now))
        )
        return result.rowcount == 1

    async def touch(self, token_id: str, now: dt.datetime, every: dt.timedelta) -> None:
        """Record use, at most once per ``every``, so busy tokens do not write on each request."""
        await self._c.execute(
            tokens.update()
            .where(
                tokens.c.id == token_id,
                sa.or_(tokens.c.last_used_at.is_(None), tokens.c.last_used_at < now - every),
            )
            .values(last_used_at=now)
        )
