"""The poller on real repositories and a real event log: recording, restarts, failures, triggers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from pathlib import Path

import pygit2
import pytest
import structlog
from gitfixtures import BlackHole, GitDaemon, Upstream

from daemon import settings
from daemon.core import events as ev
from daemon.core import fold
from daemon.core import state as core_state
from daemon.runtime import poller, writer
from daemon.shell import eventstore


@pytest.fixture(autouse=True)
def _restore_timeouts() -> Iterator[None]:
    connect = pygit2.option(pygit2.enums.Option.GET_SERVER_CONNECT_TIMEOUT)
    io = pygit2.option(pygit2.enums.Option.GET_SERVER_TIMEOUT)
    yield
    pygit2.option(pygit2.enums.Option.SET_SERVER_CONNECT_TIMEOUT, connect)
    pygit2.option(pygit2.enums.Option.SET_SERVER_TIMEOUT, io)


def _config(tmp_path: Path, *srcs: settings.SourceConfig) -> settings.Config:
    return settings.Config(state_dir=str(tmp_path / "state"), sources=list(srcs))


def _source(name: str, url: str, **kw: object) -> settings.SourceConfig:
    return settings.SourceConfig(name=settings.Name(name), url=url, **kw)  # type: ignore[arg-type]


async def _state(store: eventstore.EventStore) -> core_state.State:
    return fold.replay([r async for r in store.read_all()])


async def _poller(
    store: eventstore.EventStore, config: settings.Config, **kw: object
) -> poller.Poller:
    return poller.Poller(
        config,
        appender=writer.StoreAppender(store),
        store=store,
        state=await _state(store),
        **kw,  # type: ignore[arg-type]
    )


def _summary(recorded: Sequence[ev.Recorded]) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for item in recorded:
        match item.event:
            case ev.CommitRecorded(sha=sha):
                out.append(("commit", sha))
            case ev.RevisionObserved(sha=sha, previous=previous):
                out.append(("revision", sha, str(previous)))
            case ev.HistoryRewritten(dropped=dropped, new_head=new):
                out.append(("rewritten", new, *dropped))
            case ev.SourceFailed(error_class=kind):
                out.append(("failed", kind))
            case ev.SourceRecovered():
                out.append(("recovered",))
            case _:
                out.append((type(item.event).__name__,))
    return out


async def test_records_commits_oldest_first_and_nothing_twice_across_restarts(
    tmp_path: Path, store: eventstore.EventStore, upstream: Upstream, git_daemon: GitDaemon
) -> None:
    """Over git daemon: each new commit once, oldest first, then the head; a restart resumes."""
    config = _config(tmp_path, _source("src", git_daemon.url("repo.git")))
    c1 = upstream.commit({"a": "1"})
    first = await _poller(store, config)
    await first.poll("src")
    c2 = upstream.commit({"a": "2"})
    c3 = upstream.commit({"b": "3"})
    await first.poll("src")
    await first.poll("src")
    c4 = upstream.commit({"a": "4"})
    restarted = await _poller(store, config)
    await restarted.poll("src")
    await restarted.poll("src")
    assert _summary(await store.read_stream("source/src")) == [
        ("commit", c1),
        ("revision", c1, "None"),
        ("commit", c2),
        ("commit", c3),
        ("revision", c3, c1),
        ("commit", c4),
        ("revision", c4, c3),
    ]


class _Crash:
    """An appender whose append fails, like a daemon killed after its fetch."""

    async def append(self, stream: str, events: Sequence[object], **_: object) -> list[int]:
        raise ConnectionError("killed before the append committed")


async def test_mirror_ahead_of_the_log_after_a_crash_misses_nothing(
    tmp_path: Path, store: eventstore.EventStore, upstream: Upstream
) -> None:
    """A fetch whose append never committed is recorded by the next run: the log, not the mirror, says what was seen."""
    config = _config(tmp_path, _source("src", upstream.url))
    c1 = upstream.commit({"a": "1"})
    await (await _poller(store, config)).poll("src")
    c2 = upstream.commit({"a": "2"})
    crashed = poller.Poller(config, appender=_Crash(), store=store, state=await _state(store))
    with pytest.raises(ConnectionError):
        await crashed.poll("src")
    await (await _poller(store, config)).poll("src")
    assert _summary(await store.read_stream("source/src")) == [
        ("commit", c1),
        ("revision", c1, "None"),
        ("commit", c2),
        ("revision", c2, c1),
    ]


async def test_force_push_records_history_rewritten(
    tmp_path: Path, store: eventstore.EventStore, upstream: Upstream
) -> None:
    """A force-push records the dropped commits, then the new ones, then the head."""
    config = _config(tmp_path, _source("src", upstream.url))
    c1 = upstream.commit({"a": "1"})
    c2 = upstream.commit({"a": "2"})
    polls = await _poller(store, config)
    await polls.poll("src")
    upstream.set_branch("main", c1)
    x2 = upstream.commit({"a": "x"})
    result = await polls.poll("src")
    assert _summary(await store.read_stream("source/src")) == [
        ("commit", c2),
        ("revision", c2, "None"),
        ("rewritten", x2, c2),
        ("commit", x2),
        ("revision", x2, c2),
    ]
    assert result.head == x2


async def test_failures_recorded_on_change_only(
    tmp_path: Path, store: eventstore.EventStore
) -> None:
    """A failing source records SourceFailed once, however often it fails, and SourceRecovered once."""
    missing = tmp_path / "upstream" / "later.git"
    config = _config(tmp_path, _source("src", f"file://{missing}"))
    polls = await _poller(store, config)
    results = [await polls.poll("src"), await polls.poll("src")]
    late = Upstream(missing)
    c1 = late.commit({"a": "1"})
    await polls.poll("src")
    await polls.poll("src")
    assert _summary(await store.read_stream("source/src")) == [
        ("failed", "RemoteError"),
        ("recovered",),
        ("commit", c1),
        ("revision", c1, "None"),
    ]
    assert [r.error is not None for r in results] == [True, True]


async def test_a_failed_poll_logs_its_source(
    tmp_path: Path, store: eventstore.EventStore, captured_logs: list[structlog.typing.EventDict]
) -> None:
    """The line of a failed poll carries the source bound for the poll, and no revision."""
    missing = tmp_path / "upstream" / "missing.git"
    polls = await _poller(store, _config(tmp_path, _source("src", f"file://{missing}")))
    result = await polls.poll("src")
    assert [e for e in captured_logs if e["event"] == "source.poll_failed"] == [
        {
            "component": "poller",
            "event": "source.poll_failed",
            "log_level": "warning",
            "source": "src",
            "error_class": "RemoteError",
            "error": result.error,
        }
    ]


async def test_a_second_writer_racing_records_nothing_twice(
    tmp_path: Path, store: eventstore.EventStore, upstream: Upstream
) -> None:
    """Two pollers on one log (daemon and `sources poll`): the loser re-reads the log and adds nothing."""
    config = _config(tmp_path, _source("src", upstream.url))
    c1 = upstream.commit({"a": "1"})
    one = await _poller(store, config)
    two = await _poller(store, _config(tmp_path / "other", _source("src", upstream.url)))
    await one.poll("src")
    late = await two.poll("src")
    assert (_summary(await store.read_stream("source/src")), late.events) == (
        [("commit", c1), ("revision", c1, "None")],
        [],
    )


async def test_hung_remote_does_not_delay_other_sources(
    tmp_path: Path, store: eventstore.EventStore, upstream: Upstream, black_hole: BlackHole
) -> None:
    """While one fetch hangs on a silent server, another source is fetched and recorded."""
    config = _config(
        tmp_path,
        _source(
            "hung", f"git://127.0.0.1:{black_hole.port}/repo.git", timeout=settings.Duration(30)
        ),
        _source("good", upstream.url),
    )
    c1 = upstream.commit({"a": "1"})
    polls = await _poller(store, config, concurrency=2)
    seen: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    polls.add_listener(lambda name, head: seen.put_nowait((name, head)))
    task = asyncio.create_task(polls.run())
    try:
        got = await asyncio.wait_for(seen.get(), 20)
        hung_events = await store.read_stream("source/hung")
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert (got, hung_events, len(black_hole.accepted)) == (("good", c1), [], 1)


async def test_webhook_trigger_polls_once_per_burst(
    tmp_path: Path, store: eventstore.EventStore, upstream: Upstream
) -> None:
    """A burst of triggers costs one extra poll (debounced), long before the interval is up."""
    config = _config(tmp_path, _source("src", upstream.url, interval=settings.Duration(3600)))
    c1 = upstream.commit({"a": "1"})
    polls = await _poller(store, config, debounce=0.2)
    seen: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    polls.add_listener(lambda name, head: seen.put_nowait((name, head)))
    task = asyncio.create_task(polls.run())
    try:
        first = await asyncio.wait_for(seen.get(), 20)
        c2 = upstream.commit({"a": "2"})
        for _ in range(5):
            assert polls.trigger(["src", "unknown"]) == ["src"]
        second = await asyncio.wait_for(seen.get(), 20)
        count = polls.polls["src"]
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert (first, second, count) == (("src", c1), ("src", c2), 2)


async def test_semver_source_follows_new_release_tags(
    tmp_path: Path, store: eventstore.EventStore, upstream: Upstream
) -> None:
    """A semver source moves to a newer tag in range and ignores tags outside it."""
    config = _config(tmp_path, _source("src", upstream.url, semver=">=1.0.0 <2.0.0"))
    c1 = upstream.commit({"a": "1"})
    upstream.tag("v1.0.0", c1)
    polls = await _poller(store, config)
    await polls.poll("src")
    c2 = upstream.commit({"a": "2"})
    c3 = upstream.commit({"a": "3"})
    upstream.tag("v2.0.0", c3)
    await polls.poll("src")
    upstream.tag("v1.1.0", c2)
    await polls.poll("src")
    recorded = await store.read_stream("source/src")
    assert _summary(recorded) == [
        ("commit", c1),
        ("revision", c1, "None"),
        ("commit", c2),
        ("revision", c2, c1),
    ]
    assert [r.event.ref for r in recorded if isinstance(r.event, ev.RevisionObserved)] == [
        "refs/tags/v1.0.0",
        "refs/tags/v1.1.0",
    ]
