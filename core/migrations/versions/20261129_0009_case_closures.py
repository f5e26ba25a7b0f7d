"""Case closures, for the retention purge

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29

One row per closed case: its outcome, when it closed, when its personal data is due to be
purged, and when it was (``core.retention``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_closures",
        sa.Column("case_id", sa.String(length=120), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("purge_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_closures")),
    )
    op.create_index(
        op.f("ix_case_closures_purge_due_at"), "case_closures", ["purge_due_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_case_closures_purge_due_at"), table_name="case_closures")
    op.drop_table("case_closures")
