"""gaps.only_gaps: a plan whose every update the server already holds is a normalization gap."""

from __future__ import annotations

import pytest

from daemon.core import gaps, plan
from daemon.core.events import PlanStep, StepAction
from daemon.core.state import LiveObject, TargetState

A = "apps/Deployment/web/a"
B = "/ConfigMap/web/b"
HOOK = "batch/Job/web/migrate"


def update(key: str, digest: str = "d") -> PlanStep:
    return PlanStep(key=key, action=StepAction.UPDATE, digest=digest)


def target() -> TargetState:
    """A target where gitopsd applied A and B with digest d, answered at resourceVersion 5."""
    return TargetState(
        name="c1",
        inventory={A: "d", B: "d"},
        applied_versions={A: "5", B: "5"},
    )


def live(**versions: str) -> dict[str, LiveObject]:
    found = {A: "5", B: "5"} | {({"a": A, "b": B})[k]: v for k, v in versions.items()}
    return {k: LiveObject(uid=k, resource_version=v, digest="other") for k, v in found.items()}


@pytest.mark.parametrize(
    ("steps", "hooks", "observed", "expected"),
    [
        pytest.param((update(B), update(A)), (), live(), (B, A), id="all-gaps-sorted"),
        pytest.param(
            (
                update(A),
                PlanStep(key=B, action=StepAction.UNCHANGED),
                PlanStep(key="/Secret/web/s", action=StepAction.KEEP, phase="Prune"),
            ),
            (),
            live(),
            (A,),
            id="unchanged-and-kept-ignored",
        ),
        pytest.param(
            (update(A), PlanStep(key=HOOK, action=StepAction.CREATE)),
            (HOOK,),
            live(),
            (A,),
            id="hooks-ignored",
        ),
        pytest.param(
            (PlanStep(key=B, action=StepAction.UNCHANGED),), (), live(), (), id="no-changes"
        ),
        pytest.param(
            (update(A), PlanStep(key="/ConfigMap/web/new", action=StepAction.CREATE, digest="n")),
            (),
            live(),
            (),
            id="a-create",
        ),
        pytest.param(
            (update(A), PlanStep(key=B, action=StepAction.PRUNE, phase="Prune")),
            (),
            live(),
            (),
            id="a-prune",
        ),
        pytest.param(
            (update(A), PlanStep(key=B, action=StepAction.REFUSED, reason="denied")),
            (),
            live(),
            (),
            id="a-refusal",
        ),
        pytest.param((update(A), update(B, "e")), (), live(), (), id="new-body"),
        pytest.param((update(A), update(B)), (), live(b="6"), (), id="changed-since-apply"),
        pytest.param((update(A), update(B)), (), {A: live()[A]}, (), id="not-observed"),
        pytest.param(
            (update(A), update("/ConfigMap/web/adopted")),
            (),
            {
                **live(),
                "/ConfigMap/web/adopted": LiveObject(uid="x", resource_version="5", digest="o"),
            },
            (),
            id="not-in-inventory",
        ),
    ],
)
def test_only_gaps(
    steps: tuple[PlanStep, ...],
    hooks: tuple[str, ...],
    observed: dict[str, LiveObject],
    expected: tuple[str, ...],
) -> None:
    """Keys are named only when every non-hook change is an update gitopsd already applied."""
    got = gaps.only_gaps(plan.Plan(steps=steps, hooks=frozenset(hooks)), target(), observed)
    assert got == expected
