"""The requester of a closed élus' procedure, for the retention purge

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29

An élus' procedure's id does not name its requester (a case's does: its candidate), and Temporal
forgets a closed execution long before its retention delay runs out: the purge needs the
official's or candidate's account id, recorded with the closure and cleared by the purge.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("case_closures") as batch:
        batch.add_column(sa.Column("requester_id", sa.String(length=64), nullable=True))
        batch.create_index(op.f("ix_case_closures_requester_id"), ["requester_id"])


def downgrade() -> None:
    with op.batch_alter_table("case_closures") as batch:
        batch.drop_index(op.f("ix_case_closures_requester_id"))
        batch.drop_column("requester_id")
