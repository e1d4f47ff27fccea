"""Tenant administration over HTTP: tokens for a tenant's admin, tenants for operators.

Issued tokens are in the response once; lists never carry secrets or hashes.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath

from app.api.auth import require, tenant_of
from app.api.media import json_response, read_json, read_struct
from app.api.services import services
from app.domain.actor import Actor, Permission, Restrictions, Role, parse_roles
from app.domain.durations import parse_duration
from app.domain.tenancy import AgentUsers, Tenant, TenantSettings, Token
from app.provisioning.tenancy import Issued
from app.scim.codec import format_datetime
from app.scim.errors import Forbidden, InvalidValue

AnyRequest = Request[Any, Any, Any]


class TokenRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: str
    roles: list[str] | str
    expiresIn: str | None = None
    owner: str | None = None  # User or Group id accountable for what the token registers
    purpose: str | None = None
    kinds: list[str] | str | None = None  # NHI kinds it may manage (default: any)
    environments: list[str] | str | None = None  # environments it may manage (default: any)
    agent: str | None = None  # the Agent this token is the credential of


class TenantRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: str


def _time(value: Any) -> str | None:
    return format_datetime(value) if value is not None else None


def token_view(token: Token) -> dict[str, Any]:
    return {
        "id": token.id,
        "tenantId": token.tenant_id,
        "name": token.name,
        "roles": sorted(token.roles),
        "created": _time(token.created),
        "expiresAt": _time(token.expires_at),
        "revokedAt": _time(token.revoked_at),
        "lastUsedAt": _time(token.last_used_at),
        "owner": token.owner_id,
        "purpose": token.purpose,
        "kinds": sorted(token.restrictions.kinds),
        "environments": sorted(token.restrictions.environments),
        "agent": token.restrictions.agent_id,
    }


def issued_view(issued: Issued) -> dict[str, Any]:
    return {**token_view(issued.token), "token": issued.plaintext}


def tenant_view(tenant: Tenant) -> dict[str, Any]:
    return {"id": tenant.id, "name": tenant.name, "created": _time(tenant.created)}


async def _issue(request: AnyRequest, actor: Actor, tenant_id: str | None) -> Response[bytes]:
    wanted: TokenRequest = await read_struct(request, TokenRequest)
    try:
        roles = parse_roles(wanted.roles)
        expires_in = parse_duration(wanted.expiresIn) if wanted.expiresIn else None
        restrictions = Restrictions.named(wanted.kinds, wanted.environments, wanted.agent)
    except ValueError as exc:
        raise InvalidValue(str(exc)) from None
    if tenant_id is not None and Role.OPERATOR in roles:
        raise Forbidden("operator tokens are issued by operators only")
    issued = await services(request).tenancy.issue_token(
        tenant_id,
        roles,
        wanted.name,
        expires_in,
        owner_id=wanted.owner,
        purpose=wanted.purpose,
        restrictions=restrictions,
        actor=actor,
    )
    return json_response(issued_view(issued), 201)


def _agent_users_view(rule: AgentUsers | None) -> dict[str, Any] | None:
    if rule is None:
        return None
    return {
        "kind": rule.kind,
        "userType": rule.user_type,
        "userNamePattern": rule.user_name_pattern,
        "group": rule.group,
        "owner": rule.owner,
    }


class AgentUsersRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, rename="camel"):
    kind: str = "agent"
    user_type: str | None = None
    user_name_pattern: str | None = None
    group: str | None = None
    owner: str | None = None


class SettingsRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    agentLifetimeDays: int | None = None
    serviceAccountLifetimeDays: int | None = None
    hardCapDays: int | None = None
    delegationMaxDepth: int | None = None
    attestationDays: int | None = None
    teardownGraceHours: int | None = None
    orphanGraceHours: int | None = None
    orphanHandover: bool | None = None
    blastRadiusPercent: int | None = None
    attestationGraceHours: int | None = None
    warningDays: list[int] | None = None
    alertEmails: list[str] | None = None
    auditRetentionDays: int | None = None
    identityProvider: str | None = None
    agentUsers: AgentUsersRequest | None = None
    agentExtension: bool | None = None
    delegationAcrossEnvironments: bool | None = None


def _either(own: int | None, default: int) -> int:
    """Grace periods may be 0, so only an unset value falls back to the server's."""
    return own if own is not None else default


def settings_view(settings: TenantSettings, defaults: Any) -> dict[str, Any]:
    """The tenant's settings, each with the value in force (its own, else the server's)."""
    return {
        "agentLifetimeDays": settings.agent_lifetime_days or defaults.nhi_lifetime_days_agent,
        "serviceAccountLifetimeDays": settings.service_account_lifetime_days
        or defaults.nhi_lifetime_days_service_account,
        "hardCapDays": settings.hard_cap_days or defaults.nhi_hard_cap_days,
        "delegationMaxDepth": settings.delegation_max_depth or defaults.delegation_max_depth,
        "attestationDays": settings.attestation_days or defaults.nhi_attestation_days,
        "teardownGraceHours": _either(
            settings.teardown_grace_hours, defaults.nhi_teardown_grace_hours
        ),
        "orphanGraceHours": _either(settings.orphan_grace_hours, defaults.nhi_orphan_grace_hours),
        "orphanHandover": settings.orphan_handover is not False,
        "blastRadiusPercent": settings.blast_radius_percent or defaults.blast_radius_percent,
        "attestationGraceHours": _either(
            settings.attestation_grace_hours, defaults.nhi_attestation_grace_hours
        ),
        "warningDays": sorted(settings.warning_days or defaults.warning_days, reverse=True),
        "alertEmails": list(settings.alert_emails or ()),
        "auditRetentionDays": settings.audit_retention_days,  # null: kept for ever
        "identityProvider": settings.identity_provider or "generic",
        "agentUsers": _agent_users_view(settings.agent_users),
        "agentExtension": settings.agent_extension is True,
        "delegationAcrossEnvironments": settings.delegation_across_environments is True,
    }


class SettingsAdminController(Controller):
    """``/admin/settings``: a tenant admin's governance defaults (lifetimes, caps, depth)."""

    path = "/admin/settings"

    @get("/")
    async def read(self, request: AnyRequest, actor: NamedDependency[Actor]) -> Response[bytes]:
        require(actor, Permission.MANAGE_TOKENS)
        settings = await services(request).tenancy.settings(tenant_of(actor))
        return json_response(settings_view(settings, services(request).settings))

    @put("/")
    async def replace(self, request: AnyRequest, actor: NamedDependency[Actor]) -> Response[bytes]:
        """Every setting at once; one left out takes the server's default."""
        require(actor, Permission.MANAGE_TOKENS)
        wanted: SettingsRequest = await read_struct(request, SettingsRequest)
        settings = await services(request).tenancy.set_settings(
            tenant_of(actor), _tenant_settings(wanted), actor=actor
        )
        return json_response(settings_view(settings, services(request).settings))

    @patch("/")
    async def merge(self, request: AnyRequest, actor: NamedDependency[Actor]) -> Response[bytes]:
        """Only the settings sent (``null`` returns one to the server's default)."""
        require(actor, Permission.MANAGE_TOKENS)
        tenant = tenant_of(actor)
        current = await services(request).tenancy.settings(tenant)
        merged = {**_request_of(current), **await read_json(request)}
        try:
            wanted = msgspec.convert(merged, SettingsRequest)
        except msgspec.ValidationError as exc:
            raise InvalidValue(str(exc)) from None
        settings = await services(request).tenancy.set_settings(
            tenant, _tenant_settings(wanted), actor=actor
        )
        return json_response(settings_view(settings, services(request).settings))


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(word.title() for word in rest)


def _request_of(settings: TenantSettings) -> dict[str, Any]:
    """A tenant's own settings as the request that would set them (camelCase, lists)."""
    own: dict[str, Any] = {}
    for name, value in msgspec.structs.asdict(settings).items():
        if value is None:
            continue
        if name == "agent_users":
            value = _agent_users_view(value)
        own[_camel(name)] = list(value) if isinstance(value, tuple) else value
    return own


def _tenant_settings(wanted: SettingsRequest) -> TenantSettings:
    return TenantSettings(
        agent_lifetime_days=wanted.agentLifetimeDays,
        service_account_lifetime_days=wanted.serviceAccountLifetimeDays,
        hard_cap_days=wanted.hardCapDays,
        delegation_max_depth=wanted.delegationMaxDepth,
        attestation_days=wanted.attestationDays,
        teardown_grace_hours=wanted.teardownGraceHours,
        orphan_grace_hours=wanted.orphanGraceHours,
        orphan_handover=wanted.orphanHandover,
        blast_radius_percent=wanted.blastRadiusPercent,
        attestation_grace_hours=wanted.attestationGraceHours,
        warning_days=tuple(sorted(set(wanted.warningDays), reverse=True))
        if wanted.warningDays
        else None,
        alert_emails=tuple(wanted.alertEmails) if wanted.alertEmails else None,
        audit_retention_days=wanted.auditRetentionDays,
        identity_provider=wanted.identityProvider,
        agent_users=AgentUsers(**msgspec.structs.asdict(wanted.agentUsers))
        if wanted.agentUsers
        else None,
        agent_extension=wanted.agentExtension,
        delegation_across_environments=wanted.delegationAcrossEnvironments,
    )


class TokenAdminController(Controller):
    """``/admin/tokens``: a tenant admin manages its own tenant's tokens."""

    path = "/admin/tokens"

    @post("/")
    async def issue(self, request: AnyRequest, actor: NamedDependency[Actor]) -> Response[bytes]:
        require(actor, Permission.MANAGE_TOKENS)
        return await _issue(request, actor, tenant_of(actor))

    @get("/")
    async def list_tokens(
        self, request: AnyRequest, actor: NamedDependency[Actor]
    ) -> Response[bytes]:
        require(actor, Permission.MANAGE_TOKENS)
        tokens = await services(request).tenancy.tokens(tenant_of(actor))
        return json_response({"items": [token_view(t) for t in tokens]})

    @delete("/{token_id:str}", status_code=204)
    async def revoke(
        self, request: AnyRequest, actor: NamedDependency[Actor], token_id: FromPath[str]
    ) -> None:
        require(actor, Permission.MANAGE_TOKENS)
        await services(request).tenancy.revoke_token(tenant_of(actor), token_id, actor=actor)


class TenantAdminController(Controller):
    """``/admin/tenants``: operators create tenants and their first tokens."""

    path = "/admin/tenants"

    @post("/")
    async def create(self, request: AnyRequest, actor: NamedDependency[Actor]) -> Response[bytes]:
        require(actor, Permission.MANAGE_TENANTS)
        wanted: TenantRequest = await read_struct(request, TenantRequest)
        tenant = await services(request).tenancy.create_tenant(wanted.name)
        return json_response(tenant_view(tenant), 201)

    @get("/")
    async def list_tenants(
        self, request: AnyRequest, actor: NamedDependency[Actor]
    ) -> Response[bytes]:
        require(actor, Permission.MANAGE_TENANTS)
        tenants = await services(request).tenancy.tenants()
        return json_response({"items": [tenant_view(t) for t in tenants]})

    @get("/{tenant:str}")
    async def read(
        self, request: AnyRequest, actor: NamedDependency[Actor], tenant: FromPath[str]
    ) -> Response[bytes]:
        require(actor, Permission.MANAGE_TENANTS)
        return json_response(tenant_view(await services(request).tenancy.tenant(tenant)))

    @post("/{tenant:str}/tokens")
    async def issue(
        self, request: AnyRequest, actor: NamedDependency[Actor], tenant: FromPath[str]
    ) -> Response[bytes]:
        require(actor, Permission.MANAGE_TENANTS)
        found = await services(request).tenancy.tenant(tenant)
        return await _issue(request, actor, found.id)

    @get("/{tenant:str}/tokens")
    async def list_tokens(
        self, request: AnyRequest, actor: NamedDependency[Actor], tenant: FromPath[str]
    ) -> Response[bytes]:
        require(actor, Permission.MANAGE_TENANTS)
        found = await services(request).tenancy.tenant(tenant)
        tokens = await services(request).tenancy.tokens(found.id)
        return json_response({"items": [token_view(t) for t in tokens]})

    @delete("/{tenant:str}/tokens/{token_id:str}", status_code=204)
    async def revoke(
        self,
        request: AnyRequest,
        actor: NamedDependency[Actor],
        tenant: FromPath[str],
        token_id: FromPath[str],
    ) -> None:
        require(actor, Permission.MANAGE_TENANTS)
        found = await services(request).tenancy.tenant(tenant)
        await services(request).tenancy.revoke_token(found.id, token_id, actor=actor)
