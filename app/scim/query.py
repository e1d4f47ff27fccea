"""List and search parameters (RFC 7644 §3.4.2, §3.4.3; RFC 9865 §2), from a URL or a body."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from app.domain.limits import MAX_INT64, MIN_INT64, fits_int64
from app.scim.errors import InvalidCount, InvalidFilter, InvalidValue
from app.scim.filter import (
    And,
    AttrPath,
    Compare,
    Filter,
    Not,
    Or,
    ValuePath,
    parse_filter,
    parse_path,
    path_text,
)
from app.scim.projection import Projection, read_projection
from app.scim.schema import ResourceType

SEARCH_REQUEST_URN = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


class ListQuery(msgspec.Struct, frozen=True, kw_only=True):
    """What a list or /.search asks for. The filter is parsed, not yet bound to a resource type."""

    filter: Filter | None = None
    filter_text: str | None = None
    sort_by: AttrPath | None = None
    descending: bool = False
    start_index: int = 1
    count: int
    cursor: str | None = None  # None: index pagination; "": first cursor page
    attributes: str | list[str] | None = None  # as given; bound per resource type
    excluded: str | list[str] | None = None

    def projection_for(self, resource_type: ResourceType) -> Projection:
        """``attributes``/``excludedAttributes`` bound to one type (root searches span several)."""
        return read_projection(self.attributes, self.excluded, resource_type)


def read_list_query(
    params: Mapping[str, Any],
    resource_type: ResourceType | None,
    *,
    default_count: int,
    max_count: int,
) -> ListQuery:
    """``params`` keys are lower-cased; values are query-string text or SearchRequest JSON."""
    filter_text = params.get("filter")
    if filter_text is not None and not isinstance(filter_text, str):
        raise InvalidValue("filter must be a string")
    parsed = parse_filter(filter_text) if filter_text not in (None, "") else None
    if parsed is not None:
        _check_literals(parsed)

    sort_by = None
    if params.get("sortby") not in (None, ""):
        sort_by = parse_path(_text(params, "sortBy")).path
    order = (_text(params, "sortOrder") or "ascending").lower()
    if order not in ("ascending", "descending"):
        raise InvalidValue("sortOrder is 'ascending' or 'descending'")

    cursor = params.get("cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise InvalidValue("cursor must be a string")
    if cursor is not None and params.get("startindex") not in (None, ""):
        raise InvalidValue("use either startIndex or cursor pagination, not both")

    attributes, excluded = params.get("attributes"), params.get("excludedattributes")
    read_projection(attributes, excluded, resource_type)  # reject bad names, or both at once
    count = _int(
        params, "count", default_count, InvalidCount if cursor is not None else InvalidValue
    )
    return ListQuery(
        filter=parsed,
        filter_text=filter_text or None,
        sort_by=sort_by,
        descending=order == "descending",
        # RFC 7644 §3.4.2.4: startIndex below 1 is 1; a negative count is 0.
        start_index=max(1, _int(params, "startIndex", 1, InvalidValue)),
        count=min(max(0, count), max_count),
        cursor=cursor,
        attributes=attributes,
        excluded=excluded,
    )


def _check_literals(node: Filter) -> None:
    """The values a filter compares are bound into SQL: no NUL (``"\\u0000"`` in the
    filter's own escapes; PostgreSQL cannot hold one) and integers of 64 bits."""
    pending = [node]
    while pending:
        current = pending.pop()
        if isinstance(current, And | Or):
            pending += [current.left, current.right]
        elif isinstance(current, Not):
            pending.append(current.inner)
        elif isinstance(current, ValuePath):
            pending.append(current.filter)
        elif isinstance(current, Compare):
            value = current.value
            if isinstance(value, str) and "\x00" in value:
                raise InvalidFilter(
                    f"NUL character (\\u0000) in the value of {path_text(current.path)}"
                )
            if isinstance(value, int) and not isinstance(value, bool) and not fits_int64(value):
                raise InvalidFilter(
                    f"the number compared with {path_text(current.path)} is wider than 64 bits"
                )


def search_params(body: dict[str, Any]) -> dict[str, Any]:
    """A SearchRequest body (RFC 7644 §3.4.3) as lower-cased parameters."""
    return {key.lower(): value for key, value in body.items() if key.lower() != "schemas"}


def _text(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name.lower())
    if value is not None and not isinstance(value, str):
        raise InvalidValue(f"{name} must be a string")
    return value or ""


def _int(
    params: Mapping[str, Any],
    name: str,
    default: int,
    error: type[InvalidValue] | type[InvalidCount],
) -> int:
    raw = params.get(name.lower())
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool):
        raise error(f"{name} must be an integer")
    if isinstance(raw, int):
        value = raw
    else:
        try:
            value = int(str(raw).strip())
        except ValueError:
            raise error(f"{name} must be an integer, not {str(raw)[:40]!r}") from None
    # Paging reaches SQL (OFFSET, LIMIT) as a signed 64-bit integer.
    if not fits_int64(value):
        raise error(f"{name} must be an integer between {MIN_INT64} and {MAX_INT64}")
    return value
