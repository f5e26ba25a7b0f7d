"""Messages posted through the API are stored encrypted, read back in clear, and a message that
cannot be decrypted is answered with a stable code, never a server error's text."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select, update

from core.db import case_messages
from tests.api.conftest import ApiStack
from tests.api.flow import act, new_email, open_case

SECRET = "Je serai au local de campagne, 7 passage des Quokkas, après 21 h"


async def test_a_posted_message_is_stored_encrypted_and_read_back(api: ApiStack) -> None:
    candidate = await api.sign_in(new_email("rest"))
    case_id = (await open_case(api, candidate))["case_id"]
    async with api.http(candidate) as http:
        posted = await act(
            http, "POST", f"/cases/{case_id}/messages", {"body": SECRET}, expected=201
        )
    assert posted["body"] == SECRET

    async with api.engine.connect() as connection:
        row = (
            (
                await connection.execute(
                    select(case_messages).where(case_messages.c.message_id == posted["message_id"])
                )
            )
            .mappings()
            .one()
        )
    assert "body" not in row
    assert row["key_id"] == api.settings.document_key_id
    assert b"Quokkas" not in bytes(row["ciphertext"])
    if api.backend == "sqlite":
        database = Path(str(api.engine.url.database))
        for path in (database, database.with_name(database.name + "-wal")):
            if path.exists():
                assert b"Quokkas" not in path.read_bytes(), path.name

    async with api.http(candidate) as http:
        response = await http.get(f"/cases/{case_id}/messages")
    assert response.status_code == 200, response.text
    assert [item["body"] for item in response.json()] == [SECRET]


async def test_an_unreadable_message_is_a_stable_refusal(api: ApiStack) -> None:
    candidate = await api.sign_in(new_email("unreadable"))
    case_id = (await open_case(api, candidate))["case_id"]
    async with api.http(candidate) as http:
        posted = await act(
            http, "POST", f"/cases/{case_id}/messages", {"body": SECRET}, expected=201
        )
    async with api.engine.begin() as connection:
        # A key dropped from the settings too early.
        await connection.execute(
            update(case_messages)
            .where(case_messages.c.message_id == posted["message_id"])
            .values(key_id="retired-key")
        )
    async with api.http(candidate) as http:
        response = await http.get(f"/cases/{case_id}/messages")
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == "message_unreadable"
    assert "déchiffré" in problem["detail"]
    assert "retired-key" not in response.text and "Quokkas" not in response.text
