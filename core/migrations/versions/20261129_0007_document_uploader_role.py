"""The uploader's role on each document

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29

Each document records the role of who uploaded it, shown with the document (issue 12): the
CNCCFP can tell a prefect's decision from a candidate's upload. Existing rows take the role of
their uploader's account; what secupol wrote itself (the seal's manifest and receipt) becomes
``system``; a row whose uploader has no account becomes ``unknown``, as does a document the
previous release inserts while it still runs on this schema (the column's server default).
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
    # A server default, so that the released code, which runs on this schema until the new
    # version replaces it (the runbook migrates first), can still insert documents.
    op.add_column(
        "documents",
        sa.Column("uploader_role", sa.String(length=20), nullable=False, server_default="unknown"),
    )
    op.execute(
        "UPDATE documents SET uploader_role = COALESCE(("
        "SELECT accounts.role FROM accounts WHERE accounts.account_id = documents.uploaded_by"
        "), 'unknown')"
    )
    generated = ", ".join(f"'{kind}'" for kind in GENERATED_KINDS)
    op.execute(
        f"UPDATE documents SET uploader_role = 'system' "
        f"WHERE uploader_role = 'unknown' AND kind IN ({generated})"
    )


def downgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("uploader_role")
