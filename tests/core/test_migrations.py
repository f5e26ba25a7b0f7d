"""Migrations from empty and back, on SQLite and on PostgreSQL.

PostgreSQL is the one named by ``SECUPOL_TEST_POSTGRES_URL`` (``make test`` sets it to the local
server); when it is set, an unreachable server fails these tests. Each PostgreSQL test works in a
schema of its own, dropped afterwards.
"""

from __future__ import annotations

import datetime as dt

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, insert, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import elections, metadata, migrate
from domain.elections import is_covered

SCHEME_IN_FORCE = dt.date(2025, 3, 21)
"""L. 52-18 to L. 52-18-4 apply from this day (DOMAIN.md): an election before it is test data."""


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
    # No test election in a production migration (rule 10): every seeded election falls under
    # the law, and its coverage is the one its type gives.
    assert "legislatives-2024" not in by_id
    for row in seeded:
        assert row["first_round"] >= SCHEME_IN_FORCE, row["election_id"]
        assert row["covered"] is is_covered(row["election_type"]), row["election_id"]


def _old_seed_row(covered: bool) -> dict[str, object]:
    """The test election as the first version of revision 0002 inserted it (``covered`` False)."""
    return {
        "election_id": "legislatives-2024",
        "election_type": "legislatives",
        "label": "Élections législatives 2024",
        "first_round": dt.date(2024, 6, 30),
        "second_round": dt.date(2024, 7, 7),
        "covered": covered,
        "created_at": dt.datetime(2026, 11, 23, tzinfo=dt.UTC),
    }


async def _election_ids(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return set((await connection.scalars(select(elections.c.election_id))).all())


async def test_0004_removes_the_test_election_of_an_existing_database(
    bare_engine: AsyncEngine,
) -> None:
    # A database migrated before the seed was fixed holds the test election.
    await migrate(bare_engine, "0003")
    async with bare_engine.begin() as connection:
        await connection.execute(insert(elections).values(**_old_seed_row(covered=False)))
    assert await _election_ids(bare_engine) == {"municipales-2026", "legislatives-2024"}
    await migrate(bare_engine, "0004")
    assert await _election_ids(bare_engine) == {"municipales-2026"}
    # Downgrade restores nothing; upgrading again is harmless.
    await migrate(bare_engine, "0003")
    assert await _election_ids(bare_engine) == {"municipales-2026"}
    await migrate(bare_engine)
    assert await _election_ids(bare_engine) == {"municipales-2026"}


async def test_0004_leaves_a_covered_row_of_that_id_alone(bare_engine: AsyncEngine) -> None:
    # Marked covered by hand, it may have cases: the migration does not delete it.
    await migrate(bare_engine, "0003")
    async with bare_engine.begin() as connection:
        await connection.execute(insert(elections).values(**_old_seed_row(covered=True)))
    await migrate(bare_engine, "0004")
    assert await _election_ids(bare_engine) == {"municipales-2026", "legislatives-2024"}


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
    assert count == 1
    assert len(version) == 1


def _document_row(document_id: str, kind: str, uploaded_by: str) -> dict[str, object]:
    """A documents row as revision 0005 knew it (no ``uploader_role``)."""
    return {
        "document_id": document_id,
        "case_id": "case-municipales-2026-c1",
        "kind": kind,
        "filename": f"{document_id}.pdf",
        "size": 10,
        "sha256": document_id.ljust(64, "0"),
        "content_type": "application/pdf",
        "object_key": f"objects/{document_id}",
        "key_id": "k1",
        "uploaded_by": uploaded_by,
        "uploaded_at": dt.datetime(2026, 11, 23, tzinfo=dt.UTC),
    }


async def test_0007_backfills_the_uploader_role_of_existing_documents(
    bare_engine: AsyncEngine,
) -> None:
    await migrate(bare_engine, "0005")
    created = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
    async with bare_engine.begin() as connection:
        for account_id, role in (("c1", "candidate"), ("pref1", "prefecture")):
            await connection.execute(
                text(
                    "INSERT INTO accounts (account_id, email, display_name, role, created_at) "
                    "VALUES (:id, :email, 'Nom', :role, :at)"
                ),
                {
                    "id": account_id,
                    "email": f"{account_id}@example.test",
                    "role": role,
                    "at": created,
                },
            )
        columns = ", ".join(_document_row("x", "other", "x"))
        values = ", ".join(f":{name}" for name in _document_row("x", "other", "x"))
        for row in (
            _document_row("d1", "invoice", "c1"),
            _document_row("d2", "evaluation_decision", "pref1"),
            _document_row("d3", "deposit_receipt", "system"),
            _document_row("d4", "other", "gone"),
        ):
            await connection.execute(
                text(f"INSERT INTO documents ({columns}) VALUES ({values})"), row
            )
    await migrate(bare_engine, "0007")
    async with bare_engine.connect() as connection:
        roles = dict(
            (
                await connection.execute(text("SELECT document_id, uploader_role FROM documents"))
            ).all()
        )
    assert roles == {"d1": "candidate", "d2": "prefecture", "d3": "system", "d4": "unknown"}
    # Down and up again: the column goes, then comes back backfilled.
    await migrate(bare_engine, "0005")
    await migrate(bare_engine)
    async with bare_engine.connect() as connection:
        again = dict(
            (
                await connection.execute(text("SELECT document_id, uploader_role FROM documents"))
            ).all()
        )
    assert again == roles
