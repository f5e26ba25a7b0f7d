"""Account confirmation

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29

``accounts.confirmed_at``: when the address's owner first signed in from an emailed link;
``accounts.name_confirmed_at``: when they set their display name themselves. An account made for
an address by someone else (``POST /auth/accounts`` is open to anyone) names no case until both
are set (issue 12: no squatting). Existing accounts that already opened a session are confirmed
(their owner holds the address); no name is taken as confirmed, since who typed it is unknown.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("name_confirmed_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE accounts SET confirmed_at = created_at WHERE account_id IN "
        "(SELECT account_id FROM sessions)"
    )


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("name_confirmed_at")
        batch.drop_column("confirmed_at")
