"""Instants as SCIM writes them: xsd:dateTime (RFC 7643 §2.3.5) in, RFC 3339 UTC out."""

from __future__ import annotations

import datetime as dt

from app.domain.limits import MAX_DATETIME, MIN_DATETIME


def parse_instant(text: str) -> dt.datetime | None:
    """An xsd:dateTime as an aware instant; naive values are taken as UTC.

    None for what is not one, and for an instant outside [MIN_DATETIME,
    MAX_DATETIME): the lifetimes, graces and warnings added to it must not overflow.
    """
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    # Aware datetimes compare as instants, without converting (which could overflow).
    return parsed if MIN_DATETIME <= parsed < MAX_DATETIME else None


def format_instant(value: dt.datetime) -> str:
    """RFC 3339 in UTC with milliseconds, as ``meta.created`` is written."""
    utc = value.astimezone(dt.UTC) if value.tzinfo else value
    # isoformat, not strftime: every rendered resource formats two of these.
    return utc.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
