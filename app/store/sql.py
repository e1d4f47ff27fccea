"""Small things every repository's statements share."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from app.store.tables import resources


def chunks(items: Sequence[Any], size: int = 500) -> list[Sequence[Any]]:
    """Bounded statements: SQLite allows ~32k bound parameters, PostgreSQL 65k."""
    return [items[i : i + size] for i in range(0, len(items), size)]


def display(*given: Any) -> sa.ColumnElement[str]:
    """A reference's ``display``: what the client gave, else the resource's current name."""
    doc = resources.c.doc
    return sa.func.coalesce(
        *given,
        doc["displayName"].as_string(),
        doc["userName"].as_string(),
        doc["name"].as_string(),
    )


def utc(value: Any) -> dt.datetime | None:
    """A datetime read back from SQLite through a RETURNING clause keeps no zone."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


class OtherTenant(RuntimeError):
    """A repository bound to one tenant was handed another tenant's resource: a bug, never
    a client's doing, so it is not a SCIM error; nothing of it is written."""


class TenantBound:
    """A repository whose every statement is about one tenant, fixed when it is made."""

    def __init__(self, connection: Any, tenant_id: str) -> None:
        self._c = connection
        self._tenant = tenant_id

    @property
    def tenant_id(self) -> str:
        return self._tenant

    def _own(self, resource: Any) -> str:
        """The tenant, once ``resource`` (or a row) is shown to be of it."""
        if resource.tenant_id != self._tenant:
            raise OtherTenant(f"a {resource.tenant_id} resource given to {self._tenant}'s store")
        return self._tenant
