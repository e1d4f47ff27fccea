"""Non-human identities: expiry, parent and state columns, owners table, platform token owner.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("resources") as batch:
        batch.add_column(sa.Column("expires_at", _TS))
        batch.add_column(sa.Column("parent_id", sa.String(36)))
        batch.add_column(sa.Column("lifecycle_state", sa.String(16)))
    op.create_index("ix_resources_expires_at", "resources", ["tenant_id", "expires_at"])
    # Listing and counting visit live rows only; nested-group walks group rows only.
    op.drop_index("ix_resources_listing", "resources")
    op.create_index(
        "ix_resources_live",
        "resources",
        ["tenant_id", "resource_type", "seq"],
        sqlite_where=sa.text("deleted_at IS NULL"),
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_index(
        "ix_group_members_nested",
        "group_members",
        ["tenant_id", "member_id"],
        sqlite_where=sa.text("member_type = 'Group'"),
        postgresql_where=sa.text("member_type = 'Group'"),
    )
    op.create_index("ix_resources_parent_id", "resources", ["tenant_id", "parent_id"])
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(
            sa.Column("settings", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"))
        )
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("owner_id", sa.String(36)))
        batch.add_column(sa.Column("purpose", sa.String(500)))
    op.create_table(
        "nhi_owners",
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("nhi_id", sa.String(36), nullable=False),
        sa.Column("relation", sa.String(16), nullable=False),
        sa.Column("owner_id", sa.String(36), nullable=False),
        sa.Column("owner_type", sa.String(32), nullable=False),
        sa.Column("display", sa.String(512)),
        sa.PrimaryKeyConstraint("nhi_id", "relation", "owner_id", name="pk_nhi_owners"),
        sa.ForeignKeyConstraint(
            ["nhi_id"], ["resources.id"], name="fk_nhi_owners_nhi_id_resources", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_nhi_owners_owner", "nhi_owners", ["tenant_id", "owner_id"])
    op.create_table(
        "resource_counts",
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("resource_type", sa.String(32), nullable=False),
        sa.Column("live", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "resource_type", name="pk_resource_counts"),
    )
    op.execute(
        "INSERT INTO resource_counts (tenant_id, resource_type, live) "
        "SELECT tenant_id, resource_type, count(*) FROM resources "
        "WHERE deleted_at IS NULL GROUP BY tenant_id, resource_type"
    )


def downgrade() -> None:
    op.drop_table("resource_counts")
    op.drop_index("ix_group_members_nested", "group_members")
    op.drop_index("ix_resources_live", "resources")
    op.create_index("ix_resources_listing", "resources", ["tenant_id", "resource_type", "seq"])
    op.drop_table("nhi_owners")
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("settings")
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("purpose")
        batch.drop_column("owner_id")
    op.drop_index("ix_resources_parent_id", "resources")
    op.drop_index("ix_resources_expires_at", "resources")
    with op.batch_alter_table("resources") as batch:
        batch.drop_column("lifecycle_state")
        batch.drop_column("parent_id")
        batch.drop_column("expires_at")
