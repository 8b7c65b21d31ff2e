"""Helm hook annotations placed in sync phases, waves and delete policies as Argo CD maps them."""

from __future__ import annotations

import pytest

from daemon.core import ordering
from daemon.core.ordering import Phase, Placement


def job(**annotations: str) -> dict[str, object]:
    return {"kind": "Job", "metadata": {"name": "j", "annotations": annotations}}


HOOK = "helm.sh/hook"
WEIGHT = "helm.sh/hook-weight"
DELETE = "helm.sh/hook-delete-policy"

CASES = [
    ({HOOK: "pre-install"}, Placement(Phase.PRE_SYNC, 0)),
    ({HOOK: "pre-upgrade"}, Placement(Phase.PRE_SYNC, 0)),
    ({HOOK: "post-install"}, Placement(Phase.POST_SYNC, 0)),
    ({HOOK: "post-upgrade"}, Placement(Phase.POST_SYNC, 0)),
    ({HOOK: "pre-install, post-install"}, Placement(Phase.PRE_SYNC, 0)),
    ({HOOK: "pre-delete,post-upgrade"}, Placement(Phase.POST_SYNC, 0)),
    ({HOOK: "pre-delete"}, Placement(Phase.SKIP, 0)),
    ({HOOK: "post-delete"}, Placement(Phase.SKIP, 0)),
    ({HOOK: "pre-rollback"}, Placement(Phase.SKIP, 0)),
    ({HOOK: "post-rollback"}, Placement(Phase.SKIP, 0)),
    ({HOOK: "test"}, Placement(Phase.SKIP, 0)),
    ({HOOK: "test-success"}, Placement(Phase.SKIP, 0)),
    ({HOOK: "test-failure"}, Placement(Phase.SKIP, 0)),
    ({HOOK: "no-such-event"}, Placement(Phase.SKIP, 0)),
    ({HOOK: ""}, Placement(Phase.SKIP, 0)),
    ({HOOK: "crd-install"}, Placement(Phase.SYNC, 0)),
    ({HOOK: "pre-install", WEIGHT: "-5"}, Placement(Phase.PRE_SYNC, -5)),
    ({WEIGHT: " 3 "}, Placement(Phase.SYNC, 3)),
    (
        {HOOK: "pre-install", DELETE: "before-hook-creation,hook-succeeded"},
        Placement(Phase.PRE_SYNC, 0, ("BeforeHookCreation", "HookSucceeded")),
    ),
    ({HOOK: "post-install", DELETE: "hook-failed"}, Placement(Phase.POST_SYNC, 0, ("HookFailed",))),
    ({HOOK: "post-install", DELETE: "keep-forever"}, Placement(Phase.POST_SYNC, 0)),
    # gitopsd's and Argo CD's own annotations win over Helm's, each on its own axis.
    (
        {HOOK: "pre-install", "argocd.argoproj.io/hook": "PostSync"},
        Placement(Phase.POST_SYNC, 0, hook=True),
    ),
    ({HOOK: "pre-delete", "gitopsd.io/hook": "Sync"}, Placement(Phase.SYNC, 0, hook=True)),
    ({WEIGHT: "5", "gitopsd.io/sync-wave": "1"}, Placement(Phase.SYNC, 1)),
    (
        {
            HOOK: "pre-install",
            DELETE: "hook-failed",
            "gitopsd.io/hook-delete-policy": "HookSucceeded",
        },
        Placement(Phase.PRE_SYNC, 0, ("HookSucceeded",)),
    ),
]


@pytest.mark.parametrize(("annotations", "expected"), CASES)
def test_helm_annotations_place_objects(annotations: dict[str, str], expected: Placement) -> None:
    """Each Helm annotation (alone or beside gitopsd/Argo ones) maps as the table says."""
    assert ordering.placement(job(**annotations)) == expected


def test_a_non_integer_hook_weight_is_an_annotation_error() -> None:
    """A hook weight that is not an integer is refused naming the annotation."""
    with pytest.raises(ordering.AnnotationError) as err:
        ordering.placement(job(**{WEIGHT: "soon"}))
    assert str(err.value) == "helm.sh/hook-weight 'soon' is not an integer"
