"""SCIM resource endpoints (RFC 7644 §3.3 create, §3.4 read and search, §3.5 modify, §3.6 delete).

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
from app.provisioning.commands import Mutation, MutationKind
from app.provisioning.reads import Listing
from app.scim.errors import NotFound
from app.scim.projection import Projection, project, read_projection
from app.scim.query import ListQuery, read_list_query, search_params
from app.scim.render import list_response, render
from app.scim.schema import ResourceType

AnyRequest = Request[Any, Any, Any]
Caller = NamedDependency[Actor]
Path = FromPath[str]


def _resource_type(request: AnyRequest, endpoint: str) -> ResourceType:
    found = services(request).registry.by_endpoint("/" + endpoint)
    if found is None:
        raise NotFound(f"no resource type at /{endpoint}")
    return found


# Identity providers read the directory they push; non-human identities are for the
# platforms, auditors and admins (README "Tenants, tokens and roles").
_READ = {"Agent": Permission.READ_IDENTITIES, "ServiceAccount": Permission.READ_IDENTITIES}


def _may_read(actor: Actor, resource_type: str) -> bool:
    return actor.may(_READ.get(resource_type, Permission.READ_DIRECTORY))


def _require_read(actor: Actor, resource_type: ResourceType) -> None:
    require(actor, _READ.get(resource_type.name, Permission.READ_DIRECTORY))


def _projection(request: AnyRequest, resource_type: ResourceType) -> Projection:
    """``attributes``/``excludedAttributes`` apply to every response body (RFC 7644 §3.9)."""
    query = lower_query(request)
    return read_projection(query.get("attributes"), query.get("excludedattributes"), resource_type)


def _represent(
    request: AnyRequest,
    resource: Resource,
    resource_type: ResourceType,
    shown: Projection,
    status: int = 200,
) -> Response[bytes]:
    document = render(
        resource, resource_type, scim_base_url(request), services(request).clock.now()
    )
    headers = {"ETag": resource.etag}
    if status == 201:
        headers["Location"] = document["meta"]["location"]
    return scim_response(project(document, resource_type, shown), status, headers)


def _list_query(
    request: AnyRequest, params: dict[str, Any], resource_type: ResourceType | None
) -> ListQuery:
    settings = services(request).settings
    return read_list_query(
        params,
        resource_type,
        default_count=settings.default_count,
        max_count=settings.max_results,
    )


def _listing(request: AnyRequest, listing: Listing, query: ListQuery) -> Response[bytes]:
    base = scim_base_url(request)
    now = services(request).clock.now()
    projections: dict[str, Projection] = {}
    items = []
    for resource_type, resource in listing.resources:
        if resource_type.name not in projections:
            projections[resource_type.name] = query.projection_for(resource_type)
        shown = project(
            render(resource, resource_type, base, now),
            resource_type,
            projections[resource_type.name],
        )
        items.append(shown)
    return scim_response(
        list_response(
            items,
            listing.total,
            listing.start_index,
            listing.next_cursor,
            listing.previous_cursor,
        )
    )


class SearchController(Controller):
    """``POST /.search`` across every resource type (RFC 7644 §3.4.3)."""

    path = "/scim/v2"

    @post("/.search", status_code=200)
    async def search_everything(self, request: AnyRequest, actor: Caller) -> Response[bytes]:
        require(actor, Permission.READ_DIRECTORY)
        query = _list_query(request, search_params(await read_json(request)), None)
        listing = await services(request).reader.search_all(
            tenant_of(actor), query, lambda name: _may_read(actor, name)
        )
        return _listing(request, listing, query)


class ResourceController(Controller):
    path = "/scim/v2"

    @get("/{endpoint:str}")
    async def list_resources(
        self, request: AnyRequest, actor: Caller, endpoint: Path
    ) -> Response[bytes]:
        """RFC 7644 §3.4.2: filter, sort, index or cursor pages, projection."""
        resource_type = _resource_type(request, endpoint)
        _require_read(actor, resource_type)
        query = _list_query(request, lower_query(request), resource_type)
        listing = await services(request).reader.search(tenant_of(actor), resource_type, query)
        return _listing(request, listing, query)

    @post("/{endpoint:str}/.search", status_code=200)
    async def search(self, request: AnyRequest, actor: Caller, endpoint: Path) -> Response[bytes]:
        """RFC 7644 §3.4.3: the same query as GET, in a SearchRequest body."""
        resource_type = _resource_type(request, endpoint)
        _require_read(actor, resource_type)
        query = _list_query(request, search_params(await read_json(request)), resource_type)
        listing = await services(request).reader.search(tenant_of(actor), resource_type, query)
        return _listing(request, listing, query)

    @post("/{endpoint:str}")
    async def create(self, request: AnyRequest, actor: Caller, endpoint: Path) -> Response[bytes]:
        resource_type = _resource_type(request, endpoint)
        body = await read_json(request)
        shown = _projection(request, resource_type)
        created = await services(request).provisioning.run(
            Mutation(
                kind=MutationKind.CREATE,
                actor=actor,
                resource_type=resource_type.name,
                body=body,
                with_members=shown.wants("members"),
                with_groups=shown.wants("groups"),
            )
        )
        assert created is not None
        return _represent(request, created, resource_type, shown, 201)

    @get("/{endpoint:str}/{resource_id:str}")
    async def read(
        self, request: AnyRequest, actor: Caller, endpoint: Path, resource_id: Path
    ) -> Response[bytes]:
        resource_type = _resource_type(request, endpoint)
        _require_read(actor, resource_type)
        shown = _projection(request, resource_type)
        resource = await services(request).reader.get(
            tenant_of(actor), resource_type, resource_id, shown
        )
        if_none_match = request.headers.get("if-none-match")
        if if_none_match and resource.etag_in(if_none_match):
            return Response(content=b"", status_code=304, headers={"ETag": resource.etag})
        return _represent(request, resource, resource_type, shown)

    @put("/{endpoint:str}/{resource_id:str}")
    async def replace(
        self, request: AnyRequest, actor: Caller, endpoint: Path, resource_id: Path
    ) -> Response[bytes]:
        return await self._change(request, actor, endpoint, resource_id, MutationKind.REPLACE)

    @patch("/{endpoint:str}/{resource_id:str}")
    async def modify(
        self, request: AnyRequest, actor: Caller, endpoint: Path, resource_id: Path
    ) -> Response[bytes]:
        """RFC 7644 §3.5.2: 200 with the resource (honouring ``attributes``)."""
        return await self._change(request, actor, endpoint, resource_id, MutationKind.PATCH)

    async def _change(
        self,
        request: AnyRequest,
        actor: Actor,
        endpoint: str,
        resource_id: str,
        kind: MutationKind,
    ) -> Response[bytes]:
        resource_type = _resource_type(request, endpoint)
        body = await read_json(request)
        shown = _projection(request, resource_type)
        changed = await services(request).provisioning.run(
            Mutation(
                kind=kind,
                actor=actor,
                resource_type=resource_type.name,
                resource_id=resource_id,
                body=body,
                if_match=request.headers.get("if-match"),
                with_members=shown.wants("members"),
                with_groups=shown.wants("groups"),
            )
        )
        assert changed is not None
        return _represent(request, changed, resource_type, shown)

    @delete("/{endpoint:str}/{resource_id:str}", status_code=204)
    async def remove(
        self, request: AnyRequest, actor: Caller, endpoint: Path, resource_id: Path
    ) -> None:
        resource_type = _resource_type(request, endpoint)
        await services(request).provisioning.run(
            Mutation(
                kind=MutationKind.DELETE,
                actor=actor,
                resource_type=resource_type.name,
                resource_id=resource_id,
                if_match=request.headers.get("if-match"),
            )
        )
