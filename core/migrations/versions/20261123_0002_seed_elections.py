"""Seed the elections of DOMAIN.md

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

Elections are data an admin adds; these are the ones known when the scheme started. Sénatoriales
2026 and présidentielle 2027 have no fixed dates yet, so they are not seeded. No test election is
seeded (rule 10 of DOMAIN.md): the législatives 2024 this migration once inserted as test data
are removed from databases that have them by revision 0004.
"""

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEEDED = ("municipales-2026",)

_elections = sa.table(
    "elections",
    sa.column("election_id", sa.String),
    sa.column("election_type", sa.String),
    sa.column("label", sa.String),
    sa.column("first_round", sa.Date),
    sa.column("second_round", sa.Date),
    sa.column("covered", sa.Boolean),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    seeded_at = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
    op.bulk_insert(
        _elections,
        [
            {
                "election_id": "municipales-2026",
                "election_type": "municipales",
                "label": "Élections municipales 2026",
                "first_round": dt.date(2026, 3, 15),
                "second_round": dt.date(2026, 3, 22),
                "covered": True,
                "created_at": seeded_at,
            },
        ],
    )


def downgrade() -> None:
    op.execute(_elections.delete().where(_elections.c.election_id.in_(SEEDED)))
