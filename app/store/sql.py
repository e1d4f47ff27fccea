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
