"""Rendering: an app's path in a Git tree at one exact commit, turned into Kubernetes objects.

``render`` picks the renderer (``render.type``, or by what the app's path holds), runs
it over a ``Tree`` (never a working copy), validates the objects it yields, and returns
them with the set of repository paths it read, so the caller can tell from a tree diff
whether a new commit touches the app (``is_affected``).

Blocking and CPU-bound: the daemon runs it in a worker process (``render.pool``), under
the app's ``render.limits``. It records nothing and redacts nothing: recording
``DesiredStateRendered``/``RenderFailed`` and replacing Secret values by digests are the
caller's job.

Auto-detection, in order, for a directory at the app's path:
1. ``Chart.yaml`` -> helm (as in Argo CD, a chart wins over a kustomization beside it);
2. ``kustomization.yaml``, ``kustomization.yml`` or ``Kustomization`` -> kustomize;
3. ``main.jsonnet``, or else exactly one ``*.jsonnet`` file -> jsonnet (several
   ``.jsonnet`` files and no ``main.jsonnet`` is an error asking for one);
4. otherwise plain YAML/JSON.
An app path that is a single file renders that file (jsonnet when it ends in
``.jsonnet``, plain otherwise).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable

from daemon.settings import RenderConfig
from daemon.shell.render import exec as exec_renderer
from daemon.shell.render import helm, jsonnet, kustomize, kustomizebin, plain, reader, validate
from daemon.shell.render.result import (
    DEFAULT_LIMITS,
    Limits,
    Renderer,
    RenderError,
    RenderResult,
)
from daemon.shell.render.tree import DictTree, GitTree, Link, Tree

__all__ = [
    "DEFAULT_LIMITS",
    "DictTree",
    "GitTree",
    "Limits",
    "Link",
    "RenderError",
    "RenderResult",
    "Renderer",
    "Tree",
    "detect",
    "is_affected",
    "render",
]

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


def render(
    tree: Tree,
    *,
    path: str,
    config: RenderConfig,
    limits: Limits = DEFAULT_LIMITS,
    inputs: set[str] | None = None,
) -> RenderResult:
    """Render the app at ``path`` (repository-relative) in ``tree``; raises ``RenderError``.

    ``inputs``, when given, collects the paths read as they are read: after a failure it
    says what the failed render depended on.
    """
    files = reader.Reader(tree, root=path, limits=limits)
    if inputs is not None:
        files.inputs = inputs
    app = files.root
    kind = config.type if config.type != "auto" else detect(files, app)
    match kind:
        case "plain":
            objects = plain.render(files, path=app, recurse=config.recurse)
        case "kustomize" if config.kustomize.binary != kustomizebin.BUILTIN:
            objects = kustomizebin.render(files, path=app, config=config)
        case "kustomize":
            objects = kustomize.render(files, path=app)
        case "jsonnet":
            objects = jsonnet.render(files, path=app, config=config)
        case "exec":
            objects = exec_renderer.render(files, path=app, config=config)
        case "helm":
            objects = helm.render(files, path=app, config=config)
    validate.validate(objects)
    return RenderResult(
        objects=[sourced.body for sourced in objects],
        renderer=kind,
        inputs=frozenset(files.inputs),
    )


def detect(files: reader.Reader, app: str) -> Renderer:
    """The renderer auto-detection picks for ``app`` (see the module docstring)."""
    what = files.kind(app)
    if what is None:
        raise RenderError("app path does not exist at this revision", file=app or ".")
    if what == "file":
        return "jsonnet" if app.endswith(".jsonnet") else "plain"
    names = files.list(app)
    if helm.CHART_FILE in names:
        return "helm"
    if any(name in names for name in KUSTOMIZATION_FILES):
        return "kustomize"
    if jsonnet.main_file(files, app) is not None:
        return "jsonnet"
    return "plain"


def is_affected(inputs: Iterable[str], changed: Iterable[str]) -> bool:
    """True when a changed repository path (from a tree diff) may change a render.

    A changed path matters when it is one of the inputs or lies beneath one of them (a
    file added to, removed from or changed in a directory the render listed). This may
    over-trigger for a non-recursive plain app (a new file in a subdirectory), never
    under-trigger. An input of ``""`` (the repository root) matches everything.
    """
    wanted = set(inputs)
    if "" in wanted:
        return any(True for _ in changed)
    for path in changed:
        current = path.strip("/")
        while current:
            if current in wanted:
                return True
            current = posixpath.dirname(current)
    return False
