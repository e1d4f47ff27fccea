"""The sweeper's columns: when an identity is next due, and a claim's lease.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("resources") as batch:
        batch.add_column(sa.Column("due_at", _TS))
        batch.add_column(sa.Column("sweep_lease", _TS))
    op.create_index(
        "ix_resources_due_at",
        "resources",
        ["due_at"],
        sqlite_where=sa.text("deleted_at IS NULL AND due_at IS NOT NULL"),
        postgresql_where=sa.text("deleted_at IS NULL AND due_at IS NOT NULL"),
    )
    # Identities registered before: due at their end while active.
    op.execute(
        "UPDATE resources SET due_at = expires_at "
        "WHERE lifecycle_state = 'active' AND deleted_at IS NULL"
    )


def downgrade() -> None:
    op.drop_index("ix_resources_due_at", "resources")
    with op.batch_alter_table("resources") as batch:
        batch.drop_column("sweep_lease")
        batch.drop_column("due_at")
