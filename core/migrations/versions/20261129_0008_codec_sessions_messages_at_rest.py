"""Codec sessions; case messages encrypted at rest

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29

``codec_sessions``: the Temporal Web UI's decoding gets sessions of its own
(``core.codec_sessions``) instead of a cookie holding the operator's API token.

``case_messages.body`` becomes ``ciphertext`` + ``key_id`` (``core.messages``): the existing rows
are encrypted on upgrade, with the current document key, and decrypted back on downgrade. Both
need the document keys: those of the settings the migrating process runs with (``core.db.migrate``
passes them), else of the environment.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

from core.messages import MessageCipher
from core.settings import Settings

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_messages = sa.table(
    "case_messages",
    sa.column("message_id", sa.String),
    sa.column("case_id", sa.String),
    sa.column("body", sa.Text),
    sa.column("ciphertext", sa.LargeBinary),
    sa.column("key_id", sa.String),
)


def _cipher() -> MessageCipher:
    settings = context.config.attributes.get("settings")
    return MessageCipher.from_settings(settings if settings is not None else Settings())


def upgrade() -> None:
    op.create_table(
        "codec_sessions",
        sa.Column("session_id", sa.String(length=32), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_codec_sessions_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_codec_sessions")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_codec_sessions_secret_hash")),
    )
    op.create_index(
        op.f("ix_codec_sessions_account_id"), "codec_sessions", ["account_id"], unique=False
    )

    with op.batch_alter_table("case_messages") as batch:
        batch.add_column(sa.Column("ciphertext", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("key_id", sa.String(length=64), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(_messages.c.message_id, _messages.c.case_id, _messages.c.body)
    ).all()
    if rows:
        cipher = _cipher()
        for row in rows:
            ciphertext, key_id = cipher.seal(
                case_id=row.case_id, message_id=row.message_id, body=row.body
            )
            connection.execute(
                sa.update(_messages)
                .where(_messages.c.message_id == row.message_id)
                .values(ciphertext=ciphertext, key_id=key_id)
            )
    with op.batch_alter_table("case_messages") as batch:
        batch.alter_column("ciphertext", existing_type=sa.LargeBinary(), nullable=False)
        batch.alter_column("key_id", existing_type=sa.String(length=64), nullable=False)
        batch.drop_column("body")


def downgrade() -> None:
    with op.batch_alter_table("case_messages") as batch:
        batch.add_column(sa.Column("body", sa.Text(), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(
            _messages.c.message_id, _messages.c.case_id, _messages.c.ciphertext, _messages.c.key_id
        )
    ).all()
    if rows:
        cipher = _cipher()
        for row in rows:
            body = cipher.open(
                case_id=row.case_id,
                message_id=row.message_id,
                ciphertext=row.ciphertext,
                key_id=row.key_id,
            )
            connection.execute(
                sa.update(_messages)
                .where(_messages.c.message_id == row.message_id)
                .values(body=body)
            )
    with op.batch_alter_table("case_messages") as batch:
        batch.alter_column("body", existing_type=sa.Text(), nullable=False)
        batch.drop_column("key_id")
        batch.drop_column("ciphertext")

    op.drop_index(op.f("ix_codec_sessions_account_id"), table_name="codec_sessions")
    op.drop_table("codec_sessions")
