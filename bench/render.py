"""``python -m bench render [--objects N] [--runs R] [--json PATH]``: render a Kustomize tree.

Builds a real Git repository (pygit2, temporary folder) holding a base of N objects
(Deployments, Services, ConfigMaps, ServiceAccounts in equal parts, each Deployment
mounting its ConfigMap and naming its ServiceAccount) and an overlay with the fields
real repositories use: namespace, namePrefix, commonLabels, commonAnnotations, images,
replicas, a strategic merge patch on every Deployment (label-selected target), a JSON
patch, and a configMapGenerator whose hashed name is referenced from every Deployment.
It then renders the overlay with ``daemon.shell.render.render`` over a ``GitTree`` —
the same path the daemon takes — and reports the best of R runs. Target: 1,000 objects
in <= 1 s. ``kustomize_1000_seconds()`` is what ``bench/git.py`` imports.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pygit2

from daemon.settings import RenderConfig
from daemon.shell import render

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


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench render", description=__doc__)
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
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
    if args.json is not None:
        args.json.write_text(
            json.dumps({key: round(seconds, 4), "objects": rendered}, indent=2) + "\n"
        )
    return 0
