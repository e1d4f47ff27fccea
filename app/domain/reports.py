"""What auditors read, as plain data: one row of each report, the audit filter, a chain check."""

from __future__ import annotations

import datetime as dt

import msgspec


class Holder(msgspec.Struct, frozen=True, kw_only=True):
    """An owner (or sponsor) as the report shows it: a User or Group, live, inactive or gone."""

    id: str
    type: str  # "User" | "Group"
    display: str | None
    status: str  # "active" | "inactive" | "removed"


class Governed(msgspec.Struct, frozen=True, kw_only=True):
    """A non-human identity as reports show it, tombstones included."""

    id: str
    type: str  # "Agent" | "ServiceAccount"
    name: str | None
    kind: str | None
    purpose: str | None
    scopes: tuple[str, ...]
    environment: str | None
    expires_at: dt.datetime | None
    state: str | None  # lifecycleState: staged, active, suspended, deprovisioned
    created: dt.datetime
    deleted_at: dt.datetime | None = None


class Owned(msgspec.Struct, frozen=True, kw_only=True):
    """One row of the ownership report: who answers for which identity, and how."""

    owner: Holder
    relation: str  # "owner" | "sponsor"
    identity: Governed


class Expiring(msgspec.Struct, frozen=True, kw_only=True):
    identity: Governed
    owners: tuple[Holder, ...]
    warned_at: dt.datetime | None  # the last warning planned about this end, if any
    warned_days: int | None  # …and how many days ahead it was


class Orphan(msgspec.Struct, frozen=True, kw_only=True):
    identity: Governed
    owners: tuple[Holder, ...]  # none of them active
    since: dt.datetime | None  # orphanedAt
    next_step: str  # "suspend" | "teardown" | "review"
    next_at: dt.datetime | None


class AuditFilter(msgspec.Struct, frozen=True, kw_only=True):
    """``GET /audit``'s filters; all optional, all must match."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None
    actor: str | None = None  # a token id or an actor name
    action: str | None = None  # one Cedar action of the event's
    resource_type: str | None = None
    resource_id: str | None = None
    decision: str | None = None  # "allow" | "deny"
    policy_id: str | None = None


class Verification(msgspec.Struct, frozen=True, kw_only=True):
    """The result of walking a tenant's audit chain."""

    ok: bool
    events: int  # how many were checked
    first_seq: int | None  # the first one present (after a retention checkpoint)
    last_seq: int | None
    broken_at: int | None = None  # the first sequence number that does not verify
    problem: str | None = None
    pending: int = 0  # events written but not yet sequenced (still committing): the tail
