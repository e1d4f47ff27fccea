"""Time as a port: production reads the system clock, tests pass a fixed one."""

from __future__ import annotations

import datetime as dt
from typing import Protocol


class Clock(Protocol):
    def now(self) -> dt.datetime: ...


class SystemClock:
    def now(self) -> dt.datetime:
        # Whole milliseconds: what SQLite and PostgreSQL both round-trip exactly.
        now = dt.datetime.now(dt.UTC)
        return now.replace(microsecond=now.microsecond // 1000 * 1000)


class FixedClock:
    """A clock that moves only when told to."""

    def __init__(self, at: dt.datetime) -> None:
        self._at = at

    def now(self) -> dt.datetime:
        return self._at

    def advance(self, by: dt.timedelta) -> None:
        self._at += by
