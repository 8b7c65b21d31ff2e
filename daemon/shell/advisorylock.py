"""The database's "active gitopsd" lock: a PostgreSQL session-level advisory lock.

Only one gitopsd per database may poll, plan, apply and record; the others wait as
standbys (``runtime.leader`` decides when to take the lock and what losing it means).
The lock is ``pg_try_advisory_lock(ACTIVE_KEY)`` on a connection of its own, never one
of the event store's pool: a pooled connection goes back to the pool after each query
and the lock would travel with it to whichever caller comes next. PostgreSQL keeps a
session-level lock until that session ends, however it ends (close, ``kill -9`` of the
client, ``pg_terminate_backend``, a server restart), so it is never left behind by a
dead daemon. Advisory locks are per database: daemons on other databases of the same
server do not contend.

The session's ``application_name`` is ``gitopsd <instance>``, so whoever holds the lock
can be named (``holder``), by a standby, by ``gitopsd sync`` or by hand::

    SELECT a.application_name, a.client_addr, a.backend_start
    FROM pg_locks l JOIN pg_stat_activity a USING (pid)
    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
      AND l.classid = 1734964335 AND l.objid = 1886610433
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database());

Needs a direct connection (or a session-mode pooler): a transaction-mode pooler such
as PgBouncer's would hand the session to other clients between statements.
This module does I/O only; it decides nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt

import asyncpg

from daemon.shell import eventstore

ACTIVE_KEY = 0x6769_746F_7073_6401
"""The key of the whole database's lock: the bytes of ``gitopsd`` and then 1."""

APPLICATION_PREFIX = "gitopsd "
_NAME_LIMIT = 63  # PostgreSQL truncates application_name to NAMEDATALEN - 1 bytes
_CLASSID, _OBJID = ACTIVE_KEY >> 32, ACTIVE_KEY & 0xFFFF_FFFF
_HOLDER = """
SELECT l.pid, a.application_name, host(a.client_addr), a.backend_start
FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
  AND l.classid = $1 AND l.objid = $2
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""
_HELD = """
SELECT EXISTS (SELECT FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory'
               AND granted AND objsubid = 1 AND classid = $1 AND objid = $2)
"""


@dataclasses.dataclass(frozen=True, slots=True)
class Holder:
    """The session that holds the lock, as ``pg_locks`` and ``pg_stat_activity`` show it."""

    pid: int
    """The holder's server process (what ``pg_terminate_backend`` takes)."""
    application_name: str
    client_addr: str | None = None
    since: dt.datetime | None = None

    @property
    def instance(self) -> str | None:
        """The gitopsd instance id (``host:pid:id``), None when the holder is not gitopsd."""
        if self.application_name.startswith(APPLICATION_PREFIX):
            return self.application_name[len(APPLICATION_PREFIX) :]
        return None

    def describe(self) -> str:
        """``gitopsd (instance host:pid:id)`` or, for a stranger, its name and pid."""
        if self.instance is not None:
            return f"gitopsd (instance {self.instance})"
        return f"session (application_name {self.application_name!r}, pid {self.pid})"


def application_name(instance: str) -> str:
    """The lock session's ``application_name`` for ``instance`` (within PostgreSQL's limit)."""
    name = APPLICATION_PREFIX + instance
    return name.encode()[:_NAME_LIMIT].decode(errors="ignore")


async def holder(conn: eventstore.Connection) -> Holder | None:
    """Who holds the lock on ``conn``'s database now (None: nobody)."""
    row = await conn.fetchrow(_HOLDER, _CLASSID, _OBJID)
    if row is None:
        return None
    pid, name, addr, since = row
    return Holder(pid=pid, application_name=name or "", client_addr=addr, since=since)


class SessionLock:
    """A dedicated connection that takes, holds and watches the lock."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        """Wrap ``conn``, opened by ``connect``."""
        self._conn = conn
        self.lost = asyncio.Event()
        """Set as soon as the connection is gone (closed, terminated, broken)."""
        conn.add_termination_listener(lambda _: self.lost.set())

    @classmethod
    async def connect(cls, url: str, *, instance: str, timeout: float = 10.0) -> SessionLock:
        """Open the lock's own session on ``url``, named after ``instance``."""
        conn = await asyncpg.connect(
            url,
            timeout=timeout,
            server_settings={"application_name": application_name(instance)},
        )
        return cls(conn)

    @property
    def pid(self) -> int:
        """The session's server process id."""
        return self._conn.get_server_pid()

    def is_closed(self) -> bool:
        """True once the session is gone."""
        return self._conn.is_closed()

    async def try_acquire(self, *, timeout: float = 10.0) -> bool:
        """Take the lock if free (True); never waits for it."""
        acquired: bool = await self._conn.fetchval(
            "SELECT pg_try_advisory_lock($1)", ACTIVE_KEY, timeout=timeout
        )
        return acquired

    async def holder(self, *, timeout: float = 10.0) -> Holder | None:
        """Who holds the lock now (None: nobody)."""
        async with asyncio.timeout(timeout):
            return await holder(self._conn)

    async def is_held(self, *, timeout: float) -> bool:
        """True while this session still holds the lock (a round trip within ``timeout``)."""
        held: bool = await self._conn.fetchval(_HELD, _CLASSID, _OBJID, timeout=timeout)
        return held

    async def close(self) -> None:
        """End the session, which releases the lock (abruptly when the server does not answer)."""
        if self._conn.is_closed():
            return
        try:
            await self._conn.close(timeout=2)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
            self._conn.terminate()
