"""Migrations from empty and back, on SQLite and on PostgreSQL.

PostgreSQL is the one named by ``SECUPOL_TEST_POSTGRES_URL`` (``make test`` sets it to the local
server); when it is set, an unreachable server fails these tests. Each PostgreSQL test works in a
schema of its own, dropped afterwards.
"""

from __future__ import annotations

import datetime as dt

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import elections, metadata, migrate


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


def _differences(connection: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(connection), metadata))


async def test_upgrade_from_empty_gives_the_models_schema(bare_engine: AsyncEngine) -> None:
    await migrate(bare_engine)
    async with bare_engine.connect() as connection:
        assert await connection.run_sync(_tables) == set(metadata.tables)
        # The migrations and core.db.metadata say the same thing: a table changed without a
        # migration fails here.
        assert await connection.run_sync(_differences) == []
        seeded = (await connection.execute(select(elections))).mappings().all()
    by_id = {row["election_id"]: row for row in seeded}
    assert by_id["municipales-2026"]["first_round"] == dt.date(2026, 3, 15)
    assert by_id["municipales-2026"]["covered"] is True
    assert by_id["legislatives-2024"]["covered"] is False


async def test_downgrade_to_nothing_and_up_again(bare_engine: AsyncEngine) -> None:
    await migrate(bare_engine)
    await migrate(bare_engine, "base")
    async with bare_engine.connect() as connection:
        assert await connection.run_sync(_tables) == set()
    await migrate(bare_engine)
    async with bare_engine.connect() as connection:
        assert await connection.run_sync(_tables) == set(metadata.tables)


async def test_migrating_twice_changes_nothing(bare_engine: AsyncEngine) -> None:
    await migrate(bare_engine)
    await migrate(bare_engine)
    async with bare_engine.connect() as connection:
        count = len((await connection.execute(select(elections))).all())
        version = (await connection.execute(text("SELECT version_num FROM alembic_version"))).all()
    assert count == 2
    assert len(version) == 1
