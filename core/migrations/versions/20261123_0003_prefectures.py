"""Prefecture services by département

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

A case is opened with the address of the prefecture of its département; an admin records it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "prefectures",
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("departement", name=op.f("pk_prefectures")),
    )


def downgrade() -> None:
    op.drop_table("prefectures")
