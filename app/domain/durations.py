"""Durations as operators write them: ``90d``, ``12h``, ``30m``, ``2w`` or ISO 8601 ``P90D``."""

from __future__ import annotations

import datetime as dt
import re

_SHORT = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$", re.IGNORECASE)
_ISO = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?$",
    re.IGNORECASE,
)
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_MAX = dt.timedelta(days=3660)


def parse_duration(text: str) -> dt.timedelta:
    """Return the duration ``text`` names; ValueError if it is malformed, zero or over ten years."""
    short = _SHORT.match(text)
    if short:
        delta = dt.timedelta(**{_UNIT[short.group(2).lower()]: int(short.group(1))})
    else:
        iso = _ISO.match(text.strip())
        if not iso or not any(iso.groupdict().values()):
            raise ValueError(f"not a duration: {text!r} (use e.g. 90d, 12h or P90D)")
        parts = {k: int(v) for k, v in iso.groupdict().items() if v}
        delta = dt.timedelta(
            weeks=parts.get("w", 0),
            days=parts.get("d", 0),
            hours=parts.get("h", 0),
            minutes=parts.get("m", 0),
            seconds=parts.get("s", 0),
        )
    if delta <= dt.timedelta(0) or delta > _MAX:
        raise ValueError(f"duration out of range: {text!r}")
    return delta
