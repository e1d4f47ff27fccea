"""Tenants and their bearer tokens, as plain data."""

from __future__ import annotations

import datetime as dt
import re

import msgspec

from app.domain.actor import Restrictions, Role


class AgentUsers(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Which Users an identity provider pushes are non-human identities, and of what kind.

    Any condition that holds makes the User a governed identity (it then has
    owners, an end and a teardown like an Agent); a User sent with the
    Governance extension's ``kind`` is one anyway.
    """

    kind: str = "agent"
    user_type: str | None = None  # userType equal to this (case-insensitive), e.g. "Agent"
    user_name_pattern: str | None = None  # a regular expression searched in userName
    group: str | None = None  # membership of this Group (id or displayName)
    owner: str | None = None  # accountable User or Group when the User names no manager


class TenantSettings(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A tenant's own governance defaults; unset values fall back to the server's."""

    agent_lifetime_days: int | None = None  # default expiresAt of agents, workloads, bots
    service_account_lifetime_days: int | None = None
    hard_cap_days: int | None = None  # default hardExpiresAt
    delegation_max_depth: int | None = None
    attestation_days: int | None = None  # an owner's attestation counts this long
    teardown_grace_hours: int | None = None  # suspended this long before a teardown
    orphan_grace_hours: int | None = None  # ownerless this long before suspension
    # Hand an orphan to its departed owner's manager (enterprise extension)?
    orphan_handover: bool | None = None  # unset: yes
    # A sweep that would suspend more than this share of the active identities stops.
    blast_radius_percent: int | None = None
    attestation_grace_hours: int | None = None  # overdue this long before suspension
    warning_days: tuple[int, ...] | None = None  # owners are warned this many days ahead
    # Who hears of what concerns the tenant as a whole (a stopped sweep): e-mail addresses.
    alert_emails: tuple[str, ...] | None = None
    audit_retention_days: int | None = None  # unset: audit events are kept for ever
    identity_provider: str | None = None  # the provider profile (okta, entra, …); unset: generic
    agent_users: AgentUsers | None = None
    # ServiceProviderConfig also carries the IETF agent drafts' ``agentExtension``, which
    # RFC 7643 §5 does not define (strict clients refuse it); unset: strict RFC 7643.
    agent_extension: bool | None = None
    # A delegated child may live in another environment than its parent; unset: no.
    delegation_across_environments: bool | None = None


_ADDRESS = re.compile(r"[^@\s<>,]+@[^@\s<>,]+\.[^@\s<>,]+")


def valid_address(text: str) -> bool:
    """An e-mail address, plainly written (what alerts and the sender accept)."""
    return len(text) <= 254 and _ADDRESS.fullmatch(text) is not None


class SmtpServer(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Where a tenant's (or, unset, the server's) e-mail goes out."""

    host: str
    port: int = 25
    starttls: bool = False
    username: str | None = None
    password: str | None = None  # kept to log in; never shown after it is set
    sender: str = "tenure@localhost"


class TenantPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """A Cedar policy a tenant admin added on top of the shipped defaults."""

    id: str  # its @id annotation
    text: str


class Tenant(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    created: dt.datetime
    settings: TenantSettings = TenantSettings()
    policies: tuple[TenantPolicy, ...] = ()
    webhook_url: str | None = None
    webhook_secret: str | None = None  # signs its webhooks; never shown after it is made
    smtp: SmtpServer | None = None  # its own mail server; else the server's


class Token(msgspec.Struct, frozen=True, kw_only=True):
    """A token as stored: never the secret, only its keyed hash."""

    id: str
    tenant_id: str | None
    name: str
    roles: frozenset[Role]
    secret_hash: str
    created: dt.datetime
    expires_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None
    last_used_at: dt.datetime | None = None
    owner_id: str | None = None  # accountable User or Group for what it registers
    purpose: str | None = None
    restrictions: Restrictions = Restrictions()

    def usable_at(self, now: dt.datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)
