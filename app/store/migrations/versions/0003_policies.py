"""Per-tenant Cedar policies, and what a token may reach beyond its roles.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(
            sa.Column("policies", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"))
        )
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("kinds", sa.String(500)))
        batch.add_column(sa.Column("environments", sa.String(500)))
        batch.add_column(sa.Column("agent_id", sa.String(36)))


def downgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("agent_id")
        batch.drop_column("environments")
        batch.drop_column("kinds")
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("policies")
