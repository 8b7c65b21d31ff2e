"""python -m bench eventstore [--events N] [--batch B] [--json PATH]

Side by side, in one run, on one embedded PostgreSQL server:

* append throughput: gitopsd's batched append (encode + lock + version check + COPY) vs a
  raw binary COPY of the same, pre-encoded rows into an identical table (the physical
  limit), vs the `eventsourcing` library's PostgreSQL application recorder (psycopg 3);
* replay throughput: gitopsd's read + decode + fold vs a raw fetch of the same rows
  (asyncpg, server-side cursor, jsonb left as bytes as the store's connections do, no
  decoding) vs eventsourcing's own read path
  (select_notifications + Mapper.to_domain_event into DomainEvent classes with the same
  fields) feeding an equivalent fold;
* single-event append latency p50/p99 with 1 and 16 concurrent writers;
* restart time from a snapshot plus a 10,000-event tail.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import gc
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg

from daemon.core import codec
from daemon.core import events as ev
from daemon.runtime import statekeeper
from daemon.shell import embeddedpg, eventstore, migrations

TAIL = 10_000


def make_events(n: int) -> list[tuple[str, Any]]:
    """A mix of realistic events over 200 streams (commits, heads, renders, failures)."""
    out: list[tuple[str, Any]] = []
    for i in range(n):
        src = f"repo{i % 200}"
        kind = i % 4
        if kind == 0:
            evt: Any = ev.CommitRecorded(
                source=src,
                sha=f"{i:040x}",
                parents=(f"{i - 1:040x}",),
                author="Ada Lovelace",
                author_email="ada@example.com",
                authored_at="2026-11-26T10:00:00+00:00",
                committer="Ada Lovelace",
                committer_email="ada@example.com",
                committed_at="2026-11-26T10:00:00+00:00",
                subject=f"Change {i}: bump image tag",
            )
        elif kind == 1:
            evt = ev.RevisionObserved(source=src, ref="refs/heads/main", sha=f"{i:040x}")
        elif kind == 2:
            evt = ev.DesiredStateRendered(
                app=f"app{i % 200}",
                revision=f"{i:040x}",
                objects={f"apps/Deployment/ns/app{j}": f"{i + j:064x}" for j in range(3)},
            )
        else:
            evt = ev.SourceFailed(source=src, error_class="TimeoutError", message="fetch timed out")
        stream = f"app/app{i % 200}" if kind == 2 else f"source/{src}"
        out.append((stream, evt))
    return out


async def bench_append(
    store: eventstore.EventStore, events: list[tuple[str, Any]], batch: int
) -> float:
    start = time.perf_counter()
    for i in range(0, len(events), batch):
        chunk = events[i : i + batch]
        await store.append_batch([eventstore.Append(s, [e]) for s, e in chunk])
    return len(events) / (time.perf_counter() - start)


async def bench_copy(url: str, events: list[tuple[str, Any]], batch: int) -> float:
    conn = await asyncpg.connect(url)
    await conn.set_type_codec(
        "jsonb", encoder=lambda b: b"\x01" + b, decoder=bytes, schema="pg_catalog", format="binary"
    )
    await conn.execute("DROP TABLE IF EXISTS events_raw")
    await conn.execute(
        "CREATE TABLE events_raw (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)"
    )
    versions: dict[str, int] = {}
    rows = []
    for pos, (stream, evt) in enumerate(events, 1):
        t, v, data = codec.encode(evt)
        versions[stream] = versions.get(stream, 0) + 1
        rows.append((pos, stream, versions[stream], t, v, data, b"{}"))
    cols = ("position", "stream", "version", "type", "schema_version", "data", "meta")
    start = time.perf_counter()
    for i in range(0, len(rows), batch):
        async with conn.transaction():
            await conn.copy_records_to_table(
                "events_raw", records=rows[i : i + batch], columns=cols
            )
    rate = len(rows) / (time.perf_counter() - start)
    await conn.execute("DROP TABLE events_raw")
    await conn.close()
    return rate


def es_datastore(url_parts: dict[str, str], dbname: str) -> Any:
    from eventsourcing.postgres import PostgresDatastore  # noqa: PLC0415

    return PostgresDatastore(
        dbname=dbname,
        host=url_parts["host"],
        port=url_parts["port"],
        user="postgres",
        password="",
        pool_size=2,
    )


def es_event_classes() -> dict[str, type]:
    """eventsourcing DomainEvent classes with the same fields as ours (the library's idiom)."""
    from eventsourcing.domain import DomainEvent  # noqa: PLC0415

    classes: dict[str, type] = {}
    for name in ("CommitRecorded", "RevisionObserved", "DesiredStateRendered", "SourceFailed"):
        ours = codec.registered_types()[name]
        annotations = {f.name: Any for f in dataclasses.fields(ours)}
        cls = type(
            f"Es{name}", (DomainEvent,), {"__annotations__": annotations, "__module__": __name__}
        )
        globals()[cls.__name__] = cls  # topics resolve by module attribute
        classes[name] = cls
    return classes


def es_mapper() -> Any:
    from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder, Mapper, UUIDAsHex  # noqa: PLC0415

    transcoder = JSONTranscoder()
    transcoder.register(UUIDAsHex())
    transcoder.register(DatetimeAsISO())
    return Mapper(transcoder=transcoder)


def es_domain_events(events: list[tuple[str, Any]]) -> list[Any]:
    classes = es_event_classes()
    versions: dict[str, int] = {}
    out = []
    for stream, evt in events:
        versions[stream] = versions.get(stream, 0) + 1
        fields = {f.name: getattr(evt, f.name) for f in dataclasses.fields(evt)}
        out.append(
            classes[evt.TYPE](
                originator_id=uuid.uuid5(uuid.NAMESPACE_URL, stream),
                originator_version=versions[stream],
                timestamp=_EPOCH,
                **fields,
            )
        )
    return out


def bench_eventsourcing_append(
    datastore: Any, domain_events: list[Any], batch: int
) -> tuple[float, Any]:
    """The library's write path: Mapper.to_stored_event + ApplicationRecorder.insert_events."""
    from eventsourcing.postgres import PostgresApplicationRecorder  # noqa: PLC0415

    recorder = PostgresApplicationRecorder(datastore, events_table_name="es_events")
    recorder.create_table()
    mapper = es_mapper()
    start = time.perf_counter()
    for i in range(0, len(domain_events), batch):
        recorder.insert_events([mapper.to_stored_event(e) for e in domain_events[i : i + batch]])
    return len(domain_events) / (time.perf_counter() - start), recorder


def es_fold(state: dict[str, Any], event: Any) -> None:
    """The same state changes as daemon.core.fold, over the library's event objects."""
    name = type(event).__name__
    if name == "EsCommitRecorded":
        src = state.setdefault(event.source, {"commits": 0, "head": None, "failing": None})
        src["commits"] += 1
    elif name == "EsRevisionObserved":
        src = state.setdefault(event.source, {"commits": 0, "head": None, "failing": None})
        src["head"] = event.sha
    elif name == "EsSourceFailed":
        src = state.setdefault(event.source, {"commits": 0, "head": None, "failing": None})
        src["failing"] = f"{event.error_class}: {event.message}"
    elif name == "EsDesiredStateRendered":
        app = state.setdefault(f"app:{event.app}", {})
        app["revision"] = event.revision
        app["desired"] = dict(event.objects)


def bench_eventsourcing_replay(recorder: Any, n: int) -> float:
    """The library's read path: select_notifications + Mapper.to_domain_event, then the fold."""
    mapper = es_mapper()
    start = time.perf_counter()
    state: dict[str, Any] = {}
    position = 0
    seen = 0
    while True:
        page = recorder.select_notifications(position, 5000, inclusive_of_start=False)
        if not page:
            break
        for note in page:
            es_fold(state, mapper.to_domain_event(note))
            position = note.id
            seen += 1
    assert seen == n, (seen, n)
    return n / (time.perf_counter() - start)


_EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


async def bench_replay(store: eventstore.EventStore, n: int) -> tuple[float, float]:
    """What the daemon does at start without a snapshot: StateKeeper.load over the whole log."""
    keeper = statekeeper.StateKeeper(store)
    start = time.perf_counter()
    state = await keeper.load()
    elapsed = time.perf_counter() - start
    assert state.events == n, (state.events, n)
    return n / elapsed, elapsed


async def bench_raw_fetch(url: str, n: int) -> float:
    """The same rows through a plain cursor loop, on a connection set up as the store's
    (jsonb as raw bytes: the same wire format, and no decoding at all on this side)."""
    conn = await asyncpg.connect(url)
    await eventstore.setup_connection(conn)
    start = time.perf_counter()
    count = 0
    async with conn.transaction(readonly=True):
        cursor = await conn.cursor(
            "SELECT position, stream, version, type, schema_version, recorded_at, data, meta "
            "FROM events WHERE position > $1 ORDER BY position",
            0,
        )
        while rows := await cursor.fetch(5000):
            count += len(rows)
    elapsed = time.perf_counter() - start
    await conn.close()
    assert count == n
    return n / elapsed


async def bench_latency(
    store: eventstore.EventStore, writers: int, per_writer: int
) -> tuple[float, float]:
    latencies: list[float] = []

    async def writer(w: int) -> None:
        stream = f"source/lat-{writers}-{w}"
        for i in range(per_writer):
            evt = ev.SourceFailed(source=f"lat{w}", error_class="E", message=f"n{i}")
            t0 = time.perf_counter()
            await store.append(stream, i, [evt])
            latencies.append(time.perf_counter() - t0)

    await asyncio.gather(*(writer(w) for w in range(writers)))
    q = statistics.quantiles(latencies, n=100)
    return q[49] * 1000, q[98] * 1000


async def bench_restart(store: eventstore.EventStore) -> float:
    keeper = statekeeper.StateKeeper(store)
    await keeper.load()
    await keeper.snapshot()
    tail = make_events(TAIL)
    for i in range(0, TAIL, 1000):
        await store.append_batch([eventstore.Append(s, [e]) for s, e in tail[i : i + 1000]])
    expected = await store.last_position()
    runs = []
    for _ in range(5):
        fresh = statekeeper.StateKeeper(store)
        t0 = time.perf_counter()
        await fresh.load()
        runs.append(time.perf_counter() - t0)
        assert fresh.state.events == expected
    return statistics.median(runs) * 1000


def url_parts(url: str) -> dict[str, str]:
    # postgresql://postgres:@/gitopsd?host=/socket/dir
    host = url.split("host=", 1)[1].split("&", 1)[0]
    return {"host": host, "port": "5432"}


def _settle() -> None:
    """Collect garbage before a timed read, so no side pays for the other's leftovers."""
    gc.collect()


async def run(args: argparse.Namespace) -> dict[str, float]:
    events = make_events(args.events)
    n = len(events)
    with tempfile.TemporaryDirectory(prefix="gitopsd-bench-") as tmp:
        server = await asyncio.to_thread(embeddedpg.start, Path(tmp))
        try:
            dbname = f"bench_{uuid.uuid4().hex[:8]}"
            server.ensure_database(dbname)
            url = server.url(dbname)
            conn = await asyncpg.connect(url)
            await migrations.migrate(conn)
            await conn.close()
            store = await eventstore.connect(url, pool_size=20)
            try:
                copy_rate = await bench_copy(url, events, args.batch)
                append_rate = await bench_append(store, events, args.batch)
                datastore = es_datastore(url_parts(url), dbname)
                domain_events = es_domain_events(events)
                # The replays run with the same heap: neither side's input lists alive.
                del events
                try:
                    es_append_rate, recorder = await asyncio.to_thread(
                        bench_eventsourcing_append, datastore, domain_events, args.batch
                    )
                    del domain_events
                    _settle()
                    es_replay_rate = await asyncio.to_thread(
                        bench_eventsourcing_replay, recorder, n
                    )
                finally:
                    with contextlib.suppress(Exception):
                        datastore.close()
                _settle()
                raw_rate = await bench_raw_fetch(url, n)
                _settle()
                replay_rate, replay_s = await bench_replay(store, n)
                p50_1, p99_1 = await bench_latency(store, 1, 300)
                p50_16, p99_16 = await bench_latency(store, 16, 60)
                restart_ms = await bench_restart(store)
            finally:
                await store.close()
        finally:
            server.stop()
    return {
        "events": float(n),
        "append_events_per_s": append_rate,
        "copy_events_per_s": copy_rate,
        "eventsourcing_append_events_per_s": es_append_rate,
        "append_vs_copy": append_rate / copy_rate,
        "append_vs_eventsourcing": append_rate / es_append_rate,
        "replay_events_per_s": replay_rate,
        "replay_seconds": replay_s,
        "raw_fetch_events_per_s": raw_rate,
        "eventsourcing_replay_events_per_s": es_replay_rate,
        "replay_vs_raw": replay_rate / raw_rate,
        "replay_vs_eventsourcing": replay_rate / es_replay_rate,
        "latency_1_p50_ms": p50_1,
        "latency_1_p99_ms": p99_1,
        "latency_16_p50_ms": p50_16,
        "latency_16_p99_ms": p99_16,
        "snapshot_restart_ms": restart_ms,
    }


def _verdict(ratio: float, target: float) -> str:
    return f"(target >= {target}x: {'met' if ratio >= target else 'NOT met'})"


def print_table(r: dict[str, float]) -> None:
    n = int(r["events"])
    rows = [
        ("append, batched (gitopsd)", f"{r['append_events_per_s']:>12,.0f} ev/s", ""),
        (
            "append, raw COPY (limit)",
            f"{r['copy_events_per_s']:>12,.0f} ev/s",
            f"gitopsd = {r['append_vs_copy']:.2f}x  {_verdict(r['append_vs_copy'], 0.8)}",
        ),
        (
            "append, eventsourcing",
            f"{r['eventsourcing_append_events_per_s']:>12,.0f} ev/s",
            f"gitopsd = {r['append_vs_eventsourcing']:.2f}x  {_verdict(r['append_vs_eventsourcing'], 2.5)}",
        ),
        (
            "replay: read+decode+fold (gitopsd)",
            f"{r['replay_events_per_s']:>12,.0f} ev/s",
            f"{n:,} events in {r['replay_seconds']:.2f} s",
        ),
        (
            "replay: raw fetch (limit)",
            f"{r['raw_fetch_events_per_s']:>12,.0f} ev/s",
            f"gitopsd = {r['replay_vs_raw']:.2f}x  {_verdict(r['replay_vs_raw'], 0.5)}",
        ),
        (
            "replay: eventsourcing",
            f"{r['eventsourcing_replay_events_per_s']:>12,.0f} ev/s",
            f"gitopsd = {r['replay_vs_eventsourcing']:.2f}x  {_verdict(r['replay_vs_eventsourcing'], 2.5)}",
        ),
        (
            "append latency, 1 writer",
            f"p50 {r['latency_1_p50_ms']:.2f} ms",
            f"p99 {r['latency_1_p99_ms']:.2f} ms",
        ),
        (
            "append latency, 16 writers",
            f"p50 {r['latency_16_p50_ms']:.2f} ms",
            f"p99 {r['latency_16_p99_ms']:.2f} ms",
        ),
        (
            "restart: snapshot + 10,000 tail",
            f"{r['snapshot_restart_ms']:.0f} ms",
            "(target <= 200 ms)",
        ),
    ]
    width = max(len(a) for a, _, _ in rows)
    print(f"event store benchmark, {n:,} events")
    for a, b, c in rows:
        print(f"  {a:<{width}}  {b:<22} {c}")
    print(
        f"  1,000,000 events would replay in {1_000_000 / r['replay_events_per_s']:.1f} s at this rate (target <= 10 s)"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench eventstore")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    result = asyncio.run(run(args))
    print_table(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0
