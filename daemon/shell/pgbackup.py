"""Backups of the event log's database with ``pg_dump`` / ``pg_restore`` (custom format).

A ``pg_dump`` older than the server cannot dump it (it refuses: "server version
mismatch"), so the tool's major version is checked against the server's first and the
error says which tool, which versions and what to do. Which binaries to use is the
caller's choice (the embedded server's own, or the ones on PATH for an external
database); this module only finds, checks and runs them.

Restoring never loses data: the event log is append-only, so restoring over a database
that already holds events would drop or mix facts. A restore is refused unless the
target's event log is empty (or absent) and no other session is connected to it (a
running daemon could append in between), and it runs in one transaction: it applies
whole or not at all.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import shutil
from pathlib import Path

import asyncpg

from daemon import errors

ARCHIVE_MAGIC = b"PGDMP"  # the first bytes of every pg_dump custom-format archive
_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)")


class BackupError(errors.GitopsdError):
    """A dump or restore that cannot be done safely; the message says why and what to do."""


@dataclasses.dataclass(frozen=True, slots=True)
class Restored:
    """What a restore put in place."""

    events: int
    last_position: int


def major_version(version_output: str) -> int:
    """The major version in ``pg_dump --version`` output, e.g. ``pg_dump (PostgreSQL) 15.18``."""
    match = _VERSION.search(version_output)
    if match is None:
        raise ValueError(f"not a PostgreSQL tool version: {version_output.strip()!r}")
    return int(match.group(1))


def version_problem(*, tool: Path, tool_major: int, server_major: int) -> str | None:
    """Why ``tool`` cannot work on a server of ``server_major``, or None when it can."""
    if tool_major >= server_major:
        return None
    return (
        f"{tool} is PostgreSQL {tool_major}, older than the server (PostgreSQL {server_major}),"
        f" and cannot read it: install the PostgreSQL {server_major} client tools (or newer)"
        " and put them first on PATH, or name their directory with --pg-bin"
    )


def find_tool(name: str, bin_dir: Path | None) -> Path:
    """``bin_dir/name``, or ``name`` on PATH when no directory is given."""
    if bin_dir is not None:
        path = bin_dir / name
        if not os.access(path, os.X_OK):
            raise errors.UsageError(f"--pg-bin {bin_dir}: no executable {name} there")
        return path
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} not found on PATH: install the PostgreSQL client tools (the server's"
            " version or newer), or name their directory with --pg-bin"
        )
    return Path(found)


async def _run(argv: list[str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


async def check_tool(tool: Path, url: str) -> None:
    """Refuse a tool older than the server at ``url``."""
    code, out, err = await _run([str(tool), "--version"])
    if code != 0:
        raise BackupError(f"{tool} --version failed: {err.strip() or out.strip()}")
    conn = await asyncpg.connect(url, timeout=30)
    try:
        server_major = conn.get_server_version().major
    finally:
        await conn.close()
    problem = version_problem(tool=tool, tool_major=major_version(out), server_major=server_major)
    if problem:
        raise BackupError(problem)


async def dump(url: str, path: Path, *, pg_dump: Path) -> None:
    """Dump the database at ``url`` to ``path`` (custom format, mode 0600, replaced whole)."""
    await check_tool(pg_dump, url)
    tmp = path.with_name(f".{path.name}.partial")
    # Created private before pg_dump writes: the dump is as sensitive as the database.
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    try:
        code, _, err = await _run([str(pg_dump), "--format=custom", f"--file={tmp}", url])
        if code != 0:
            raise BackupError(f"pg_dump of the event log's database failed: {err.strip()}")
        tmp.replace(path)  # a reader never sees a half-written backup under the real name
    finally:
        tmp.unlink(missing_ok=True)


def check_archive(path: Path) -> None:
    """Refuse anything but a readable pg_dump custom-format archive."""
    try:
        with path.open("rb") as file:
            head = file.read(len(ARCHIVE_MAGIC))
    except OSError as exc:
        raise errors.UsageError(f"{path}: cannot read: {exc.strerror}") from exc
    if head != ARCHIVE_MAGIC:
        raise errors.UsageError(
            f"{path}: not a pg_dump custom-format archive (make one with `gitopsd db dump`)"
        )


async def check_target(url: str) -> None:
    """Refuse a target database whose event log holds events or that others are using."""
    conn = await asyncpg.connect(url, timeout=30)
    try:
        name = await conn.fetchval("SELECT current_database()")
        others = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
        events = 0
        if await conn.fetchval("SELECT to_regclass('public.events') IS NOT NULL"):
            events = await conn.fetchval("SELECT count(*) FROM events")
    finally:
        await conn.close()
    if events:
        raise BackupError(
            f"database {name} already holds an event log with {events} events: refusing to"
            " restore over it (the log is append-only; restoring would lose or mix events)."
            " Restore into an empty database (a new state_dir, or a new database.url)"
        )
    if others:
        raise BackupError(
            f"database {name} has {others} other connection(s): stop gitopsd (and other"
            " clients) before restoring"
        )


async def restore(url: str, path: Path, *, pg_restore: Path) -> Restored:
    """Restore the archive at ``path`` into the empty database at ``url``, in one transaction."""
    check_archive(path)
    await check_tool(pg_restore, url)
    await check_target(url)
    argv = [
        str(pg_restore),
        "--single-transaction",
        "--exit-on-error",
        "--clean",  # drops the empty schema `gitopsd migrate` may have made; events checked
        "--if-exists",
        "--no-owner",  # objects belong to the restoring user, whatever the dump's owner was
        f"--dbname={url}",
        str(path),
    ]
    code, _, err = await _run(argv)
    if code != 0:
        raise BackupError(f"pg_restore of {path} failed, nothing was restored: {err.strip()}")
    conn = await asyncpg.connect(url, timeout=30)
    try:
        row = await conn.fetchrow("SELECT count(*), coalesce(max(position), 0) FROM events")
    finally:
        await conn.close()
    assert row is not None
    return Restored(events=row[0], last_position=row[1])
