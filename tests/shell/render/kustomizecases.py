"""Kustomize fixture trees shared by the case tests and the kubectl oracle test.

Each directory under ``kustomize_cases/<group>/<name>/`` holding a ``_case.yaml`` is
one case: the other files are the repository tree, ``_case.yaml`` says which path to
build (``path``), where the inputs come from (``source``), and whether the build
yields objects (``_expected.yaml``, what ``kubectl kustomize`` v5.5 prints) or fails
(``error``: text gitopsd's message must contain). ``intentional`` marks a case where
gitopsd knowingly differs from kustomize, with the reason.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

from daemon.shell import render
from daemon.shell.render import kustomize, reader

ROOT = Path(__file__).parent / "kustomize_cases"


@dataclasses.dataclass(frozen=True)
class Case:
    """One fixture tree."""

    id: str
    directory: Path
    path: str
    source: str
    error: str | None
    intentional: str | None

    def files(self) -> dict[str, bytes]:
        """The tree, as repository path -> content (the case's own files left out)."""
        return {
            str(p.relative_to(self.directory)): p.read_bytes()
            for p in sorted(self.directory.rglob("*"))
            if p.is_file() and not p.name.startswith("_")
        }

    def expected(self) -> list[dict[str, Any]]:
        """The objects ``kubectl kustomize`` printed for this case."""
        text = (self.directory / "_expected.yaml").read_text()
        return [d for d in yaml.safe_load_all(text) if d is not None]

    def tree(self) -> render.DictTree:
        """The files as an in-memory tree."""
        return render.DictTree(self.files())

    def render(self) -> list[dict[str, Any]]:
        """The objects gitopsd's native Kustomize builds (before gitopsd's own validation).

        Validation (DNS names and the like) is left out: kustomize's tests use names
        such as ``myService`` that a cluster would refuse but kustomize builds.
        """
        files = reader.Reader(self.tree(), root=self.path, limits=render.DEFAULT_LIMITS)
        return [s.body for s in kustomize.render(files, path=files.root)]


def load_all() -> list[Case]:
    """Every case, sorted by id."""
    cases = []
    for marker in sorted(ROOT.rglob("_case.yaml")):
        meta = yaml.safe_load(marker.read_text())
        cases.append(
            Case(
                id=str(marker.parent.relative_to(ROOT)),
                directory=marker.parent,
                path=meta.get("path") or "",
                source=meta["source"],
                error=meta.get("error"),
                intentional=meta.get("intentional"),
            )
        )
    return cases


REPOSITORY = Path(__file__).parents[3]
DEPLOY_CASES = [
    Case(
        id=f"deploy/{variant}",
        directory=REPOSITORY / "deploy",
        path=variant,
        source="gitopsd's own deploy/ manifests",
        error=None,
        intentional=None,
    )
    for variant in ("cluster", "namespaced")
]
"""The repository's own kustomizations (checked by the oracle test only)."""

CASES = load_all()
