"""`gitopsd db dump` and `db restore` as a user runs them, on the embedded and an external database."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import clitools

from daemon.core import codec
from daemon.core import events as ev
from daemon.shell import embeddedpg, eventstore, migrations, pgbackup

QUERIES = ("SELECT * FROM events ORDER BY position", "SELECT * FROM blobs ORDER BY digest")


def fill_embedded(state_dir: Path) -> None:
    """An embedded log in ``state_dir`` with three events in two streams and a blob."""
    server = embeddedpg.start(state_dir)
    try:
        server.ensure_database()

        async def go() -> None:
            store = await eventstore.connect(server.url(), pool_size=1)
            try:
                async with store.pool.acquire() as conn:
                    await migrations.migrate(conn)
                await store.append("source/a", 0, [ev.SourceRecovered(source="a")] * 2)
                meta = ev.EventMeta(actor="git:Ada")
                await store.append("source/b", 0, [ev.SourceRecovered(source="b")], meta=meta)
                body = {"kind": "ConfigMap", "data": {"k": "ü"}}
                await store.put_blobs({codec.digest(body): codec.dumps(body)})
            finally:
                await store.close()

        asyncio.run(go())
    finally:
        server.stop()


def rows(config: Path) -> list[str]:
    """Every event and blob row, as psql prints them."""
    out = []
    for sql in QUERIES:
        result = clitools.gitopsd(
            "--config", str(config), "db", "psql", "-AtXc", sql, cwd=config.parent
        )
        assert result.returncode == 0, result.stderr
        out.append(result.stdout)
    return out


def test_dump_then_restore_into_a_new_state_dir(pg_tmp_path: Path) -> None:
    """A dump of one embedded log restored into another gives the same events and blobs."""
    fill_embedded(pg_tmp_path / "a")
    for name in ("a", "b"):
        (pg_tmp_path / f"{name}.yaml").write_text(f"state_dir: {pg_tmp_path / name}\n")
    dump = clitools.gitopsd(
        "--config", str(pg_tmp_path / "a.yaml"), "db", "dump", "log.dump", cwd=pg_tmp_path
    )
    assert (dump.returncode, dump.stdout, dump.stderr) == (0, "dumped to log.dump\n", "")
    assert (pg_tmp_path / "log.dump").stat().st_mode & 0o777 == 0o600
    restore = clitools.gitopsd(
        "--config", str(pg_tmp_path / "b.yaml"), "db", "restore", "log.dump", cwd=pg_tmp_path
    )
    assert (restore.returncode, restore.stdout, restore.stderr) == (
        0,
        "restored 3 events (last position 3)\n",
        "",
    )
    assert rows(pg_tmp_path / "b.yaml") == rows(pg_tmp_path / "a.yaml")
    again = clitools.gitopsd(
        "--config", str(pg_tmp_path / "b.yaml"), "db", "restore", "log.dump", cwd=pg_tmp_path
    )
    assert (again.returncode, again.stdout) == (1, "")
    assert again.stderr.startswith(
        "error: database gitopsd already holds an event log with 3 events: refusing to restore"
    )
    assert clitools.postgres_processes_in(pg_tmp_path) == []


def test_restore_of_a_file_that_is_not_a_dump_exits_2(tmp_path: Path) -> None:
    """`db restore` of a missing file is bad input: exit 2, the file named, nothing started."""
    (tmp_path / "gitopsd.yaml").write_text("")  # every default: the embedded database
    result = clitools.gitopsd("db", "restore", "nope.dump", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == "error: nope.dump: cannot read: No such file or directory\n"


def test_external_database_with_an_older_pg_dump_on_path(tmp_path: Path, database_url: str) -> None:
    """For an external database the pg_dump on PATH is used; older than the server: refused."""
    old = clitools.fake_tool(tmp_path / "bin", "pg_dump", version="15.18", then="exit 3")
    env = {"GITOPSD_DATABASE_URL": database_url, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"}
    (tmp_path / "gitopsd.yaml").write_text("")  # no database.url: the environment's
    result = clitools.gitopsd("db", "dump", "log.dump", cwd=tmp_path, env=env)
    assert (result.returncode, result.stdout) == (1, "")
    server = pgbackup.major_version(
        subprocess.run(
            [embeddedpg.bin_path() / "postgres", "--version"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert result.stderr == (
        f"error: {old} is PostgreSQL 15, older than the server (PostgreSQL {server}), and cannot"
        f" read it: install the PostgreSQL {server} client tools (or newer) and put them first"
        " on PATH, or name their directory with --pg-bin\n"
    )
    pg_bin = str(embeddedpg.bin_path())
    result = clitools.gitopsd("db", "dump", "log.dump", "--pg-bin", pg_bin, cwd=tmp_path, env=env)
    assert (result.returncode, result.stdout) == (0, "dumped to log.dump\n"), result.stderr
    assert (tmp_path / "log.dump").read_bytes()[:5] == b"PGDMP"
