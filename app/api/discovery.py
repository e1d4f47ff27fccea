"""Discovery endpoints (RFC 7644 §4): what this server supports, from the files under schemas/."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from app.api.auth import require
from app.api.media import lower_query, scim_response
from app.api.services import scim_base_url, services
from app.domain.actor import Actor, Permission
from app.scim.errors import Forbidden, NotFound
from app.scim.render import list_response, schema_documents, with_location
from app.scim.schema import AGENT_EXTENSION

AnyRequest = Request[Any, Any, Any]


def _no_filter(request: AnyRequest) -> None:
    # RFC 7644 §4: filtering discovery endpoints SHOULD be answered with 403.
    if "filter" in lower_query(request):
        raise Forbidden("discovery endpoints cannot be filtered")


class DiscoveryController(Controller):
    path = "/scim/v2"

    @get("/ServiceProviderConfig")
    async def service_provider_config(
        self, request: AnyRequest, actor: NamedDependency[Actor]
    ) -> Response[bytes]:
        """RFC 7643 §5, strictly; a tenant may ask for the agent drafts' ``agentExtension``."""
        require(actor, Permission.READ_DIRECTORY)
        spc = services(request).registry.service_provider_config
        if actor.tenant_id is not None:
            settings = await services(request).tenancy.settings(actor.tenant_id)
            if settings.agent_extension:
                spc = {**spc, "agentExtension": AGENT_EXTENSION}
        return scim_response(with_location(spc, scim_base_url(request)))

    @get("/ResourceTypes")
    async def resource_types(
        self, request: AnyRequest, actor: NamedDependency[Actor]
    ) -> Response[bytes]:
        require(actor, Permission.READ_DIRECTORY)
        _no_filter(request)
        base = scim_base_url(request)
        types = services(request).registry.resource_types.values()
        items = [with_location(t.document, base) for t in types]
        return scim_response(list_response(items, len(items), 1))

    @get("/ResourceTypes/{name:str}")
    async def resource_type(
        self, request: AnyRequest, actor: NamedDependency[Actor], name: FromPath[str]
    ) -> Response[bytes]:
        require(actor, Permission.READ_DIRECTORY)
        for resource_type in services(request).registry.resource_types.values():
            if resource_type.name.lower() == name.lower():
                return scim_response(with_location(resource_type.document, scim_base_url(request)))
        raise NotFound(f"no resource type {name!r}")

    @get("/Schemas")
    async def schemas(self, request: AnyRequest, actor: NamedDependency[Actor]) -> Response[bytes]:
        require(actor, Permission.READ_DIRECTORY)
        _no_filter(request)
        items = schema_documents(services(request).registry, scim_base_url(request))
        return scim_response(list_response(items, len(items), 1))

    @get("/Schemas/{urn:str}")
    async def schema(
        self, request: AnyRequest, actor: NamedDependency[Actor], urn: FromPath[str]
    ) -> Response[bytes]:
        require(actor, Permission.READ_DIRECTORY)
        found = services(request).registry.schema(urn)
        if found is None:
            raise NotFound(f"no schema {urn!r}")
        return scim_response(with_location(found.document, scim_base_url(request)))
