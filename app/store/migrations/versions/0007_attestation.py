"""Attestation deadlines and each tenant's own mail server.

``attest_by`` (indexed) lets the sweeper plan "attestation due" warnings by a
range scan, as ``expires_at`` does for pre-expiry warnings. Identities
registered before carry no ``attestationSuspendAt`` (and the oldest no
``attestBy``): both are filled in from their last attestation (else their
registration) and their tenant's period and grace, so none escapes attestation.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

from app.scim.codec import format_datetime, parse_datetime
from app.store.promoted import due_at
from app.store.tables import Json, UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_GOVERNANCE = "urn:tenure:params:scim:schemas:extension:nhi:1.0:Governance"
# The shipped defaults (TENURE_NHI_ATTESTATION_DAYS, _ATTESTATION_GRACE_HOURS).
_PERIOD_DAYS, _GRACE_HOURS = 90, 168


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(sa.Column("smtp", Json))
    with op.batch_alter_table("resources") as batch:
        batch.add_column(sa.Column("attest_by", sa.DateTime(timezone=True)))
    op.create_index("ix_resources_attest_by", "resources", ["tenant_id", "attest_by"])
    _backfill()


def _backfill() -> None:
    bind = op.get_bind()
    tenants = sa.table("tenants", sa.column("id"), sa.column("settings", Json))
    resources = sa.table(
        "resources",
        sa.column("seq"),
        sa.column("tenant_id"),
        sa.column("created", UTCDateTime()),
        sa.column("doc", Json),
        sa.column("lifecycle_state"),
        sa.column("deleted_at"),
        sa.column("due_at", UTCDateTime()),
        sa.column("attest_by", UTCDateTime()),
    )
    settings = {row.id: row.settings or {} for row in bind.execute(sa.select(tenants))}
    rows = bind.execute(
        sa.select(
            resources.c.seq, resources.c.tenant_id, resources.c.created, resources.c.doc
        ).where(resources.c.deleted_at.is_(None), resources.c.lifecycle_state.is_not(None))
    ).all()
    for row in rows:
        doc = dict(row.doc)
        governance = dict(doc.get(_GOVERNANCE) or {})
        own = settings.get(row.tenant_id, {})
        period = dt.timedelta(days=own.get("attestation_days") or _PERIOD_DAYS)
        grace_hours = own.get("attestation_grace_hours")
        grace = dt.timedelta(hours=_GRACE_HOURS if grace_hours is None else grace_hours)
        last = governance.get("lastAttestedAt")
        since = (parse_datetime(last) if isinstance(last, str) else None) or row.created
        attest_by = governance.get("attestBy") or format_datetime(since + period)
        governance["attestBy"] = attest_by
        governance.setdefault(
            "attestationSuspendAt", format_datetime(parse_datetime(attest_by) + grace)
        )
        doc[_GOVERNANCE] = governance
        active = governance.get("lifecycleState") == "active"
        bind.execute(
            resources.update()
            .where(resources.c.seq == row.seq)
            .values(
                doc=doc,
                due_at=due_at(doc),
                attest_by=parse_datetime(attest_by) if active else None,
            )
        )


def downgrade() -> None:
    op.drop_index("ix_resources_attest_by", "resources")
    with op.batch_alter_table("resources") as batch:
        batch.drop_column("attest_by")
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("smtp")
