"""Remove the test election (législatives 2024) from production databases

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28

Revision 0002 used to seed "legislatives-2024", an election held before the scheme came into force
(21 March 2025), as test data; rule 10 of DOMAIN.md keeps test elections out of production
migrations. 0002 no longer inserts it; this revision deletes it where an earlier 0002 did.

Only the seeded row is deleted: it was never covered, so no case can have been opened for it. A
row of that id marked covered was put there by hand, may have cases, and is left alone.

Downgrade restores nothing: putting test data back into a database is what this revision undoes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TEST_ELECTION = "legislatives-2024"

_elections = sa.table(
    "elections",
    sa.column("election_id", sa.String),
    sa.column("covered", sa.Boolean),
)


def upgrade() -> None:
    op.execute(
        _elections.delete().where(
            _elections.c.election_id == TEST_ELECTION,
            _elections.c.covered.is_(False),
        )
    )


def downgrade() -> None:
    pass
