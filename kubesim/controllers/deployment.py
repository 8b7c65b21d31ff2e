"""The fake Deployment controller: ReplicaSets and the status sequence of §6.2.

Each new generation gets a plan of steps (replicas, updated, ready, available, reason)
that reproduces the KUBE_API.md §6.2 table for a rolling update (and the simpler
sequences of a create or a scale); each step scales the owned ReplicaSets and writes the
Deployment's status and revision annotation through ``/status``, as the real controller's
UpdateStatus does. An image matching ``Knobs.broken_image`` stops the plan after its
first step; ``progressDeadlineSeconds`` (or ``Knobs.progress_deadline``) later the
Progressing condition turns False with ``ProgressDeadlineExceeded``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from kubesim.controllers import common
from kubesim.controllers.base import Manager, copy_obj
from kubesim.resources import ResourceType
from kubesim.store import Change, EventType

JSON = dict[str, Any]
REVISION = "deployment.kubernetes.io/revision"


@dataclass(frozen=True, slots=True)
class Step:
    """One status a Deployment shows during a rollout."""

    replicas: int
    updated: int
    ready: int
    available: int
    reason: str


@dataclass(kw_only=True)
class Plan:
    """The remaining steps of one Deployment generation."""

    generation: int
    rs_name: str
    pod_hash: str
    steps: list[Step]
    broken: bool
    deadline: float  # monotonic time of ProgressDeadlineExceeded (broken only)
    old_rs: list[str] = field(default_factory=list)
    exceeded: bool = False


class DeploymentController:
    """Deployment status and ReplicaSets, stepped as in §6.2."""

    name = "deployment"
    rid = "deployments.apps"

    def __init__(self, mgr: Manager) -> None:
        self.mgr = mgr
        self.plans: dict[str, Plan] = {}

    def observe(self, change: Change) -> list[tuple[float, str]]:
        """A Deployment with an unobserved generation, or a rollout cut short, needs a sync."""
        if change.rid != self.rid:
            return []
        if change.type is EventType.DELETED:
            self.plans.pop(change.key, None)
            return []
        meta, status = change.obj["metadata"], change.obj.get("status") or {}
        if meta.get("deletionTimestamp"):
            return []
        if status.get("observedGeneration") != meta.get("generation"):
            return [(self.mgr.knobs.step, change.key)]
        if change.key not in self.plans and _unfinished(change.obj):
            return [(self.mgr.knobs.step, change.key)]
        return []

    def _rt(self, plural: str) -> ResourceType:
        rt = self.mgr.api.catalog.find("apps", "v1", plural)
        assert rt is not None
        return rt

    def sync(self, key: str) -> float | None:
        """Advance the rollout of one Deployment by one step."""
        obj = self.mgr.api.store.get(self.rid, key)
        if obj is None or obj["metadata"].get("deletionTimestamp"):
            self.plans.pop(key, None)
            return None
        plan = self.plans.get(key)
        if plan is None or plan.generation != obj["metadata"]["generation"]:
            plan = self._plan(obj)
            self.plans[key] = plan
        if plan.steps:
            step = plan.steps.pop(0)
            self._apply_step(obj, plan, step)
            if plan.steps:
                return self.mgr.knobs.step
            if plan.broken:
                return max(plan.deadline - time.monotonic(), 0.0)
            return None
        if plan.broken and not plan.exceeded:
            if time.monotonic() < plan.deadline:
                return plan.deadline - time.monotonic()
            plan.exceeded = True
            self._exceed(obj, plan)
        return None

    def _plan(self, obj: JSON) -> Plan:
        spec = obj.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        pod_hash = common.template_hash(spec.get("template") or {})
        name = obj["metadata"]["name"]
        rs_name = f"{name}-{pod_hash}"
        ns = obj["metadata"].get("namespace", "")
        owned = self._owned_rs(obj)
        old = [
            rs
            for rs in owned
            if rs["metadata"]["name"] != rs_name and (rs.get("spec") or {}).get("replicas")
        ]
        status = obj.get("status") or {}
        broken = any(self.mgr.knobs.is_broken(img) for img in common.images(obj))
        rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
        surge = common.resolve(rolling.get("maxSurge", "25%"), replicas, round_up=True)
        if spec.get("paused"):
            steps: list[Step] = []
        elif self.mgr.api.store.get("replicasets.apps", f"{ns}/{rs_name}") is not None and not old:
            ready = min(int(status.get("readyReplicas", 0)), replicas)
            steps = [
                Step(replicas, replicas, ready, ready, "ReplicaSetUpdated"),
                Step(replicas, replicas, replicas, replicas, "NewReplicaSetAvailable"),
            ]
            if ready >= replicas:
                steps = steps[1:]
        elif not old:
            steps = [
                Step(replicas, replicas, 0, 0, "NewReplicaSetCreated"),
                Step(replicas, replicas, replicas, replicas, "NewReplicaSetAvailable"),
            ]
        else:
            first = min(max(surge, 1), replicas)
            steps = [
                Step(replicas + surge, first, replicas, replicas, "ReplicaSetUpdated"),
                Step(replicas + surge, replicas, replicas, replicas, "ReplicaSetUpdated"),
                Step(replicas, replicas, replicas - 1, replicas - 1, "ReplicaSetUpdated"),
                Step(replicas, replicas, replicas, replicas, "NewReplicaSetAvailable"),
            ]
            if surge == 0:
                steps = [
                    Step(replicas, 1, replicas - 1, replicas - 1, "ReplicaSetUpdated"),
                    *steps[2:],
                ]
        if replicas == 0 and not spec.get("paused"):
            steps = [Step(0, 0, 0, 0, "NewReplicaSetAvailable")]
        if broken and steps:
            steps = steps[:1]
        deadline_s = self.mgr.knobs.progress_deadline
        if deadline_s is None:
            deadline_s = float(spec.get("progressDeadlineSeconds", 600))
        return Plan(
            generation=obj["metadata"]["generation"],
            rs_name=rs_name,
            pod_hash=pod_hash,
            steps=steps or [Step(*self._current(status), "")],
            broken=broken,
            deadline=time.monotonic() + self.mgr.knobs.step + deadline_s,
            old_rs=[rs["metadata"]["name"] for rs in old],
        )

    def _current(self, status: JSON) -> tuple[int, int, int, int]:
        return (
            int(status.get("replicas", 0)),
            int(status.get("updatedReplicas", 0)),
            int(status.get("readyReplicas", 0)),
            int(status.get("availableReplicas", 0)),
        )

    def _owned_rs(self, obj: JSON) -> list[JSON]:
        uid = obj["metadata"]["uid"]
        prefix = obj["metadata"].get("namespace", "") + "/"
        return [
            rs
            for key, rs in sorted(self.mgr.api.store.items("replicasets.apps").items())
            if key.startswith(prefix)
            and any(r.get("uid") == uid for r in rs["metadata"].get("ownerReferences") or [])
        ]

    def _apply_step(self, obj: JSON, plan: Plan, step: Step) -> None:
        revision = self._sync_replica_sets(obj, plan, step)
        rt = self._rt("deployments")
        current = self.mgr.api.store.get(self.rid, _key(obj))
        assert current is not None
        spec = current.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
        unavailable = common.resolve(rolling.get("maxUnavailable", "25%"), replicas, round_up=False)
        now = self.mgr.api.now()
        status = dict(current.get("status") or {})
        conditions = list(status.get("conditions") or [])
        available = step.available >= replicas - unavailable
        conditions = common.set_condition(conditions, _cond("Available", available, now))
        if step.reason and "progressDeadlineSeconds" in spec:
            conditions = common.set_condition(conditions, _progress(step.reason, plan.rs_name, now))
        new_status = common.omit_zero(
            {
                "observedGeneration": plan.generation,
                "replicas": step.replicas,
                "updatedReplicas": step.updated,
                "readyReplicas": step.ready,
                "availableReplicas": step.available,
                "unavailableReplicas": max(step.replicas - step.available, 0),
            }
        )
        new_status["conditions"] = conditions
        with_rev = copy_obj(current)
        with_rev["metadata"].setdefault("annotations", {})[REVISION] = str(revision)
        common.write_status(self.mgr, rt, with_rev, new_status)

    def _sync_replica_sets(self, obj: JSON, plan: Plan, step: Step) -> int:
        """Create or scale the new ReplicaSet and scale old ones; the new one's revision."""
        rs_rt = self._rt("replicasets")
        ns = obj["metadata"].get("namespace", "")
        owned = self._owned_rs(obj)
        revisions = [
            int((rs["metadata"].get("annotations") or {}).get(REVISION, "0")) for rs in owned
        ]
        new_rs = self.mgr.api.store.get("replicasets.apps", f"{ns}/{plan.rs_name}")
        if new_rs is None:
            revision = max(revisions, default=0) + 1
            self.mgr.api.create(
                rs_rt, ns, _replica_set(obj, plan, step, revision), self.mgr.options()
            )
        else:
            revision = int((new_rs["metadata"].get("annotations") or {}).get(REVISION, "1"))
            self._scale(rs_rt, new_rs, step.updated)
        new_rs = self.mgr.api.store.get("replicasets.apps", f"{ns}/{plan.rs_name}")
        assert new_rs is not None
        new_ready = max(step.ready - (step.replicas - step.updated), 0)
        new_avail = max(step.available - (step.replicas - step.updated), 0)
        common.write_status(
            self.mgr, rs_rt, new_rs, common.rs_status(new_rs, step.updated, new_ready, new_avail)
        )
        old_total = step.replicas - step.updated
        for rs in owned:
            if rs["metadata"]["name"] == plan.rs_name:
                continue
            keep = old_total if rs["metadata"]["name"] in plan.old_rs[:1] else 0
            ready = min(keep, step.ready)
            self._scale(rs_rt, rs, keep)
            fresh = self.mgr.api.store.get("replicasets.apps", _key(rs))
            if fresh is not None:
                common.write_status(
                    self.mgr, rs_rt, fresh, common.rs_status(fresh, keep, ready, ready)
                )
        return revision

    def _scale(self, rt: ResourceType, rs: JSON, replicas: int) -> None:
        if (rs.get("spec") or {}).get("replicas") == replicas:
            return
        new = copy_obj(rs)
        new["spec"]["replicas"] = replicas
        meta = rs["metadata"]
        self.mgr.api.update(rt, meta["namespace"], meta["name"], body=new, opts=self.mgr.options())

    def _exceed(self, obj: JSON, plan: Plan) -> None:
        current = self.mgr.api.store.get(self.rid, _key(obj))
        if current is None:
            return
        now = self.mgr.api.now()
        status = dict(current.get("status") or {})
        cond = {
            "type": "Progressing",
            "status": "False",
            "lastUpdateTime": now,
            "lastTransitionTime": now,
            "reason": "ProgressDeadlineExceeded",
            "message": f'ReplicaSet "{plan.rs_name}" has timed out progressing.',
        }
        status["conditions"] = common.set_condition(list(status.get("conditions") or []), cond)
        common.write_status(self.mgr, self._rt("deployments"), current, status)


def _unfinished(obj: JSON) -> bool:
    """Whether a Deployment's status shows a rollout that has not finished or failed."""
    status = obj.get("status") or {}
    reasons = {c.get("type"): c.get("reason") for c in status.get("conditions") or []}
    if reasons.get("Progressing") in ("NewReplicaSetAvailable", "ProgressDeadlineExceeded"):
        return False
    return bool(status.get("observedGeneration"))


def _key(obj: JSON) -> str:
    meta = obj["metadata"]
    return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]


def _cond(type_: str, ok: bool, now: str) -> JSON:
    if ok:
        reason, message = "MinimumReplicasAvailable", "Deployment has minimum availability."
    else:
        reason, message = (
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
        )
    return {
        "type": type_,
        "status": "True" if ok else "False",
        "lastUpdateTime": now,
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    }


def _progress(reason: str, rs_name: str, now: str) -> JSON:
    messages = {
        "NewReplicaSetCreated": f'Created new replica set "{rs_name}"',
        "FoundNewReplicaSet": f'Found new replica set "{rs_name}"',
        "ReplicaSetUpdated": f'ReplicaSet "{rs_name}" is progressing.',
        "NewReplicaSetAvailable": f'ReplicaSet "{rs_name}" has successfully progressed.',
    }
    return {
        "type": "Progressing",
        "status": "True",
        "lastUpdateTime": now,
        "lastTransitionTime": now,
        "reason": reason,
        "message": messages[reason],
    }


def _replica_set(dep: JSON, plan: Plan, step: Step, revision: int) -> JSON:
    spec = dep.get("spec") or {}
    template = copy_obj(spec.get("template") or {})
    tmeta = template.setdefault("metadata", {})
    tmeta["labels"] = {**(tmeta.get("labels") or {}), "pod-template-hash": plan.pod_hash}
    selector = copy_obj(spec.get("selector") or {})
    selector["matchLabels"] = {
        **(selector.get("matchLabels") or {}),
        "pod-template-hash": plan.pod_hash,
    }
    replicas = int(spec.get("replicas", 1))
    surge = common.resolve(
        ((spec.get("strategy") or {}).get("rollingUpdate") or {}).get("maxSurge", "25%"),
        replicas,
        round_up=True,
    )
    meta = dep["metadata"]
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": plan.rs_name,
            "namespace": meta.get("namespace", ""),
            "labels": tmeta["labels"],
            "annotations": {
                "deployment.kubernetes.io/desired-replicas": str(replicas),
                "deployment.kubernetes.io/max-replicas": str(replicas + surge),
                REVISION: str(revision),
            },
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "replicas": step.updated,
            "minReadySeconds": spec.get("minReadySeconds", 0),
            "selector": selector,
            "template": template,
        },
    }
