"""The migration that encrypts case messages at rest: rows written in clear before it are encrypted
on upgrade, with the document keys of the settings given, and decrypted again on downgrade."""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path

from alembic import command
from sqlalchemy import inspect, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import case_messages, migrate
from core.messages import CaseMessage, MessageStore
from core.migrations import SCRIPT_LOCATION, alembic_config
from core.settings import Settings


def _revision() -> tuple[str, str]:
    """This migration's revision and the one before it (whatever the chain became)."""
    [path] = (SCRIPT_LOCATION / "versions").glob("*_codec_sessions_messages_at_rest.py")
    spec = importlib.util.spec_from_file_location("migration_under_test", Path(path))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.revision, module.down_revision


REVISION, BEFORE = _revision()
WHEN = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)
PLAIN = [
    ("m1", "case-mig-a", "Mon adresse : 12 impasse des Zostères"),
    ("m2", "case-mig-a", "Deuxième message"),
    ("m3", "case-mig-b", "Réponse de la Commission"),
]


async def _columns(engine: AsyncEngine, table: str) -> set[str]:
    async with engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: {column["name"] for column in inspect(sync).get_columns(table)}
        )


async def test_existing_messages_are_encrypted_on_upgrade_and_decrypted_on_downgrade(
    bare_engine: AsyncEngine, storage_settings: Settings
) -> None:
    await migrate(bare_engine, BEFORE)
    async with bare_engine.begin() as connection:
        for message_id, case_id, body in PLAIN:
            await connection.execute(
                text(
                    "INSERT INTO case_messages (message_id, case_id, author_id, author_role, "
                    "body, created_at) VALUES (:id, :case, 'c1', 'candidate', :body, :at)"
                ),
                {"id": message_id, "case": case_id, "body": body, "at": WHEN},
            )

    await migrate(bare_engine, REVISION, settings=storage_settings)
    assert "body" not in await _columns(bare_engine, "case_messages")
    async with bare_engine.connect() as connection:
        rows = (await connection.execute(select(case_messages))).mappings().all()
        tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    assert "codec_sessions" in tables
    assert {row["key_id"] for row in rows} == {storage_settings.document_key_id}
    for row in rows:
        assert b"Zost" not in bytes(row["ciphertext"]) and b"message" not in bytes(
            row["ciphertext"]
        )
    store = MessageStore(bare_engine, storage_settings)
    assert [(m.message_id, m.body) for m in await store.list_for_case("case-mig-a")] == [
        ("m1", PLAIN[0][2]),
        ("m2", PLAIN[1][2]),
    ]
    # Written after the upgrade, read in clear after the downgrade.
    await store.write(
        CaseMessage(
            message_id="m4",
            case_id="case-mig-b",
            author_id="cncc1",
            author_role="cnccfp",
            body="Écrit après",
            created_at=WHEN + dt.timedelta(hours=1),
        )
    )

    async with bare_engine.begin() as connection:
        await connection.run_sync(
            lambda sync: command.downgrade(alembic_config(sync, storage_settings), BEFORE)
        )
    assert {"ciphertext", "key_id"}.isdisjoint(await _columns(bare_engine, "case_messages"))
    async with bare_engine.connect() as connection:
        restored = dict(
            (await connection.execute(text("SELECT message_id, body FROM case_messages"))).all()
        )
        tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    assert restored == {**{m: body for m, _, body in PLAIN}, "m4": "Écrit après"}
    assert "codec_sessions" not in tables
