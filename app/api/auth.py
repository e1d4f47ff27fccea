"""Bearer tokens (RFC 6750) → Actor; role checks."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request

from app.api.logs import REQUEST_ID
from app.api.services import services
from app.domain.actor import Actor, Permission
from app.scim.errors import Forbidden, Unauthorized


async def provide_actor(request: Request[Any, Any, Any]) -> Actor:
    """Litestar dependency: the caller, or 401 with a Bearer challenge."""
    header = request.headers.get("authorization")
    if not header:
        raise Unauthorized("missing Authorization header; send 'Authorization: Bearer <token>'")
    scheme, _, credentials = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise Unauthorized("the Authorization header must use the Bearer scheme")
    actor = await services(request).tenancy.authenticate(credentials.strip())
    if actor is None:
        raise Unauthorized("the bearer token is invalid, expired or revoked")
    client = request.client.host if request.client else None
    actor = msgspec.structs.replace(actor, request_id=REQUEST_ID.get(), client=client)
    request.state.actor = actor  # for the access log
    return actor


def require(actor: Actor, permission: Permission) -> None:
    if not actor.may(permission):
        roles = ",".join(sorted(actor.roles))
        raise Forbidden(
            f"a token with role(s) {roles} may not {permission.value.replace('_', ' ')}"
        )


def tenant_of(actor: Actor) -> str:
    if actor.tenant_id is None:
        raise Forbidden("an operator token belongs to no tenant; issue a tenant token")
    return actor.tenant_id
