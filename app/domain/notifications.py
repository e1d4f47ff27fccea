"""Notifications as plain data: what the outbox holds and what a delivery reads back."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from app.domain.tenancy import SmtpServer


class Message(msgspec.Struct, frozen=True, kw_only=True):
    """One notification, planned into the outbox with its cause."""

    tenant_id: str
    dedup_key: str  # the same cause never plans it twice
    kind: str  # expiry_warning, suspended, deprovisioned, …
    channel: str  # "webhook"
    message_id: str  # webhook-id (Standard Webhooks): one per message, kept across retries
    payload: dict[str, Any]
    created: dt.datetime
    resource_id: str | None = None  # the identity it is about, if one (reports ask)


class Delivery(msgspec.Struct, frozen=True, kw_only=True):
    """A claimed outbox row with where it goes."""

    id: int
    tenant_id: str
    kind: str
    channel: str
    message_id: str
    payload: dict[str, Any]
    attempts: int
    created: dt.datetime
    webhook_url: str | None
    webhook_secret: str | None
    smtp: SmtpServer | None = None  # the tenant's own mail server, if it has one


class Queued(msgspec.Struct, frozen=True, kw_only=True):
    """An outbox row as admins see it (``GET /admin/outbox``)."""

    id: int
    kind: str
    state: str
    attempts: int
    message_id: str
    next_attempt_at: dt.datetime
    last_error: str | None
    created: dt.datetime
    sent_at: dt.datetime | None
    payload: dict[str, Any]
