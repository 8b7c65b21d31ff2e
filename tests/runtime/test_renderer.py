"""The renderer on real mirrors and a real log: fan-out by path, redaction, failures, restarts."""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path

import pytest
import structlog
from gitfixtures import Upstream

from daemon import settings
from daemon.core import codec, fold, manifests
from daemon.core import events as ev
from daemon.core import state as core_state
from daemon.runtime import poller, renderer, writer
from daemon.shell import eventstore
from daemon.shell.render import pool as renderpool

KEY = b"K" * 32

CM = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
  namespace: prod
data:
  v: "{value}"
"""

SECRET = """apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: prod
data:
  password: {b64}
stringData:
  user: admin-hunter2
"""


def _app(name: str, path: str, **kw: object) -> settings.AppConfig:
    return settings.AppConfig(
        name=settings.Name(name),
        source=settings.Name("src"),
        path=path,
        destination=settings.DestinationConfig(cluster=settings.Name("c")),
        **kw,  # type: ignore[arg-type]
    )


def _config(tmp_path: Path, upstream: Upstream, *apps: settings.AppConfig) -> settings.Config:
    return settings.Config(
        state_dir=str(tmp_path / "state"),
        sources=[settings.SourceConfig(name=settings.Name("src"), url=upstream.url)],
        apps=list(apps),
    )


async def _state(store: eventstore.EventStore) -> core_state.State:
    return fold.replay([r async for r in store.read_all()])


class _Stack:
    """A poller and a renderer wired as in the daemon, both on the store."""

    def __init__(
        self,
        config: settings.Config,
        store: eventstore.EventStore,
        state: core_state.State,
        pool: renderpool.RenderPool,
    ) -> None:
        appender = writer.StoreAppender(store)
        self.poller = poller.Poller(config, appender=appender, store=store, state=state)
        self.renderer = renderer.Renderer(
            config, appender=appender, store=store, state=state, key=KEY, pool=pool
        )
        self.poller.add_listener(self.renderer.notify)

    async def cycle(self) -> list[ev.AnyEvent]:
        await self.poller.poll("src")
        return await self.renderer.render_source("src")


async def _stack(
    config: settings.Config, store: eventstore.EventStore, pool: renderpool.RenderPool
) -> _Stack:
    return _Stack(config, store, await _state(store), pool)


async def test_monorepo_commit_touching_one_app_renders_one_app(
    tmp_path: Path,
    store: eventstore.EventStore,
    upstream: Upstream,
    render_pool: renderpool.RenderPool,
) -> None:
    """A commit under one app renders that app only; one in a shared base or library renders the apps reaching it."""
    upstream.commit(
        {
            "apps/web/cm.yaml": CM.format(name="web", value="1"),
            "apps/api/cm.yaml": CM.format(name="api", value="1"),
            "apps/kust/kustomization.yaml": "resources:\n- ../../base\nnamePrefix: k-\n",
            "base/kustomization.yaml": "resources:\n- cm.yaml\n",
            "base/cm.yaml": CM.format(name="base", value="1"),
            "apps/lib-user/main.jsonnet": 'local cm = import "../../lib/cm.libsonnet"; [cm]',
            "lib/cm.libsonnet": '{apiVersion: "v1", kind: "ConfigMap", metadata: {name: "j"}, data: {v: "1"}}',
            "README.md": "hello",
        }
    )
    config = _config(
        tmp_path,
        upstream,
        _app("web", "apps/web"),
        _app("api", "apps/api"),
        _app("kust", "apps/kust"),
        _app("jsonnet", "apps/lib-user"),
    )
    stack = await _stack(config, store, render_pool)
    first = await stack.cycle()
    web_sha = upstream.commit({"apps/web/cm.yaml": CM.format(name="web", value="2")})
    second = await stack.cycle()
    upstream.commit({"README.md": "changed"})
    third = await stack.cycle()
    base_sha = upstream.commit({"base/cm.yaml": CM.format(name="base", value="2")})
    fourth = await stack.cycle()
    lib_sha = upstream.commit(
        {
            "lib/cm.libsonnet": '{apiVersion: "v1", kind: "ConfigMap", metadata: {name: "j"}, data: {v: "2"}}'
        }
    )
    fifth = await stack.cycle()
    batches = (first, second, third, fourth, fifth)
    assert [sorted(e.app for e in batch) for batch in batches] == [  # type: ignore[union-attr]
        ["api", "jsonnet", "kust", "web"],
        ["web"],
        [],
        ["kust"],
        ["jsonnet"],
    ]
    assert [(e.app, e.revision, type(e).__name__) for e in (*second, *fourth, *fifth)] == [  # type: ignore[union-attr]
        ("web", web_sha, "DesiredStateRendered"),
        ("kust", base_sha, "DesiredStateRendered"),
        ("jsonnet", lib_sha, "DesiredStateRendered"),
    ]
    assert stack.renderer.renders == 7


async def test_secret_values_never_reach_the_log_the_blobs_or_the_logs(
    tmp_path: Path,
    store: eventstore.EventStore,
    upstream: Upstream,
    captured_logs: list[structlog.typing.EventDict],
    render_pool: renderpool.RenderPool,
) -> None:
    """Secret data/stringData are keyed digests in the blob; the plaintext is nowhere in the database or logs."""
    b64 = base64.b64encode(b"pw-hunter2").decode()
    upstream.commit(
        {"app/secret.yaml": SECRET.format(b64=b64), "app/cm.yaml": CM.format(name="c", value="x")}
    )
    stack = await _stack(_config(tmp_path, upstream, _app("a", "app")), store, render_pool)
    (event,) = await stack.cycle()
    assert isinstance(event, ev.DesiredStateRendered)
    blobs = await store.get_blobs(list(event.objects.values()))
    secret = blobs[event.objects["/Secret/prod/db"]]
    events_text = await store.pool.fetchval("SELECT string_agg(data::text, ' ') FROM events")
    blobs_text = await store.pool.fetchval("SELECT string_agg(body::text, ' ') FROM blobs")
    haystack = f"{events_text} {blobs_text} {captured_logs}"
    assert (secret["data"], secret["stringData"]) == (
        {"password": manifests.value_digest(b"pw-hunter2", key=KEY)},
        {"user": manifests.value_digest(b"admin-hunter2", key=KEY)},
    )
    assert ("hunter2" in haystack, b64 in haystack) == (False, False)
    assert event.objects["/ConfigMap/prod/c"] == codec.digest(
        blobs[event.objects["/ConfigMap/prod/c"]]
    )


async def test_broken_yaml_records_render_failed_with_file_and_line_then_recovers(
    tmp_path: Path,
    store: eventstore.EventStore,
    upstream: Upstream,
    render_pool: renderpool.RenderPool,
) -> None:
    """A YAML error fails the render naming file and line; the fix renders again."""
    bad = upstream.commit(
        {"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [x\n"}
    )
    stack = await _stack(_config(tmp_path, upstream, _app("a", "app")), store, render_pool)
    (failed,) = await stack.cycle()
    good = upstream.commit({"app/cm.yaml": CM.format(name="c", value="1")})
    (fixed,) = await stack.cycle()
    assert isinstance(failed, ev.RenderFailed)
    assert (failed.revision, failed.file, failed.line, failed.error.startswith("app/cm.yaml:")) == (
        bad,
        "app/cm.yaml",
        failed.line,
        True,
    )
    assert failed.line is not None
    assert (type(fixed).__name__, fixed.revision) == ("DesiredStateRendered", good)  # type: ignore[union-attr]
    state = await _state(store)
    assert (state.apps["a"].render_error, state.apps["a"].revision) == (None, good)


async def test_huge_file_fails_the_render_with_the_per_file_cap(
    tmp_path: Path,
    store: eventstore.EventStore,
    upstream: Upstream,
    render_pool: renderpool.RenderPool,
) -> None:
    """A 6 MiB manifest is refused by name, not loaded."""
    huge = "# " + "x" * (6 * 1024 * 1024) + "\n"
    upstream.commit({"app/cm.yaml": CM.format(name="c", value="1"), "app/huge.yaml": huge})
    stack = await _stack(_config(tmp_path, upstream, _app("a", "app")), store, render_pool)
    (failed,) = await stack.cycle()
    assert isinstance(failed, ev.RenderFailed)
    assert (failed.file, "MiB per-file cap" in failed.error) == ("app/huge.yaml", True)


async def test_restart_renders_nothing_again_unless_the_app_config_changed(
    tmp_path: Path,
    store: eventstore.EventStore,
    upstream: Upstream,
    render_pool: renderpool.RenderPool,
) -> None:
    """A restarted renderer resumes from the log: no re-render, except for an app whose settings changed."""
    upstream.commit(
        {"a/cm.yaml": CM.format(name="a", value="1"), "b/cm.yaml": CM.format(name="b", value="1")}
    )
    config = _config(tmp_path, upstream, _app("a", "a"), _app("b", "b"))
    await (await _stack(config, store, render_pool)).cycle()
    same = await _stack(config, store, render_pool)
    unchanged = await same.renderer.render_source("src")
    changed_b = dataclasses.replace(config.apps[1], render=settings.RenderConfig(recurse=True))
    edited = await _stack(
        dataclasses.replace(config, apps=[config.apps[0], changed_b]), store, render_pool
    )
    rerendered = await edited.renderer.render_source("src")
    assert (unchanged, [e.app for e in rerendered]) == ([], ["b"])  # type: ignore[union-attr]


@pytest.mark.parametrize("missing_revision", ["0" * 40])
async def test_a_revision_missing_from_the_mirror_is_a_render_failure(
    tmp_path: Path,
    store: eventstore.EventStore,
    upstream: Upstream,
    missing_revision: str,
    render_pool: renderpool.RenderPool,
) -> None:
    """Rendering a revision the mirror lacks records RenderFailed instead of crashing the loop."""
    upstream.commit({"a/cm.yaml": CM.format(name="a", value="1")})
    config = _config(tmp_path, upstream, _app("a", "a"))
    stack = await _stack(config, store, render_pool)
    await stack.poller.poll("src")
    event = await stack.renderer.render_app(config.apps[0], missing_revision)
    assert isinstance(event, ev.RenderFailed)
    assert (event.revision, event.file) == (missing_revision, None)


def test_config_digest_counts_helm_settings_only_where_helm_may_render() -> None:
    """render.helm changes an auto/helm app's digest; other types' digests leave it out."""
    base = settings.AppConfig(
        name="web",
        source=settings.Name("src"),
        path="apps/web",
        destination=settings.DestinationConfig(cluster=settings.Name("prod")),
        render=settings.RenderConfig(type="kustomize"),
    )
    without_helm = dataclasses.asdict(base.render)
    del without_helm["helm"]
    other_values = settings.HelmConfig(values=settings.YamlMapping({"a": 1}))
    chart = dataclasses.replace(base, render=settings.RenderConfig(type="helm"))
    chart_other = dataclasses.replace(
        chart, render=settings.RenderConfig(type="helm", helm=other_values)
    )
    assert (
        renderer.config_digest(base),
        renderer.config_digest(chart) == renderer.config_digest(chart_other),
    ) == (
        codec.digest({"source": "src", "path": "apps/web", "render": without_helm}),
        False,
    )


BOMBS = {
    "memory": (
        "std.makeArray(1e9, function(i) i)",
        "render exceeded its memory limit (256 MiB address space)",
    ),
    "cpu": (
        "local f(n, acc) = if n == 0 then acc else f(n - 1, acc + 1) tailstrict; f(1e9, 0)",
        "render exceeded its CPU limit (2s of CPU time)",
    ),
}
LOW_LIMITS = settings.RenderLimitsConfig(
    memory=settings.ByteSize(256 << 20), cpu=settings.Duration(2.0)
)


@pytest.mark.parametrize("bomb", sorted(BOMBS))
async def test_a_render_bomb_fails_its_app_only_and_waits_for_a_commit_touching_it(
    tmp_path: Path,
    store: eventstore.EventStore,
    upstream: Upstream,
    render_pool: renderpool.RenderPool,
    bomb: str,
) -> None:
    """A bomb records RenderFailed naming the limit while the other app renders; it is not tried again until a commit touches it."""
    source, error = BOMBS[bomb]
    upstream.commit({"bomb/main.jsonnet": source, "ok/cm.yaml": CM.format(name="ok", value="1")})
    low = settings.RenderConfig(limits=LOW_LIMITS)
    stack = await _stack(
        _config(tmp_path, upstream, _app("bomb", "bomb", render=low), _app("ok", "ok")),
        store,
        render_pool,
    )
    first = await stack.cycle()
    same_head = await stack.renderer.render_source("src")
    upstream.commit({"ok/cm.yaml": CM.format(name="ok", value="2")})
    elsewhere = await stack.cycle()
    fixed = upstream.commit({"bomb/main.jsonnet": "[]"})
    again = await stack.cycle()
    assert sorted((e.app, type(e).__name__, getattr(e, "error", "")) for e in first) == [  # type: ignore[union-attr]
        ("bomb", "RenderFailed", error),
        ("ok", "DesiredStateRendered", ""),
    ]
    assert (same_head, [e.app for e in elsewhere]) == ([], ["ok"])  # type: ignore[union-attr]
    assert [(e.app, e.revision, type(e).__name__) for e in again] == [  # type: ignore[union-attr]
        ("bomb", fixed, "DesiredStateRendered")
    ]


async def test_a_failed_render_renders_again_when_a_file_it_read_appears(
    tmp_path: Path,
    store: eventstore.EventStore,
    upstream: Upstream,
    render_pool: renderpool.RenderPool,
) -> None:
    """A kustomization naming a missing base waits for that base, not for any commit; restarts keep that."""
    upstream.commit({"app/kustomization.yaml": "resources:\n- ../base\n", "README.md": "1"})
    config = _config(tmp_path, upstream, _app("a", "app"))
    stack = await _stack(config, store, render_pool)
    (failed,) = await stack.cycle()
    upstream.commit({"README.md": "2"})
    unrelated = await (await _stack(config, store, render_pool)).cycle()
    upstream.commit(
        {
            "base/kustomization.yaml": "resources:\n- cm.yaml\n",
            "base/cm.yaml": CM.format(name="b", value="1"),
        }
    )
    (fixed,) = await (await _stack(config, store, render_pool)).cycle()
    assert isinstance(failed, ev.RenderFailed)
    assert failed.inputs is not None
    assert ("base" in failed.inputs, unrelated, type(fixed).__name__) == (
        True,
        [],
        "DesiredStateRendered",
    )


async def test_poll_and_render_lines_carry_source_app_and_revision(
    tmp_path: Path,
    store: eventstore.EventStore,
    upstream: Upstream,
    captured_logs: list[structlog.typing.EventDict],
    render_pool: renderpool.RenderPool,
) -> None:
    """The poller's new-head line carries source and revision; the render's line also the app."""
    sha = upstream.commit({"app/cm.yaml": CM.format(name="c", value="1")})
    stack = await _stack(_config(tmp_path, upstream, _app("a", "app")), store, render_pool)
    (event,) = await stack.cycle()
    assert isinstance(event, ev.DesiredStateRendered)
    assert [e for e in captured_logs if e["event"] in ("source.revision", "render.recorded")] == [
        {
            "component": "poller",
            "event": "source.revision",
            "log_level": "info",
            "source": "src",
            "revision": sha,
            "sha": sha,
            "commits": 1,
        },
        {
            "component": "renderer",
            "event": "render.recorded",
            "log_level": "info",
            "source": "src",
            "app": "a",
            "revision": sha,
            "objects": 1,
            "renderer": event.renderer,
        },
    ]
