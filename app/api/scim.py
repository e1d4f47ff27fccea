"""SCIM resource endpoints (RFC 7644 §3.3 create, §3.4 read, §3.5.1 replace, §3.6 delete).

Routes are generic over the registry's resource types: an endpoint the
registry does not know is a 404, and a new resource type needs no new route.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath

from app.api.auth import require, tenant_of
from app.api.media import lower_query, read_json, scim_response
from app.api.services import scim_base_url, services
from app.domain.actor import Actor, Permission
from app.domain.resource import Resource
from app.provisioning.mutation import Mutation, MutationKind
from app.scim.errors import InvalidValue, NotFound, Unimplemented
from app.scim.render import list_response, render
from app.scim.schema import ResourceType

AnyRequest = Request[Any, Any, Any]


def _resource_type(request: AnyRequest, endpoint: str) -> ResourceType:
    found = services(request).registry.by_endpoint("/" + endpoint)
    if found is None:
        raise NotFound(f"no resource type at /{endpoint}")
    return found


def _represent(
    request: AnyRequest, resource: Resource, resource_type: ResourceType, status: int = 200
) -> Response[bytes]:
    document = render(resource, resource_type, scim_base_url(request))
    headers = {"ETag": resource.etag}
    if status == 201:
        headers["Location"] = document["meta"]["location"]
    return scim_response(document, status, headers)


def _int_param(query: dict[str, str], name: str, default: int) -> int:
    raw = query.get(name.lower())
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidValue(f"{name} must be an integer, not {raw!r}") from None


class ResourceController(Controller):
    path = "/scim/v2"

    @get("/{endpoint:str}")
    async def list_resources(
        self, request: AnyRequest, actor: NamedDependency[Actor], endpoint: FromPath[str]
    ) -> Response[bytes]:
        """RFC 7644 §3.4.2: paged by startIndex/count (§3.4.2.4)."""
        resource_type = _resource_type(request, endpoint)
        require(actor, Permission.READ_DIRECTORY)
        query = lower_query(request)
        if "filter" in query:
            raise Unimplemented(
                "filtering is not supported (ServiceProviderConfig filter.supported=false)"
            )
        settings = services(request).settings
        start_index = max(1, _int_param(query, "startIndex", 1))
        count = min(
            max(0, _int_param(query, "count", settings.default_count)), settings.max_results
        )
        found, total = await services(request).reader.page(
            tenant_of(actor), resource_type.name, start_index, count
        )
        base = scim_base_url(request)
        items = [render(resource, resource_type, base) for resource in found]
        return scim_response(list_response(items, total, start_index))

    @post("/{endpoint:str}")
    async def create(
        self, request: AnyRequest, actor: NamedDependency[Actor], endpoint: FromPath[str]
    ) -> Response[bytes]:
        resource_type = _resource_type(request, endpoint)
        require(actor, Permission.WRITE_DIRECTORY)
        body = await read_json(request)
        created = await services(request).provisioning.run(
            Mutation(
                kind=MutationKind.CREATE, actor=actor, resource_type=resource_type.name, body=body
            )
        )
        assert created is not None
        return _represent(request, created, resource_type, 201)

    @get("/{endpoint:str}/{resource_id:str}")
    async def read(
        self,
        request: AnyRequest,
        actor: NamedDependency[Actor],
        endpoint: FromPath[str],
        resource_id: FromPath[str],
    ) -> Response[bytes]:
        resource_type = _resource_type(request, endpoint)
        require(actor, Permission.READ_DIRECTORY)
        resource = await services(request).reader.get(
            tenant_of(actor), resource_type.name, resource_id
        )
        if_none_match = request.headers.get("if-none-match")
        if if_none_match and resource.etag_in(if_none_match):
            return Response(content=b"", status_code=304, headers={"ETag": resource.etag})
        return _represent(request, resource, resource_type)

    @put("/{endpoint:str}/{resource_id:str}")
    async def replace(
        self,
        request: AnyRequest,
        actor: NamedDependency[Actor],
        endpoint: FromPath[str],
        resource_id: FromPath[str],
    ) -> Response[bytes]:
        resource_type = _resource_type(request, endpoint)
        require(actor, Permission.WRITE_DIRECTORY)
        body = await read_json(request)
        replaced = await services(request).provisioning.run(
            Mutation(
                kind=MutationKind.REPLACE,
                actor=actor,
                resource_type=resource_type.name,
                resource_id=resource_id,
                body=body,
                if_match=request.headers.get("if-match"),
            )
        )
        assert replaced is not None
        return _represent(request, replaced, resource_type)

    @patch("/{endpoint:str}/{resource_id:str}")
    async def modify(
        self,
        request: AnyRequest,
        actor: NamedDependency[Actor],
        endpoint: FromPath[str],
        resource_id: FromPath[str],
    ) -> Response[bytes]:
        _resource_type(request, endpoint)
        raise Unimplemented("PATCH is not supported (ServiceProviderConfig: patch.supported=false)")

    @delete("/{endpoint:str}/{resource_id:str}", status_code=204)
    async def remove(
        self,
        request: AnyRequest,
        actor: NamedDependency[Actor],
        endpoint: FromPath[str],
        resource_id: FromPath[str],
    ) -> None:
        resource_type = _resource_type(request, endpoint)
        require(actor, Permission.WRITE_DIRECTORY)
        await services(request).provisioning.run(
            Mutation(
                kind=MutationKind.DELETE,
                actor=actor,
                resource_type=resource_type.name,
                resource_id=resource_id,
                if_match=request.headers.get("if-match"),
            )
        )
