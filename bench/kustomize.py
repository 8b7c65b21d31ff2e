"""``python -m bench kustomize REPO [REPO...] [--rev REV] [--json PATH] [--show N]``.

Differential check of gitopsd's Kustomize against ``kubectl kustomize`` (kustomize v5.5.0
in kubectl) over every kustomization in real Git repositories: each directory of
REPO (a bare or non-bare Git repository) at REV (default HEAD) that holds a
``kustomization.yaml``/``.yml``/``Kustomization`` is rendered by both, gitopsd through
``daemon.shell.render.render`` over a ``GitTree`` (the daemon's own path) and kubectl on
a checkout of the same commit. Objects are compared as parsed values, order ignored.

Each path ends in one of: ``same`` (identical objects), ``differ`` (both rendered, not
the same objects), ``gitopsd refused`` (kubectl rendered, gitopsd raised), ``both
refused``, ``kubectl refused`` (gitopsd rendered what kubectl refuses). Paths with a
remote base (a URL in resources) are counted apart as ``remote``: gitopsd never fetches
them. A table per repository and the first N reasons of each kind are printed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pygit2

from daemon.settings import RenderConfig
from daemon.shell import render
from daemon.shell.render import yamlsafe

NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


def kustomization_dirs(tree: pygit2.Tree, prefix: str = "") -> list[str]:
    """Every directory under ``tree`` holding a kustomization file."""
    found = []
    names = {entry.name for entry in tree}
    if any(n in names for n in NAMES):
        found.append(prefix)
    for entry in tree:
        if entry.type_str == "tree":
            child = f"{prefix}/{entry.name}" if prefix else entry.name
            found.extend(kustomization_dirs(entry, child))  # type: ignore[arg-type]
    return found


def _canonical(objects: list[dict[str, Any]]) -> list[bytes]:
    return sorted(orjson.dumps(o, option=orjson.OPT_SORT_KEYS) for o in objects)


def _is_remote(tree: render.GitTree, path: str) -> bool:
    for name in NAMES:
        file = f"{path}/{name}" if path else name
        if tree.kind(file) == "file":
            text = tree.read(file, limit=1 << 20).decode("utf-8", "replace")
            return "://" in text or "github.com/" in text
    return False


def _kubectl(checkout: Path, path: str) -> tuple[list[dict[str, Any]] | None, str]:
    done = subprocess.run(
        ["kubectl", "kustomize", str(checkout / path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        return None, done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"
    limits = render.Limits(max_yaml_nodes=50_000_000, max_yaml_aliases=1_000_000)
    documents = yamlsafe.load_all(done.stdout, file="kubectl output", limits=limits)
    return [d.value for d in documents if d.value is not None], ""


def check_repo(repo_path: Path, rev: str) -> tuple[Counter[str], dict[str, list[str]]]:
    repo = pygit2.Repository(str(repo_path))
    commit = repo.revparse_single(rev).peel(pygit2.Commit)
    tree = render.GitTree(repo, str(commit.id))
    counts: Counter[str] = Counter()
    reasons: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-kustomize-") as scratch:
        checkout = Path(scratch)
        tree.checkout(checkout)
        for path in kustomization_dirs(commit.tree):
            if _is_remote(tree, path):
                counts["remote"] += 1
                continue
            theirs, why_theirs = _kubectl(checkout, path)
            try:
                ours = render.render(tree, path=path, config=RenderConfig(type="kustomize"))
                mine, why_mine = ours.objects, ""
            except render.RenderError as exc:
                mine, why_mine = None, str(exc)
            if theirs is None and mine is None:
                verdict = "both refused"
            elif theirs is None:
                verdict, why_mine = "kubectl refused", why_theirs
            elif mine is None:
                verdict = "gitopsd refused"
            elif _canonical(mine) == _canonical(theirs):
                verdict = "same"
            else:
                verdict, why_mine = "differ", _first_difference(mine, theirs)
            counts[verdict] += 1
            if verdict not in ("same", "both refused"):
                reasons.setdefault(verdict, []).append(f"{path or '.'}: {why_mine}")
    return counts, reasons


def _first_difference(mine: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> str:
    def key(o: dict[str, Any]) -> str:
        meta = o.get("metadata") or {}
        return f"{o.get('kind')}/{meta.get('namespace', '')}/{meta.get('name')}"

    a = {key(o): o for o in mine}
    b = {key(o): o for o in theirs}
    if set(a) != set(b):
        return f"only gitopsd: {sorted(set(a) - set(b))[:3]}, only kubectl: {sorted(set(b) - set(a))[:3]}"
    for k in sorted(a):
        if a[k] != b[k]:
            return f"{k} differs"
    return "order or duplicates differ"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench kustomize")
    parser.add_argument("repos", nargs="+", type=Path)
    parser.add_argument("--rev", default="HEAD")
    parser.add_argument("--show", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if shutil.which("kubectl") is None:
        print("kubectl is needed on PATH (its `kubectl kustomize` is the reference)")
        return 2
    kinds = ("same", "differ", "gitopsd refused", "kubectl refused", "both refused", "remote")
    print(f"{'repository':40} " + " ".join(f"{k:>15}" for k in kinds))
    report: dict[str, Any] = {}
    for repo in args.repos:
        counts, reasons = check_repo(repo, args.rev)
        label = repo.parent.name if repo.name in ("repo", ".git") else repo.name
        print(f"{label[:40]:40} " + " ".join(f"{counts[k]:>15}" for k in kinds))
        for verdict, lines in reasons.items():
            for line in lines[: args.show]:
                print(f"    {verdict}: {line[:300]}")
        report[str(repo)] = {"counts": dict(counts), "reasons": reasons}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0
