"""The order objects are applied in: stage, phase, wave, kind, name.

* Stage 0: Namespaces and CustomResourceDefinitions, before anything else (everything
  else may live in them or be one of their resources; Flux's staged apply does this).
* Phases: ``PreSync`` hooks, then ``Sync`` (ordinary objects), then ``PostSync``
  hooks; ``SyncFail`` hooks only run when a sync fails. Hooks are declared with
  ``gitopsd.io/hook`` or, for teams migrating from Argo CD, ``argocd.argoproj.io/hook``
  (``Skip`` leaves the object out of syncs). ``Placement.is_hook`` says whether an object
  is a hook at all (a ``Sync`` hook shares its phase with ordinary objects); only hooks
  may be named by ``generateName``, and ``delete_policies`` gives their delete policy.
* Waves: ``gitopsd.io/sync-wave`` (or ``argocd.argoproj.io/sync-wave``), an integer,
  default 0, lower first; each wave is healthy before the next starts.
* Helm's hook annotations count when an object has no gitopsd/Argo CD hook annotation,
  mapped as Argo CD maps them (gitops-engine's ``hook/helm``): ``helm.sh/hook``
  ``pre-install``/``pre-upgrade`` -> PreSync, ``post-install``/``post-upgrade`` ->
  PostSync, ``crd-install`` -> an ordinary object; any other event (``pre-delete``,
  ``post-delete``, ``pre-rollback``, ``post-rollback``, ``test``...) has no sync
  phase, so an object naming only those is skipped. ``helm.sh/hook-weight`` is the
  wave when no sync-wave annotation is set; ``helm.sh/hook-delete-policy``
  ``before-hook-creation``/``hook-succeeded``/``hook-failed`` map to
  BeforeHookCreation/HookSucceeded/HookFailed when no gitopsd/Argo policy is set.
* Kind order within a wave: Helm's install order, which gitops-engine uses too
  (RBAC and config before services, services before workloads, ingress last).
* Prunes run last, in the reverse of this order.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any

from daemon.core import kinds

WAVE_ANNOTATIONS = ("gitopsd.io/sync-wave", "argocd.argoproj.io/sync-wave")
HOOK_ANNOTATIONS = ("gitopsd.io/hook", "argocd.argoproj.io/hook")
HOOK_DELETE_ANNOTATIONS = ("gitopsd.io/hook-delete-policy", "argocd.argoproj.io/hook-delete-policy")
HELM_HOOK = "helm.sh/hook"
HELM_WEIGHT = "helm.sh/hook-weight"
HELM_DELETE_POLICY = "helm.sh/hook-delete-policy"
BEFORE_HOOK_CREATION = "BeforeHookCreation"
HOOK_SUCCEEDED = "HookSucceeded"
HOOK_FAILED = "HookFailed"


class Phase(enum.StrEnum):
    """When in a sync an object is applied."""

    PRE_SYNC = "PreSync"
    SYNC = "Sync"
    POST_SYNC = "PostSync"
    SYNC_FAIL = "SyncFail"
    SKIP = "Skip"


PHASE_ORDER = {Phase.PRE_SYNC: 0, Phase.SYNC: 1, Phase.POST_SYNC: 2, Phase.SYNC_FAIL: 3}

_UNKNOWN_KIND = len(kinds.KIND_ORDER)

HELM_PHASES: dict[str, Phase] = {
    "pre-install": Phase.PRE_SYNC,
    "pre-upgrade": Phase.PRE_SYNC,
    "post-install": Phase.POST_SYNC,
    "post-upgrade": Phase.POST_SYNC,
}
HELM_NOT_HOOKS = frozenset({"crd-install"})
"""Helm 2's CRD hook: Argo CD treats such an object as an ordinary one."""
HELM_DELETE_POLICIES = {
    "before-hook-creation": BEFORE_HOOK_CREATION,
    "hook-succeeded": HOOK_SUCCEEDED,
    "hook-failed": HOOK_FAILED,
}


class AnnotationError(ValueError):
    """A sync annotation has a value gitopsd cannot use."""


@dataclasses.dataclass(frozen=True, slots=True)
class Placement:
    """Where an object sits in a sync."""

    phase: Phase
    wave: int
    hook_delete: tuple[str, ...] = ()
    hook: bool = False
    """Declared with a hook annotation (``Sync`` included)."""

    @property
    def is_hook(self) -> bool:
        """A hook: declared as one, or placed in a hook phase (by any annotation)."""
        return self.hook or self.phase is not Phase.SYNC


def placement(obj: Mapping[str, Any]) -> Placement:
    """Phase, wave and hook delete policy from an object's annotations."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    phase = Phase.SYNC
    hook = _first(annotations, HOOK_ANNOTATIONS)
    if hook is not None:
        # Argo CD allows a comma-separated list; the first known phase wins.
        known = [Phase(h) for h in _csv(hook) if h in Phase.__members__.values()]
        if not known:
            raise AnnotationError(
                f"hook annotation {hook!r}: use PreSync, Sync, PostSync, SyncFail or Skip"
            )
        phase = known[0]
    elif HELM_HOOK in annotations:
        phase = helm_phase(str(annotations[HELM_HOOK]))
    wave_text = _first(annotations, WAVE_ANNOTATIONS)
    name = "sync-wave"
    if wave_text is None and HELM_WEIGHT in annotations:
        wave_text, name = annotations[HELM_WEIGHT], HELM_WEIGHT
    wave = 0
    if wave_text is not None:
        try:
            wave = int(str(wave_text).strip())
        except ValueError:
            raise AnnotationError(f"{name} {wave_text!r} is not an integer") from None
    delete = _first(annotations, HOOK_DELETE_ANNOTATIONS)
    if delete is not None:
        policies = tuple(_csv(delete))
    else:
        helm = _csv(annotations.get(HELM_DELETE_POLICY, ""))
        policies = tuple(HELM_DELETE_POLICIES[p] for p in helm if p in HELM_DELETE_POLICIES)
    return Placement(phase=phase, wave=wave, hook_delete=policies, hook=hook is not None)


def helm_phase(hook: str) -> Phase:
    """The phase of a ``helm.sh/hook`` value: the first event with one, else Skip."""
    events = _csv(hook)
    for event in events:
        if event in HELM_PHASES:
            return HELM_PHASES[event]
    if events and all(event in HELM_NOT_HOOKS for event in events):
        return Phase.SYNC
    return Phase.SKIP


def _csv(value: Any) -> list[str]:
    return [part.strip() for part in str(value).split(",") if part.strip()]


def stage(kind: str) -> int:
    """0 for Namespaces and CRDs (applied first), 1 for everything else."""
    return 0 if kind in kinds.STAGE_ZERO else 1


def sort_key(*, kind: str, name: str, namespace: str, phase: Phase, wave: int) -> tuple[Any, ...]:
    """The apply order of one object."""
    return (
        stage(kind),
        PHASE_ORDER.get(phase, 1),
        wave,
        kinds.KIND_ORDER.get(kind, _UNKNOWN_KIND),
        kind,
        namespace,
        name,
    )


def _first(annotations: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        if name in annotations:
            return annotations[name]
    return None


def delete_policies(place: Placement, *, generated: bool) -> tuple[str, ...]:
    """When a hook is deleted: its ``hook-delete-policy``, else a default.

    A hook named by ``generateName`` without a policy gets ``BeforeHookCreation``, as
    Argo CD assumes for every hook without one: each sync's instance replaces the last
    one instead of piling up. A named hook without a policy is left alone (it is applied
    like any object, so it cannot pile up).
    """
    if place.hook_delete or not generated:
        return place.hook_delete
    return (BEFORE_HOOK_CREATION,)
