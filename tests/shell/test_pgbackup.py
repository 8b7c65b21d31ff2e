"""Dump and restore of the event log's database: identical after a round trip, never over data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import clitools
import pytest
from test_eventstore import commit

from daemon import errors
from daemon.core import codec
from daemon.core import events as ev
from daemon.shell import embeddedpg, eventstore, migrations, pgbackup, projections

PG_DUMP = embeddedpg.bin_path() / "pg_dump"
PG_RESTORE = embeddedpg.bin_path() / "pg_restore"

# Every table the log's database holds, with an order that makes rows comparable.
TABLES = {
    "events": "position",
    "blobs": "digest",
    "snapshots": "name",
    "projections": "name",
    "commits": "position",
    "schema_migrations": "version",
}


async def contents(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order."""
    conn = await asyncpg.connect(url)
    try:
        return {
            table: [tuple(r) for r in await conn.fetch(f"SELECT * FROM {table} ORDER BY {key}")]
            for table, key in TABLES.items()
        }
    finally:
        await conn.close()


@pytest.fixture
async def filled(store: eventstore.EventStore) -> eventstore.EventStore:
    """A log with events in two streams (meta included), a blob, a snapshot and a projection."""
    await store.append("source/infra", 0, [commit("a"), commit("b")])
    body = {"kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "ü"}}
    await store.put_blobs({codec.digest(body): codec.dumps(body)})
    meta = ev.EventMeta(correlation_id="sync-1", actor="git:Ada")
    await store.append("source/other", 0, [ev.SourceRecovered(source="other")], meta=meta)
    await store.save_snapshot("daemon", eventstore.Snapshot(3, 1, b"\x00state"))
    await store.project("commits", projections.commits)
    return store


async def test_round_trip_restores_identical_rows(
    filled: eventstore.EventStore, empty_database_url: str, tmp_path: Path
) -> None:
    """Dump then restore into a fresh database: events, blobs, snapshots, projections identical."""
    path = tmp_path / "log.dump"
    await pgbackup.dump(filled.url, path, pg_dump=PG_DUMP)
    assert (path.stat().st_mode & 0o777, path.read_bytes()[:5]) == (0o600, b"PGDMP")
    restored = await pgbackup.restore(empty_database_url, path, pg_restore=PG_RESTORE)
    assert restored == pgbackup.Restored(events=3, last_position=3)
    assert await contents(empty_database_url) == await contents(filled.url)
    target = await eventstore.connect(empty_database_url, pool_size=1)
    try:
        # The identity sequence came along: the next append takes the next position.
        assert await target.append("source/infra", 2, [commit("c")]) == [4]
    finally:
        await target.close()


async def test_restore_into_a_migrated_empty_database(
    filled: eventstore.EventStore, empty_database_url: str, tmp_path: Path
) -> None:
    """A database with gitopsd's schema but no events (after `migrate`) takes a restore."""
    conn = await asyncpg.connect(empty_database_url)
    try:
        await migrations.migrate(conn)
    finally:
        await conn.close()
    path = tmp_path / "log.dump"
    await pgbackup.dump(filled.url, path, pg_dump=PG_DUMP)
    await pgbackup.restore(empty_database_url, path, pg_restore=PG_RESTORE)
    assert await contents(empty_database_url) == await contents(filled.url)


async def test_restore_over_events_is_refused_and_changes_nothing(
    filled: eventstore.EventStore, store: eventstore.EventStore, tmp_path: Path
) -> None:
    """Restoring over a log that holds events is refused; the log is left as it was."""
    path = tmp_path / "log.dump"
    await pgbackup.dump(filled.url, path, pg_dump=PG_DUMP)
    await store.append("source/infra", None, [commit("c")])
    before = await contents(store.url)
    with pytest.raises(pgbackup.BackupError) as info:
        await pgbackup.restore(filled.url, path, pg_restore=PG_RESTORE)
    name = filled.url.split("?")[0].rsplit("/", 1)[1]
    assert str(info.value) == (
        f"database {name} already holds an event log with 4 events: refusing to restore over"
        " it (the log is append-only; restoring would lose or mix events). Restore into an"
        " empty database (a new state_dir, or a new database.url)"
    )
    assert await contents(filled.url) == before


async def test_restore_while_someone_is_connected_is_refused(
    filled: eventstore.EventStore, empty_database_url: str, tmp_path: Path
) -> None:
    """A restore target that another session uses (a running daemon) is refused."""
    path = tmp_path / "log.dump"
    await pgbackup.dump(filled.url, path, pg_dump=PG_DUMP)
    other = await asyncpg.connect(empty_database_url)
    try:
        with pytest.raises(pgbackup.BackupError, match="has 1 other connection"):
            await pgbackup.restore(empty_database_url, path, pg_restore=PG_RESTORE)
        assert await other.fetchval("SELECT to_regclass('public.events')") is None
    finally:
        await other.close()


async def test_restore_refuses_a_file_that_is_not_a_dump(
    empty_database_url: str, tmp_path: Path
) -> None:
    """A plain SQL file or a missing file is bad input (exit 2), named in the message."""
    sql = tmp_path / "log.sql"
    sql.write_text("SELECT 1;\n")
    with pytest.raises(errors.UsageError) as info:
        await pgbackup.restore(empty_database_url, sql, pg_restore=PG_RESTORE)
    assert str(info.value) == (
        f"{sql}: not a pg_dump custom-format archive (make one with `gitopsd db dump`)"
    )
    with pytest.raises(errors.UsageError, match="cannot read: No such file"):
        pgbackup.check_archive(tmp_path / "missing.dump")


async def test_failed_dump_leaves_no_file(tmp_path: Path, database_url: str) -> None:
    """A pg_dump that fails leaves neither the file nor a partial one, and says why."""
    tool = clitools.fake_tool(
        tmp_path / "bin", "pg_dump", version="18.6", then="echo disk full >&2; exit 1"
    )
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(pgbackup.BackupError) as info:
        await pgbackup.dump(database_url, out / "log.dump", pg_dump=tool)
    assert str(info.value) == "pg_dump of the event log's database failed: disk full"
    assert list(out.iterdir()) == []


async def test_dump_with_an_older_pg_dump_is_refused(tmp_path: Path, database_url: str) -> None:
    """A pg_dump older than the server is refused before it runs, naming both versions."""
    tool = clitools.fake_tool(
        tmp_path / "bin", "pg_dump", version="15.18", then=f"touch {tmp_path / 'ran'}"
    )
    with pytest.raises(pgbackup.BackupError, match=r"is PostgreSQL 15, older than the server"):
        await pgbackup.dump(database_url, tmp_path / "log.dump", pg_dump=tool)
    assert not (tmp_path / "log.dump").exists()
    assert not (tmp_path / "ran").exists()


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n", 15),
        ("pg_dump (PostgreSQL) 18.6\n", 18),
        ("pg_restore (PostgreSQL) 19devel\n", 19),
    ],
)
def test_major_version_of_tool_output(output: str, major: int) -> None:
    """The major version is read from `--version` output, distribution suffixes and all."""
    assert pgbackup.major_version(output) == major


def test_major_version_refuses_other_output() -> None:
    """Output that is not a PostgreSQL tool's version is an error quoting it."""
    with pytest.raises(ValueError, match=r"not a PostgreSQL tool version: 'pg_dump 1\.0'"):
        pgbackup.major_version("pg_dump 1.0")


def test_version_problem_only_for_an_older_tool() -> None:
    """A tool older than the server is refused with what to do; equal or newer is fine."""
    tool = Path("/usr/bin/pg_dump")
    assert pgbackup.version_problem(tool=tool, tool_major=18, server_major=18) is None
    assert pgbackup.version_problem(tool=tool, tool_major=18, server_major=13) is None
    assert pgbackup.version_problem(tool=tool, tool_major=15, server_major=18) == (
        "/usr/bin/pg_dump is PostgreSQL 15, older than the server (PostgreSQL 18), and cannot"
        " read it: install the PostgreSQL 18 client tools (or newer) and put them first on"
        " PATH, or name their directory with --pg-bin"
    )
