"""The Git side inside the running daemon: poll, render, and a webhook-triggered poll end to end."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import aiohttp
import psutil
from gitfixtures import Upstream

from daemon import settings
from daemon.core import events as ev
from daemon.runtime import main
from daemon.shell import eventstore

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n  namespace: prod\ndata:\n  v: '{v}'\n"


async def _until(
    store: eventstore.EventStore, after: int, found: Callable[[ev.AnyEvent], bool]
) -> ev.Recorded:
    async for item in store.subscribe(after, poll_interval=0.2):
        if found(item.event):
            return item
    raise AssertionError("subscription ended")  # pragma: no cover


async def test_daemon_polls_renders_and_takes_webhooks(
    tmp_path: Path, database_url: str, upstream: Upstream
) -> None:
    """Started with one source and app, the daemon records and renders the head; a webhook push is polled at once."""
    c1 = upstream.commit({"web/cm.yaml": CM.format(v="1")})
    config = settings.Config(
        state_dir=str(tmp_path / "state"),
        http=settings.HttpConfig(listen="127.0.0.1:0"),
        sources=[
            settings.SourceConfig(
                name=settings.Name("src"),
                url=upstream.url,
                interval=settings.Duration(3600),
                webhook_secret=settings.Secret("hook-secret"),
            )
        ],
        apps=[
            settings.AppConfig(
                name=settings.Name("web"),
                source=settings.Name("src"),
                path="web",
                destination=settings.DestinationConfig(cluster=settings.Name("c")),
            )
        ],
    )
    store = await eventstore.connect(database_url, pool_size=4)
    daemon = main.Daemon(config, store)
    serving = asyncio.create_task(daemon.serve())
    try:
        first = await asyncio.wait_for(
            _until(store, 0, lambda e: isinstance(e, ev.DesiredStateRendered)), 30
        )
        await asyncio.wait_for(daemon.http.started.wait(), 10)
        assert daemon.http.bound is not None
        c2 = upstream.commit({"web/cm.yaml": CM.format(v="2")})
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"http://127.0.0.1:{daemon.http.bound[1]}/hooks/generic?source=src",
                headers={"Authorization": "Bearer hook-secret"},
            ) as resp,
        ):
            reply = (resp.status, await resp.json())
        second = await asyncio.wait_for(
            _until(store, first.position, lambda e: isinstance(e, ev.DesiredStateRendered)), 30
        )
    finally:
        daemon.stop()
        await asyncio.wait_for(serving, 30)
        await store.close()
    assert reply == (202, {"polling": ["src"]})
    assert (first.event.revision, second.event.revision) == (c1, c2)  # type: ignore[union-attr]


BOMB = "std.makeArray(1e9, function(i) i)"


async def test_a_render_bomb_fails_its_app_and_the_daemon_renders_on(
    tmp_path: Path, database_url: str, upstream: Upstream
) -> None:
    """A jsonnet memory bomb records RenderFailed naming the limit; the daemon keeps rendering the other app, and stops its workers."""
    upstream.commit({"web/cm.yaml": CM.format(v="1"), "bomb/main.jsonnet": BOMB})
    limits = settings.RenderLimitsConfig(memory=settings.ByteSize(256 << 20))
    config = settings.Config(
        state_dir=str(tmp_path / "state"),
        http=settings.HttpConfig(listen="127.0.0.1:0"),
        sources=[
            settings.SourceConfig(
                name=settings.Name("src"), url=upstream.url, interval=settings.Duration(3600)
            )
        ],
        apps=[
            settings.AppConfig(
                name=settings.Name(name),
                source=settings.Name("src"),
                path=name,
                destination=settings.DestinationConfig(cluster=settings.Name("c")),
                render=settings.RenderConfig(limits=limits),
            )
            for name in ("bomb", "web")
        ],
    )
    store = await eventstore.connect(database_url, pool_size=4)
    daemon = main.Daemon(config, store)
    serving = asyncio.create_task(daemon.serve())
    try:
        await asyncio.wait_for(daemon.ready.wait(), 30)
        workers = daemon.pool.pids
        rendered = [
            (await asyncio.wait_for(_until(store, 0, _render_of(app)), 60)).event
            for app in ("bomb", "web")
        ]
        c2 = upstream.commit({"web/cm.yaml": CM.format(v="2")})
        assert daemon.git is not None
        daemon.git.poller.trigger(["src"])
        second = await asyncio.wait_for(_until(store, 0, _rendered_at(c2)), 60)
        alive = serving.done()
    finally:
        daemon.stop()
        await asyncio.wait_for(serving, 30)
        await store.close()
    failures = sorted(e.error for e in rendered if isinstance(e, ev.RenderFailed))
    assert (failures, alive, daemon.pool.pids) == (
        ["render exceeded its memory limit (256 MiB address space)"],
        False,
        [],
    )
    assert (second.event.app, len(workers), [psutil.pid_exists(p) for p in workers]) == (  # type: ignore[union-attr]
        "web",
        2,
        [False, False],
    )


def _render_of(app: str) -> Callable[[ev.AnyEvent], bool]:
    return lambda e: isinstance(e, ev.DesiredStateRendered | ev.RenderFailed) and e.app == app


def _rendered_at(revision: str) -> Callable[[ev.AnyEvent], bool]:
    return lambda e: isinstance(e, ev.DesiredStateRendered) and e.revision == revision
