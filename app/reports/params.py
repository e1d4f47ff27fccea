"""Pure: reading a report's query parameters; a bad one is a 400 ``invalidValue`` naming it."""

from __future__ import annotations

import datetime as dt

from app.domain.durations import parse_duration
from app.domain.limits import MAX_DATETIME, MIN_DATETIME
from app.domain.reports import AuditFilter
from app.scim.codec import parse_datetime
from app.scim.errors import InvalidValue

DEFAULT_COUNT, MAX_COUNT = 100, 1000
FORMATS = ("json", "csv")
STATES = ("staged", "active", "suspended", "deprovisioned")
RELATIONS = ("owner", "sponsor", "any")


def duration(text: str, name: str = "within") -> dt.timedelta:
    """``P30D`` → 30 days (ISO 8601, or the short ``30d``)."""
    try:
        return parse_duration(text)
    except ValueError:
        raise InvalidValue(
            f"{name} must be a duration such as P30D or PT12H, up to ten years"
        ) from None


def count(text: str | None) -> int:
    if text is None:
        return DEFAULT_COUNT
    try:
        value = int(text)
    except ValueError:
        raise InvalidValue("count must be a whole number") from None
    if not 1 <= value <= MAX_COUNT:
        raise InvalidValue(f"count must be between 1 and {MAX_COUNT}")
    return value


def one_of(text: str | None, allowed: tuple[str, ...], name: str) -> str | None:
    if text is None:
        return None
    if text.lower() not in allowed:
        raise InvalidValue(f"{name} must be one of {', '.join(allowed)}")
    return text.lower()


def moment(text: str | None, name: str) -> dt.datetime | None:
    if text is None:
        return None
    found = parse_datetime(text.strip().replace(" ", "+"))  # a '+' sent unescaped
    if found is None:
        raise InvalidValue(
            f"{name} must be an RFC 3339 date-time, e.g. 2026-11-01T00:00:00Z, "
            f"from {MIN_DATETIME:%Y-%m-%d} up to {MAX_DATETIME:%Y-%m-%d}"
        )
    return found


def wants_csv(format_param: str | None, accept: str | None) -> bool:
    """``?format=`` wins; else an Accept header naming text/csv."""
    chosen = one_of(format_param, FORMATS, "format")
    if chosen is not None:
        return chosen == "csv"
    return "text/csv" in (accept or "").lower()


def audit_filter(query: dict[str, str]) -> AuditFilter:
    """``GET /audit``'s filters from its (lower-cased) query parameters."""
    since, until = moment(query.get("since"), "since"), moment(query.get("until"), "until")
    if since and until and since >= until:
        raise InvalidValue("since must be before until")
    return AuditFilter(
        since=since,
        until=until,
        actor=query.get("actor"),
        action=query.get("action"),
        resource_type=query.get("resourcetype"),
        resource_id=query.get("resourceid"),
        decision=one_of(query.get("decision"), ("allow", "deny"), "decision"),
        policy_id=query.get("policyid"),
    )
