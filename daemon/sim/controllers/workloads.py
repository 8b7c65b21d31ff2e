"""Fake workload controllers: Deployment (with its ReplicaSets), ReplicaSet, StatefulSet, DaemonSet.

No pods exist; each controller replays the status sequence a real controller writes
during a rollout (KUBE_API.md §6.2), one step per ``Knobs.step`` seconds, through the
``/status`` subresource as ``kube-controller-manager``. A container image matching
``Knobs.broken_image`` never becomes ready: the rollout stalls after its first step and
a Deployment ends in ``Progressing=False/ProgressDeadlineExceeded``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from daemon.sim.controllers.base import Manager, copy_obj
from daemon.sim.resources import ResourceType
from daemon.sim.store import Change, EventType

JSON = dict[str, Any]
_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"
REVISION = "deployment.kubernetes.io/revision"


def template_hash(template: Any) -> str:
    """A pod-template-hash: FNV-1a 32 of the template, encoded as SafeEncodeString does."""
    h = 0x811C9DC5
    for byte in orjson.dumps(template, option=orjson.OPT_SORT_KEYS):
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return "".join(_ALPHANUMS[ord(c) % len(_ALPHANUMS)] for c in str(h))


def images(obj: JSON) -> list[str]:
    """Every container image of a workload's pod template."""
    pod = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    return [
        str(c.get("image", ""))
        for key in ("initContainers", "containers")
        for c in pod.get(key) or []
        if isinstance(c, dict)
    ]


def resolve(value: Any, total: int, *, round_up: bool) -> int:
    """An intstr (``25%`` or 1) against ``total``: surge rounds up, unavailable down."""
    if isinstance(value, str) and value.endswith("%"):
        share = total * int(value[:-1]) / 100
        return math.ceil(share) if round_up else math.floor(share)
    return int(value or 0)


def write_status(mgr: Manager, rt: ResourceType, obj: JSON, status: JSON) -> JSON:
    """Replace ``obj``'s status through ``/status``; the stored result."""
    new = copy_obj(obj)
    new["status"] = status
    meta = obj["metadata"]
    reply = mgr.api.update(
        rt,
        meta.get("namespace", ""),
        meta["name"],
        body=new,
        opts=mgr.options(),
        subresource="status",
    )
    return reply.body


def set_condition(conditions: list[JSON], cond: JSON) -> list[JSON]:
    """SetDeploymentCondition: same status and reason keep it; only a flip moves the transition."""
    current = next((c for c in conditions if c["type"] == cond["type"]), None)
    if (
        current is not None
        and current["status"] == cond["status"]
        and current.get("reason") == cond.get("reason")
    ):
        return conditions
    if current is not None and current["status"] == cond["status"]:
        cond = {**cond, "lastTransitionTime": current["lastTransitionTime"]}
    return [c for c in conditions if c["type"] != cond["type"]] + [cond]


def _omit_zero(status: JSON) -> JSON:
    return {k: v for k, v in status.items() if v not in (0, None, "", [], {})}


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
        """A Deployment whose generation is not observed yet needs a sync."""
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
        pod_hash = template_hash(spec.get("template") or {})
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
        broken = any(self.mgr.knobs.is_broken(img) for img in images(obj))
        rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
        surge = resolve(rolling.get("maxSurge", "25%"), replicas, round_up=True)
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
        unavailable = resolve(rolling.get("maxUnavailable", "25%"), replicas, round_up=False)
        now = self.mgr.api.now()
        status = dict(current.get("status") or {})
        conditions = list(status.get("conditions") or [])
        available = step.available >= replicas - unavailable
        conditions = set_condition(conditions, _cond("Available", available, now))
        if step.reason and "progressDeadlineSeconds" in spec:
            conditions = set_condition(conditions, _progress(step.reason, plan.rs_name, now))
        new_status = _omit_zero(
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
        write_status(self.mgr, rt, with_rev, new_status)

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
        write_status(
            self.mgr, rs_rt, new_rs, _rs_status(new_rs, step.updated, new_ready, new_avail)
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
                write_status(self.mgr, rs_rt, fresh, _rs_status(fresh, keep, ready, ready))
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
        status["conditions"] = set_condition(list(status.get("conditions") or []), cond)
        write_status(self.mgr, self._rt("deployments"), current, status)


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
    surge = resolve(
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


def _rs_status(rs: JSON, replicas: int, ready: int, available: int) -> JSON:
    out = _omit_zero(
        {
            "replicas": replicas,
            "fullyLabeledReplicas": replicas,
            "readyReplicas": ready,
            "availableReplicas": available,
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
    )
    out.setdefault("replicas", 0)
    return {"replicas": out.pop("replicas"), **out}


class StepController:
    """Writes a planned sequence of statuses, one per step, for each new generation."""

    name = ""
    group, plural = "apps", ""

    def __init__(self, mgr: Manager) -> None:
        self.mgr = mgr
        self.plans: dict[str, tuple[int, list[JSON]]] = {}

    @property
    def rid(self) -> str:
        """The resource this controller follows."""
        return f"{self.plural}.{self.group}"

    def wants(self, obj: JSON) -> bool:
        """Whether this controller manages ``obj`` (all by default)."""
        del obj
        return True

    def plan(self, obj: JSON) -> list[JSON]:
        """The statuses to write, in order, for the object's current generation."""
        raise NotImplementedError

    def observe(self, change: Change) -> list[tuple[float, str]]:
        """An object whose generation is not observed yet needs a sync."""
        if change.rid != self.rid:
            return []
        if change.type is EventType.DELETED:
            self.plans.pop(change.key, None)
            return []
        meta, status = change.obj["metadata"], change.obj.get("status") or {}
        if meta.get("deletionTimestamp") or not self.wants(change.obj):
            return []
        if status.get("observedGeneration") != meta.get("generation"):
            return [(self.mgr.knobs.step, change.key)]
        return []

    def sync(self, key: str) -> float | None:
        """Write the next planned status."""
        obj = self.mgr.api.store.get(self.rid, key)
        if obj is None or obj["metadata"].get("deletionTimestamp"):
            self.plans.pop(key, None)
            return None
        gen = obj["metadata"].get("generation", 1)
        planned = self.plans.get(key)
        if planned is None or planned[0] != gen:
            planned = (gen, self.plan(obj))
            self.plans[key] = planned
        steps = planned[1]
        if not steps:
            return None
        rt = self.mgr.api.catalog.find(self.group, "v1", self.plural)
        assert rt is not None
        write_status(self.mgr, rt, obj, steps.pop(0))
        return self.mgr.knobs.step if steps else None


class ReplicaSetController(StepController):
    """Status of ReplicaSets that no Deployment manages."""

    name = "replicaset"
    plural = "replicasets"

    def wants(self, obj: JSON) -> bool:
        """Only ReplicaSets without a controller owner."""
        return not any(r.get("controller") for r in obj["metadata"].get("ownerReferences") or [])

    def plan(self, obj: JSON) -> list[JSON]:
        """Pods created, then ready (never, for broken images)."""
        want = int((obj.get("spec") or {}).get("replicas", 1))
        ready = min(int((obj.get("status") or {}).get("readyReplicas", 0)), want)
        steps = [_rs_status(obj, want, ready, ready)]
        if not any(self.mgr.knobs.is_broken(img) for img in images(obj)) and ready < want:
            steps.append(_rs_status(obj, want, want, want))
        return steps


class StatefulSetController(StepController):
    """StatefulSet status: pods come up, or are updated one ordinal per step."""

    name = "statefulset"
    plural = "statefulsets"

    def plan(self, obj: JSON) -> list[JSON]:
        """The statuses of a create, a scale, a rolling update (with partition) or OnDelete."""
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        replicas = int(spec.get("replicas", 1))
        revision = f"{obj['metadata']['name']}-{template_hash(spec.get('template') or {})}"
        strategy = spec.get("updateStrategy") or {}
        partition = int((strategy.get("rollingUpdate") or {}).get("partition", 0))
        broken = any(self.mgr.knobs.is_broken(img) for img in images(obj))
        gen = obj["metadata"].get("generation", 1)
        old = status.get("currentRevision") or ""

        def st(ready: int, updated: int, current: int, current_rev: str) -> JSON:
            counts = (replicas, ready, updated, current)
            return _sts_status(gen, counts, current_rev=current_rev, update_rev=revision)

        if not status.get("updateRevision") or old == revision:
            prev = min(int(status.get("readyReplicas", 0)), replicas)
            steps = [st(prev, replicas, replicas, revision)]
            if not broken and prev < replicas:
                steps.append(st(replicas, replicas, replicas, revision))
            return steps
        if strategy.get("type") == "OnDelete":
            return [st(replicas, 0, replicas, old)]
        todo = max(replicas - partition, 0)
        steps = [st(replicas - 1, k, replicas - k, old) for k in range(1, todo + 1)]
        if broken:
            return steps[:1]
        if todo == replicas:
            steps.append(st(replicas, replicas, replicas, revision))
        else:
            steps.append(st(replicas, todo, replicas - todo, old))
        return steps


def _sts_status(
    gen: int, counts: tuple[int, int, int, int], *, current_rev: str, update_rev: str
) -> JSON:
    replicas, ready, updated, current = counts
    out: JSON = {"observedGeneration": gen, "replicas": replicas}
    out |= _omit_zero(
        {"readyReplicas": ready, "currentReplicas": current, "updatedReplicas": updated}
    )
    out |= {
        "currentRevision": current_rev,
        "updateRevision": update_rev,
        "collisionCount": 0,
        "availableReplicas": ready,
    }
    return out


class DaemonSetController(StepController):
    """DaemonSet status over ``Knobs.nodes`` nodes."""

    name = "daemonset"
    plural = "daemonsets"

    def plan(self, obj: JSON) -> list[JSON]:
        """Scheduled on every node, then ready (never, for broken images)."""
        nodes = self.mgr.knobs.nodes
        gen = obj["metadata"].get("generation", 1)
        fresh = not (obj.get("status") or {}).get("observedGeneration")
        first = 0 if fresh else max(nodes - 1, 0)
        steps = [_ds_status(gen, nodes, first)]
        if not any(self.mgr.knobs.is_broken(img) for img in images(obj)):
            steps.append(_ds_status(gen, nodes, nodes))
        return steps


def _ds_status(gen: int, nodes: int, ready: int) -> JSON:
    out: JSON = {
        "currentNumberScheduled": nodes,
        "numberMisscheduled": 0,
        "desiredNumberScheduled": nodes,
        "numberReady": ready,
        "observedGeneration": gen,
    }
    return out | _omit_zero(
        {
            "updatedNumberScheduled": nodes,
            "numberAvailable": ready,
            "numberUnavailable": nodes - ready,
        }
    )
