"""Auditor reports: retention checkpoints, and indexes the reports page by.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "audit_checkpoints",
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_audit_checkpoints"),
    )
    op.drop_index("ix_audit_events_resource", "audit_events")
    op.create_index("ix_audit_events_resource", "audit_events", ["tenant_id", "resource_id", "seq"])
    op.drop_index("ix_nhi_owners_owner", "nhi_owners")
    op.create_index("ix_nhi_owners_owner", "nhi_owners", ["tenant_id", "owner_id", "nhi_id"])
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("resource_id", sa.String(36)))
    op.create_index("ix_outbox_resource", "outbox", ["tenant_id", "resource_id"])
    # Messages planned before named their identity only in the key: "kind:{id}:…".
    bind = op.get_bind()
    outbox = sa.table("outbox", sa.column("id"), sa.column("kind"), sa.column("dedup_key"),
                      sa.column("resource_id"))  # fmt: skip
    rows = bind.execute(
        sa.select(outbox.c.id, outbox.c.dedup_key).where(outbox.c.kind != "blast_radius")
    ).all()
    for row in rows:
        parts = row.dedup_key.split(":")
        if len(parts) > 1:
            bind.execute(outbox.update().where(outbox.c.id == row.id).values(resource_id=parts[1]))


def downgrade() -> None:
    op.drop_index("ix_outbox_resource", "outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("resource_id")
    op.drop_index("ix_nhi_owners_owner", "nhi_owners")
    op.create_index("ix_nhi_owners_owner", "nhi_owners", ["tenant_id", "owner_id"])
    op.drop_index("ix_audit_events_resource", "audit_events")
    op.create_index("ix_audit_events_resource", "audit_events", ["tenant_id", "resource_id"])
    op.drop_table("audit_checkpoints")
