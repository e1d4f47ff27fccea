"""The lifecycle of a non-human identity (DESIGN.md "Lifecycle"): states and allowed moves.

staged → active → suspended ⇄ active, and any of them → deprovisioned, which
is terminal. ``active`` on the wire is derived from the effective state, and
an identity past its ``expiresAt`` is effectively suspended at once, before
any sweep has run.
"""

from __future__ import annotations

import datetime as dt
import enum


class State(enum.StrEnum):
    STAGED = "staged"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DEPROVISIONED = "deprovisioned"


_MOVES: dict[State, frozenset[State]] = {
    State.STAGED: frozenset({State.ACTIVE, State.SUSPENDED, State.DEPROVISIONED}),
    State.ACTIVE: frozenset({State.SUSPENDED, State.DEPROVISIONED}),
    State.SUSPENDED: frozenset({State.ACTIVE, State.DEPROVISIONED}),
    State.DEPROVISIONED: frozenset(),
}


class TransitionError(ValueError):
    pass


def move(current: State, wanted: State) -> State:
    """``wanted`` if the machine allows it from ``current`` (staying put is always allowed)."""
    if wanted is current or wanted in _MOVES[current]:
        return wanted
    raise TransitionError(f"a {current.value} identity cannot become {wanted.value}")


def effective(state: State, expires_at: dt.datetime | None, now: dt.datetime) -> State:
    """The state as read: past ``expiresAt`` an active identity counts as suspended."""
    if state is State.ACTIVE and expires_at is not None and expires_at <= now:
        return State.SUSPENDED
    return state
