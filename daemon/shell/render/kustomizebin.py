"""Kustomize by an installed binary: ``kustomize build`` or ``kubectl kustomize`` on a checkout.

gitopsd's own Kustomize (``render.kustomize``) covers the fields real repositories use,
but not exec plugins, KRM functions or ``--enable-helm``. An app that needs them sets
``render.kustomize.binary`` (``kustomize``, ``kubectl``, or an absolute path) and,
optionally, ``render.kustomize.build_options`` (e.g. ``[--enable-helm]``), as Argo CD's
``kustomize.buildOptions`` does. The binary then runs the way the exec renderer runs a
command (a checkout of the commit, a minimal environment, the app's ``render.timeout``,
the output cap, its process group killed afterwards) and its stdout is parsed as YAML.

Fan-out: the binary reads files on its own, so the render's inputs are found by walking
the kustomization files from the app's path: every local directory or file they name
(resources, bases, components, patches, generators' files...), recursively. Remote
references (URLs) are the binary's business and are not tracked.
"""

from __future__ import annotations

import posixpath
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from daemon.settings import RenderConfig
from daemon.shell.render import exec as exec_renderer
from daemon.shell.render import yamlsafe
from daemon.shell.render.reader import Reader
from daemon.shell.render.result import RenderError, Sourced

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
BUILTIN = "builtin"

# Fields of a kustomization that name local files or directories, as plain strings
# (lists of strings) or as mappings with a ``path``.
_PATH_LISTS = (
    "resources",
    "bases",
    "components",
    "crds",
    "configurations",
    "patchesStrategicMerge",
    "generators",
    "transformers",
    "validators",
)
_PATH_ENTRIES = ("patches", "patchesJson6902", "replacements")
_GENERATORS = ("configMapGenerator", "secretGenerator")


def argv(binary: str, build_options: list[str]) -> list[str]:
    """The command line for ``binary``: ``kubectl kustomize`` or ``<kustomize> build``."""
    executable = binary if binary.startswith("/") else shutil.which(binary)
    if executable is None:
        raise RenderError(
            f"render.kustomize.binary {binary!r} was not found on PATH; install it "
            "or set an absolute path (or 'builtin' for gitopsd's own Kustomize)"
        )
    if Path(executable).name.startswith("kubectl"):
        return [executable, "kustomize", *build_options, "."]
    return [executable, "build", *build_options, "."]


def render(files: Reader, *, path: str, config: RenderConfig) -> list[Sourced]:
    """Run the configured binary on a checkout of the tree at ``path``; parse its YAML."""
    command = argv(config.kustomize.binary, config.kustomize.build_options)
    if files.kind(path) != "dir":
        raise RenderError("kustomize needs the app path to be a directory", file=path or ".")
    track_inputs(files, path)
    stdout = exec_renderer.checkout_and_run(files, path=path, argv=command, config=config)
    return exec_renderer.parse_output(
        stdout, label=f"{path or '.'} (kustomize output)", limits=files.limits
    )


def track_inputs(files: Reader, path: str) -> None:
    """Record, in ``files.inputs``, every local path the kustomization at ``path`` names."""
    seen: set[str] = set()
    pending = [path]
    while pending:
        directory = pending.pop()
        if directory in seen:
            continue
        seen.add(directory)
        kustomization = _kustomization(files, directory)
        if kustomization is None:
            continue
        for ref in _local_refs(kustomization):
            target = posixpath.normpath(posixpath.join(directory, ref))
            if target == ".." or target.startswith(("../", "/")):
                continue  # outside the repository: the binary's load restrictor decides
            target = "" if target == "." else target
            if files.kind(target) == "dir":
                pending.append(target)


def _kustomization(files: Reader, directory: str) -> dict[str, Any] | None:
    names = files.list(directory)
    for name in KUSTOMIZATION_FILES:
        if name in names:
            file = posixpath.join(directory, name) if directory else name
            try:
                documents = yamlsafe.load_all(files.text(file), file=file, limits=files.limits)
            except RenderError:
                return None  # the binary reports a broken kustomization in its own words
            return next((d.value for d in documents if isinstance(d.value, dict)), None)
    return None


def _local_refs(kustomization: dict[str, Any]) -> Iterator[str]:
    """Strings in the kustomization that may be local paths (URLs left out)."""
    candidates: list[Any] = []
    for field in _PATH_LISTS:
        candidates.extend(_as_list(kustomization.get(field)))
    for field in _PATH_ENTRIES:
        candidates.extend(
            entry.get("path") for entry in _as_list(kustomization.get(field)) if _is_map(entry)
        )
    for field in _GENERATORS:
        for generator in _as_list(kustomization.get(field)):
            if _is_map(generator):
                named = [*_as_list(generator.get("files")), *_as_list(generator.get("envs"))]
                # ``files`` entries may be ``key=path``.
                candidates.extend(i.split("=", 1)[-1] if isinstance(i, str) else i for i in named)
                candidates.append(generator.get("env"))
    helm = kustomization.get("helmGlobals")
    if kustomization.get("helmCharts"):
        candidates.append(helm.get("chartHome", "charts") if isinstance(helm, dict) else "charts")
    for candidate in candidates:
        if isinstance(candidate, str) and candidate and not _is_remote(candidate):
            yield candidate


def _is_remote(ref: str) -> bool:
    return "://" in ref or ref.startswith(("github.com/", "git@", "ssh:"))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _is_map(value: Any) -> bool:
    return isinstance(value, dict)
