"""The event store against a real PostgreSQL: appends, reads, subscriptions, projections."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from daemon.core import codec
from daemon.core import events as ev
from daemon.shell import eventstore, projections


def failed(n: int, source: str = "a") -> ev.SourceFailed:
    return ev.SourceFailed(source=source, error_class="OSError", message=f"attempt {n}")


async def test_append_assigns_versions_and_positions(store: eventstore.EventStore) -> None:
    """Appends number events per stream from 1 and globally from 1, in order."""
    assert await store.append("source/a", 0, [failed(1), failed(2)]) == [1, 2]
    assert await store.append("source/b", 0, [failed(3, "b")]) == [3]
    assert await store.append("source/a", 2, [failed(4)]) == [4]
    items = await store.read_stream("source/a")
    assert [(i.position, i.version, i.event) for i in items] == [
        (1, 1, failed(1)),
        (2, 2, failed(2)),
        (4, 3, failed(4)),
    ]
    assert await store.stream_version("source/a") == 3
    assert await store.last_position() == 4


async def test_stream_version_as_of_a_position(store: eventstore.EventStore) -> None:
    """A stream's version as of a log position counts only its events up to that position."""
    await store.append("source/a", 0, [failed(1)])
    await store.append("source/b", 0, [failed(2, "b"), failed(3, "b")])
    await store.append("source/a", 1, [failed(4)])
    versions = [await store.stream_version("source/a", at_position=p) for p in (0, 1, 3, 4)]
    assert versions == [0, 1, 1, 2]
    assert await store.stream_version("source/a") == 2
    assert await store.stream_version("source/none", at_position=4) == 0


async def test_stale_expected_version_raises_and_writes_nothing(
    store: eventstore.EventStore,
) -> None:
    """A version clash raises ConcurrencyError naming stream and versions; nothing is written."""
    await store.append("source/a", 0, [failed(1)])
    with pytest.raises(eventstore.ConcurrencyError) as info:
        await store.append("source/a", 0, [failed(2)])
    assert str(info.value) == "stream 'source/a': expected version 0, but it is at version 1"
    assert (info.value.stream, info.value.expected, info.value.actual) == ("source/a", 0, 1)
    assert await store.last_position() == 1


async def test_batch_is_atomic_unless_partial(store: eventstore.EventStore) -> None:
    """A batch with one clash writes nothing; with partial=True only the clash is refused."""
    await store.append("source/a", 0, [failed(1)])
    batch = [
        eventstore.Append("source/b", [failed(2, "b")], expected_version=0),
        eventstore.Append("source/a", [failed(3)], expected_version=0),
        eventstore.Append("source/c", [failed(4, "c")]),
    ]
    with pytest.raises(eventstore.ConcurrencyError):
        await store.append_batch(batch)
    assert await store.last_position() == 1
    outcomes = await store.append_batch(batch, partial=True)
    assert outcomes[0] == [2]
    assert isinstance(outcomes[1], eventstore.ConcurrencyError)
    assert outcomes[2] == [3]


async def test_concurrent_writers_give_gap_free_positions_in_commit_order(
    store: eventstore.EventStore,
) -> None:
    """16 concurrent writers: positions are 1..N with no gap, and a tailing reader never skips."""
    seen: list[int] = []
    done = asyncio.Event()

    async def tail() -> None:
        last = 0
        while not done.is_set() or last < 16 * 20:
            batch = await store.read_batch(last, 1000)
            for item in batch:
                assert item.position == last + 1, "a reader tailing by position saw a gap"
                last = item.position
                seen.append(last)
            await asyncio.sleep(0)

    async def writer(w: int) -> None:
        for i in range(20):
            await store.append(f"source/w{w}", i, [failed(i, f"w{w}")])

    reader = asyncio.create_task(tail())
    await asyncio.gather(*(writer(w) for w in range(16)))
    done.set()
    await asyncio.wait_for(reader, 30)
    assert seen == list(range(1, 16 * 20 + 1))


async def test_read_all_streams_with_cursor_and_until(store: eventstore.EventStore) -> None:
    """read_all yields everything after a position (past the prefetch size) up to `until`."""
    await store.append_batch([eventstore.Append(f"source/s{i}", [failed(i)]) for i in range(250)])
    items = [i async for i in store.read_all(10, prefetch=64)]
    assert [i.position for i in items] == list(range(11, 251))
    bounded = [i.position async for i in _positions(store.read_all(0, until=5))]
    assert bounded == [1, 2, 3, 4, 5]


async def _positions(items: object) -> object:
    async for item in items:  # type: ignore[attr-defined]
        yield item


async def test_subscribe_catches_up_then_follows_across_reconnects(
    store: eventstore.EventStore, database_url: str
) -> None:
    """A subscriber sees every event exactly once, even when its connection is killed."""
    await store.append("source/a", None, [failed(i) for i in range(5)])
    received: list[int] = []

    async def consume() -> None:
        async for item in store.subscribe(2, poll_interval=0.2):
            received.append(item.position)
            if item.position == 12:
                return

    task = asyncio.create_task(consume())
    while len(received) < 3:
        await asyncio.sleep(0.01)
    await store.append("source/a", None, [failed(5), failed(6)])
    while len(received) < 5:
        await asyncio.sleep(0.01)
    # Kill the subscriber's LISTEN connection.
    admin = await asyncpg.connect(database_url)
    killed = await admin.fetchval(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND query LIKE 'LISTEN %'"
    )
    assert killed == 1
    await admin.close()
    for i in range(5):
        await store.append("source/a", None, [failed(10 + i)])
    await asyncio.wait_for(task, 30)
    assert received == list(range(3, 13))


async def test_oversized_payload_is_refused_naming_event_and_stream(
    store: eventstore.EventStore,
) -> None:
    """An event over 1 MiB is refused with its type and stream; nothing is appended."""
    huge = ev.SourceFailed(source="a", error_class="E", message="x" * (1024 * 1024 + 1))
    with pytest.raises(eventstore.EventTooLargeError) as info:
        await store.append("source/a", 0, [failed(1), huge])
    assert "event SourceFailed payload is" in str(info.value)
    assert "stream 'source/a'" in str(info.value)
    assert await store.last_position() == 0


async def test_unknown_or_corrupt_rows_raise_with_their_position(
    store: eventstore.EventStore,
) -> None:
    """Reading a row of unknown type or undecodable payload raises, naming its position."""
    await store.append("source/a", 0, [failed(1)])
    async with store.pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO events (position, stream, version, type, schema_version, data) "
            "VALUES (2, 'source/a', 2, 'Martian', 1, '{}'::jsonb), "
            "(3, 'source/a', 3, 'SourceFailed', 1, '{\"source\": 1}'::jsonb)"
        )
    with pytest.raises(eventstore.CorruptEventError) as info:
        _ = [i async for i in store.read_all(1)]
    assert str(info.value) == (
        "event at position 2 (stream 'source/a') cannot be read: unknown event type 'Martian'"
    )
    with pytest.raises(eventstore.CorruptEventError, match="event at position 3"):
        await store.read_batch(2, 10)


async def test_events_are_append_only(store: eventstore.EventStore) -> None:
    """The database refuses UPDATE and DELETE on events."""
    await store.append("source/a", 0, [failed(1)])
    async with store.pool.acquire() as conn:
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute("UPDATE events SET type = 'x'")
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute("DELETE FROM events")


async def test_blobs_are_written_once(store: eventstore.EventStore) -> None:
    """Blobs are keyed by digest; writing one twice keeps one row."""
    body = {"kind": "ConfigMap", "metadata": {"name": "a"}}
    digest = codec.digest(body)
    await store.put_blobs({digest: codec.dumps(body)})
    await store.put_blobs({digest: codec.dumps(body)})
    assert await store.get_blobs([digest, "0" * 64]) == {digest: body}
    assert await store.pool.fetchval("SELECT count(*) FROM blobs") == 1


async def test_snapshots_keep_the_newest(store: eventstore.EventStore) -> None:
    """A snapshot is replaced by a newer one, never by an older one."""
    await store.save_snapshot("d", eventstore.Snapshot(10, 1, b"ten"))
    await store.save_snapshot("d", eventstore.Snapshot(5, 1, b"five"))
    assert await store.load_snapshot("d") == eventstore.Snapshot(10, 1, b"ten")
    await store.save_snapshot("d", eventstore.Snapshot(20, 1, b"twenty"))
    assert await store.load_snapshot("d") == eventstore.Snapshot(20, 1, b"twenty")
    assert await store.load_snapshot("other") is None


def commit(sha: str, source: str = "infra") -> ev.CommitRecorded:
    return ev.CommitRecorded(
        source=source,
        sha=sha,
        parents=(),
        author="Ada",
        author_email="ada@example.com",
        authored_at="2026-11-26T10:00:00+00:00",
        committer="Ada",
        committer_email="ada@example.com",
        committed_at="2026-11-26T10:00:00+00:00",
        subject=f"commit {sha}",
    )


async def test_projection_rows_and_position_commit_together(
    store: eventstore.EventStore,
) -> None:
    """A projection applies each event once; a failing batch leaves rows and position unchanged."""
    await store.append("source/infra", None, [commit("a"), commit("b")])
    assert await store.project("commits", projections.commits) == 2
    assert await store.project("commits", projections.commits) == 0
    await store.append("source/infra", None, [commit("c")])

    async def broken(conn: eventstore.Connection, batch: object) -> None:
        await projections.commits(conn, batch)  # type: ignore[arg-type]
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        await store.project("commits", broken)
    assert await store.projection_position("commits") == 2
    assert await store.pool.fetchval("SELECT count(*) FROM commits") == 2
    assert await store.project("commits", projections.commits) == 1
    rows = await store.pool.fetch("SELECT sha, position FROM commits ORDER BY position")
    assert [tuple(r) for r in rows] == [("a", 1), ("b", 2), ("c", 3)]


async def test_concurrent_projectors_do_not_double_apply(store: eventstore.EventStore) -> None:
    """Two projectors of the same name racing still apply each event exactly once."""
    await store.append("source/infra", None, [commit(str(i)) for i in range(300)])
    calls: list[int] = []

    async def counting(conn: eventstore.Connection, batch: object) -> None:
        calls.extend(i.position for i in batch)  # type: ignore[attr-defined]
        await projections.commits(conn, batch)  # type: ignore[arg-type]

    results = await asyncio.gather(
        store.project("commits", counting, batch=50), store.project("commits", counting, batch=50)
    )
    assert sum(results) == 300
    assert sorted(calls) == list(range(1, 301))


async def test_two_stores_on_one_log_see_each_others_versions(
    store: eventstore.EventStore, database_url: str
) -> None:
    """A store's remembered stream versions never hide another process's appends."""
    other = await eventstore.connect(database_url, pool_size=2)
    try:
        assert await store.append("source/a", 0, [failed(1)]) == [1]
        assert await other.append("source/a", 1, [failed(2)]) == [2]
        with pytest.raises(
            eventstore.ConcurrencyError, match="expected version 1, but it is at version 2"
        ):
            await store.append("source/a", 1, [failed(3)])
        assert await store.append("source/a", 2, [failed(3)]) == [3]
        assert await other.append("source/b", None, [failed(4, "b")]) == [4]
        assert await store.append_batch([eventstore.Append("source/a", [failed(5)])]) == [[5]]
        assert [i.version for i in await store.read_stream("source/a")] == [1, 2, 3, 4]
    finally:
        await other.close()


async def test_close_cuts_off_a_query_that_does_not_end(database_url: str) -> None:
    """Closing does not wait forever for a hung query: after its timeout the pool is terminated."""
    store = await eventstore.connect(database_url, pool_size=2)
    hung = asyncio.create_task(store.pool.execute("SELECT pg_sleep(600)"))
    while not await store.pool.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(600)'"
    ):
        await asyncio.sleep(0.02)
    await store.close(timeout=0.2)
    with pytest.raises(asyncpg.ConnectionDoesNotExistError):
        await hung
    assert store.pool.is_closing()


async def test_append_behind_a_held_lock_fails_after_lock_timeout(database_url: str) -> None:
    """An append blocked by another transaction's table lock raises LockTimeoutError, writes nothing."""
    store = await eventstore.connect(database_url, pool_size=2, lock_timeout=0.2)
    holder = await asyncpg.connect(database_url)
    try:
        async with holder.transaction():
            await holder.execute("LOCK TABLE events IN EXCLUSIVE MODE")
            with pytest.raises(eventstore.LockTimeoutError) as info:
                await store.append("source/a", 0, [failed(1)])
        assert str(info.value) == (
            "append to stream 'source/a': the events table lock was not granted within 0.2 s"
            " (lock_timeout); another transaction holds it; nothing was written"
        )
        assert (info.value.streams, info.value.timeout) == (("source/a",), 0.2)
        assert await store.append("source/a", 0, [failed(1)]) == [1]
    finally:
        await holder.close()
        await store.close()


def test_lock_timeout_must_be_positive() -> None:
    """A lock_timeout of zero (which PostgreSQL reads as "wait forever") is refused."""
    with pytest.raises(ValueError, match="lock_timeout must be > 0 s, got 0"):
        eventstore.EventStore(None, url="postgresql://x", lock_timeout=0)  # type: ignore[arg-type]


async def test_a_big_read_decodes_every_row_in_order_across_batches(
    store: eventstore.EventStore,
) -> None:
    """read_all_batches, reading one batch ahead in slices, yields every event once, in order."""
    sources = [failed(n, f"s{n % 7}") for n in range(1, 2601)]
    await store.append_batch([eventstore.Append(f"source/{e.source}", [e]) for e in sources])
    chunks = [chunk async for chunk in store.read_all_batches(0, size=1000)]
    items = [item for chunk in chunks for item in chunk]
    assert ([i.position for i in items], [i.event for i in items]) == (
        list(range(1, 2601)),
        sources,
    )
    assert max(len(c) for c in chunks) == 500


async def test_a_read_stopped_early_leaves_the_store_usable(store: eventstore.EventStore) -> None:
    """Leaving read_all_batches while a fetch is in flight ends it; appends and reads go on."""
    await store.append_batch([eventstore.Append("source/a", [failed(n)]) for n in range(1, 1201)])
    batches = store.read_all_batches(0, size=600)
    async for _ in batches:
        break
    await batches.aclose()
    assert await store.append("source/a", 1200, [failed(1201)]) == [1201]
    assert [i.position async for i in store.read_all(1199)] == [1200, 1201]


async def test_rows_with_meta_or_an_old_version_decode_like_one_by_one(
    store: eventstore.EventStore,
) -> None:
    """Rows off the fast path (meta set, an older schema version) decode as to_recorded does."""
    meta = ev.EventMeta(correlation_id="sync-1", actor="git:ada")
    await store.append("source/a", 0, [failed(1)], meta=meta)
    async with store.pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO events (position, stream, version, type, schema_version, data) "
            "VALUES (2, 'app/web', 1, 'ObjectApplied', 1, $1::jsonb)",
            b'{"app": "web", "sync_id": "s", "key": "/ConfigMap/ns/c", "created": true,'
            b' "resource_version": "7", "digest": "d"}',
        )
        rows = await conn.fetch(f"{eventstore._SELECT} ORDER BY position")
    assert eventstore.to_recorded_all(rows) == [eventstore.to_recorded(r) for r in rows]
    assert [(i.meta, i.event) for i in await store.read_batch(0, 10)] == [
        (meta, failed(1)),
        (
            ev.EventMeta(),
            ev.ObjectApplied(
                app="web",
                target="",
                sync_id="s",
                key="/ConfigMap/ns/c",
                created=True,
                resource_version="7",
                digest="d",
                hook="",
            ),
        ),
    ]


async def test_a_failed_append_rolls_back_and_the_next_one_commits(
    store: eventstore.EventStore,
) -> None:
    """A version clash inside the locked transaction rolls it back; the connection is reusable."""
    await store.append("source/a", 0, [failed(1)])
    with pytest.raises(eventstore.ConcurrencyError):
        await store.append_batch(
            [
                eventstore.Append("source/b", [failed(2, "b")], 0),
                eventstore.Append("source/a", [failed(3)], 0),
            ]
        )
    assert await store.append_batch(
        [
            eventstore.Append("source/b", [failed(2, "b")], 0),
            eventstore.Append("source/a", [failed(3)], 1),
        ]
    ) == [[2], [3]]
    assert [(i.position, i.stream, i.version) async for i in store.read_all()] == [
        (1, "source/a", 1),
        (2, "source/b", 1),
        (3, "source/a", 2),
    ]
