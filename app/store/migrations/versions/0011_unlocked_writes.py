"""No row that every write of a tenant must lock.

Audit events are written unsequenced (``seq``, ``prev_hash`` and ``hash`` NULL)
in the change's own transaction; the sequencer links them into the chain in
commit order moments later, and is the only one to lock the chain's head.
Live counts are spread over 16 rows per tenant and type (a resource's shard
follows from its id), summed on read.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.alter_column("seq", existing_type=sa.BigInteger(), nullable=True)
        batch.alter_column("prev_hash", existing_type=sa.String(64), nullable=True)
        batch.alter_column("hash", existing_type=sa.String(64), nullable=True)
    op.create_index(
        "ix_audit_events_pending",
        "audit_events",
        ["tenant_id", "id"],
        sqlite_where=sa.text("seq IS NULL"),
        postgresql_where=sa.text("seq IS NULL"),
    )
    _recount(sharded=True)


def downgrade() -> None:
    _recount(sharded=False)
    op.drop_index("ix_audit_events_pending", "audit_events")
    op.execute("DELETE FROM audit_events WHERE seq IS NULL")
    with op.batch_alter_table("audit_events") as batch:
        batch.alter_column("hash", existing_type=sa.String(64), nullable=False)
        batch.alter_column("prev_hash", existing_type=sa.String(64), nullable=False)
        batch.alter_column("seq", existing_type=sa.BigInteger(), nullable=False)


def _recount(*, sharded: bool) -> None:
    """resource_counts rebuilt with (or without) its shard column, counts kept."""
    op.create_table(
        "resource_counts_copy",
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("resource_type", sa.String(32), nullable=False),
        sa.Column("live", sa.BigInteger(), nullable=False),
    )
    op.execute(
        "INSERT INTO resource_counts_copy (tenant_id, resource_type, live) "
        "SELECT tenant_id, resource_type, SUM(live) FROM resource_counts "
        "GROUP BY tenant_id, resource_type"
    )
    op.drop_table("resource_counts")
    columns = [
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("resource_type", sa.String(32), nullable=False),
    ]
    if sharded:
        columns.append(sa.Column("shard", sa.SmallInteger(), nullable=False))
    keys = ["tenant_id", "resource_type", *(["shard"] if sharded else [])]
    op.create_table(
        "resource_counts",
        *columns,
        sa.Column("live", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(*keys, name="pk_resource_counts"),
    )
    shard = ", 0" if sharded else ""
    op.execute(
        f"INSERT INTO resource_counts (tenant_id, resource_type{', shard' if sharded else ''}, "
        f"live) SELECT tenant_id, resource_type{shard}, live FROM resource_counts_copy"
    )
    op.drop_table("resource_counts_copy")
