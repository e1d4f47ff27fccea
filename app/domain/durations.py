"""Durations as operators write them: ``90d``, ``12h``, ``30m``, ``2w`` or ISO 8601 ``P90D``."""

from __future__ import annotations

import datetime as dt
import re

_SHORT = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$", re.IGNORECASE)
_ISO = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?$",
    re.IGNORECASE,
)
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
# Ten years: the longest any lifetime or window may be, so that adding one to a
# date in range (app.domain.limits) stays a date.
_MAX = dt.timedelta(days=3660)


def parse_duration(text: str) -> dt.timedelta:
    """Return the duration ``text`` names; ValueError if it is malformed, zero or over ten years."""
    if len(text) > 64:  # no duration needs more; and int() of a long digit string is slow
        raise ValueError(f"not a duration: {text[:40]!r}… (use e.g. 90d, 12h or P90D)")
    short = _SHORT.match(text)
    if short:
        seconds = int(short.group(1)) * _SECONDS[short.group(2).lower()]
    else:
        iso = _ISO.match(text.strip())
        if not iso or not any(iso.groupdict().values()):
            raise ValueError(f"not a duration: {text!r} (use e.g. 90d, 12h or P90D)")
        seconds = sum(int(v) * _SECONDS[k] for k, v in iso.groupdict().items() if v)
    # Counted in whole seconds first: a timedelta of 10¹² days would not even be made.
    if not 0 < seconds <= _MAX.total_seconds():
        raise ValueError(f"duration out of range: {text[:40]!r} (more than zero, up to ten years)")
    return dt.timedelta(seconds=seconds)
