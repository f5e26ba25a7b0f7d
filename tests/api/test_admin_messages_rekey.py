"""``python -m api.admin messages-rekey``: after a document key rotation, the case messages are
re-encrypted under the current key; a message no configured key opens stops it, in French."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
from pathlib import Path

import pytest
from sqlalchemy import select, update

from api.admin import EXIT_OK, run
from core.db import case_messages, create_engine, migrate
from core.messages import CaseMessage, MessageStore
from core.settings import Settings

OLD = base64.b64encode(b"o" * 32).decode()
NEW = base64.b64encode(b"n" * 32).decode()


def environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, keys: dict[str, str], current: str
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("SECUPOL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SECUPOL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SECUPOL_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'app.sqlite3'}")
    monkeypatch.setenv("SECUPOL_DOCUMENT_KEYS", json.dumps(keys))
    monkeypatch.setenv("SECUPOL_DOCUMENT_KEY_ID", current)


async def test_messages_rekey_after_a_rotation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    environment(monkeypatch, tmp_path, {"old": OLD}, "old")
    before = Settings()
    engine = create_engine(before)
    try:
        await migrate(engine, settings=before)
        for index in range(3):
            await MessageStore(engine, before).write(
                CaseMessage(
                    message_id=f"m{index}",
                    case_id="case-rotation",
                    author_id="c1",
                    author_role="candidate",
                    body=f"Message {index}",
                    created_at=dt.datetime(2026, 11, 1, 8, index, tzinfo=dt.UTC),
                )
            )

        # Steps 2 and 3 of the runbook: the new key added, then made current.
        environment(monkeypatch, tmp_path, {"old": OLD, "new": NEW}, "new")
        capsys.readouterr()
        assert await run(["messages-rekey"]) == EXIT_OK
        out = capsys.readouterr().out
        assert "Messages rechiffrés avec la clé « new » : 3" in out
        async with engine.connect() as connection:
            key_ids = set((await connection.scalars(select(case_messages.c.key_id))).all())
        assert key_ids == {"new"}
        only_new = Settings().model_copy(
            update={"document_keys": {"new": Settings().document_keys["new"]}}
        )
        bodies = [
            m.body for m in await MessageStore(engine, only_new).list_for_case("case-rotation")
        ]
        assert bodies == ["Message 0", "Message 1", "Message 2"]

        # A message under a key that is gone: refused, named, nothing printed of its content.
        async with engine.begin() as connection:
            await connection.execute(
                update(case_messages)
                .where(case_messages.c.message_id == "m1")
                .values(key_id="lost")
            )
        status = await run(["messages-rekey"])
        _, err = capsys.readouterr()
        assert status == 2
        assert "m1" in err and "« lost »" in err and "Message 1" not in err
        assert "Traceback" not in err
    finally:
        await engine.dispose()
