"""Onboarding a customer in one call, and how its clients are doing (``…/connection``)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from app.api.auth import require, tenant_of
from app.api.logs import Observer
from app.api.media import json_response, read_struct
from app.api.services import scim_base_url, services
from app.domain.actor import Actor, Permission, Role
from app.domain.clock import Clock
from app.domain.connections import Seen
from app.domain.providers import PROFILES, instructions
from app.provisioning.connections import Connections
from app.scim.errors import Forbidden

AnyRequest = Request[Any, Any, Any]


def observer(connections: Connections, clock: Clock) -> Observer:
    """Note each finished request of a tenant's token (with an error's SCIM detail)."""

    def observe(actor: Any, method: str, path: str, status: int, error: bytes) -> None:
        if not isinstance(actor, Actor) or actor.tenant_id is None:
            return
        scim_type = detail = None
        if error:
            try:
                body = msgspec.json.decode(error)
                scim_type, detail = body.get("scimType"), body.get("detail")
            except (msgspec.DecodeError, AttributeError):
                detail = error[:200].decode("utf-8", "replace")
        connections.note(
            Seen(
                tenant_id=actor.tenant_id,
                token_id=actor.token_id,
                at=clock.now(),
                method=method,
                path=path[:500],
                status=status,
                scim_type=scim_type if isinstance(scim_type, str) else None,
                detail=str(detail)[:1000] if detail is not None else None,
            )
        )

    return observe


class OnboardRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    tenant: str
    identityProvider: str = "generic"
    platformToken: bool = True
    adminToken: bool = True


async def _report(request: AnyRequest, tenant_id: str) -> Response[bytes]:
    found = await services(request).tenancy.tenant(tenant_id)
    report = await services(request).connections.report(found.id)
    profile = found.settings.identity_provider or "generic"
    return json_response(
        {
            "tenant": {"id": found.id, "name": found.name},
            "identityProvider": profile,
            "scimBaseUrl": scim_base_url(request),
            **report,
        }
    )


class ConnectionController(Controller):
    path = "/admin"

    @post("/onboard", status_code=201)
    async def onboard(self, request: AnyRequest, actor: NamedDependency[Actor]) -> Response[bytes]:
        """A tenant, its identity-provider profile and tokens, and what to paste where."""
        require(actor, Permission.MANAGE_TENANTS)
        wanted: OnboardRequest = await read_struct(request, OnboardRequest)
        tenant, issued = await services(request).tenancy.onboard(
            wanted.tenant,
            wanted.identityProvider,
            platform=wanted.platformToken,
            admin=wanted.adminToken,
            actor=actor,
        )
        profile = PROFILES[tenant.settings.identity_provider or "generic"]
        idp = issued["identityProvider"]
        tokens = {k: {"id": v.token.id, "token": v.plaintext} for k, v in issued.items()}
        return json_response(
            {
                "tenant": {"id": tenant.id, "name": tenant.name},
                "identityProvider": profile.name,
                "tokens": tokens,
                "instructions": instructions(profile, scim_base_url(request), idp.plaintext),
                "connection": f"/admin/tenants/{tenant.id}/connection",
            },
            201,
        )

    @get("/connection")
    async def own(self, request: AnyRequest, actor: NamedDependency[Actor]) -> Response[bytes]:
        """This tenant's tokens: their last requests and errors, and a self-test."""
        require(actor, Permission.MANAGE_TOKENS)
        return await _report(request, tenant_of(actor))

    @get("/tenants/{tenant:str}/connection")
    async def of_tenant(
        self, request: AnyRequest, actor: NamedDependency[Actor], tenant: FromPath[str]
    ) -> Response[bytes]:
        """Per token, the last requests (method, path, status, time), recent errors with their
        SCIM detail, and a self-test. Operators, or the tenant's own admins."""
        if not actor.may(Permission.MANAGE_TENANTS):
            own = await services(request).tenancy.tenant(tenant_of(actor))
            if Role.ADMIN not in actor.roles or tenant not in (own.id, own.name):
                raise Forbidden("only operators, or this tenant's admins, see its connection")
        return await _report(request, tenant)
