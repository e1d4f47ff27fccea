"""The NHI lifecycle state machine (pure)."""

from __future__ import annotations

import datetime as dt

import pytest

from app.domain.lifecycle import State, TransitionError, effective, move

NOW = dt.datetime(2026, 11, 28, 9, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("current", "wanted"),
    [
        (State.STAGED, State.ACTIVE),
        (State.ACTIVE, State.SUSPENDED),
        (State.SUSPENDED, State.ACTIVE),
        (State.ACTIVE, State.DEPROVISIONED),
        (State.SUSPENDED, State.DEPROVISIONED),
        (State.ACTIVE, State.ACTIVE),
    ],
)
def test_allowed_moves(current: State, wanted: State) -> None:
    assert move(current, wanted) is wanted


@pytest.mark.parametrize("wanted", [State.ACTIVE, State.SUSPENDED, State.STAGED])
def test_deprovisioned_is_terminal(wanted: State) -> None:
    with pytest.raises(TransitionError, match="deprovisioned"):
        move(State.DEPROVISIONED, wanted)


def test_nothing_returns_to_staged() -> None:
    with pytest.raises(TransitionError):
        move(State.ACTIVE, State.STAGED)


def test_expiry_suspends_effectively_at_once() -> None:
    assert effective(State.ACTIVE, NOW, NOW) is State.SUSPENDED
    assert effective(State.ACTIVE, NOW + dt.timedelta(seconds=1), NOW) is State.ACTIVE
    assert effective(State.ACTIVE, None, NOW) is State.ACTIVE
    assert effective(State.DEPROVISIONED, NOW - dt.timedelta(days=1), NOW) is State.DEPROVISIONED
