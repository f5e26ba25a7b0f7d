"""Collectivités and their staff, for the élus' procedures

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29

The collectivités (name, département, service address) the functional-protection requests are
addressed to, and the collectivités each collectivité staff account serves.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "collectivites",
        sa.Column("collectivite_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("collectivite_id", name=op.f("pk_collectivites")),
    )
    op.create_table(
        "account_collectivites",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("collectivite_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_account_collectivites_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["collectivite_id"],
            ["collectivites.collectivite_id"],
            name=op.f("fk_account_collectivites_collectivite_id_collectivites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "account_id", "collectivite_id", name=op.f("pk_account_collectivites")
        ),
    )


def downgrade() -> None:
    op.drop_table("account_collectivites")
    op.drop_table("collectivites")
