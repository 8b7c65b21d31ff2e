"""Native Kustomize against transcribed kustomize test cases (``kustomizecases``).

Inputs are transcribed from kustomize's own krusty tests (replacements, vars,
configurations) and from gitopsd's own cases; the expected objects are what
``kubectl kustomize`` (kustomize v5.5.0) printed for the same tree.
"""

from __future__ import annotations

import pytest
from kustomizecases import CASES, Case

from daemon.shell import render

OBJECT_CASES = [c for c in CASES if c.error is None]
ERROR_CASES = [c for c in CASES if c.error is not None]


@pytest.mark.parametrize("case", OBJECT_CASES, ids=[c.id for c in OBJECT_CASES])
def test_case_renders_what_kustomize_prints(case: Case) -> None:
    """The case's tree renders to exactly the objects kustomize printed, in its order."""
    assert case.render() == case.expected()


@pytest.mark.parametrize("case", ERROR_CASES, ids=[c.id for c in ERROR_CASES])
def test_case_fails_as_kustomize_does(case: Case) -> None:
    """The case's tree fails with a message carrying kustomize's meaning."""
    with pytest.raises(render.RenderError) as caught:
        case.render()
    assert case.error is not None
    assert case.error in str(caught.value)
