"""The event log in PostgreSQL (asyncpg): append, read, subscribe, blobs, snapshots, projections.

Protocol (DESIGN.md §4):

* Every append takes ``LOCK TABLE events IN EXCLUSIVE MODE`` (readers are not blocked),
  checks the expected stream versions, numbers the new events from ``max(position)+1``
  and inserts them, then ``pg_notify`` — all in one transaction. Positions are
  therefore gap-free and follow commit order, so a reader tailing ``position > last``
  never skips an event that commits late. Big batches go in with binary ``COPY``.
  The lock is awaited at most ``lock_timeout`` seconds (``SET LOCAL lock_timeout``):
  an append stuck behind a hung lock holder raises ``LockTimeoutError``, which is
  retryable (nothing was written), instead of waiting forever.
* ``NOTIFY`` is only a doorbell: a subscriber re-selects ``position > last``.
* A projection writes its rows and its position in one transaction (exactly once).
* Nothing read is ever skipped: an unknown type or an undecodable row raises
  ``CorruptEventError`` naming its position.

jsonb travels in binary form with orjson on both sides (see ``setup_connection``).
This module does I/O only; what to append and how to fold is decided elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

import asyncpg
import orjson

from daemon.core import codec
from daemon.core import events as ev

CHANNEL = "gitopsd_events"
DATABASE_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)
"""What a database call raises when its query fails or the server cannot be reached."""
_COPY_THRESHOLD = 16
_SLICE = 500
"""Rows decoded between two passes through the event loop while reading ahead."""
_VERSION_CACHE = 100_000
_COLUMNS = ("position", "stream", "version", "type", "schema_version", "data", "meta")
_SELECT = (
    "SELECT position, stream, version, type, schema_version, recorded_at, data, meta FROM events"
)
_EMPTY_META = ev.EventMeta()
# The log's last position, and beside it the version of each stream asked for (one index
# probe per stream: a GROUP BY over ANY() may scan the whole table). The LEFT JOIN keeps
# the position when no stream is asked for.
_LOG_END = (
    "SELECT (SELECT coalesce(max(position), 0) FROM events), s.stream,"
    " (SELECT max(version) FROM events WHERE stream = s.stream)"
    " FROM (SELECT 1) AS one LEFT JOIN unnest($1::text[]) AS s(stream) ON true"
)


class ConcurrencyError(Exception):
    """A stream's version was not the one the writer expected."""

    def __init__(self, stream: str, expected: int, actual: int) -> None:
        super().__init__(
            f"stream {stream!r}: expected version {expected}, but it is at version {actual}"
        )
        self.stream = stream
        self.expected = expected
        self.actual = actual


class LockTimeoutError(Exception):
    """The append lock was not granted within ``lock_timeout``; nothing was written (retryable)."""

    def __init__(self, streams: Sequence[str], timeout: float) -> None:
        names = ", ".join(repr(s) for s in streams)
        super().__init__(
            f"append to stream {names}: the events table lock was not granted within"
            f" {timeout:g} s (lock_timeout); another transaction holds it; nothing was written"
        )
        self.streams = tuple(streams)
        self.timeout = timeout


class EventTooLargeError(ValueError):
    """An event's payload exceeds the 1 MiB limit; nothing was written."""


class CorruptEventError(Exception):
    """A stored row cannot be decoded; names its position so it can be inspected."""

    def __init__(self, position: int, stream: str, detail: str) -> None:
        super().__init__(
            f"event at position {position} (stream {stream!r}) cannot be read: {detail}"
        )
        self.position = position


@dataclasses.dataclass(frozen=True, slots=True)
class Append:
    """Events to add to one stream; ``expected_version=None`` appends without a check."""

    stream: str
    events: Sequence[object]
    expected_version: int | None = None
    meta: ev.EventMeta | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Snapshot:
    """A serialized fold of the log up to ``position``."""

    position: int
    format: int
    data: bytes


Outcome = list[int] | ConcurrencyError
Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy
ProjectionHandler = Callable[[Connection, Sequence[ev.Recorded]], Awaitable[None]]


def _encode_jsonb(value: Any) -> bytes:
    if isinstance(value, bytes):
        return b"\x01" + value
    return b"\x01" + orjson.dumps(value)


def json_value(raw: bytes) -> Any:
    """Parse a jsonb value as this store's connections return it (version byte + JSON)."""
    return orjson.loads(raw[1:])


async def setup_connection(conn: asyncpg.Connection) -> None:
    """Set a connection up as the store's pool does (jsonb codec); bench/ uses it too."""
    # jsonb in binary form: writes take bytes from orjson; reads return the raw bytes
    # (``json_value`` parses them). The decoder is the C builtin ``bytes`` on purpose: a
    # Python decoder called by asyncpg per value costs more than the rest of a replay.
    await conn.set_type_codec(
        "jsonb",
        encoder=_encode_jsonb,
        decoder=bytes,
        schema="pg_catalog",
        format="binary",
    )


DEFAULT_LOCK_TIMEOUT = 10.0


async def connect(
    url: str,
    *,
    pool_size: int = 10,
    timeout: float = 30.0,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> EventStore:
    """Open a pool on ``url`` and return a store whose appends wait ``lock_timeout`` s at most."""
    pool = await asyncpg.create_pool(
        url,
        min_size=1,
        max_size=max(pool_size, 2),
        init=setup_connection,
        timeout=timeout,
        command_timeout=None,
    )
    return EventStore(pool, url=url, lock_timeout=lock_timeout)


def _meta_json(meta: ev.EventMeta | None) -> bytes:
    if meta is None or meta == _EMPTY_META:
        return b"{}"
    return orjson.dumps({k: v for k, v in dataclasses.asdict(meta).items() if v is not None})


_EMPTY_JSONB = b"\x01{}"


def _meta_from(raw: bytes) -> ev.EventMeta:
    if raw == _EMPTY_JSONB:
        return _EMPTY_META
    return ev.EventMeta(**json_value(raw))


def to_recorded(row: asyncpg.Record) -> ev.Recorded:
    """Decode one ``events`` row (in ``_SELECT`` column order)."""
    position, stream, version, type_name, schema_version, recorded_at, data, meta = row
    try:
        event = codec.decode(type_name, schema_version, data[1:])
        meta_value = _EMPTY_META if meta == _EMPTY_JSONB else _meta_from(meta)
    except (codec.DecodeError, TypeError) as exc:
        raise CorruptEventError(position, stream, str(exc)) from exc
    return ev.Recorded(position, stream, version, recorded_at, event, meta_value)


_new_tuple = tuple.__new__


def to_recorded_all(rows: Sequence[asyncpg.Record]) -> list[ev.Recorded]:
    """Decode many ``events`` rows: what ``to_recorded`` does to each, without its calls.

    The replay path. A row of a type's current version with empty meta is parsed and
    built by the codec's compiled function for its type; any other row, and any row that
    function refuses, goes through ``to_recorded``, which decodes it or raises
    ``CorruptEventError`` naming its position. ``Recorded`` is a named tuple built with
    ``tuple.__new__``, which skips its Python-level ``__new__``.
    """
    current = codec.current_decoders()
    recorded = ev.Recorded
    empty_meta = _EMPTY_META
    out: list[ev.Recorded] = []
    append = out.append
    for row in rows:
        position, stream, version, type_name, schema_version, recorded_at, data, meta = row
        decoder = current.get(type_name)
        if decoder is not None and decoder[0] == schema_version and meta == _EMPTY_JSONB:
            try:
                event = decoder[1](data[1:])
            except (TypeError, ValueError, KeyError, AttributeError):
                append(to_recorded(row))
                continue
            fields = (position, stream, version, recorded_at, event, empty_meta)
            append(_new_tuple(recorded, fields))
        else:
            append(to_recorded(row))
    return out


async def _rollback(conn: Connection) -> None:
    """End a failed append's transaction; a connection that cannot is reset by the pool."""
    if conn.is_closed() or not conn.is_in_transaction():
        return
    with contextlib.suppress(*DATABASE_ERRORS):
        await conn.execute("ROLLBACK")


class EventStore:
    """The event log of one gitopsd database."""

    def __init__(
        self, pool: asyncpg.Pool, *, url: str, lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    ) -> None:
        """Wrap an asyncpg pool whose connections were set up by ``setup_connection``."""
        if lock_timeout <= 0:
            raise ValueError(f"event store lock_timeout must be > 0 s, got {lock_timeout!r}")
        self.pool = pool
        self.url = url
        self.lock_timeout = lock_timeout
        self._versions: dict[str, int] = {}
        self._versions_at = -1

    async def close(self, *, timeout: float = 10.0) -> None:
        """Close the pool, waiting up to ``timeout`` s for queries in flight, then cut them off.

        The bound matters when a query hangs on a dead connection: ``pool.close`` alone
        would wait for it forever and the process would never exit.
        """
        try:
            async with asyncio.timeout(timeout):
                await self.pool.close()
        except TimeoutError:
            self.pool.terminate()

    # -- writing ----------------------------------------------------------------------

    async def append(
        self,
        stream: str,
        expected_version: int | None,
        events: Sequence[object],
        *,
        meta: ev.EventMeta | None = None,
    ) -> list[int]:
        """Append ``events`` to ``stream`` if it is at ``expected_version``; returns positions."""
        (outcome,) = await self.append_batch([Append(stream, events, expected_version, meta)])
        if isinstance(outcome, ConcurrencyError):
            raise outcome
        return outcome

    async def append_batch(
        self, batch: Sequence[Append], *, partial: bool = False
    ) -> list[Outcome]:
        """Append to many streams in one transaction.

        With ``partial=False`` a version clash anywhere raises ``ConcurrencyError`` and
        writes nothing. With ``partial=True`` (group commit) the clashing items get their
        error in the result and the rest is committed.
        """
        encoded = [self._encode(item) for item in batch]
        streams = {item.stream for item in batch}
        async with self.pool.acquire() as conn, self._locked(conn, streams):
            position, versions = await self._log_end(conn, streams)
            records: list[tuple[Any, ...]] = []
            outcomes: list[Outcome] = []
            for item, payloads in zip(batch, encoded, strict=True):
                current = versions.get(item.stream, 0)
                if item.expected_version is not None and item.expected_version != current:
                    error = ConcurrencyError(item.stream, item.expected_version, current)
                    if not partial:
                        raise error
                    outcomes.append(error)
                    continue
                meta = _meta_json(item.meta)
                stream = item.stream
                first = position + 1
                for type_name, schema_version, data in payloads:
                    position += 1
                    current += 1
                    records.append(
                        (position, stream, current, type_name, schema_version, data, meta)
                    )
                versions[stream] = current
                outcomes.append(list(range(first, position + 1)))
            if records:
                await self._insert(conn, records)
                # The doorbell and the commit in one round trip (CHANNEL is a constant
                # identifier and the payload an int, so nothing here needs quoting).
                await conn.execute(f"NOTIFY {CHANNEL}, '{position}'; COMMIT")
            else:
                await conn.execute("COMMIT")
        # Committed: remember the versions as of this position (see _log_end).
        self._versions.update(versions)
        self._versions_at = position
        return outcomes

    @contextlib.asynccontextmanager
    async def _locked(self, conn: Connection, streams: set[str]) -> AsyncIterator[None]:
        """A transaction holding the append lock; the body ends it with ``COMMIT``.

        ``BEGIN``, ``SET LOCAL lock_timeout`` and ``LOCK TABLE`` go in one round trip
        (a simple query of three statements), as do ``NOTIFY`` and ``COMMIT`` at the
        end: an append waits on the server four times (lock, log end, COPY, commit)
        instead of eight. Any error, cancellation included, rolls back.
        """
        millis = max(1, round(self.lock_timeout * 1000))
        try:
            await conn.execute(
                f"BEGIN; SET LOCAL lock_timeout = '{millis}ms'; LOCK TABLE events IN EXCLUSIVE MODE"
            )
            yield
        except asyncpg.LockNotAvailableError as exc:
            await _rollback(conn)
            raise LockTimeoutError(sorted(streams), self.lock_timeout) from exc
        except BaseException:
            await _rollback(conn)
            raise

    async def _log_end(self, conn: Connection, streams: set[str]) -> tuple[int, dict[str, int]]:
        """The last position and the current version of each stream, under the append lock.

        Versions this store wrote itself are remembered with the log position they hold
        at; while the log still ends at that position nobody else has written (every
        writer takes the lock), so only streams never seen are read: the position and
        those versions come back in one query. Another writer's append moves the
        position, and then every stream's version is read again.
        """
        unknown = [s for s in streams if s not in self._versions]
        rows = await conn.fetch(_LOG_END, unknown)
        position: int = rows[0][0]
        if position != self._versions_at:
            self._versions.clear()
            rows = await conn.fetch(_LOG_END, list(streams))
        for _, stream, version in rows:
            if stream is not None:
                self._versions[stream] = version or 0
        if len(self._versions) > _VERSION_CACHE:
            self._versions = {s: self._versions[s] for s in streams}
        self._versions_at = position
        return position, {s: self._versions[s] for s in streams}

    @staticmethod
    def _encode(item: Append) -> list[tuple[str, int, bytes]]:
        out = []
        for event in item.events:
            try:
                out.append(codec.encode(event))
            except codec.PayloadTooLargeError as exc:
                raise EventTooLargeError(
                    f"{exc} (stream {item.stream!r}); nothing was appended"
                ) from exc
        return out

    @staticmethod
    async def _insert(conn: Connection, records: list[tuple[Any, ...]]) -> None:
        if len(records) >= _COPY_THRESHOLD:
            await conn.copy_records_to_table("events", records=records, columns=_COLUMNS)
            return
        await conn.executemany(
            "INSERT INTO events (position, stream, version, type, schema_version, data, meta) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7)",
            records,
        )

    # -- reading ----------------------------------------------------------------------

    async def last_position(self) -> int:
        """The position of the newest event (0 for an empty log)."""
        value: int = await self.pool.fetchval("SELECT coalesce(max(position), 0) FROM events")
        return value

    async def stream_version(self, stream: str, *, at_position: int | None = None) -> int:
        """The version of the newest event in ``stream`` (0 when it has none).

        With ``at_position``: its version as of that log position, i.e. the version a
        state folded up to ``at_position`` saw, to append expecting it. Positions follow
        commit order, so the answer never changes once ``at_position`` is committed.
        """
        value: int = await self.pool.fetchval(
            "SELECT coalesce(max(version), 0) FROM events WHERE stream = $1 AND position <= $2",
            stream,
            2**62 if at_position is None else at_position,
        )
        return value

    async def read_all(
        self, after_position: int = 0, *, until: int | None = None, prefetch: int = 5000
    ) -> AsyncIterator[ev.Recorded]:
        """Every event after ``after_position`` (up to ``until``), via a server-side cursor."""
        async for chunk in self.read_all_batches(after_position, until=until, size=prefetch):
            for item in chunk:
                yield item

    async def read_all_batches(
        self, after_position: int = 0, *, until: int | None = None, size: int = 5000
    ) -> AsyncIterator[list[ev.Recorded]]:
        """Like ``read_all`` but a list at a time (replay folds these without per-event awaits).

        The next ``size`` rows are requested before this batch is decoded, and the batch
        goes out in slices of at most ``_SLICE`` with a pass through the event loop
        between them: the server produces the next rows, and the socket is drained,
        while this process decodes and the caller folds, instead of each waiting for
        the other.
        """
        query = f"{_SELECT} WHERE position > $1 AND position <= $2 ORDER BY position"
        upper = until if until is not None else 2**62
        async with self.pool.acquire() as conn, conn.transaction(readonly=True):
            cursor = await conn.cursor(query, after_position, upper)
            ahead = asyncio.ensure_future(cursor.fetch(size))
            try:
                while rows := await ahead:
                    ahead = asyncio.ensure_future(cursor.fetch(size))
                    for start in range(0, len(rows), _SLICE):
                        await asyncio.sleep(0)
                        yield to_recorded_all(rows[start : start + _SLICE])
            finally:
                # A reader that stops early (or fails) ends the fetch in flight before the
                # connection goes back to the pool; its own outcome is no longer wanted.
                ahead.cancel()
                await asyncio.wait([ahead])
                if not ahead.cancelled():
                    ahead.exception()

    async def read_batch(self, after_position: int, limit: int) -> list[ev.Recorded]:
        """Up to ``limit`` events after ``after_position``, in order."""
        rows = await self.pool.fetch(
            f"{_SELECT} WHERE position > $1 ORDER BY position LIMIT $2", after_position, limit
        )
        return to_recorded_all(rows)

    async def read_stream(self, stream: str, *, after_version: int = 0) -> list[ev.Recorded]:
        """Every event of one stream after ``after_version``, in order."""
        rows = await self.pool.fetch(
            f"{_SELECT} WHERE stream = $1 AND version > $2 ORDER BY version", stream, after_version
        )
        return to_recorded_all(rows)

    async def subscribe(
        self, after_position: int = 0, *, batch: int = 1000, poll_interval: float = 5.0
    ) -> AsyncIterator[ev.Recorded]:
        """Catch up from ``after_position``, then follow new events forever.

        LISTEN starts before each catch-up so nothing committed in between is missed;
        a lost notification costs at most ``poll_interval``; a dropped connection is
        reopened and reading resumes after the last event yielded (no repeats).
        """
        last = after_position
        while True:
            bell = asyncio.Event()
            try:
                conn: asyncpg.Connection = await asyncpg.connect(self.url)
            except (OSError, asyncpg.PostgresError):
                await asyncio.sleep(poll_interval)
                continue
            try:
                await conn.add_listener(CHANNEL, lambda *_, bell=bell: bell.set())
                while not conn.is_closed():
                    bell.clear()
                    while True:
                        chunk = await self.read_batch(last, batch)
                        for item in chunk:
                            last = item.position
                            yield item
                        if len(chunk) < batch:
                            break
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(poll_interval):
                            await bell.wait()
            except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError):
                await asyncio.sleep(min(poll_interval, 1.0))
            finally:
                with contextlib.suppress(Exception):
                    await conn.close(timeout=2)

    # -- blobs --------------------------------------------------------------------------

    async def put_blobs(self, bodies: Mapping[str, bytes]) -> None:
        """Store canonical-JSON bodies by digest; existing digests are left alone."""
        if not bodies:
            return
        digests = list(bodies)
        await self.pool.execute(
            "INSERT INTO blobs (digest, body, size) "
            "SELECT * FROM unnest($1::text[], $2::jsonb[], $3::int[]) ON CONFLICT DO NOTHING",
            digests,
            [bodies[d] for d in digests],
            [len(bodies[d]) for d in digests],
        )

    async def get_blobs(self, digests: Sequence[str]) -> dict[str, Any]:
        """Bodies by digest (decoded JSON); a missing digest is simply absent."""
        if not digests:
            return {}
        rows = await self.pool.fetch(
            "SELECT digest, body FROM blobs WHERE digest = ANY($1::text[])", list(set(digests))
        )
        return {r[0]: json_value(r[1]) for r in rows}

    # -- snapshots ------------------------------------------------------------------------

    async def save_snapshot(self, name: str, snapshot: Snapshot) -> None:
        """Keep ``snapshot`` as the latest of ``name`` (an older one never replaces a newer)."""
        await self.pool.execute(
            "INSERT INTO snapshots (name, position, format, data) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (name) DO UPDATE SET position = excluded.position, "
            "format = excluded.format, data = excluded.data, taken_at = now() "
            "WHERE snapshots.position <= excluded.position",
            name,
            snapshot.position,
            snapshot.format,
            snapshot.data,
        )

    async def load_snapshot(self, name: str) -> Snapshot | None:
        """The latest snapshot of ``name``, if any."""
        row = await self.pool.fetchrow(
            "SELECT position, format, data FROM snapshots WHERE name = $1", name
        )
        return None if row is None else Snapshot(row[0], row[1], row[2])

    # -- projections ---------------------------------------------------------------------

    async def projection_position(self, name: str) -> int:
        """How far projection ``name`` has got (0 before its first run)."""
        value = await self.pool.fetchval("SELECT position FROM projections WHERE name = $1", name)
        return int(value or 0)

    async def project(self, name: str, handler: ProjectionHandler, *, batch: int = 1000) -> int:
        """Feed new events to ``handler`` until caught up; returns the events handled.

        Each batch runs in one transaction that also moves the projection's position,
        so a crash replays the batch and a batch is never applied twice. The row lock on
        the projection keeps two projectors of the same name from interleaving.
        """
        handled = 0
        while True:
            async with self.pool.acquire() as conn, conn.transaction():
                await conn.execute(
                    "INSERT INTO projections (name) VALUES ($1) ON CONFLICT DO NOTHING", name
                )
                position: int = await conn.fetchval(
                    "SELECT position FROM projections WHERE name = $1 FOR UPDATE", name
                )
                rows = await conn.fetch(
                    f"{_SELECT} WHERE position > $1 ORDER BY position LIMIT $2", position, batch
                )
                if not rows:
                    return handled
                items = to_recorded_all(rows)
                await handler(conn, items)
                await conn.execute(
                    "UPDATE projections SET position = $2, updated_at = now() WHERE name = $1",
                    name,
                    items[-1].position,
                )
                handled += len(items)

    async def recorded_at(self, position: int) -> dt.datetime | None:
        """When the event at ``position`` was recorded."""
        value: dt.datetime | None = await self.pool.fetchval(
            "SELECT recorded_at FROM events WHERE position = $1", position
        )
        return value
