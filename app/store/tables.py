"""Table definitions (DESIGN.md "Storage"). Migrations must match them; a test checks it."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

from app.domain.limits import MAX_NAME_LENGTH, MAX_TOKEN_TEXT


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC on the way in and out, also on SQLite (which keeps no zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(
        self, value: dt.datetime | None, dialect: sa.Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: dt.datetime | None, dialect: sa.Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


Json = sa.JSON().with_variant(JSONB(), "postgresql")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# Unique names, externalIds, references' display: the codec refuses longer ones.
NameText = sa.String(MAX_NAME_LENGTH)

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

tenants = sa.Table(
    "tenants",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("created", UTCDateTime(), nullable=False),
    sa.Column("settings", Json),  # TenantSettings; NULL: the server's defaults
    sa.Column("policies", Json),  # [{"id", "text"}]: Cedar policies on top of the defaults
    # Where the tenant's notifications go, and the key they are signed with
    # (Standard Webhooks; it must be kept to sign, so it is never shown again).
    sa.Column("webhook_url", sa.String(2000)),
    sa.Column("webhook_secret", sa.String(100)),
    sa.Column("smtp", Json),  # SmtpServer: its own mail server; NULL: the server's
)

tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    # NULL for operator tokens, which belong to no tenant.
    sa.Column("tenant_id", sa.String(36), sa.ForeignKey("tenants.id", ondelete="CASCADE")),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("roles", sa.String(200), nullable=False),  # comma-separated Role values
    sa.Column("secret_hash", sa.String(64), nullable=False),  # HMAC-SHA-256 hex
    sa.Column("created", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime()),
    sa.Column("revoked_at", UTCDateTime()),
    sa.Column("last_used_at", UTCDateTime()),
    # Platform tokens: who is accountable for what they register, and why.
    sa.Column("owner_id", sa.String(36)),
    sa.Column("purpose", sa.String(MAX_TOKEN_TEXT)),
    # What it may reach beyond its roles: comma-separated kinds and environments
    # (NULL: any), and the Agent it is the credential of.
    sa.Column("kinds", sa.String(500)),
    sa.Column("environments", sa.String(MAX_TOKEN_TEXT)),
    sa.Column("agent_id", sa.String(36)),
    sa.Index("ix_tokens_tenant_id", "tenant_id"),
)

resources = sa.Table(
    "resources",
    metadata,
    # seq orders listings stably; id is the public, never reused identifier.
    sa.Column("seq", BigId, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(36), nullable=False, unique=True),
    sa.Column(
        "tenant_id", sa.String(36), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("resource_type", sa.String(32), nullable=False),
    sa.Column("name_norm", NameText, nullable=False),  # case-folded unique name
    sa.Column("external_id", NameText),
    sa.Column("active", sa.Boolean()),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("created", UTCDateTime(), nullable=False),
    sa.Column("last_modified", UTCDateTime(), nullable=False),
    sa.Column("deleted_at", UTCDateTime()),  # tombstones keep their row
    sa.Column("doc", Json, nullable=False),
    # Non-human identities: what the sweeper, delegation and filters need indexed.
    sa.Column("expires_at", UTCDateTime()),
    sa.Column("parent_id", sa.String(36)),
    sa.Column("lifecycle_state", sa.String(16)),
    # When the sweeper must next look at a governed identity (its end, then its
    # teardown), and until when a sweeper has claimed it.
    sa.Column("due_at", UTCDateTime()),
    sa.Column("sweep_lease", UTCDateTime()),
    # When an owner must attest again: warnings are planned by it.
    sa.Column("attest_by", UTCDateTime()),
    sa.Index(
        "uq_resources_name",
        "tenant_id",
        "resource_type",
        "name_norm",
        unique=True,
        sqlite_where=sa.text("deleted_at IS NULL"),
        postgresql_where=sa.text("deleted_at IS NULL"),
    ),
    sa.Index("ix_resources_external_id", "tenant_id", "resource_type", "external_id"),
    # Live rows only: listing and counting never visit tombstones.
    sa.Index(
        "ix_resources_live",
        "tenant_id",
        "resource_type",
        "seq",
        sqlite_where=sa.text("deleted_at IS NULL"),
        postgresql_where=sa.text("deleted_at IS NULL"),
    ),
    sa.Index("ix_resources_expires_at", "tenant_id", "expires_at"),
    # A deleted identity stays due until it is deprovisioned (its teardownAt).
    sa.Index(
        "ix_resources_due_at",
        "due_at",
        sqlite_where=sa.text("due_at IS NOT NULL"),
        postgresql_where=sa.text("due_at IS NOT NULL"),
    ),
    sa.Index("ix_resources_parent_id", "tenant_id", "parent_id"),
    sa.Index("ix_resources_attest_by", "tenant_id", "attest_by"),
)

group_members = sa.Table(
    "group_members",
    metadata,
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column(
        "group_id",
        sa.String(36),
        sa.ForeignKey("resources.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column(
        "member_id",
        sa.String(36),
        sa.ForeignKey("resources.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("member_type", sa.String(32), nullable=False),
    sa.Column("display", NameText),  # as the client sent it (immutable); else live
    sa.Index("ix_group_members_member", "tenant_id", "member_id"),
    # The recursive step of indirect membership walks group-in-group rows only.
    sa.Index(
        "ix_group_members_nested",
        "tenant_id",
        "member_id",
        sqlite_where=sa.text("member_type = 'Group'"),
        postgresql_where=sa.text("member_type = 'Group'"),
    ),
)

# Owners and sponsors of non-human identities. No foreign key to the owner:
# when a User or Group goes, the reference stays (read as "removed") so the
# identity visibly lost an accountable owner rather than silently none.
nhi_owners = sa.Table(
    "nhi_owners",
    metadata,
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column(
        "nhi_id",
        sa.String(36),
        sa.ForeignKey("resources.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("relation", sa.String(16), primary_key=True),  # "owner" | "sponsor"
    sa.Column("owner_id", sa.String(36), primary_key=True),
    sa.Column("owner_type", sa.String(32), nullable=False),  # "User" | "Group"
    sa.Column("display", NameText),  # as the client sent it; else live
    # Ownership reports page by owner, then identity.
    sa.Index("ix_nhi_owners_owner", "tenant_id", "owner_id", "nhi_id"),
)


# Agents and ServiceAccounts deleted by a client within the tenant's teardown
# grace (DESIGN.md "Identity model"): what a restore puts back — the lifecycle
# values it had, the Groups it was taken out of, and the deletion (``root_id``)
# its subtree went with. Forgotten when it is restored or deprovisioned.
retirements = sa.Table(
    "retirements",
    metadata,
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column(
        "resource_id",
        sa.String(36),
        sa.ForeignKey("resources.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("resource_type", sa.String(32), nullable=False),
    sa.Column("root_id", sa.String(36), nullable=False),
    sa.Column("retired_at", UTCDateTime(), nullable=False),
    sa.Column("restorable_until", UTCDateTime(), nullable=False),
    sa.Column("prior", Json, nullable=False),  # the Governance lifecycle values before
    sa.Column("groups", Json, nullable=False),  # ids of the Groups it was a member of
    sa.Index("ix_retirements_root", "tenant_id", "root_id"),
)

# Live resources per tenant and type, kept in the transaction that changes
# them: an unfiltered list's totalResults without counting 100,000 index rows.
# Spread over COUNT_SHARDS rows (a resource's shard follows from its id) and
# summed on read, so that a tenant's concurrent creates do not queue on one row.
COUNT_SHARDS = 16
resource_counts = sa.Table(
    "resource_counts",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("resource_type", sa.String(32), primary_key=True),
    sa.Column("shard", sa.SmallInteger(), primary_key=True),
    sa.Column("live", sa.BigInteger(), nullable=False),
)

# The audit trail: append-only, hash-chained per tenant (app/audit/events.py).
# No foreign keys: events outlive what they describe, tenants included.
audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    # 1, 2, … per tenant, given by the sequencer in commit order (NULL until then, with
    # prev_hash and hash): writers never lock the chain's head (app/audit/chain.py).
    sa.Column("seq", sa.BigInteger()),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("actor_token", sa.String(32), nullable=False),
    sa.Column("actor_name", sa.String(200), nullable=False),
    sa.Column("actor_roles", sa.String(200), nullable=False),
    sa.Column("action", sa.String(200), nullable=False),
    sa.Column("resource_type", sa.String(32), nullable=False),
    sa.Column("resource_id", sa.String(36), nullable=False),
    sa.Column("resource_name", NameText),
    sa.Column("decision", sa.String(8), nullable=False),
    sa.Column("policy_ids", Json, nullable=False),
    sa.Column("changed", Json, nullable=False),
    sa.Column("before", Json, nullable=False),
    sa.Column("after", Json, nullable=False),
    sa.Column("reason", sa.String(32)),
    sa.Column("detail", sa.Text()),
    sa.Column("request_id", sa.String(64)),
    sa.Column("client", sa.String(64)),
    sa.Column("prev_hash", sa.String(64)),
    sa.Column("hash", sa.String(64)),
    sa.UniqueConstraint("tenant_id", "seq", name="uq_audit_events_tenant_id_seq"),
    sa.Index("ix_audit_events_resource", "tenant_id", "resource_id", "seq"),
    sa.Index("ix_audit_events_at", "tenant_id", "at"),
    sa.Index(
        "ix_audit_events_pending",
        "tenant_id",
        "id",
        sqlite_where=sa.text("seq IS NULL"),
        postgresql_where=sa.text("seq IS NULL"),
    ),
)

# The head of each tenant's chain: locked only by the sequencer, which links the
# events written since (several replicas' sequencers take turns on it).
audit_heads = sa.Table(
    "audit_heads",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("seq", sa.BigInteger(), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

# What each token's client sent lately (method, path, status, an error's SCIM
# detail): the onboarding check and GET …/connection read it. Written in
# batches off the request path; older than a week is pruned.
request_log = sa.Table(
    "request_log",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("token_id", sa.String(32), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("method", sa.String(10), nullable=False),
    sa.Column("path", sa.String(500), nullable=False),
    sa.Column("status", sa.Integer(), nullable=False),
    sa.Column("scim_type", sa.String(32)),
    sa.Column("detail", sa.String(1000)),
    sa.Index("ix_request_log_token", "tenant_id", "token_id", "id"),
    sa.Index("ix_request_log_at", "at"),
)

# Where each tenant's retained chain starts once retention has deleted older
# events: the last deleted event's number and hash (``verify`` starts there).
audit_checkpoints = sa.Table(
    "audit_checkpoints",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("seq", sa.BigInteger(), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
)

# Notifications planned in the same transaction as their cause (DESIGN.md
# "Lifecycle"), delivered at least once; a de-duplication key per tenant means
# a retried cause never plans a message twice.
outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("dedup_key", sa.String(300), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),  # "webhook"
    sa.Column("message_id", sa.String(40), nullable=False),  # webhook-id: the same on every try
    sa.Column("payload", Json, nullable=False),
    sa.Column("state", sa.String(8), nullable=False),  # "pending" | "sent" | "dead"
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
    sa.Column("lease", UTCDateTime()),
    sa.Column("last_error", sa.Text()),
    sa.Column("created", UTCDateTime(), nullable=False),
    sa.Column("sent_at", UTCDateTime()),
    sa.Column("resource_id", sa.String(36)),  # the identity it is about, if one
    sa.UniqueConstraint("tenant_id", "dedup_key", name="uq_outbox_tenant_id_dedup_key"),
    sa.Index("ix_outbox_due", "state", "next_attempt_at"),
    sa.Index("ix_outbox_resource", "tenant_id", "resource_id"),
)

# How far a periodic scan has got (e.g. pre-expiry warnings planned up to when).
sweep_marks = sa.Table(
    "sweep_marks",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("at", UTCDateTime(), nullable=False),
)
