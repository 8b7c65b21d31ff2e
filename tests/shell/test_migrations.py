"""Migrations: ordered, idempotent, safe when run concurrently, refusing edited history."""

from __future__ import annotations

import asyncio
import dataclasses

import asyncpg
import pytest

from daemon.shell import migrations


async def test_concurrent_runs_apply_each_migration_once(empty_database_url: str) -> None:
    """Five concurrent migrators: each migration is applied exactly once, in order."""
    conns = [await asyncpg.connect(empty_database_url) for _ in range(5)]
    try:
        results = await asyncio.gather(*(migrations.migrate(c) for c in conns))
        applied = [m.version for result in results for m in result]
        assert sorted(applied) == [m.version for m in migrations.available()]
        rows = await conns[0].fetch("SELECT version FROM schema_migrations ORDER BY version")
        assert [r[0] for r in rows] == [m.version for m in migrations.available()]
        assert await migrations.migrate(conns[0]) == []
    finally:
        for c in conns:
            await c.close()


async def test_edited_migration_is_refused(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A migration whose file changed after it was applied stops the run with its name."""
    conn = await asyncpg.connect(empty_database_url)
    try:
        await migrations.migrate(conn)
        original = migrations.available()
        edited = [
            dataclasses.replace(original[0], sql=original[0].sql + "\n-- edited"),
            *original[1:],
        ]
        monkeypatch.setattr(migrations, "available", lambda: edited)
        with pytest.raises(migrations.MigrationError, match=r"001_event_log\.sql changed after"):
            await migrations.migrate(conn)
    finally:
        await conn.close()


def test_migrations_are_numbered_without_gaps() -> None:
    """Shipped migrations are numbered 1..N."""
    versions = [m.version for m in migrations.available()]
    assert versions == list(range(1, len(versions) + 1))
