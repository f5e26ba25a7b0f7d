"""The uploader's role on each document

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29

Each document records the role of who uploaded it, shown with the document (issue 12): the
CNCCFP can tell a prefect's decision from a candidate's upload. Existing rows take the role of
their uploader's account; what secupol wrote itself (the seal's manifest and receipt) becomes
``system``; a row whose uploader has no account becomes ``unknown``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENERATED_KINDS = ("dossier_manifest", "deposit_receipt")


def upgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("uploader_role", sa.String(length=20), nullable=True))
    op.execute(
        "UPDATE documents SET uploader_role = ("
        "SELECT accounts.role FROM accounts WHERE accounts.account_id = documents.uploaded_by)"
    )
    generated = ", ".join(f"'{kind}'" for kind in GENERATED_KINDS)
    op.execute(
        f"UPDATE documents SET uploader_role = 'system' "
        f"WHERE uploader_role IS NULL AND kind IN ({generated})"
    )
    op.execute("UPDATE documents SET uploader_role = 'unknown' WHERE uploader_role IS NULL")
    with op.batch_alter_table("documents") as batch:
        batch.alter_column("uploader_role", existing_type=sa.String(length=20), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("uploader_role")
