"""Reading SCIM resources: by id (RFC 7644 §3.4.1), lists and searches (§3.4.2, §3.4.3),
index pagination (§3.4.2.4) and cursor pagination (RFC 9865). Always within one tenant."""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from app.domain.clock import Clock
from app.domain.resource import Resource
from app.scim import cursor
from app.scim.errors import InvalidFilter, InvalidValue, NotFound
from app.scim.filter import Filter
from app.scim.projection import EVERYTHING, Projection
from app.scim.query import ListQuery
from app.scim.resolve import locate, resolve_attr, resolve_filter
from app.scim.schema import Registry, ResourceType
from app.store.resources import Window
from app.store.uow import Database


class Listing(msgspec.Struct, frozen=True, kw_only=True):
    """A page of results and how to get the pages beside it."""

    resources: list[tuple[ResourceType, Resource]]
    total: int
    start_index: int | None  # index pagination only
    next_cursor: str | None = None
    previous_cursor: str | None = None


def _loads(resource_type: ResourceType, projection: Projection) -> dict[str, bool]:
    """Load side tables only when the response will show them (``excludedAttributes=members``)."""
    return {
        "members": resource_type.name == "Group" and projection.wants("members"),
        "groups": resource_type.name != "Group" and projection.wants("groups"),
    }


def _bind(query: ListQuery, resource_type: ResourceType) -> Filter | None:
    """The query's filter bound to ``resource_type``; errors say where in the text."""
    if query.filter is None:
        return None
    try:
        return resolve_filter(query.filter, resource_type)
    except InvalidFilter as exc:
        raise InvalidFilter(locate(exc.detail, query.filter_text or "")) from None


class Reader:
    def __init__(self, db: Database, registry: Registry, cursor_key: bytes, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        self._registry = registry
        self._key = cursor_key

    async def get(
        self,
        tenant_id: str,
        resource_type: ResourceType,
        resource_id: str,
        projection: Projection = EVERYTHING,
    ) -> Resource:
        async with self._db.uow(snapshot=False) as uow:
            found = await uow.of(tenant_id).resources.get(
                resource_type.name, resource_id, **_loads(resource_type, projection)
            )
        if found is None:
            raise NotFound(f"{resource_type.name} {resource_id} not found")
        return found

    async def search(
        self, tenant_id: str, resource_type: ResourceType, query: ListQuery
    ) -> Listing:
        """One resource type's page, by index or by cursor."""
        filter = _bind(query, resource_type)
        sort_by = resolve_attr(query.sort_by, resource_type).path if query.sort_by else None
        fingerprint = cursor.fingerprint(
            resource_type.name, query.filter_text, sort_by, query.descending
        )
        if query.cursor is None:
            window = Window(kind="offset", value=query.start_index - 1, limit=query.count)
        elif query.cursor == "":
            window = Window(kind="offset" if sort_by else "after", value=0, limit=query.count)
        else:
            position = cursor.decode(self._key, query.cursor, tenant_id, fingerprint)
            window = Window(kind=position.kind, value=position.value, limit=query.count)
        async with self._db.uow(snapshot=False) as uow:
            found = await uow.of(tenant_id).resources.search(
                resource_type,
                filter=filter,
                sort_by=sort_by,
                descending=query.descending,
                window=window,
                now=self._clock.now(),
                **_loads(resource_type, query.projection_for(resource_type)),
            )
        items = [(resource_type, r) for r in found.resources]
        if query.cursor is None:
            return Listing(resources=items, total=found.total, start_index=query.start_index)

        def issue(kind: str, value: int) -> str:
            return cursor.encode(
                self._key, tenant_id, fingerprint, cursor.Position(kind=kind, value=value)
            )

        next_cursor = previous_cursor = None
        if window.kind == "offset":
            if window.value + len(items) < found.total and items:
                next_cursor = issue("offset", window.value + len(items))
            if window.value > 0:
                previous_cursor = issue("offset", max(0, window.value - query.count))
        elif items:
            assert found.first_seq is not None and found.last_seq is not None
            forward_more = found.more if window.kind == "after" else True
            backward_more = found.more if window.kind == "before" else window.value > 0
            if forward_more:
                next_cursor = issue("after", found.last_seq)
            if backward_more:
                previous_cursor = issue("before", found.first_seq)
        return Listing(
            resources=items,
            total=found.total,
            start_index=None,
            next_cursor=next_cursor,
            previous_cursor=previous_cursor,
        )

    async def search_all(
        self, tenant_id: str, query: ListQuery, readable: Callable[[str], bool] = lambda _: True
    ) -> Listing:
        """``POST /.search`` at the root (RFC 7644 §3.4.3): every resource type, index pages.

        Only the types ``readable`` says the caller may read take part. Types
        the filter cannot apply to (it names attributes they lack) contribute
        nothing; a filter that applies to none is invalid.
        """
        if query.cursor is not None:
            raise InvalidValue("cursor pagination works per resource type; search an endpoint")
        applicable: list[ResourceType] = []
        problem: InvalidFilter | None = None
        for resource_type in self._registry.resource_types.values():
            if not readable(resource_type.name):
                continue
            try:
                if query.filter is not None:
                    resolve_filter(query.filter, resource_type)
                if query.sort_by is not None:
                    resolve_attr(query.sort_by, resource_type)
            except InvalidFilter as exc:
                problem = problem or exc
                continue
            applicable.append(resource_type)
        if not applicable and problem is not None:
            raise problem
        offset, remaining, total = query.start_index - 1, query.count, 0
        items: list[tuple[ResourceType, Resource]] = []
        for resource_type in applicable:
            counted = await self.search(
                tenant_id, resource_type, msgspec.structs.replace(query, start_index=1, count=0)
            )
            total += counted.total
            if offset >= counted.total:
                offset -= counted.total
                continue
            if remaining > 0:
                page = await self.search(
                    tenant_id,
                    resource_type,
                    msgspec.structs.replace(query, start_index=offset + 1, count=remaining),
                )
                items += page.resources
                remaining -= len(page.resources)
            offset = 0
        return Listing(resources=items, total=total, start_index=query.start_index)
