"""``gitopsd demo``: a short tour on embedded defaults.

It starts the embedded PostgreSQL in a temporary state directory (or the one given),
migrates, records a few facts about a sample source and app, replays the log (whole,
then from a snapshot plus the tail), prints what it did, and stops everything.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from daemon import settings
from daemon.core import events as ev
from daemon.core import fold
from daemon.core import state as core_state
from daemon.runtime import database
from daemon.shell import eventstore

Printer = Callable[[str], None]

_COMMITS = [
    ("a1" * 20, "Add web deployment"),
    ("b2" * 20, "Scale web to 3 replicas"),
    ("c3" * 20, "Add web service"),
]


async def run(*, state_dir: Path | None, out: Printer) -> None:
    """Run the tour, printing each step."""
    if state_dir is None:
        with tempfile.TemporaryDirectory(prefix="gitopsd-demo-") as tmp:
            await _tour(Path(tmp), out)
    else:
        await _tour(state_dir, out)


async def _tour(state_dir: Path, out: Printer) -> None:
    config = settings.empty()
    config = settings.Config(state_dir=str(state_dir), path=config.path)
    out(f"state directory: {state_dir}")
    db = await database.locate(config)
    try:
        out(f"embedded PostgreSQL: {db.url}")
        applied = await database.migrate(db.url)
        out(
            "migrations applied: "
            + (", ".join(f"{m.version:03d}_{m.name}" for m in applied) or "none")
        )
        store = await eventstore.connect(db.url, pool_size=2)
        try:
            await _record(store, out)
            await _replay(store, out)
        finally:
            await store.close()
    finally:
        db.close()
    out("embedded PostgreSQL stopped")


async def _record(store: eventstore.EventStore, out: Printer) -> None:
    stream = "source/demo"
    version = await store.stream_version(stream)
    previous = None
    commits = []
    for i, (sha, subject) in enumerate(_COMMITS):
        commits.append(
            ev.CommitRecorded(
                source="demo",
                sha=sha,
                parents=(previous,) if previous else (),
                author="Ada",
                author_email="ada@example.com",
                authored_at=f"2026-11-26T10:0{i}:00+00:00",
                committer="Ada",
                committer_email="ada@example.com",
                committed_at=f"2026-11-26T10:0{i}:00+00:00",
                subject=subject,
            )
        )
        previous = sha
    head = ev.RevisionObserved(source="demo", ref="refs/heads/main", sha=previous or "")
    positions = await store.append(stream, version, [*commits, head])
    out(
        f"appended {len(positions)} events to {stream} at positions {positions[0]}..{positions[-1]}"
    )
    try:
        await store.append(stream, version, [head])
    except eventstore.ConcurrencyError as exc:
        out(f"a stale writer is refused: {exc}")
    app_version = await store.stream_version("app/web")
    rendered = ev.DesiredStateRendered(
        app="web", revision=previous or "", objects={"apps/Deployment/web/web": "0" * 64}
    )
    positions = await store.append("app/web", app_version, [rendered])
    out(f"appended DesiredStateRendered to app/web at position {positions[0]}")


async def _replay(store: eventstore.EventStore, out: Printer) -> None:
    whole = fold.replay([item async for item in store.read_all(0)])
    src = whole.sources["demo"]
    out(
        f"replayed {whole.events} events up to position {whole.position}: source demo has "
        f"{src.commits} commits, head {src.head}"
    )
    snapshot_at = whole.position - 2
    partial = fold.replay([item async for item in store.read_all(0, until=snapshot_at)])
    await store.save_snapshot(
        "demo",
        eventstore.Snapshot(snapshot_at, core_state.STATE_FORMAT, core_state.to_json(partial)),
    )
    snap = await store.load_snapshot("demo")
    assert snap is not None
    restored = core_state.from_json(snap.data) or core_state.State()
    tail = [item async for item in store.read_all(snap.position)]
    resumed = fold.replay(tail, restored)
    same = core_state.to_json(resumed) == core_state.to_json(whole)
    out(
        f"snapshot at position {snap.position} + {len(tail)}-event tail "
        f"{'equals' if same else 'DIFFERS FROM'} the full replay"
    )
    for item in await store.read_stream("source/demo"):
        evt = item.event
        if isinstance(evt, ev.CommitRecorded):
            out(f"  {item.position:>4}  {evt.sha[:8]}  {evt.subject}")
