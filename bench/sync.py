"""python -m bench sync [--apps N] [--clusters N] [--profile PATH] [--json PATH]

The whole daemon (poller, renderer, informers, reconciler, writer) runs in this process
as ``gitopsd run`` wires it, on an embedded PostgreSQL, against the Kubernetes API
emulator (``gitopsd sim`` in a child process, so that it does not share the daemon's
event loop or core) and one monorepo with one path per app. With ``--clusters N`` the
child serves a fleet of N emulated clusters (``gitopsd sim --clusters N``: N API
servers, one port and store each, in that one process) and app i deploys to cluster
``i mod N`` (one destination each), so 1,000 apps over 10 clusters is 100 per cluster. N apps (default 1,000) of
10 objects each (ServiceAccount, Role, RoleBinding, 3 ConfigMaps, Service, Deployment,
NetworkPolicy, PodDisruptionBudget), each in its own namespace (created beforehand).
The cluster's client rate limit is raised (``--qps``, default 2,000): at gitopsd's
default of 50 requests/s, 10,000 objects (a dry-run and an apply each) take 400 s.
Logs go to ``daemon.log`` in the work directory, at info level as in production.

Figures:

* ``converge_s``: daemon start to every app synced at the head and Healthy;
* ``converge_cpu_s``: CPU seconds (user + system) each process used meanwhile: the
  daemon (this process), the emulator, PostgreSQL (postmaster and backends); and
  ``daemon_cpu_ms_per_object``, the daemon's divided by the objects synced;
* ``idle_cycle_s``: every app marked dirty (as the periodic resync does) until the
  reconciler is idle again, nothing to do (median of 3; no sync may start);
* ``commit_to_applied_*``: one app among N gets a commit (its ConfigMap changes) and a
  poll is triggered, repeated ``--commits`` times; latency from its CommitRecorded
  being folded to its ObjectApplied being folded (the target's clock), and from the
  commit being written (poll debounce and fetch included);
* ``rss_mib``: the daemon's (this process's) resident set after convergence;
* ``diff_vs_deepdiff``: on the same (desired, live) pairs taken from the converged
  log, plus one drifted copy per app: time of ``core.diff.compare`` vs DeepDiff on the
  desired body and the live body projected on the fields the desired body sets (the
  projection is not timed); the verdicts (in sync or not) must agree on every pair.
  Best of 3 interleaved rounds for each, after the daemon stopped and with the
  emulator paused (nothing else runs meanwhile). ``plan_vs_deepdiff`` does the same for ``core.plan.plan_app`` (prepare + diff +
  ordering + digests) over every app vs DeepDiff over the pairs the plans cover (the
  converged ones).

Targets (issue 5): converge 10,000 objects <= 60 s; idle cycle <= 3 s; commit-to-applied
p99 <= 5 s after the commit is recorded; plan/diff >= 50x DeepDiff; RSS <= 1 GiB; and for
many clusters, daemon CPU per object synced <= 1.5 ms.

``--profile PATH`` runs the daemon under cProfile from its start to convergence and
writes the stats there (``python -m pstats PATH``); the profiler roughly doubles the
daemon's CPU, so a profiled run's figures are not the benchmark's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import cProfile
import json
import os
import pickle
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import pygit2
import yaml
from deepdiff import DeepDiff

from daemon import logs, settings
from daemon.core import diff, ids, plan
from daemon.core import events as ev
from daemon.runtime import database
from daemon.runtime import main as daemon_main
from daemon.shell import eventstore
from kubesim import fleet

TOKEN = "bench-token"
SIG = pygit2.Signature("Bench", "bench@example.org", 1_700_000_000, 0)
CONVERGE_TARGET = 60.0
IDLE_TARGET = 3.0
LATENCY_TARGET = 5.0
DIFF_TARGET = 50.0
RSS_TARGET = 1024.0
CPU_PER_OBJECT_TARGET_MS = 1.5
ROUNDS = 3


# -- the workload ----------------------------------------------------------------------


def app_name(i: int) -> str:
    return f"app-{i:04d}"


def cluster_names(clusters: int) -> list[str]:
    """The daemon's cluster names: ``sim`` alone, or the fleet's contexts ``sim-01``..."""
    return ["sim"] if clusters == 1 else fleet.default_names(clusters)


def cluster_of(i: int, clusters: int) -> str:
    """The cluster app i deploys to: round robin over the clusters."""
    return cluster_names(clusters)[i % clusters]


def manifests(name: str, version: int) -> str:
    """Ten objects of one app; ``version`` changes one ConfigMap's data."""
    labels = {"app.kubernetes.io/name": name}
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": f"{name}-reader"},
            "rules": [
                {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": f"{name}-reader"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": f"{name}-reader",
            },
            "subjects": [{"kind": "ServiceAccount", "name": name}],
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"{name}-settings", "labels": labels},
            "data": {"version": str(version), "color": "blue", "greeting": "hello"},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"{name}-features"},
            "data": {f"flag-{j}": "on" if j % 2 else "off" for j in range(8)},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"{name}-nginx"},
            "data": {"nginx.conf": "server {\n  listen 8080;\n  location / { return 200; }\n}\n"},
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "selector": labels,
                "ports": [{"name": "http", "port": 80, "targetPort": 8080}],
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "serviceAccountName": name,
                        "containers": [
                            {
                                "name": "web",
                                "image": "nginx:1.27",
                                "ports": [{"containerPort": 8080, "name": "http"}],
                                "env": [{"name": "APP", "value": name}],
                                "resources": {
                                    "requests": {"cpu": "100m", "memory": "64Mi"},
                                    "limits": {"memory": "128Mi"},
                                },
                            }
                        ],
                    },
                },
            },
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": name},
            "spec": {
                "podSelector": {"matchLabels": labels},
                "policyTypes": ["Ingress"],
                "ingress": [{"ports": [{"port": 8080}]}],
            },
        },
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": name},
            "spec": {"minAvailable": 0, "selector": {"matchLabels": labels}},
        },
    ]
    return yaml.safe_dump_all(docs, sort_keys=False)


class Monorepo:
    """A bare repository with ``apps/<name>/manifests.yaml`` per app, committed with pygit2."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.repo = pygit2.init_repository(str(path), bare=True, initial_head="main")
        self._apps: dict[str, pygit2.Oid] = {}
        self._clock = 0

    @property
    def url(self) -> str:
        return f"file://{self.path}"

    def set_app(self, name: str, text: str) -> None:
        builder = self.repo.TreeBuilder()
        builder.insert("manifests.yaml", self.repo.create_blob(text), pygit2.GIT_FILEMODE_BLOB)
        self._apps[name] = builder.write()

    def commit(self, message: str) -> str:
        apps = self.repo.TreeBuilder()
        for name in sorted(self._apps):
            apps.insert(name, self._apps[name], pygit2.GIT_FILEMODE_TREE)
        root = self.repo.TreeBuilder()
        root.insert("apps", apps.write(), pygit2.GIT_FILEMODE_TREE)
        ref = "refs/heads/main"
        parents = [self.repo.references[ref].target] if ref in self.repo.references else []
        self._clock += 60
        sig = pygit2.Signature(SIG.name, SIG.email, SIG.time + self._clock, 0)
        oid = self.repo.create_commit(None, sig, sig, message, root.write(), parents)
        self.repo.references.create(ref, oid, force=True)
        return str(oid)


# -- the emulator ----------------------------------------------------------------------


async def start_emulator(tmp: Path, step: float) -> tuple[asyncio.subprocess.Process, str, Path]:
    """``gitopsd sim`` in a child process; its URL and kubeconfig once ready."""
    proc, urls, kubeconfig = await start_emulators(tmp, step, clusters=1)
    return proc, urls["sim"], kubeconfig


async def start_emulators(
    tmp: Path, step: float, *, clusters: int
) -> tuple[asyncio.subprocess.Process, dict[str, str], Path]:
    """``gitopsd sim [--clusters N]`` in a child process; URLs by cluster, kubeconfig."""
    kubeconfig = tmp / "kubeconfig"
    fleet_args = [] if clusters == 1 else ["--clusters", str(clusters)]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "daemon",
        "--log-level",
        "warning",
        "sim",
        "--token",
        TOKEN,
        "--kubeconfig",
        str(kubeconfig),
        "--step",
        str(step),
        *fleet_args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode().split()
    if line[:1] != ["ready"] or len(line) != clusters + 1:
        raise RuntimeError(f"gitopsd sim did not start: {line}")
    return proc, dict(zip(cluster_names(clusters), line[1:], strict=True)), kubeconfig


async def create_namespaces(url: str, names: list[str]) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        sem = asyncio.Semaphore(16)

        async def one(name: str) -> None:
            body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
            async with sem, session.post(f"{url}/api/v1/namespaces", json=body) as resp:
                if resp.status not in (200, 201, 409):
                    raise RuntimeError(f"namespace {name}: {resp.status} {await resp.text()}")

        await asyncio.gather(*(one(n) for n in names))


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by these processes (gone ones count 0)."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
    return total


def postgres_pids(state_dir: Path) -> list[int]:
    """The embedded PostgreSQL server's processes (the postmaster and its backends)."""
    out = []
    for proc in psutil.process_iter(["name", "cmdline", "ppid"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if proc.info["name"] == "postgres" and str(state_dir) in cmdline:
            out.append(proc.pid)
            out.extend(c.pid for c in proc.children())
    return out


def rss_mib(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# -- the daemon ------------------------------------------------------------------------


def make_config(
    tmp: Path,
    *,
    kubeconfig: Path,
    upstream: Monorepo,
    apps: int,
    qps: float,
    burst: int,
    clusters: int = 1,
) -> settings.Config:
    """One cluster ``sim``, or the fleet's clusters by context; app i on ``cluster_of(i)``."""
    doc = {
        "state_dir": str(tmp / "state"),
        "http": {"listen": "127.0.0.1:0"},
        "clusters": [
            {
                "name": name,
                "kubeconfig": str(kubeconfig),
                **({} if clusters == 1 else {"context": name}),
                "timeout": "30s",
                "qps": qps,
                "burst": burst,
            }
            for name in cluster_names(clusters)
        ],
        "sources": [{"name": "repo", "url": upstream.url, "branch": "main", "interval": "1h"}],
        "apps": [
            {
                "name": app_name(i),
                "source": "repo",
                "path": f"apps/{app_name(i)}",
                "destination": {"cluster": cluster_of(i, clusters), "namespace": app_name(i)},
                "sync": {"resync": "1h"},
            }
            for i in range(apps)
        ],
    }
    return settings.loads(yaml.safe_dump(doc), filename="bench-sync.yaml", environ={})


def all_converged(daemon: daemon_main.Daemon, head: str) -> bool:
    for app in daemon.keeper.state.apps.values():
        if (
            app.last_synced_revision != head
            or app.sync is not None
            or app.health is not ev.Health.HEALTHY
        ):
            return False
    return len(daemon.keeper.state.apps) == len(daemon.config.apps)


async def until(predicate: Any, what: str, timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.05)


def progress(daemon: daemon_main.Daemon, head: str) -> str:
    apps = daemon.keeper.state.apps.values()
    synced = sum(1 for a in apps if a.last_synced_revision == head)
    healthy = sum(1 for a in apps if a.health is ev.Health.HEALTHY)
    objects = sum(len(c.objects) for c in daemon.keeper.state.clusters.values())
    return f"synced {synced} healthy {healthy} live objects {objects} position {daemon.keeper.state.position}"


class Clock:
    """Fold times of the events the latency figure needs (a state keeper listener)."""

    def __init__(self, app: str) -> None:
        self.app = app
        self.commits: dict[str, float] = {}
        self.revisions: dict[str, str] = {}
        """sync id -> revision (from SyncPlanned)."""
        self.applied: dict[str, float] = {}
        """revision -> fold time of the first ObjectApplied of the app's changed ConfigMap."""

    def __call__(self, recorded: ev.Recorded) -> None:
        event = recorded.event
        now = time.perf_counter()
        if isinstance(event, ev.CommitRecorded):
            self.commits.setdefault(event.sha, now)
        elif isinstance(event, ev.SyncPlanned) and event.app == self.app:
            self.revisions[event.sync_id] = event.revision
        elif (
            isinstance(event, ev.ObjectApplied)
            and event.app == self.app
            and event.key.endswith("-settings")
        ):
            self.applied.setdefault(self.revisions[event.sync_id], now)


# -- diff vs DeepDiff -----------------------------------------------------------------


def project(want: Any, have: Any) -> Any:
    """``have`` restricted to the fields ``want`` sets (lists item by item): DeepDiff's input."""
    if isinstance(want, dict) and isinstance(have, dict):
        return {k: project(v, have[k]) for k, v in want.items() if k in have}
    if isinstance(want, list) and isinstance(have, list) and len(want) == len(have):
        return [project(w, h) for w, h in zip(want, have, strict=True)]
    return have


def comparable(desired: dict[str, Any]) -> dict[str, Any]:
    """The desired body without what ``diff.compare`` never compares (server-owned)."""
    out = dict(diff.normalize(desired))
    out.pop("apiVersion", None)
    out.pop("kind", None)
    return out


def drifted(live: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``live`` with one field the desired body sets changed (someone edited it)."""
    out = copy.deepcopy(live)
    kind = out["kind"]
    if kind == "ConfigMap":
        key = min(out["data"])
        out["data"][key] += "-edited"
    elif kind == "Deployment":
        out["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28"
    elif kind == "Service":
        out["spec"]["ports"][0]["targetPort"] = 9090
    else:
        out["metadata"]["labels"]["gitopsd.io/app"] = "someone-else"
    return out


async def diff_benchmark(
    daemon: daemon_main.Daemon, store: eventstore.EventStore, dump: Path | None
) -> dict[str, Any]:
    state = daemon.keeper.state
    where = {str(a.name): str(a.destination.cluster) for a in daemon.config.apps}
    digests: set[str] = set()
    for name, app in state.apps.items():
        objects = state.clusters[where[name]].objects
        digests.update(app.desired.values())
        digests.update(objects[k].digest for k in app.inventory if k in objects)
    blobs = await store.get_blobs(sorted(digests))
    plans: dict[str, plan.AppPlan] = {}
    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for name in sorted(state.apps):
        app_plan = plan.plan_app(state, name, blobs=blobs, scopes={})
        assert app_plan is not None
        plans[name] = app_plan
        objects = state.clusters[where[name]].objects
        for key, body in sorted(app_plan.prepared.bodies.items()):
            pairs.append((body, blobs[objects[key].digest]))
    drifted_pairs = []
    for i in range(0, len(pairs), 10):
        desired, live = pairs[i + (i // 10) % 10]
        drifted_pairs.append((desired, drifted(live)))
    everything = pairs + drifted_pairs
    inputs = [(comparable(d), project(comparable(d), live)) for d, live in everything]
    if dump is not None:
        data = pickle.dumps({"pairs": everything, "state": state, "blobs": blobs})
        await asyncio.to_thread(dump.write_bytes, data)

    # Rounds interleaved, best of each kept (the machine is shared: noise only adds).
    compare_s = plan_s = deepdiff_s = deepdiff_converged_s = float("inf")
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        ours = [not diff.compare(d, live) for d, live in everything]
        t1 = time.perf_counter()
        for name in sorted(state.apps):
            plan.plan_app(state, name, blobs=blobs, scopes={})
        t2 = time.perf_counter()
        theirs = [not DeepDiff(d, p) for d, p in inputs[: len(pairs)]]
        t3 = time.perf_counter()
        theirs += [not DeepDiff(d, p) for d, p in inputs[len(pairs) :]]
        t4 = time.perf_counter()
        compare_s, plan_s = min(compare_s, t1 - t0), min(plan_s, t2 - t1)
        deepdiff_s = min(deepdiff_s, t4 - t2)
        deepdiff_converged_s = min(deepdiff_converged_s, t3 - t2)
    disagree = [
        ids.display_key(ids.key_of(d))
        for (d, _), a, b in zip(everything, ours, theirs, strict=True)
        if a != b
    ]
    in_sync = sum(ours)
    return {
        "pairs": len(everything),
        "in_sync": in_sync,
        "drifted": len(everything) - in_sync,
        "disagreements": disagree,
        "compare_us_per_pair": compare_s / len(everything) * 1e6,
        "deepdiff_us_per_pair": deepdiff_s / len(everything) * 1e6,
        "plan_ms_per_app": plan_s / len(plans) * 1e3,
        "diff_vs_deepdiff": deepdiff_s / compare_s,
        "plan_vs_deepdiff": deepdiff_converged_s / plan_s,
        "plans_unchanged": all(not p.plan.has_changes for p in plans.values()),
    }


# -- the run ---------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    logs.configure(level=args.log_level, stream=(tmp / "daemon.log").open("w"), json=True)
    print(f"work dir {tmp} (daemon log: daemon.log)", flush=True)
    names = [app_name(i) for i in range(args.apps)]
    upstream = Monorepo(tmp / "upstream.git")
    for name in names:
        upstream.set_app(name, manifests(name, 0))
    head = upstream.commit("v0")
    sim, urls, kubeconfig = await start_emulators(tmp, args.step, clusters=args.clusters)
    figures: dict[str, Any] = {
        "apps": args.apps,
        "objects": args.apps * 10,
        "clusters": args.clusters,
    }
    try:
        for cluster, url in urls.items():
            mine = [n for i, n in enumerate(names) if cluster_of(i, args.clusters) == cluster]
            await create_namespaces(url, mine)
        config = make_config(
            tmp,
            kubeconfig=kubeconfig,
            upstream=upstream,
            apps=args.apps,
            qps=args.qps,
            burst=args.burst,
            clusters=args.clusters,
        )
        async with database.opened(config) as store:
            figures.update(
                await measure(
                    args, config, store=store, upstream=upstream, head=head, sim_pid=sim.pid
                )
            )
    finally:
        sim.send_signal(signal.SIGTERM)
        await sim.wait()
    return figures


async def measure(
    args: argparse.Namespace,
    config: settings.Config,
    *,
    store: eventstore.EventStore,
    upstream: Monorepo,
    head: str,
    sim_pid: int,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    daemon = daemon_main.Daemon(config, store)
    watched = app_name(args.apps // 2)
    clock = Clock(watched)
    daemon.keeper.listeners.append(clock)
    pg = postgres_pids(config.state_path())
    cpu_before = {
        "daemon": cpu_seconds([os.getpid()]),
        "emulator": cpu_seconds([sim_pid]),
        "postgres": cpu_seconds(pg),
    }
    profiler = cProfile.Profile() if args.profile is not None else None
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    serving = asyncio.create_task(daemon.serve())
    try:
        await asyncio.wait_for(daemon.ready.wait(), 60)
        last = time.perf_counter()
        while not all_converged(daemon, head):
            if serving.done():
                serving.result()
            if time.perf_counter() - started > args.timeout:
                raise RuntimeError(f"no convergence in {args.timeout}s: {progress(daemon, head)}")
            if time.perf_counter() - last > 5:
                print(
                    f"  {time.perf_counter() - started:6.1f}s {progress(daemon, head)}", flush=True
                )
                last = time.perf_counter()
            await asyncio.sleep(0.05)
        out["converge_s"] = time.perf_counter() - started
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        pg = postgres_pids(config.state_path())
        out["converge_cpu_s"] = {
            "daemon": cpu_seconds([os.getpid()]) - cpu_before["daemon"],
            "emulator": cpu_seconds([sim_pid]) - cpu_before["emulator"],
            "postgres": cpu_seconds(pg) - cpu_before["postgres"],
        }
        out["daemon_cpu_ms_per_object"] = out["converge_cpu_s"]["daemon"] / (args.apps * 10) * 1e3
        print(
            "CPU seconds while converging: "
            + ", ".join(f"{k} {v:.1f}" for k, v in out["converge_cpu_s"].items()),
            flush=True,
        )
        print(f"converged in {out['converge_s']:.1f}s: {progress(daemon, head)}", flush=True)
        assert daemon.reconciler is not None
        reconciler = daemon.reconciler
        await reconciler.idle()
        out["rss_mib"] = rss_mib()
        out["emulator_rss_mib"] = rss_mib(sim_pid)
        out["syncs_to_converge"] = reconciler.syncs

        cycles = []
        for _ in range(3):
            syncs = reconciler.syncs
            t0 = time.perf_counter()
            for name in daemon.config.apps:
                reconciler.request(str(name.name))
            await reconciler.idle()
            cycles.append(time.perf_counter() - t0)
            if reconciler.syncs != syncs:
                raise RuntimeError(f"an idle cycle started {reconciler.syncs - syncs} sync(s)")
        out["idle_cycle_s"] = statistics.median(cycles)
        out["idle_cycles_s"] = cycles
        print(f"idle cycles: {', '.join(f'{c:.2f}s' for c in cycles)}", flush=True)

        from_recorded, from_commit = [], []
        for version in range(1, args.commits + 1):
            upstream.set_app(watched, manifests(watched, version))
            t_commit = time.perf_counter()
            sha = upstream.commit(f"{watched} v{version}")
            assert daemon.git is not None
            daemon.git.poller.trigger(["repo"])
            app = daemon.keeper.state.apps[watched]
            await until(
                lambda sha=sha, app=app: (
                    app.last_synced_revision == sha
                    and app.sync is None
                    and app.health is ev.Health.HEALTHY
                ),
                f"{watched} synced at {sha[:8]}",
                60,
            )
            applied = clock.applied[sha]
            from_recorded.append(applied - clock.commits[sha])
            from_commit.append(applied - t_commit)
        out["commit_to_applied_p50_s"] = statistics.median(from_recorded)
        out["commit_to_applied_p99_s"] = percentile(from_recorded, 0.99)
        out["push_to_applied_p50_s"] = statistics.median(from_commit)
        out["push_to_applied_p99_s"] = percentile(from_commit, 0.99)
        print(
            f"commit-to-applied p50 {out['commit_to_applied_p50_s']:.3f}s "
            f"p99 {out['commit_to_applied_p99_s']:.3f}s",
            flush=True,
        )
        await reconciler.idle()
    finally:
        daemon.stop()
        await asyncio.wait_for(serving, 60)
    # On the final folded state, with the daemon stopped and the emulator paused, so
    # that nothing else runs while the plan/diff step is timed.
    sim = psutil.Process(sim_pid)
    sim.suspend()
    try:
        out.update(await diff_benchmark(daemon, store, args.dump))
    finally:
        sim.resume()
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench sync", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--apps", type=int, default=1000)
    parser.add_argument(
        "--clusters", type=int, default=1, help="emulated clusters the apps spread over"
    )
    parser.add_argument(
        "--profile", type=Path, default=None, help="cProfile the daemon until convergence"
    )
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--commits", type=int, default=20, help="commits for the latency figure")
    parser.add_argument("--step", type=float, default=0.05, help="emulator controller step (s)")
    parser.add_argument("--qps", type=float, default=2000.0, help="the cluster's client qps")
    parser.add_argument("--burst", type=int, default=4000)
    parser.add_argument("--timeout", type=float, default=900.0, help="give up converging after")
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--dump", type=Path, default=None, help="pickle the diff pairs here")
    args = parser.parse_args(argv)
    if args.clusters < 1 or args.apps % args.clusters:
        parser.error(f"--clusters {args.clusters}: must be at least 1 and divide --apps")
    figures = asyncio.run(run(args))
    figures["cpus"] = os.cpu_count() or 0
    rows = [
        (
            f"first convergence, {args.apps * 10:,} objects (s)",
            figures["converge_s"],
            f"<= {CONVERGE_TARGET:.0f}",
            figures["converge_s"] <= CONVERGE_TARGET,
        ),
        (
            "idle reconcile cycle (s)",
            figures["idle_cycle_s"],
            f"<= {IDLE_TARGET:.0f}",
            figures["idle_cycle_s"] <= IDLE_TARGET,
        ),
        (
            "daemon CPU per object synced (ms)",
            figures["daemon_cpu_ms_per_object"],
            f"<= {CPU_PER_OBJECT_TARGET_MS:g}",
            figures["daemon_cpu_ms_per_object"] <= CPU_PER_OBJECT_TARGET_MS,
        ),
        ("  daemon CPU while converging (s)", figures["converge_cpu_s"]["daemon"], "", None),
        ("  emulator CPU while converging (s)", figures["converge_cpu_s"]["emulator"], "", None),
        ("  PostgreSQL CPU while converging (s)", figures["converge_cpu_s"]["postgres"], "", None),
        ("commit-to-applied p50 (s)", figures["commit_to_applied_p50_s"], "", None),
        (
            "commit-to-applied p99 (s)",
            figures["commit_to_applied_p99_s"],
            f"<= {LATENCY_TARGET:.0f}",
            figures["commit_to_applied_p99_s"] <= LATENCY_TARGET,
        ),
        ("  from the push, p50 (s)", figures["push_to_applied_p50_s"], "", None),
        ("  from the push, p99 (s)", figures["push_to_applied_p99_s"], "", None),
        (
            "diff: DeepDiff time / compare",
            figures["diff_vs_deepdiff"],
            f">= {DIFF_TARGET:.0f}x",
            figures["diff_vs_deepdiff"] >= DIFF_TARGET,
        ),
        (
            "plan: DeepDiff time / plan",
            figures["plan_vs_deepdiff"],
            f">= {DIFF_TARGET:.0f}x",
            figures["plan_vs_deepdiff"] >= DIFF_TARGET,
        ),
        ("  compare (us/pair)", figures["compare_us_per_pair"], "", None),
        ("  DeepDiff (us/pair)", figures["deepdiff_us_per_pair"], "", None),
        ("  plan (ms/app)", figures["plan_ms_per_app"], "", None),
        (
            "daemon RSS after convergence (MiB)",
            figures["rss_mib"],
            f"<= {RSS_TARGET:.0f}",
            figures["rss_mib"] <= RSS_TARGET,
        ),
        ("  emulator RSS (MiB)", figures["emulator_rss_mib"], "", None),
    ]
    print()
    print(
        f"sync: {args.apps} apps x 10 objects over {args.clusters} cluster(s), emulator step "
        f"{args.step}s, qps {args.qps:g} per cluster, {figures['cpus']} CPUs"
    )
    print(f"{'figure':<40}{'measured':>12}  {'target':<10}")
    for label, value, target, ok in rows:
        mark = "" if ok is None else ("ok" if ok else "MISSED")
        print(f"{label:<40}{value:>12,.3f}  {target:<10}{mark}")
    print(
        f"verdicts: {figures['pairs']} pairs, {figures['in_sync']} in sync, {figures['drifted']} drifted, "
        f"{len(figures['disagreements'])} disagreements with DeepDiff"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    if figures["disagreements"] or not figures["plans_unchanged"]:
        print(f"verdicts differ: {figures['disagreements'][:10]}", file=sys.stderr)
        return 1
    return 0
