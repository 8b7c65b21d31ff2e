"""python -m bench git [--repos N] [--concurrency C] [--interval S] [--json PATH]

N repositories (default 500) served by `git daemon` on loopback. In one run, side by
side at the same concurrency:

* gitopsd's poll cycle (pygit2 fetch into bare mirrors in a bounded thread pool, ref
  resolution, history walk, tree diff, and the append to the event log in PostgreSQL)
  over every repository, with no change and then with 10% of repositories changed;
* `git fetch` subprocesses into bare mirrors of the same repositories (what Argo CD's
  repo-server does), for the same two cycles.

Then the poller runs as in the daemon (every source on its interval with jitter) and a
commit is pushed to one repository: ``commit_detect_s`` is the time from the push to
its CommitRecorded in the log, to compare with the interval + 2 s target.
``kustomize_1000_s`` comes from bench/render.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pygit2

from daemon import logs, settings
from daemon.core import fold
from daemon.runtime import database, poller, writer

SIG = pygit2.Signature("Bench", "bench@example.org", 1_700_000_000, 0)


def make_repos(base: Path, count: int) -> list[Path]:
    """``count`` bare repositories with one commit of a few manifests each."""
    paths = []
    for i in range(count):
        path = base / f"r{i:04d}.git"
        repo = pygit2.init_repository(str(path), bare=True, initial_head="main")
        commit(
            repo, {"apps/web/deploy.yaml": f"replicas: {i}\n", "README.md": f"repo {i}\n"}, "init"
        )
        paths.append(path)
    return paths


def commit(repo: pygit2.Repository, files: dict[str, str], message: str) -> str:
    """A commit on main replacing the top-level tree with ``files`` (two levels deep at most)."""
    root = repo.TreeBuilder()
    groups: dict[str, dict[str, str]] = {}
    for path, text in files.items():
        head, _, rest = path.partition("/")
        if rest:
            groups.setdefault(head, {})[rest] = text
        else:
            root.insert(head, repo.create_blob(text.encode()), pygit2.enums.FileMode.BLOB)
    for name, sub in groups.items():
        root.insert(name, _subtree(repo, sub), pygit2.enums.FileMode.TREE)
    parents = (
        [repo.references["refs/heads/main"].target] if "refs/heads/main" in repo.references else []
    )
    sig = pygit2.Signature(SIG.name, SIG.email, int(time.time()), 0)
    oid = repo.create_commit(None, sig, sig, message, root.write(), parents)
    repo.references.create("refs/heads/main", oid, force=True)
    return str(oid)


def _subtree(repo: pygit2.Repository, files: dict[str, str]) -> pygit2.Oid:
    builder = repo.TreeBuilder()
    groups: dict[str, dict[str, str]] = {}
    for path, text in files.items():
        head, _, rest = path.partition("/")
        if rest:
            groups.setdefault(head, {})[rest] = text
        else:
            builder.insert(head, repo.create_blob(text.encode()), pygit2.enums.FileMode.BLOB)
    for name, sub in groups.items():
        builder.insert(name, _subtree(repo, sub), pygit2.enums.FileMode.TREE)
    return builder.write()


def start_daemon(base: Path) -> tuple[subprocess.Popen[bytes], int]:
    """`git daemon` on a free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    proc = subprocess.Popen(
        [
            "git",
            "daemon",
            "--reuseaddr",
            f"--base-path={base}",
            "--export-all",
            "--listen=127.0.0.1",
            f"--port={port}",
            "--max-connections=0",
            str(base),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, port
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


# -- git fetch side --------------------------------------------------------------------------


async def git_fetch_cycle(mirrors: list[Path], urls: list[str], concurrency: int) -> float:
    """Seconds for `git fetch` of main into each bare mirror, ``concurrency`` at a time."""
    semaphore = asyncio.Semaphore(concurrency)
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}

    async def one(mirror: Path, url: str) -> None:
        async with semaphore:
            proc = await asyncio.create_subprocess_exec(
                "git",
                "-C",
                str(mirror),
                "fetch",
                "--quiet",
                "--no-tags",
                url,
                "+refs/heads/main:refs/heads/main",
                env=env,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            _, err = await proc.communicate()
            if proc.returncode != 0:
                raise RuntimeError(f"git fetch {url}: {err.decode().strip()}")

    start = time.perf_counter()
    await asyncio.gather(*(one(m, u) for m, u in zip(mirrors, urls, strict=True)))
    return time.perf_counter() - start


def git_mirrors(base: Path, count: int) -> list[Path]:
    out = []
    for i in range(count):
        path = base / f"m{i:04d}.git"
        pygit2.init_repository(str(path), bare=True)
        out.append(path)
    return out


# -- gitopsd side ----------------------------------------------------------------------------


async def our_cycle(polls: poller.Poller) -> tuple[float, int]:
    """Seconds for one poll of every source, and the events it recorded."""
    start = time.perf_counter()
    results = await polls.poll_all()
    elapsed = time.perf_counter() - start
    errors = [r for r in results if r.error]
    if errors:
        raise RuntimeError(f"{len(errors)} polls failed, e.g. {errors[0].error}")
    return elapsed, sum(len(r.events) for r in results)


async def detect_latency(
    config: settings.Config, store: object, repos: list[Path], *, interval: float, samples: int
) -> list[float]:
    """Push commits while the poller runs; seconds from each push to its CommitRecorded."""
    state = await _fold(store)
    polls = poller.Poller(config, appender=writer.StoreAppender(store), store=store, state=state)  # type: ignore[arg-type]
    recorded: dict[str, asyncio.Future[float]] = {}

    def on_head(_source: str, head: str) -> None:
        future = recorded.get(head)
        if future is not None and not future.done():
            future.set_result(time.perf_counter())

    polls.add_listener(on_head)
    task = asyncio.create_task(polls.run())
    latencies = []
    rng = random.Random(7)
    try:
        await asyncio.sleep(interval * 1.2)  # the first round of polls (after start) is done
        for n in range(samples):
            await asyncio.sleep(rng.uniform(0, interval))
            repo = pygit2.Repository(str(rng.choice(repos)))
            loop = asyncio.get_running_loop()
            sha = commit(
                repo,
                {"apps/web/deploy.yaml": f"replicas: {1000 + n}\n", "README.md": "x\n"},
                "detect",
            )
            pushed = time.perf_counter()
            recorded[sha] = loop.create_future()
            seen = await asyncio.wait_for(recorded[sha], interval * 3 + 10)
            latencies.append(seen - pushed)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return latencies


def kustomize_seconds() -> float | None:
    try:
        from bench import render  # noqa: PLC0415
    except ImportError:
        return None
    fn = getattr(render, "kustomize_1000_seconds", None)
    if fn is None:
        return None
    try:
        return float(fn())
    except Exception as exc:  # the render helper's benchmark may not be ready
        print(f"kustomize_1000_seconds failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return None


async def run(args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="gitopsd-bench-git-") as tmp:
        root = Path(tmp)
        upstream = root / "upstream"
        upstream.mkdir()
        t0 = time.perf_counter()
        repos = make_repos(upstream, args.repos)
        print(
            f"created {len(repos)} repositories in {time.perf_counter() - t0:.1f} s",
            file=sys.stderr,
        )
        daemon_proc, port = start_daemon(upstream)
        try:
            urls = [f"git://127.0.0.1:{port}/{p.name}" for p in repos]
            config = settings.Config(
                state_dir=str(root / "state"),
                sources=[
                    settings.SourceConfig(
                        name=settings.Name(f"s{i:04d}"),
                        url=u,
                        interval=settings.Duration(args.interval),
                        timeout=settings.Duration(30),
                    )
                    for i, u in enumerate(urls)
                ],
            )
            async with database.opened(config) as store:
                state_fold = await _fold(store)
                polls = poller.Poller(
                    config,
                    appender=writer.StoreAppender(store),
                    store=store,
                    state=state_fold,
                    concurrency=args.concurrency,
                )
                mirrors = git_mirrors(root / "gitfetch", args.repos)
                # First fetch (clone-like) on both sides: reported, not compared.
                ours_initial, _ = await our_cycle(polls)
                git_initial = await git_fetch_cycle(mirrors, urls, args.concurrency)
                # No change.
                ours_nochange, n_events = await our_cycle(polls)
                git_nochange = await git_fetch_cycle(mirrors, urls, args.concurrency)
                assert n_events == 0, n_events
                # 10% changed.
                rng = random.Random(42)
                changed = rng.sample(repos, max(1, len(repos) // 10))
                for path in changed:
                    commit(
                        pygit2.Repository(str(path)),
                        {"apps/web/deploy.yaml": "replicas: 99\n", "README.md": "changed\n"},
                        "change",
                    )
                ours_changed, n_events = await our_cycle(polls)
                git_changed = await git_fetch_cycle(mirrors, urls, args.concurrency)
                assert n_events == 2 * len(changed), n_events
                latencies = await detect_latency(
                    config, store, repos, interval=args.interval, samples=args.samples
                )
        finally:
            daemon_proc.terminate()
            daemon_proc.wait(timeout=10)
    kustomize = kustomize_seconds()
    return {
        "repos": args.repos,
        "concurrency": args.concurrency,
        "interval_s": args.interval,
        "initial_cycle_s": round(ours_initial, 3),
        "git_initial_cycle_s": round(git_initial, 3),
        "nochange_cycle_s": round(ours_nochange, 3),
        "git_nochange_cycle_s": round(git_nochange, 3),
        "changed_cycle_s": round(ours_changed, 3),
        "git_changed_cycle_s": round(git_changed, 3),
        "vs_git_fetch": round(git_changed / ours_changed, 2),
        "vs_git_fetch_nochange": round(git_nochange / ours_nochange, 2),
        "commit_detect_s": round(max(latencies), 3),
        "commit_detect_median_s": round(statistics.median(latencies), 3),
        "kustomize_1000_s": None if kustomize is None else round(kustomize, 3),
    }


async def _fold(store: object) -> object:
    return fold.replay([r async for r in store.read_all()])  # type: ignore[attr-defined]


def print_table(r: dict[str, object]) -> None:
    n, c = r["repos"], r["concurrency"]
    print(f"git sources: {n} repositories on git daemon (127.0.0.1), concurrency {c}")
    print(f"{'cycle':<28}{'gitopsd':>12}{'git fetch':>12}{'git/gitopsd':>13}   target")
    rows = [
        ("first fetch (clone)", r["initial_cycle_s"], r["git_initial_cycle_s"], ""),
        ("no change", r["nochange_cycle_s"], r["git_nochange_cycle_s"], "gitopsd <= 1.5 s"),
        ("10% changed", r["changed_cycle_s"], r["git_changed_cycle_s"], "ratio >= 3x"),
    ]
    for name, ours, git, target in rows:
        ratio = float(git) / float(ours)  # type: ignore[arg-type]
        print(f"{name:<28}{ours:>10.3f} s{git:>10.3f} s{ratio:>12.2f}x   {target}")
    print(
        f"{'commit detect (max/median)':<28}{r['commit_detect_s']:>10.3f} s"
        f"{r['commit_detect_median_s']:>10.3f} s{'':>13}   <= interval {r['interval_s']} s + 2 s"
    )
    k = r["kustomize_1000_s"]
    print(
        f"{'kustomize 1000 objects':<28}{'n/a' if k is None else f'{k:.3f}':>10} s{'':>25}   <= 1 s"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench git")
    parser.add_argument("--repos", type=int, default=500)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=4,
        help="fetches at once on both sides (git daemon's listen backlog is 5: more "
        "simultaneous connects lose SYNs and pay a 1 s TCP retransmission)",
    )
    parser.add_argument(
        "--interval", type=float, default=10.0, help="poll interval for commit detection"
    )
    parser.add_argument(
        "--samples", type=int, default=5, help="commits pushed for commit detection"
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    logs.configure(level="warning", stream=sys.stderr)
    result = asyncio.run(run(args))
    print_table(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0
