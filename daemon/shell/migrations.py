"""Numbered SQL migrations (``sql/NNN_name.sql``), applied in order under an advisory lock.

Each migration runs in its own transaction and is recorded in ``schema_migrations``
with a checksum. Concurrent runs serialize on the lock and the late one finds nothing
left to do; an applied migration whose file changed afterwards is refused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from pathlib import Path

import asyncpg

# pg_advisory_lock key: the first 8 bytes of sha256("gitopsd.migrations")
LOCK_KEY = int.from_bytes(hashlib.sha256(b"gitopsd.migrations").digest()[:8], "big", signed=True)
# daemon/sql is a symlink to the repository's sql/ (and a real directory in a wheel).
SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")


class MigrationError(Exception):
    """The schema cannot be brought up to date safely."""


@dataclasses.dataclass(frozen=True, slots=True)
class Migration:
    """One numbered SQL file."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """sha256 of the file's text."""
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available() -> list[Migration]:
    """Every migration shipped with gitopsd, in order."""
    found: list[Migration] = []
    for entry in SQL_DIR.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migrations share a number: {versions}")
    return found


async def migrate_url(url: str, *, timeout: float = 30.0) -> list[Migration]:
    """Connect to ``url`` (waiting up to ``timeout`` s), apply pending migrations, disconnect."""
    conn = await asyncpg.connect(url, timeout=timeout)
    try:
        return await migrate(conn)
    finally:
        await conn.close()


async def migrate(conn: asyncpg.Connection) -> list[Migration]:
    """Apply pending migrations; returns those applied by this call."""
    applied_now: list[Migration] = []
    await conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version integer PRIMARY KEY,
                   name text NOT NULL,
                   checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        rows = await conn.fetch("SELECT version, name, checksum FROM schema_migrations")
        done = {r["version"]: r for r in rows}
        for migration in available():
            row = done.get(migration.version)
            if row is not None:
                if row["checksum"] != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.version:03d}_{migration.name}.sql changed after it "
                        "was applied; restore the original file and add a new migration instead"
                    )
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            applied_now.append(migration)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
    return applied_now
