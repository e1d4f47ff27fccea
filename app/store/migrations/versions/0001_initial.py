"""Tenants, tokens, resources and group members.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("created", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tenants"),
        sa.UniqueConstraint("name", name="uq_tenants_name"),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("tenant_id", sa.String(36)),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("roles", sa.String(200), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("created", _TS, nullable=False),
        sa.Column("expires_at", _TS),
        sa.Column("revoked_at", _TS),
        sa.Column("last_used_at", _TS),
        sa.PrimaryKeyConstraint("id", name="pk_tokens"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_tokens_tenant_id_tenants", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_tokens_tenant_id", "tokens", ["tenant_id"])
    op.create_table(
        "resources",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("resource_type", sa.String(32), nullable=False),
        sa.Column("name_norm", sa.String(512), nullable=False),
        sa.Column("external_id", sa.String(512)),
        sa.Column("active", sa.Boolean()),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created", _TS, nullable=False),
        sa.Column("last_modified", _TS, nullable=False),
        sa.Column("deleted_at", _TS),
        sa.Column("doc", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_resources"),
        sa.UniqueConstraint("id", name="uq_resources_id"),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name="fk_resources_tenant_id_tenants",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "uq_resources_name",
        "resources",
        ["tenant_id", "resource_type", "name_norm"],
        unique=True,
        sqlite_where=sa.text("deleted_at IS NULL"),
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_index(
        "ix_resources_external_id", "resources", ["tenant_id", "resource_type", "external_id"]
    )
    op.create_index("ix_resources_listing", "resources", ["tenant_id", "resource_type", "seq"])
    op.create_table(
        "group_members",
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("group_id", sa.String(36), nullable=False),
        sa.Column("member_id", sa.String(36), nullable=False),
        sa.Column("member_type", sa.String(32), nullable=False),
        sa.Column("display", sa.String(512)),  # as the client sent it (immutable); else live
        sa.PrimaryKeyConstraint("group_id", "member_id", name="pk_group_members"),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["resources.id"],
            name="fk_group_members_group_id_resources",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["resources.id"],
            name="fk_group_members_member_id_resources",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_group_members_member", "group_members", ["tenant_id", "member_id"])


def downgrade() -> None:
    op.drop_table("group_members")
    op.drop_table("resources")
    op.drop_table("tokens")
    op.drop_table("tenants")
