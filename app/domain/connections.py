"""A client's recent requests, as the connection report and onboarding read them."""

from __future__ import annotations

import datetime as dt

import msgspec


class Seen(msgspec.Struct, frozen=True, kw_only=True):
    """One request a token made: what, when, how it ended (an error's SCIM detail)."""

    tenant_id: str
    token_id: str
    at: dt.datetime
    method: str
    path: str
    status: int
    scim_type: str | None = None
    detail: str | None = None


class Check(msgspec.Struct, frozen=True, kw_only=True):
    """One self-test check: its name, whether it passed, and what it found."""

    name: str
    ok: bool
    detail: str
