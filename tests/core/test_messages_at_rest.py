"""Case messages at rest: encrypted with a key derived from the document keys, bound to their row,
re-encrypted under the current key after a rotation."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import case_messages
from core.messages import CaseMessage, MessageKeyUnavailable, MessageStore, MessageUnreadable
from core.settings import Settings

SECRET = "Le rendez-vous est fixé rue des Xylophages, code 4471"


def message(case_id: str, body: str = SECRET, *, minute: int = 0) -> CaseMessage:
    return CaseMessage(
        message_id=uuid.uuid4().hex,
        case_id=case_id,
        author_id="c0123",
        author_role="candidate",
        body=body,
        created_at=dt.datetime(2026, 11, 29, 8, minute, tzinfo=dt.UTC),
    )


def rotated(settings: Settings) -> Settings:
    """The same keys, ``key-b`` now encrypting."""
    return settings.model_copy(update={"document_key_id": "key-b"})


async def raw_rows(engine: AsyncEngine) -> dict[str, dict[str, object]]:
    async with engine.connect() as connection:
        rows = (await connection.execute(select(case_messages))).mappings().all()
    return {str(row["message_id"]): dict(row) for row in rows}


async def test_a_stored_message_is_read_back_and_is_nowhere_in_clear(
    app_engine: AsyncEngine, storage_settings: Settings
) -> None:
    store = MessageStore(app_engine, storage_settings)
    first, second = message("case-a", minute=1), message("case-a", "Oui.", minute=2)
    await store.write(second)
    await store.write(first)
    await store.write(message("case-b", "Autre dossier"))

    assert await store.list_for_case("case-a") == [first, second]
    rows = await raw_rows(app_engine)
    assert rows[first.message_id]["key_id"] == "key-a"
    for row in rows.values():
        assert "body" not in row
        stored = bytes(row["ciphertext"])  # type: ignore[arg-type]
        assert SECRET.encode() not in stored and b"Xylophages" not in stored
    if app_engine.url.get_backend_name() == "sqlite":
        await app_engine.dispose()  # everything checkpointed into the file
        database = app_engine.url.database
        assert database is not None
        content = Path(database).read_bytes()
        assert b"Xylophages" not in content and b"Autre dossier" not in content
        assert b"case-a" in content  # the file is the one written to


async def test_a_wrong_or_unknown_key_id_makes_the_message_unreadable(
    app_engine: AsyncEngine, storage_settings: Settings
) -> None:
    store = MessageStore(app_engine, storage_settings)
    stored = message("case-k")
    await store.write(stored)
    async with app_engine.begin() as connection:
        await connection.execute(
            update(case_messages)
            .where(case_messages.c.message_id == stored.message_id)
            .values(key_id="key-b")
        )
    # Another configured key: authentication fails (the key id is in the associated data too).
    with pytest.raises(MessageUnreadable) as unreadable:
        await store.list_for_case("case-k")
    assert not isinstance(unreadable.value, MessageKeyUnavailable)
    assert unreadable.value.message_id == stored.message_id
    assert SECRET not in str(unreadable.value)
    async with app_engine.begin() as connection:
        await connection.execute(
            update(case_messages)
            .where(case_messages.c.message_id == stored.message_id)
            .values(key_id="key-gone")
        )
    with pytest.raises(MessageKeyUnavailable) as unavailable:
        await store.list_for_case("case-k")
    assert unavailable.value.key_id == "key-gone"


async def test_a_ciphertext_moved_to_another_row_or_case_does_not_open(
    app_engine: AsyncEngine, storage_settings: Settings
) -> None:
    store = MessageStore(app_engine, storage_settings)
    victim, other = message("case-victim"), message("case-other", "Bonjour")
    await store.write(victim)
    await store.write(other)
    rows = await raw_rows(app_engine)
    # The victim's ciphertext pasted over a message of another case.
    async with app_engine.begin() as connection:
        await connection.execute(
            update(case_messages)
            .where(case_messages.c.message_id == other.message_id)
            .values(ciphertext=rows[victim.message_id]["ciphertext"])
        )
    with pytest.raises(MessageUnreadable):
        await store.list_for_case("case-other")
    # The victim's whole row moved to another case.
    async with app_engine.begin() as connection:
        await connection.execute(
            update(case_messages)
            .where(case_messages.c.message_id == victim.message_id)
            .values(case_id="case-thief")
        )
    with pytest.raises(MessageUnreadable):
        await store.list_for_case("case-thief")


async def test_rekey_moves_every_message_to_the_current_key(
    app_engine: AsyncEngine, storage_settings: Settings
) -> None:
    old = MessageStore(app_engine, storage_settings)
    written = [message(f"case-r{index}", f"Message {index}", minute=index) for index in range(5)]
    for item in written:
        await old.write(item)
    before = await raw_rows(app_engine)

    new = MessageStore(app_engine, rotated(storage_settings))
    result = await new.rekey(batch_size=2)
    assert (result.rekeyed, result.current) == (5, 0)
    after = await raw_rows(app_engine)
    assert {row["key_id"] for row in after.values()} == {"key-b"}
    for message_id, row in after.items():
        assert row["ciphertext"] != before[message_id]["ciphertext"]
    # Only the new key is needed now.
    only_b = rotated(storage_settings).model_copy(
        update={"document_keys": {"key-b": storage_settings.document_keys["key-b"]}}
    )
    for item in written:
        assert await MessageStore(app_engine, only_b).list_for_case(item.case_id) == [item]
    again = await new.rekey()
    assert (again.rekeyed, again.current) == (0, 5)


async def test_rekey_stops_at_a_row_it_cannot_read(
    app_engine: AsyncEngine, storage_settings: Settings
) -> None:
    store = MessageStore(app_engine, storage_settings)
    broken = message("case-broken")
    await store.write(broken)
    async with app_engine.begin() as connection:
        await connection.execute(
            update(case_messages)
            .where(case_messages.c.message_id == broken.message_id)
            .values(key_id="key-gone")
        )
    with pytest.raises(MessageKeyUnavailable):
        await MessageStore(app_engine, rotated(storage_settings)).rekey()
    assert (await raw_rows(app_engine))[broken.message_id]["key_id"] == "key-gone"


async def test_delete_for_case_removes_only_that_case(
    app_engine: AsyncEngine, storage_settings: Settings
) -> None:
    store = MessageStore(app_engine, storage_settings)
    for item in (message("case-d"), message("case-d", minute=3), message("case-kept")):
        await store.write(item)
    assert await store.delete_for_case("case-d") == 2
    assert await store.list_for_case("case-d") == []
    assert len(await store.list_for_case("case-kept")) == 1
