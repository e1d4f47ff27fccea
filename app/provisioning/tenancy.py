"""Tenants and bearer tokens: onboarding, issuing, revoking, authenticating.

Tokens are random (32 bytes), shown once, kept only as an HMAC-SHA-256 keyed
hash and compared in constant time (app.domain.secrets).
"""

from __future__ import annotations

import datetime as dt
import re
import time
import uuid
from typing import Any

import msgspec

from app.audit.events import admin_event
from app.domain import secrets
from app.domain.actor import TENANT_ROLES, Actor, Restrictions, Role
from app.domain.clock import Clock
from app.domain.limits import MAX_TOKEN_TEXT
from app.domain.providers import PROFILES
from app.domain.tenancy import Tenant, TenantSettings, Token, valid_address
from app.provisioning import mapping
from app.scim.codec import format_datetime
from app.scim.errors import InvalidValue, NotFound
from app.store.uow import Database

_TENANT_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
DEMO_TENANT = "demo"


class Issued:
    """A token just issued: its record and, this once, its plaintext."""

    __slots__ = ("plaintext", "token")

    def __init__(self, token: Token, plaintext: str) -> None:
        self.token = token
        self.plaintext = plaintext

    def __repr__(self) -> str:
        return f"Issued(token_id={self.token.id!r})"


class Tenancy:
    def __init__(
        self,
        db: Database,
        secret_key: bytes,
        clock: Clock,
        touch_every: int = 60,
        cache_seconds: float = 5.0,
    ) -> None:
        self._db = db
        self._key = secret_key
        self._clock = clock
        self._touch_every = dt.timedelta(seconds=touch_every)
        # Token rows by id for a few seconds: a busy client does not cost a read per
        # request. A revocation here drops the entry at once; on other replicas it
        # takes effect within cache_seconds. Expiry is checked on every request.
        self._cache: dict[str, tuple[float, Token]] = {}
        self._cache_seconds = cache_seconds

    async def create_tenant(self, name: str) -> Tenant:
        tenant = self._new_tenant(name)
        async with self._db.uow(write=True) as uow:
            await uow.tenants.add(tenant)
            await uow.commit()
        return tenant

    def _new_tenant(self, name: str) -> Tenant:
        if not _TENANT_NAME.match(name):
            raise InvalidValue(
                "a tenant name is 1-63 lower-case letters, digits, '.', '_' or '-',"
                " starting with a letter or digit"
            )
        return Tenant(id=str(uuid.uuid4()), name=name, created=self._clock.now())

    async def onboard(
        self,
        name: str,
        provider: str,
        *,
        platform: bool = True,
        admin: bool = True,
        actor: Actor | None = None,
    ) -> tuple[Tenant, dict[str, Issued]]:
        """A customer in one step: the tenant, its provider profile, the identity provider's
        token and (unless declined) an agent platform's and the tenant admin's — all or
        nothing. Keyed ``identityProvider``, ``platform``, ``admin``."""
        profile = PROFILES.get(provider.strip().lower())
        if profile is None:
            raise InvalidValue(
                f"unknown identity provider {provider!r}; one of {', '.join(PROFILES)}"
            )
        tenant = self._new_tenant(name)
        settings = TenantSettings(
            identity_provider=None if profile.name == "generic" else profile.name
        )
        tenant = msgspec.structs.replace(tenant, settings=settings)
        issued = {
            "identityProvider": self._minted(
                tenant.id, frozenset({Role.IDP}), f"{profile.title} (SCIM)"
            )
        }
        if platform:
            issued["platform"] = self._minted(
                tenant.id, frozenset({Role.PLATFORM}), "agent platform"
            )
        if admin:
            issued["admin"] = self._minted(tenant.id, frozenset({Role.ADMIN}), "tenant admin")
        async with self._db.uow(write=True) as uow:
            await uow.tenants.add(tenant)
            await uow.tenants.set_settings(tenant.id, settings)
            for each in issued.values():
                await uow.tokens.add(each.token)
            if actor is not None:
                await uow.audit.append(
                    admin_event(
                        actor, tenant.id, action="tenant.onboard", resource_type="Tenant",
                        resource_id=tenant.id, name=tenant.name, before={},
                        after={"identityProvider": profile.name,
                               "tokens": sorted(i.token.id for i in issued.values())},
                        at=self._clock.now(),
                    )
                )  # fmt: skip
            await uow.commit()
        return tenant, issued

    async def settings(self, tenant_id: str) -> TenantSettings:
        return (await self.tenant(tenant_id)).settings

    async def set_settings(
        self, tenant_id: str, settings: TenantSettings, *, actor: Actor | None = None
    ) -> TenantSettings:
        """Replace a tenant's governance defaults (unset values: the server's); audited."""
        for name, value in msgspec.structs.asdict(settings).items():
            if isinstance(value, bool) or not isinstance(value, int):
                continue
            # Days up to ten years; grace periods in hours, and 0 means none.
            low, limit = (0, 87_840) if name.endswith("_hours") else (1, 3660)
            limit = 10 if name == "delegation_max_depth" else limit
            limit = 100 if name.endswith("_percent") else limit
            # An audit trail kept less than 30 days serves no auditor.
            low = 30 if name == "audit_retention_days" else low
            if value is not None and not low <= value <= limit:
                raise InvalidValue(f"{name} must be between {low} and {limit}")
        _check_leads_and_addresses(settings)
        if settings.identity_provider is not None and settings.identity_provider not in PROFILES:
            raise InvalidValue(
                f"identityProvider must be one of {', '.join(PROFILES)}, "
                f"not {settings.identity_provider!r}"
            )
        if settings.agent_users is not None:
            mapping.check(settings.agent_users)
        async with self._db.uow(write=True) as uow:
            tenant = await uow.tenants.get(tenant_id, lock=True)
            if tenant is None:
                raise NotFound(f"no tenant {tenant_id!r}")
            await uow.tenants.set_settings(tenant_id, settings)
            if actor is not None:
                await uow.audit.append(
                    admin_event(
                        actor, tenant_id, action="settings.update", resource_type="Tenant",
                        resource_id=tenant_id, name=tenant.name,
                        before=msgspec.to_builtins(tenant.settings),
                        after=msgspec.to_builtins(settings), at=self._clock.now(),
                    )
                )  # fmt: skip
            await uow.commit()
        return settings

    async def tenants(self) -> list[Tenant]:
        async with self._db.uow() as uow:
            return await uow.tenants.all()

    async def tenant(self, id_or_name: str) -> Tenant:
        async with self._db.uow() as uow:
            found = await uow.tenants.by_name(id_or_name) or await uow.tenants.get(id_or_name)
        if found is None:
            raise NotFound(f"no tenant {id_or_name!r}")
        return found

    async def issue_token(
        self,
        tenant_id: str | None,
        roles: frozenset[Role],
        name: str,
        expires_in: dt.timedelta | None = None,
        *,
        owner_id: str | None = None,
        purpose: str | None = None,
        restrictions: Restrictions | None = None,
        actor: Actor | None = None,
    ) -> Issued:
        """Issue a token for a tenant (``None`` with the operator role: an operator token);
        audited in the tenant's trail, never its secret."""
        issued = self._minted(
            tenant_id, roles, name, expires_in, owner_id=owner_id, purpose=purpose,
            restrictions=restrictions,
        )  # fmt: skip
        token = issued.token
        async with self._db.uow(write=True) as uow:
            if tenant_id is not None and await uow.tenants.get(tenant_id) is None:
                raise NotFound(f"no tenant {tenant_id!r}")
            if owner_id is not None and (
                tenant_id is None
                or not await uow.of(tenant_id).memberships.find_members(
                    [owner_id], ("User", "Group")
                )
            ):
                raise InvalidValue(f"owner {owner_id!r} is not a User or Group of this tenant")
            agent_id = token.restrictions.agent_id
            if agent_id is not None and (
                tenant_id is None
                or not await uow.of(tenant_id).memberships.find_members([agent_id], ("Agent",))
            ):
                raise InvalidValue(f"agent {agent_id!r} is not an Agent of this tenant")
            await uow.tokens.add(token)
            if actor is not None and tenant_id is not None:
                await uow.audit.append(
                    admin_event(
                        actor, tenant_id, action="token.issue", resource_type="Token",
                        resource_id=token.id, name=token.name, before={},
                        after=_token_facts(token), at=self._clock.now(),
                    )
                )  # fmt: skip
            await uow.commit()
        return issued

    def _minted(
        self,
        tenant_id: str | None,
        roles: frozenset[Role],
        name: str,
        expires_in: dt.timedelta | None = None,
        *,
        owner_id: str | None = None,
        purpose: str | None = None,
        restrictions: Restrictions | None = None,
    ) -> Issued:
        """A new token and its plaintext (shown once), not yet stored."""
        name = name.strip()
        if not name or len(name) > 200:
            raise InvalidValue("a token needs a name (label) of 1-200 characters")
        reach = restrictions or Restrictions()
        for label, text in (
            ("purpose", (purpose or "").strip()),
            ("environments", ",".join(sorted(reach.environments))),
        ):
            if len(text) > MAX_TOKEN_TEXT:  # the column's width (app.domain.limits)
                raise InvalidValue(f"a token's {label} is at most {MAX_TOKEN_TEXT} characters")
        if (tenant_id is None) != (roles == {Role.OPERATOR}):
            raise InvalidValue(
                "operator tokens belong to no tenant; tenant tokens take roles "
                + ", ".join(sorted(TENANT_ROLES))
            )
        now = self._clock.now()
        minted = secrets.mint()
        token = Token(
            id=minted.token_id,
            tenant_id=tenant_id,
            name=name,
            roles=roles,
            secret_hash=secrets.keyed_hash(self._key, minted.plaintext),
            created=now,
            expires_at=now + expires_in if expires_in else None,
            owner_id=owner_id,
            purpose=purpose.strip() if purpose else None,
            restrictions=restrictions or Restrictions(),
        )
        return Issued(token, minted.plaintext)

    async def tokens(self, tenant_id: str | None) -> list[Token]:
        async with self._db.uow() as uow:
            return await uow.tokens.of_tenant(tenant_id)

    async def revoke_token(
        self, tenant_id: str | None, token_id: str, *, actor: Actor | None = None
    ) -> None:
        async with self._db.uow(write=True) as uow:
            if not await uow.tokens.revoke(tenant_id, token_id, self._clock.now()):
                raise NotFound(f"no token {token_id!r}")
            if actor is not None and tenant_id is not None:
                await uow.audit.append(
                    admin_event(
                        actor, tenant_id, action="token.revoke", resource_type="Token",
                        resource_id=token_id, name=None, before={"revoked": False},
                        after={"revoked": True}, at=self._clock.now(),
                    )
                )  # fmt: skip
            await uow.commit()
        self._cache.pop(token_id, None)

    async def _token(self, token_id: str) -> Token | None:
        cached = self._cache.get(token_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        async with self._db.uow(snapshot=False) as uow:
            token = await uow.tokens.get(token_id)
        if token is not None and self._cache_seconds > 0:
            if len(self._cache) > 10_000:  # bounded: forget everything rather than grow
                self._cache.clear()
            self._cache[token_id] = (time.monotonic() + self._cache_seconds, token)
        return token

    async def authenticate(self, plaintext: str) -> Actor | None:
        """The Actor a bearer token stands for, or None (unknown, wrong, revoked or expired)."""
        token_id = secrets.token_id_of(plaintext)
        now = self._clock.now()
        token = await self._token(token_id) if token_id else None
        # Hash and compare even when nothing was found: a miss takes as long as a hit.
        if not secrets.matches(self._key, plaintext, token.secret_hash if token else None):
            return None
        if token is None or not token.usable_at(now):
            return None
        if token.last_used_at is None or token.last_used_at < now - self._touch_every:
            async with self._db.uow(write=True) as uow:
                await uow.tokens.touch(token.id, now, self._touch_every)
                await uow.commit()
            self._cache.pop(token.id, None)
        return actor_of(token)

    async def actor(self, tenant_id: str, token_id: str) -> Actor:
        """The Actor a token of ``tenant_id`` stands for (a dry run as that client)."""
        token = next((t for t in await self.tokens(tenant_id) if t.id == token_id), None)
        if token is None:
            raise NotFound(f"no token {token_id!r} in this tenant")
        return actor_of(token)

    async def ensure_demo(self) -> tuple[Tenant, Issued] | None:
        """On a database with no tenant, create ``demo`` and one admin token; else None."""
        if await self.tenants():
            return None
        tenant = await self.create_tenant(DEMO_TENANT)
        issued = await self.issue_token(tenant.id, frozenset({Role.ADMIN}), "demo admin")
        return tenant, issued


def actor_of(token: Token) -> Actor:
    return Actor(
        token_id=token.id,
        name=token.name,
        roles=token.roles,
        tenant_id=token.tenant_id,
        owner_id=token.owner_id,
        purpose=token.purpose,
        restrictions=token.restrictions,
    )


def _check_leads_and_addresses(settings: TenantSettings) -> None:
    """Warning leads are whole days ahead (1 to 365, a few); alert addresses look like ones."""
    leads = settings.warning_days
    if leads is not None and (len(leads) > 10 or any(not 1 <= d <= 365 for d in leads)):
        raise InvalidValue("warningDays must be up to 10 whole days between 1 and 365")
    addresses = settings.alert_emails or ()
    if len(addresses) > 20 or any(not valid_address(a) for a in addresses):
        raise InvalidValue("alertEmails must be up to 20 e-mail addresses")


def _token_facts(token: Token) -> dict[str, Any]:
    """What the audit log keeps of a new token: its standing, not its secret."""
    limits = token.restrictions
    return {
        "roles": sorted(token.roles),
        "expiresAt": format_datetime(token.expires_at) if token.expires_at else None,
        "owner": token.owner_id,
        "purpose": token.purpose,
        "kinds": sorted(limits.kinds) or None,
        "environments": sorted(limits.environments) or None,
        "agent": limits.agent_id,
    }
