"""Invoice claims across cases

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28

Each expense line's invoice (SIREN and reference), so that the same invoice claimed in two cases
is flagged to the CNCCFP (rule 8).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "invoice_claims",
        sa.Column("case_id", sa.String(length=120), nullable=False),
        sa.Column("line_id", sa.String(length=200), nullable=False),
        sa.Column("invoice_key", sa.String(length=220), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "line_id", name=op.f("pk_invoice_claims")),
    )
    op.create_index(
        op.f("ix_invoice_claims_invoice_key"), "invoice_claims", ["invoice_key"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_invoice_claims_invoice_key"), table_name="invoice_claims")
    op.drop_table("invoice_claims")
