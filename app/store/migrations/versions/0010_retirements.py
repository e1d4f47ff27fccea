"""Deleted identities that can still be restored, and a sweep index that sees them.

A DELETE of an Agent or ServiceAccount revokes it at once (suspended, out of
its Groups, 404 to SCIM) and leaves it restorable for the tenant's teardown
grace: ``retirements`` keeps what a restore puts back (the state it had, its
Groups, the deletion its subtree went with). The sweeper deprovisions it at
``teardownAt``, so its due index must cover rows already marked deleted.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from app.store.tables import Json

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retirements",
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("resource_id", sa.String(36), nullable=False),
        sa.Column("resource_type", sa.String(32), nullable=False),
        sa.Column("root_id", sa.String(36), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("restorable_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prior", Json, nullable=False),
        sa.Column("groups", Json, nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["resources.id"],
            name="fk_retirements_resource_id_resources",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("resource_id", name="pk_retirements"),
    )
    op.create_index("ix_retirements_root", "retirements", ["tenant_id", "root_id"])
    op.drop_index("ix_resources_due_at", "resources")
    op.create_index(
        "ix_resources_due_at",
        "resources",
        ["due_at"],
        sqlite_where=sa.text("due_at IS NOT NULL"),
        postgresql_where=sa.text("due_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_resources_due_at", "resources")
    op.create_index(
        "ix_resources_due_at",
        "resources",
        ["due_at"],
        sqlite_where=sa.text("deleted_at IS NULL AND due_at IS NOT NULL"),
        postgresql_where=sa.text("deleted_at IS NULL AND due_at IS NOT NULL"),
    )
    op.drop_index("ix_retirements_root", "retirements")
    op.drop_table("retirements")
