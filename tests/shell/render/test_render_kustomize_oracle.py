"""Differential test: every Kustomize fixture tree, built by gitopsd and by ``kubectl kustomize``.

``kubectl`` embedding kustomize v5.5.0 must be on PATH: ``.ci/run`` checks that it is
(the machine image ships it; Debian's packages have no usable one). Objects are compared as sorted lists of canonical JSON, so order and
text layout do not matter; a case that kustomize refuses must be refused by gitopsd.
Cases where gitopsd intentionally differs are marked ``intentional`` in their
``_case.yaml`` with the reason, and checked to still differ.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from kustomizecases import CASES, DEPLOY_CASES, Case

from daemon.shell import render

KUBECTL = shutil.which("kubectl")


def canonical(objects: list[dict[str, Any]]) -> list[str]:
    """The objects as sorted canonical JSON texts."""
    return sorted(json.dumps(o, sort_keys=True) for o in objects)


def kubectl_build(directory: Path) -> list[dict[str, Any]] | str:
    """``kubectl kustomize DIRECTORY``: the objects, or the error text when it fails."""
    if KUBECTL is None:
        pytest.fail("kubectl with kustomize v5.5.0 is needed for this test: install kubectl")
    done = subprocess.run(
        [KUBECTL, "kustomize", str(directory)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        return done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d is not None]


def gitopsd_build(case: Case) -> list[dict[str, Any]] | str:
    """Gitopsd's objects, or its error message."""
    try:
        return case.render()
    except render.RenderError as exc:
        return str(exc)


def test_kubectl_is_kustomize_v5_5() -> None:
    """The oracle is the kustomize version the native renderer follows."""
    if KUBECTL is None:
        pytest.fail("kubectl with kustomize v5.5.0 is needed for this test: install kubectl")
    done = subprocess.run(
        [KUBECTL, "version", "--client"], capture_output=True, text=True, check=True
    )
    assert "Kustomize Version: v5.5.0" in done.stdout


def outcome(built: list[dict[str, Any]] | str) -> list[str] | str:
    """Comparable result of a build: sorted canonical objects, or "error"."""
    return "error" if isinstance(built, str) else canonical(built)


ALL = [*CASES, *DEPLOY_CASES]


@pytest.mark.parametrize("case", ALL, ids=[c.id for c in ALL])
def test_gitopsd_builds_what_kubectl_kustomize_builds(case: Case) -> None:
    """Both build the same objects, or both refuse the tree (intentional cases differ)."""
    theirs = kubectl_build(case.directory / case.path)
    ours = gitopsd_build(case)
    if case.intentional:
        assert outcome(ours) != outcome(theirs), case.intentional
    else:
        assert outcome(ours) == outcome(theirs), (ours, theirs)


def test_intentional_differences_are_listed_with_reasons() -> None:
    """Every case where gitopsd knowingly differs from kustomize says why."""
    assert {c.id: c.intentional for c in ALL if c.intentional} == {
        "intentional/duplicate_keys_in_kustomization": (
            "gitopsd refuses duplicate YAML keys; kustomize silently keeps the last one"
        ),
    }
