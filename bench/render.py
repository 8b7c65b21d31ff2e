"""``python -m bench render [--objects N] [--runs R] [--helm-objects H] [--json PATH]``: renders.

Builds a real Git repository (pygit2, temporary folder) holding a base of N objects
(Deployments, Services, ConfigMaps, ServiceAccounts in equal parts, each Deployment
mounting its ConfigMap and naming its ServiceAccount) and an overlay with the fields
real repositories use: namespace, namePrefix, commonLabels, commonAnnotations, images,
replicas, a strategic merge patch on every Deployment (label-selected target), a JSON
patch, and a configMapGenerator whose hashed name is referenced from every Deployment.
It then renders the overlay with ``daemon.shell.render.render`` over a ``GitTree`` —
the same path the daemon takes — and reports the best of R runs. Target: 1,000 objects
in <= 1 s. ``kustomize_1000_seconds()`` is what ``bench/git.py`` imports.

Then a Helm chart generated here (``_helm_files``: helpers, and one template per kind
ranging over a values list, H objects in all) is rendered in-process through
helm-python-sdk, and the same H objects as a plain YAML directory are rendered in the
same run as the peer (the floor: reading, parsing and validating the same objects);
both are reported as renders/s over at least a second, with the SDK call alone (the
chart already on disk, no YAML parsing) to show where the time goes.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pygit2

from daemon.settings import HelmConfig, RenderConfig
from daemon.shell import render
from daemon.shell.render import helmsdk

TARGET_SECONDS = 1.0


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
    print(f"{label + ' (renders/s)':<34} {figures['helm_renders_per_s']:>10.1f}")
    print(f"{'  of which the SDK call alone':<34} {figures['engine_calls_per_s']:>10.1f}")
    print(f"{'  peer: same objects as plain YAML':<34} {figures['plain_renders_per_s']:>10.1f}")
    return figures


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench render", description=__doc__)
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--helm-objects", type=int, default=200)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    seconds, rendered = measure(objects=args.objects, runs=args.runs)
    key = f"kustomize_{args.objects}_s"
    print(f"{'benchmark':<34} {'value':>10} {'target':>10}")
    print(f"{'objects rendered (+1 generated)':<34} {rendered:>10d} {'':>10}")
    verdict = "ok" if seconds <= TARGET_SECONDS else "SLOW"
    print(
        f"{key + ' (best of ' + str(args.runs) + ')':<34} {seconds:>10.3f} {'<= 1.000':>10} {verdict}"
    )
    helm = _print_helm(args.helm_objects)
    if args.json is not None:
        figures = {key: round(seconds, 4), "objects": rendered}
        figures |= {f"helm_{k}": round(v, 2) for k, v in helm.items()}
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0
