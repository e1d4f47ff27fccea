"""Reading SCIM resources (RFC 7644 §3.4.1 by id, §3.4.2 lists); always within one tenant."""

from __future__ import annotations

from app.domain.resource import Resource
from app.scim.errors import NotFound
from app.store.uow import Database


class Reader:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, tenant_id: str, resource_type: str, resource_id: str) -> Resource:
        async with self._db.uow() as uow:
            found = await uow.resources.get(tenant_id, resource_type, resource_id)
        if found is None:
            raise NotFound(f"{resource_type} {resource_id} not found")
        return found

    async def page(
        self, tenant_id: str, resource_type: str, start_index: int, count: int
    ) -> tuple[list[Resource], int]:
        """``start_index`` is 1-based (RFC 7644 §3.4.2.4); ``count`` 0 asks only for the total."""
        async with self._db.uow() as uow:
            return await uow.resources.page(tenant_id, resource_type, start_index - 1, count)
