"""The render pool: limits kill a render, not the pool; dead workers are replaced; workers are reused.

Every render here runs in real worker processes on a real repository (``Upstream``).
Limits are kept low (256 MiB, 2 s) so that a bomb fails fast.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import psutil
import pytest
import structlog
from gitfixtures import Upstream

from daemon import logs, settings
from daemon.shell import render
from daemon.shell.render import pool as renderpool
from daemon.shell.render import protocol

KEY = b"K" * 32
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok, namespace: prod}\ndata: {v: '1'}\n"
MEMORY_BOMBS = {
    "make_array": "std.makeArray(1e9, function(i) i)",
    "string_doubling": (
        'local f(s, n) = if n == 0 then s else f(s + s, n - 1); std.length(f("x", 40))'
    ),
}
CPU_BOMB = (
    "local f(n, acc) = if n == 0 then acc else f(n - 1, acc + 1) tailstrict; f(1000000000, 0)"
)


def _config(
    *,
    memory: int = 256 << 20,
    cpu: float = 2.0,
    wall_clock: float = 60.0,
    output: int = 50 << 20,
    **fields: object,
) -> settings.RenderConfig:
    limits = settings.RenderLimitsConfig(
        memory=settings.ByteSize(memory),
        cpu=settings.Duration(cpu),
        wall_clock=settings.Duration(wall_clock),
        output=settings.ByteSize(output),
    )
    return settings.RenderConfig(limits=limits, **fields)  # type: ignore[arg-type]


async def _render(
    pool: renderpool.RenderPool,
    upstream: Upstream,
    revision: str,
    path: str,
    config: settings.RenderConfig | None = None,
) -> renderpool.Rendered:
    return await pool.render(
        upstream.path, revision=revision, path=path, config=config or _config(), key=KEY
    )


async def _error(
    pool: renderpool.RenderPool,
    upstream: Upstream,
    revision: str,
    path: str,
    config: settings.RenderConfig | None = None,
) -> render.RenderError:
    with pytest.raises(render.RenderError) as info:
        await _render(pool, upstream, revision, path, config)
    return info.value


@pytest.mark.parametrize("bomb", sorted(MEMORY_BOMBS))
async def test_a_jsonnet_memory_bomb_fails_naming_the_limit_and_the_next_render_works(
    upstream: Upstream, render_pool: renderpool.RenderPool, bomb: str
) -> None:
    """A memory bomb kills its worker, not the pool: the error names the limit, the next render works."""
    sha = upstream.commit({"bomb/main.jsonnet": MEMORY_BOMBS[bomb], "ok/cm.yaml": CM})
    error = await _error(render_pool, upstream, sha, "bomb")
    rendered = await _render(render_pool, upstream, sha, "ok")
    assert (type(error), str(error), error.limit) == (  # type: ignore[attr-defined]
        renderpool.RenderLimitError,
        "render exceeded its memory limit (256 MiB address space)",
        "memory",
    )
    assert list(rendered.objects) == ["/ConfigMap/prod/ok"]


async def test_a_long_fold_fails_with_the_cpu_limit_and_the_worker_is_replaced(
    upstream: Upstream, render_pool: renderpool.RenderPool
) -> None:
    """A CPU bomb is stopped by RLIMIT_CPU; its worker is replaced and the pool renders on."""
    sha = upstream.commit({"cpu/main.jsonnet": CPU_BOMB, "ok/cm.yaml": CM})
    before = set(render_pool.pids)
    error = await _error(render_pool, upstream, sha, "cpu")
    both = await asyncio.gather(*(_render(render_pool, upstream, sha, "ok") for _ in range(2)))
    assert (type(error), str(error)) == (
        renderpool.RenderLimitError,
        "render exceeded its CPU limit (2s of CPU time)",
    )
    assert [list(r.objects) for r in both] == [["/ConfigMap/prod/ok"]] * 2
    assert (len(render_pool.pids), len(before - set(render_pool.pids))) == (2, 1)


async def test_a_render_past_its_wall_clock_is_killed(
    upstream: Upstream, render_pool: renderpool.RenderPool
) -> None:
    """The parent kills a worker that does not answer within the wall clock."""
    sha = upstream.commit({"cpu/main.jsonnet": CPU_BOMB})
    error = await _error(render_pool, upstream, sha, "cpu", _config(cpu=600, wall_clock=1))
    assert (type(error), str(error)) == (
        renderpool.RenderLimitError,
        "render exceeded its wall-clock limit (1s)",
    )


async def test_a_result_over_the_output_limit_is_refused_and_the_worker_kept(
    upstream: Upstream,
) -> None:
    """A serialized result over ``limits.output`` fails the render; the worker renders the next job."""
    big = CM.replace("v: '1'", "v: '" + "x" * 100_000 + "'")
    sha = upstream.commit({"big/cm.yaml": big, "ok/cm.yaml": CM})
    async with renderpool.RenderPool(size=1) as pool:
        (pid,) = pool.pids
        error = await _error(pool, upstream, sha, "big", _config(output=64 << 10))
        rendered = await _render(pool, upstream, sha, "ok", _config(output=64 << 10))
        assert (str(error), list(rendered.objects), pool.pids) == (
            "render output exceeded 64 KiB",
            ["/ConfigMap/prod/ok"],
            [pid],
        )


async def test_consecutive_renders_are_served_by_the_same_worker(upstream: Upstream) -> None:
    """A worker is long-lived: one pid serves consecutive renders, errors included."""
    sha = upstream.commit({"ok/cm.yaml": CM, "bad/cm.yaml": "kind: [\n"})
    async with renderpool.RenderPool(size=1) as pool:
        (pid,) = pool.pids
        first = await _render(pool, upstream, sha, "ok")
        failed = await _error(pool, upstream, sha, "bad")
        second = await _render(pool, upstream, sha, "ok")
        assert (first, type(failed), pool.pids, pool.spawned, pool.renders) == (
            second,
            render.RenderError,
            [pid],
            1,
            3,
        )


async def test_a_worker_killed_mid_render_is_replaced(tmp_path: Path, upstream: Upstream) -> None:
    """A worker killed from outside fails its render naming the signal; a new worker takes over."""
    script, started, release = _held_command(tmp_path)
    sha = upstream.commit({"app/cm.yaml": CM})
    config = _config(type="exec", command=["sh", "-c", script])
    async with renderpool.RenderPool(size=1) as pool:
        (pid,) = pool.pids
        job = asyncio.create_task(_render(pool, upstream, sha, "app", config))
        await asyncio.to_thread(started.read_text)
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(render.RenderError) as info:
            await job
        await asyncio.to_thread(release.write_text, "go\n")  # let the orphaned command end
        rendered = await _render(pool, upstream, sha, "app")
        assert (type(info.value), str(info.value)) == (
            renderpool.WorkerDiedError,
            "render worker died: killed by SIGKILL (signal 9)",
        )
        assert (list(rendered.objects), pid in pool.pids, pool.spawned) == (
            ["/ConfigMap/prod/ok"],
            False,
            2,
        )


async def test_raw_objects_keep_secret_values_and_redacted_renders_do_not(
    upstream: Upstream, render_pool: renderpool.RenderPool
) -> None:
    """render_objects returns the real Secret (for applying it); render returns keyed digests."""
    secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: prod}\nstringData: {pw: hunter2}\n"
    sha = upstream.commit({"app/secret.yaml": secret})
    raw = await render_pool.render_objects(
        upstream.path, revision=sha, path="app", config=_config()
    )
    redacted = await _render(render_pool, upstream, sha, "app")
    assert raw == [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s", "namespace": "prod"},
            "stringData": {"pw": "hunter2"},
        }
    ]
    (body,) = redacted.bodies.values()
    assert b"hunter2" not in body


async def test_a_render_error_carries_what_the_render_had_read(
    upstream: Upstream, render_pool: renderpool.RenderPool
) -> None:
    """A failed kustomize render reports the paths it read, the missing base included."""
    sha = upstream.commit({"app/kustomization.yaml": "resources:\n- ../base\n"})
    error = await _error(render_pool, upstream, sha, "app")
    assert error.inputs is not None
    assert {"app", "app/kustomization.yaml", "base"} <= error.inputs


async def test_closing_the_pool_stops_every_worker(upstream: Upstream) -> None:
    """After close no worker is left, and the pool refuses new work."""
    pool = renderpool.RenderPool(size=2)
    await pool.start()
    pids = pool.pids
    await pool.close()
    with pytest.raises(RuntimeError, match="the render pool is closed"):
        await _render(pool, upstream, "0" * 40, "app")
    assert ([psutil.pid_exists(pid) for pid in pids], pool.pids) == ([False, False], [])


async def test_the_pools_background_work_does_not_carry_the_context_of_the_render_starting_it(
    tmp_path: Path, upstream: Upstream, captured_logs: list[structlog.typing.EventDict]
) -> None:
    """A worker's death is logged with the render's bound app; the failed respawn it causes is not."""
    script, started, release = _held_command(tmp_path)
    wrapper = tmp_path / "worker"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} -m daemon.shell.render.worker "$@"\n')
    wrapper.chmod(0o755)
    sha = upstream.commit({"app/cm.yaml": CM})
    config = _config(type="exec", command=["sh", "-c", script])
    async with renderpool.RenderPool(size=1, command=[str(wrapper)]) as pool:
        (pid,) = pool.pids
        wrapper.unlink()  # the replacement cannot start: its spawn fails in the background
        with logs.bound(app="a", revision=sha):
            job = asyncio.create_task(_render(pool, upstream, sha, "app", config))
        await asyncio.to_thread(started.read_text)
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(render.RenderError):
            await job
        await asyncio.to_thread(release.write_text, "go\n")  # let the orphaned command end
    died = next(e for e in captured_logs if e["event"] == "render.worker_died")
    spawn = [e for e in captured_logs if e["event"] == "render.worker_spawn_failed"]
    assert ({k: died.get(k) for k in ("app", "revision", "pid", "code")}, spawn) == (
        {"app": "a", "revision": sha, "pid": pid, "code": -signal.SIGKILL},
        [
            {
                "component": "renderpool",
                "event": "render.worker_spawn_failed",
                "log_level": "warning",
                "error": f"[Errno 2] No such file or directory: '{wrapper}'",
            }
        ],
    )


def _held_command(tmp_path: Path) -> tuple[str, Path, Path]:
    """A shell script that says it started (on a FIFO) and waits for a line on another one."""
    started, release = tmp_path / "started", tmp_path / "release"
    os.mkfifo(started)
    os.mkfifo(release)
    return f"echo started > {started}; read line < {release}; cat cm.yaml", started, release


def test_death_errors_name_the_limit_the_signal_or_the_exit_code() -> None:
    """How a worker ended becomes the error its render records."""
    config = _config()
    assert [
        str(renderpool.death_error(code, stderr, config=config))
        for code, stderr in [
            (-signal.SIGXCPU, ""),
            (-signal.SIGABRT, "FATAL ERROR: a memory allocation error occurred.\n"),
            (-signal.SIGSEGV, ""),
            (3, "Traceback ...\n"),
        ]
    ] == [
        "render exceeded its CPU limit (2s of CPU time)",
        "render exceeded its memory limit (256 MiB address space)",
        "render worker died: killed by SIGSEGV (signal 11)",
        "render worker died: exited with code 3",
    ]


PARENT = """
import asyncio, sys
from daemon import settings
from daemon.shell.render import pool

async def main(repo, sha, script):
    config = settings.RenderConfig(type="exec", command=["sh", "-c", script])
    async with pool.RenderPool(size=1) as workers:
        print(workers.pids[0], flush=True)
        await workers.render(repo, revision=sha, path="app", config=config, key=b"k")

asyncio.run(main(*sys.argv[1:]))
"""


async def test_a_busy_worker_dies_with_its_parent(tmp_path: Path, upstream: Upstream) -> None:
    """A parent killed with SIGKILL mid-render (no cleanup at all) leaves no worker behind."""
    script, started, release = _held_command(tmp_path)
    sha = upstream.commit({"app/cm.yaml": CM})
    parent = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        PARENT,
        str(upstream.path),
        sha,
        script,
        stdout=asyncio.subprocess.PIPE,
    )
    assert parent.stdout is not None
    worker = int(await parent.stdout.readline())
    await asyncio.to_thread(started.read_text)  # the worker is rendering now
    exited = asyncio.Event()
    handle = os.pidfd_open(worker)
    loop = asyncio.get_running_loop()
    loop.add_reader(handle, exited.set)  # a pidfd turns readable when its process exits
    try:
        parent.kill()
        await parent.wait()
        async with asyncio.timeout(60):
            await exited.wait()
    finally:
        loop.remove_reader(handle)
        os.close(handle)
        await asyncio.to_thread(release.write_text, "go\n")  # let the orphaned command end
    assert exited.is_set() is True


def test_a_malformed_reply_is_an_error_not_a_crash() -> None:
    """What a worker sends is parsed as data: a reply of an unknown kind is a WorkerDiedError."""
    with pytest.raises(renderpool.WorkerDiedError, match="unknown reply 'pickle'"):
        protocol.result_of({"kind": "pickle"}, b"")


async def test_a_helm_chart_renders_under_a_low_memory_limit_and_the_worker_stays_usable(
    upstream: Upstream,
) -> None:
    """Helm's Go runtime reserves its address space outside the limit; later renders still fit.

    The SDK reserves ~1.7 GB of address space on its first render: under a 256 MiB
    RLIMIT_AS that aborted the worker (runtime/cgo: pthread_create failed), and a worker
    holding the reservation could render nothing under an absolute limit afterwards.
    """
    chart = {
        "chart/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n",
        "chart/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-helm}\n",
    }
    sha = upstream.commit({**chart, "ok/cm.yaml": CM})
    async with renderpool.RenderPool(size=1) as pool:
        (pid,) = pool.pids
        helm = await _render(pool, upstream, sha, "chart")
        after = await _render(pool, upstream, sha, "ok")
        helm_again = await _render(pool, upstream, sha, "chart")
        assert pool.pids == [pid]
    assert (helm.renderer, sorted(helm.objects), sorted(after.objects)) == (
        "helm",
        ["/ConfigMap//from-helm"],
        ["/ConfigMap/prod/ok"],
    )
    assert helm_again.objects == helm.objects
