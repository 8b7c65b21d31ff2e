"""``python -m bench render [--objects N] [--runs R] [--helm-objects H] [--json PATH]``: renders.

Builds a real Git repository (pygit2, temporary folder) holding a base of N objects
(Deployments, Services, ConfigMaps, ServiceAccounts in equal parts, each Deployment
mounting its ConfigMap and naming its ServiceAccount) and an overlay with the fields
real repositories use: namespace, namePrefix, commonLabels, commonAnnotations, images,
replicas, a strategic merge patch on every Deployment (label-selected target), a JSON
patch, and a configMapGenerator whose hashed name is referenced from every Deployment.
It then renders the overlay with ``daemon.shell.render.render`` over a ``GitTree`` —
the same path the daemon took before the render pool — and reports the best of R runs.
Target: 1,000 objects in <= 1 s. ``kustomize_1000_seconds()`` is what ``bench/git.py``
imports.

Then the same renders, and a small app (ten ConfigMaps, plain YAML), in-process against
through a two-worker render pool (``shell.render.pool``, what the daemon does now):
renders per second one at a time and two at a time, the 1,000-object tree's time, and
the pool's overhead per render (best pool latency minus best in-process latency of the
small app; target < 10 ms).

Then a Helm chart generated here (``_helm_files``: helpers, and one template per kind
ranging over a values list, H objects in all) is rendered in-process through
helm-python-sdk, and the same H objects as a plain YAML directory are rendered in the
same run as the peer (the floor: reading, parsing and validating the same objects);
both are reported as renders/s over at least a second, with the SDK call alone (the
chart already on disk, no YAML parsing) to show where the time goes. The chart is also
rendered through the pool against in-process (best of R, redaction included).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pygit2

from daemon.settings import HelmConfig, RenderConfig
from daemon.shell import render
from daemon.shell.render import helmsdk, protocol
from daemon.shell.render import pool as renderpool

TARGET_SECONDS = 1.0
OVERHEAD_TARGET_MS = 10.0
WIDTH = 52


def _base_files(count: int) -> dict[str, str]:
    per_kind = count // 4
    deployments, services, config_maps, accounts = [], [], [], []
    for i in range(per_kind):
        name = f"svc{i:04d}"
        deployments.append(
            f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels: {{app: {name}}}
spec:
  replicas: 1
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      serviceAccountName: {name}
      containers:
      - name: app
        image: registry.example.com/team/app:1.0.0
        ports:
        - containerPort: 8080
        envFrom:
        - configMapRef: {{name: shared-env}}
        volumeMounts:
        - {{name: config, mountPath: /etc/app}}
      volumes:
      - name: config
        configMap: {{name: {name}-config}}
"""
        )
        services.append(
            f"""apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector: {{app: {name}}}
  ports:
  - {{port: 80, targetPort: 8080}}
"""
        )
        config_maps.append(
            f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}-config
data:
  config.yaml: |
    name: {name}
    replicas: 1
"""
        )
        accounts.append(f"apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {name}\n")
    return {
        "base/kustomization.yaml": "resources:\n- deployments.yaml\n- services.yaml\n"
        "- configmaps.yaml\n- accounts.yaml\n",
        "base/deployments.yaml": "---\n".join(deployments),
        "base/services.yaml": "---\n".join(services),
        "base/configmaps.yaml": "---\n".join(config_maps),
        "base/accounts.yaml": "---\n".join(accounts),
    }


_OVERLAY = """resources:
- ../../base
namespace: bench
namePrefix: prod-
commonLabels:
  team: bench
commonAnnotations:
  owner: platform
images:
- name: registry.example.com/team/app
  newTag: 2.0.0
replicas:
- name: svc0000
  count: 3
configMapGenerator:
- name: shared-env
  literals:
  - LOG_LEVEL=info
  - REGION=eu-west-1
patches:
- target:
    kind: Deployment
  patch: |
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: any
    spec:
      template:
        spec:
          containers:
          - name: app
            resources:
              limits: {memory: 256Mi}
- target:
    kind: Service
    name: svc000.*
  patch: |
    - op: add
      path: /metadata/annotations/bench
      value: "true"
"""


def _repository(root: Path, objects: int) -> tuple[pygit2.Repository, str]:
    files = {**_base_files(objects), "overlays/prod/kustomization.yaml": _OVERLAY}
    return _commit(root, files)


def _commit(root: Path, files: dict[str, str]) -> tuple[pygit2.Repository, str]:
    repo = pygit2.init_repository(str(root / "bench.git"), bare=True)
    index = pygit2.Index()
    for path, text in files.items():
        index.add(
            pygit2.IndexEntry(path, repo.create_blob(text.encode()), pygit2.enums.FileMode.BLOB)
        )
    tree_id = index.write_tree(repo)
    signature = pygit2.Signature("bench", "bench@example.com")
    commit = repo.create_commit("refs/heads/main", signature, signature, "bench", tree_id, [])
    return repo, str(commit)


def measure(*, objects: int = 1000, runs: int = 3) -> tuple[float, int]:
    """Best wall time of ``runs`` renders of an ``objects``-object tree, and the object count."""
    with tempfile.TemporaryDirectory(prefix="gitopsd-bench-render-") as scratch:
        repo, commit = _repository(Path(scratch), objects)
        best = float("inf")
        rendered = 0
        for _ in range(runs):
            started = time.perf_counter()
            result = render.render(
                render.GitTree(repo, commit),  # a fresh tree each run: no cached reads
                path="overlays/prod",
                config=RenderConfig(type="kustomize"),
            )
            best = min(best, time.perf_counter() - started)
            rendered = len(result.objects)
    return best, rendered


def kustomize_1000_seconds() -> float:
    """Seconds to render a Kustomize tree of 1,000 objects (best of 3)."""
    return measure(objects=1000, runs=3)[0]


_HELM_TEMPLATES = {
    "deployments.yaml": """{{- range .Values.services }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "bench.name" (list $ .name) }}
  labels: {{- include "bench.labels" $ | nindent 4 }}
spec:
  replicas: {{ $.Values.replicas }}
  selector:
    matchLabels: {app: {{ .name }}}
  template:
    metadata:
      labels: {app: {{ .name }}}
    spec:
      serviceAccountName: {{ include "bench.name" (list $ .name) }}
      containers:
        - name: app
          image: {{ $.Values.image }}:{{ $.Values.tag }}
          ports: [{containerPort: 8080}]
{{- end }}
""",
    "services.yaml": """{{- range .Values.services }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ include "bench.name" (list $ .name) }}
  labels: {{- include "bench.labels" $ | nindent 4 }}
spec:
  selector: {app: {{ .name }}}
  ports: [{port: 80, targetPort: 8080}]
{{- end }}
""",
    "configmaps.yaml": """{{- range .Values.services }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "bench.name" (list $ .name) }}-config
data:
  config.yaml: |
    name: {{ .name }}
    replicas: {{ $.Values.replicas }}
{{- end }}
""",
    "accounts.yaml": """{{- range .Values.services }}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "bench.name" (list $ .name) }}
{{- end }}
""",
}

_HELM_HELPERS = """{{- define "bench.name" -}}
{{ (index . 0).Release.Name }}-{{ index . 1 }}
{{- end -}}
{{- define "bench.labels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}
"""


def _helm_files(objects: int) -> dict[str, str]:
    """A chart rendering ``objects`` objects (four kinds, one template each)."""
    names = "".join(f"  - name: svc{i:04d}\n" for i in range(objects // 4))
    files = {
        "chart/Chart.yaml": "apiVersion: v2\nname: bench\nversion: 1.0.0\n",
        "chart/values.yaml": f"replicas: 2\nimage: registry.example.com/app\ntag: '1.0'\n"
        f"services:\n{names}",
        "chart/templates/_helpers.tpl": _HELM_HELPERS,
    }
    files.update({f"chart/templates/{name}": text for name, text in _HELM_TEMPLATES.items()})
    return files


def measure_helm(*, objects: int = 200, seconds: float = 1.0) -> dict[str, float]:
    """Renders/s of the generated chart in-process, and of the same objects as plain YAML."""
    with tempfile.TemporaryDirectory(prefix="gitopsd-bench-helm-") as scratch:
        repo, commit = _commit(Path(scratch), _helm_files(objects))
        config = RenderConfig(helm=HelmConfig(release_name="bench", namespace="bench"))
        chart = render.render(render.GitTree(repo, commit), path="chart", config=config)
        plain = {"plain/all.yaml": manifest_stream(chart.objects)}
        plain_repo, plain_commit = _commit(Path(scratch) / "plain", plain)
        out = {"objects": float(len(chart.objects))}
        out["helm_renders_per_s"] = _rate(
            lambda: render.render(render.GitTree(repo, commit), path="chart", config=config),
            seconds=seconds,
        )
        chart_dir = Path(scratch) / "checkout"
        chart_dir.mkdir()
        for name, text in _helm_files(objects).items():
            (chart_dir / name).parent.mkdir(parents=True, exist_ok=True)
            (chart_dir / name).write_text(text)
        out["engine_calls_per_s"] = _rate(
            lambda: helmsdk.render(
                chart_dir / "chart",
                values={},
                release_name="bench",
                namespace="bench",
                include_crds=True,
            ),
            seconds=seconds,
        )
        out["plain_renders_per_s"] = _rate(
            lambda: render.render(
                render.GitTree(plain_repo, plain_commit), path="plain", config=RenderConfig()
            ),
            seconds=seconds,
        )
    return out


def manifest_stream(objects: list[dict[str, Any]]) -> str:
    return "".join("---\n" + json.dumps(o) + "\n" for o in objects)


def _rate(run: Callable[[], object], *, seconds: float) -> float:
    """Calls per second of ``run`` over at least ``seconds`` (after one warm-up call)."""
    run()
    count = 0
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds or count < 3:
        run()
        count += 1
    return count / elapsed


def _print_helm(objects: int) -> dict[str, float]:
    figures = measure_helm(objects=objects)
    label = f"helm chart, {int(figures['objects'])} objects"
    print(f"{label + ' (renders/s, 1 s)':<{WIDTH}} {figures['helm_renders_per_s']:>10.1f}")
    print(f"{'  of which the SDK call alone':<{WIDTH}} {figures['engine_calls_per_s']:>10.1f}")
    print(
        f"{'  peer: same objects as plain YAML':<{WIDTH}} {figures['plain_renders_per_s']:>10.1f}"
    )
    return figures


async def measure_helm_pool(*, objects: int, runs: int) -> tuple[float, float]:
    """Best seconds of the generated chart's render in-process and through a 2-worker pool."""
    with tempfile.TemporaryDirectory(prefix="gitopsd-bench-helm-pool-") as scratch:
        repo, commit = _commit(Path(scratch), _helm_files(objects))
        config = RenderConfig(helm=HelmConfig(release_name="bench", namespace="bench"))
        job = protocol.Job(
            repo=repo.path, revision=commit, path="chart", config=config, key=b"k" * 32
        )
        inprocess = _best_inprocess(job, runs)
        async with renderpool.RenderPool(size=2) as pool:
            through_pool = await _best_pool(pool, job, runs)
    return inprocess, through_pool


# -- through the render pool ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class PoolFigures:
    """Renders through the worker pool against the same renders in this process."""

    small_inprocess_per_s: float
    small_pool_per_s: float
    small_pool_parallel_per_s: float
    overhead_ms: float
    kustomize_inprocess_s: float
    kustomize_pool_s: float


def _small_app(repo: pygit2.Repository) -> str:
    """A commit holding ``small/``: ten ConfigMaps in one plain directory."""
    index = pygit2.Index()
    for i in range(10):
        text = f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}}}\ndata: {{v: '{i}'}}\n"
        blob = repo.create_blob(text.encode())
        index.add(pygit2.IndexEntry(f"small/c{i}.yaml", blob, pygit2.enums.FileMode.BLOB))
    signature = pygit2.Signature("bench", "bench@example.com")
    return str(repo.create_commit(None, signature, signature, "small", index.write_tree(repo), []))


def _best_inprocess(job: protocol.Job, runs: int) -> float:
    """Best seconds of ``runs`` in-process renders of ``job`` (render and redaction, as before)."""
    repos: dict[str, pygit2.Repository] = {}
    protocol.run(job, repos=repos)
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        protocol.run(job, repos=repos)
        best = min(best, time.perf_counter() - started)
    return best


async def _best_pool(pool: renderpool.RenderPool, job: protocol.Job, runs: int) -> float:
    await pool.run(job)
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        await pool.run(job)
        best = min(best, time.perf_counter() - started)
    return best


async def _parallel_rate(pool: renderpool.RenderPool, job: protocol.Job, count: int) -> float:
    started = time.perf_counter()
    await asyncio.gather(*(pool.run(job) for _ in range(count)))
    return count / (time.perf_counter() - started)


async def measure_pool(*, objects: int = 1000, renders: int = 200, runs: int = 3) -> PoolFigures:
    """The small app and the Kustomize tree rendered in-process and through a 2-worker pool.

    In-process is what the daemon did before the pool (``render`` plus redaction in a
    thread); the overhead is the difference of the best single-render latencies of the
    small app, the pool's cost per render (pipe round trip, pickled job, parsed reply).
    """
    with tempfile.TemporaryDirectory(prefix="gitopsd-bench-render-pool-") as scratch:
        repo, tree_commit = _repository(Path(scratch), objects)
        small_commit = _small_app(repo)
        key = b"k" * 32
        small = protocol.Job(
            repo=repo.path, revision=small_commit, path="small", config=RenderConfig(), key=key
        )
        tree = protocol.Job(
            repo=repo.path,
            revision=tree_commit,
            path="overlays/prod",
            config=RenderConfig(type="kustomize"),
            key=key,
        )
        small_inprocess = _best_inprocess(small, renders)
        kustomize_inprocess = _best_inprocess(tree, runs)
        async with renderpool.RenderPool(size=2) as pool:
            small_pool = await _best_pool(pool, small, renders)
            parallel = await _parallel_rate(pool, small, renders)
            kustomize_pool = await _best_pool(pool, tree, runs)
    return PoolFigures(
        small_inprocess_per_s=1 / small_inprocess,
        small_pool_per_s=1 / small_pool,
        small_pool_parallel_per_s=parallel,
        overhead_ms=(small_pool - small_inprocess) * 1000,
        kustomize_inprocess_s=kustomize_inprocess,
        kustomize_pool_s=kustomize_pool,
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench render", description=__doc__)
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--helm-objects", type=int, default=200)
    parser.add_argument("--renders", type=int, default=200, help="small-app renders per figure")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    seconds, rendered = measure(objects=args.objects, runs=args.runs)
    figures = asyncio.run(measure_pool(objects=args.objects, renders=args.renders, runs=args.runs))
    key = f"kustomize_{args.objects}_s"
    best = f" (best of {args.runs})"
    rows: list[tuple[str, str, str, str]] = [
        ("objects rendered (+1 generated)", f"{rendered:d}", "", ""),
        (key + best, f"{seconds:.3f}", "<= 1.000", _verdict(seconds <= TARGET_SECONDS)),
        (f"{key} in-process, redacted", f"{figures.kustomize_inprocess_s:.3f}", "", ""),
        (f"{key} through the pool", f"{figures.kustomize_pool_s:.3f}", "", ""),
        ("small app renders/s in-process", f"{figures.small_inprocess_per_s:.0f}", "", ""),
        ("small app renders/s pool, one at a time", f"{figures.small_pool_per_s:.0f}", "", ""),
        ("small app renders/s pool, 2 workers", f"{figures.small_pool_parallel_per_s:.0f}", "", ""),
        (
            "pool overhead per render (ms)",
            f"{figures.overhead_ms:.2f}",
            f"< {OVERHEAD_TARGET_MS:.0f}",
            _verdict(figures.overhead_ms < OVERHEAD_TARGET_MS),
        ),
    ]
    helm_inprocess, helm_pool = asyncio.run(
        measure_helm_pool(objects=args.helm_objects, runs=args.runs)
    )
    chart = f"helm chart, {args.helm_objects} objects"
    rows += [
        (f"{chart}: renders/s in-process", f"{1 / helm_inprocess:.1f}", "", ""),
        (f"{chart}: renders/s through the pool", f"{1 / helm_pool:.1f}", "", ""),
        (
            f"{chart}: pool overhead (ms)",
            f"{(helm_pool - helm_inprocess) * 1000:.2f}",
            f"< {OVERHEAD_TARGET_MS:.0f}",
            _verdict(helm_pool - helm_inprocess < OVERHEAD_TARGET_MS / 1000),
        ),
    ]
    print(f"{'benchmark':<{WIDTH}} {'value':>10} {'target':>10}")
    for name, value, target, verdict in rows:
        print(f"{name:<{WIDTH}} {value:>10} {target:>10} {verdict}".rstrip())
    helm = _print_helm(args.helm_objects)
    if args.json is not None:
        out = {key: round(seconds, 4), "objects": rendered, **dataclasses.asdict(figures)}
        out |= {f"helm_{k}": round(v, 2) for k, v in helm.items()}
        out |= {"helm_inprocess_s": helm_inprocess, "helm_pool_s": helm_pool}
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


def _verdict(ok: bool) -> str:
    return "ok" if ok else "SLOW"
