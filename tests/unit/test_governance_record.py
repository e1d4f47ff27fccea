"""The Governance extension as a typed record (app.domain.governance): read and written back."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.governance import URN, Governance, write
from app.domain.lifecycle import State
from app.domain.limits import MAX_DATETIME, MIN_DATETIME

AT = dt.datetime(2026, 11, 28, 9, 30, tzinfo=dt.UTC)


def test_reads_the_wire_form_as_typed_values() -> None:
    doc = {
        URN: {
            "kind": "agent",
            "purpose": "triage",
            "environment": "production",
            "scopes": ["tickets:read", "tickets:write"],
            "expiresAt": "2026-11-28T09:30:00.000Z",
            "lifecycleState": "suspended",
            "suspendedReason": "expired",
            "suspendedAt": "2026-11-28T11:30:00+02:00",
            "registeredBy": "tok_1",
        }
    }
    record = Governance.of(doc)
    assert record.kind == "agent"
    assert record.purpose == "triage"
    assert record.environment == "production"
    assert record.scopes == ("tickets:read", "tickets:write")
    assert record.expires_at == AT
    assert record.lifecycle_state is State.SUSPENDED
    assert record.suspended_reason == "expired"
    assert record.suspended_at == AT  # the same instant, whatever the offset it was written in
    assert record.registered_by == "tok_1"
    assert record.due("expiresAt") == AT
    assert record.attest_by is None and record.due("attestBy") is None


def test_a_document_without_the_extension_reads_as_all_defaults() -> None:
    record = Governance.of({"userName": "ada"})
    assert record == Governance()
    assert record.lifecycle_state is State.ACTIVE
    assert record.scopes is None and record.expires_at is None


@pytest.mark.parametrize(
    "extension",
    [
        {"lifecycleState": "hibernating"},
        {"lifecycleState": 3, "expiresAt": 17, "kind": ["agent"], "scopes": "one"},
        {"expiresAt": "next tuesday"},
        {"expiresAt": "9999-01-01T00:00:00Z"},  # beyond MAX_DATETIME
    ],
)
def test_values_of_the_wrong_shape_read_as_absent(extension: dict[str, Any]) -> None:
    record = Governance.of({URN: extension})
    assert record.lifecycle_state is State.ACTIVE
    assert record.expires_at is None
    assert record.kind is None
    assert record.scopes is None


def test_naive_instants_are_taken_as_utc() -> None:
    record = Governance.of({URN: {"lastAttestedAt": "2026-11-28T09:30:00"}})
    assert record.last_attested_at == AT


def test_write_sets_wire_values_and_leaves_the_rest_as_written() -> None:
    doc: dict[str, Any] = {URN: {"expiresAt": "2027-01-01T00:00:00Z", "purpose": "kept"}}
    write(
        doc,
        lifecycle_state=State.SUSPENDED,
        suspended_at=AT,
        scopes=("a", "b"),
        purpose=None,
    )
    assert doc[URN] == {
        "expiresAt": "2027-01-01T00:00:00Z",  # not reformatted: it was not named
        "lifecycleState": "suspended",
        "suspendedAt": "2026-11-28T09:30:00.000Z",
        "scopes": ["a", "b"],
    }


def test_write_creates_the_extension_when_missing() -> None:
    doc: dict[str, Any] = {"name": "bot"}
    write(doc, kind="bot", registered_at=AT)
    assert doc == {"name": "bot", URN: {"kind": "bot", "registeredAt": "2026-11-28T09:30:00.000Z"}}


_instants = st.datetimes(
    min_value=MIN_DATETIME.replace(tzinfo=None) + dt.timedelta(days=1),
    max_value=MAX_DATETIME.replace(tzinfo=None) - dt.timedelta(days=1),
    timezones=st.just(dt.UTC),
).map(lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000))


@given(
    expires=_instants,
    attested=st.none() | _instants,
    state=st.sampled_from(list(State)),
    scopes=st.none() | st.lists(st.text(min_size=1, max_size=8), max_size=4).map(tuple),
)
def test_what_is_written_reads_back_the_same(
    expires: dt.datetime, attested: dt.datetime | None, state: State, scopes: tuple[str, ...] | None
) -> None:
    doc: dict[str, Any] = {}
    write(doc, expires_at=expires, last_attested_at=attested, lifecycle_state=state, scopes=scopes)
    record = Governance.of(doc)
    assert (record.expires_at, record.last_attested_at) == (expires, attested)
    assert (record.lifecycle_state, record.scopes) == (state, scopes)
