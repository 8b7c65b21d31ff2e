"""Fake workload controllers: ReplicaSet, StatefulSet, DaemonSet (KUBE_API.md §6).

No pods exist; each controller writes, one step per ``Knobs.step`` seconds, the status
sequence a real controller reports for the object's current generation, through
``/status`` as ``kube-controller-manager``. Images matching ``Knobs.broken_image`` never
become ready. The Deployment controller is in ``deployment``.
"""

from __future__ import annotations

import abc
from typing import Any

from kubesim.controllers import common
from kubesim.controllers.base import Manager
from kubesim.store import Change, EventType

JSON = dict[str, Any]


class StepController(abc.ABC):
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

    @abc.abstractmethod
    def plan(self, obj: JSON) -> list[JSON]:
        """The statuses to write, in order, for the object's current generation."""

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
        common.write_status(self.mgr, rt, obj, steps.pop(0))
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
        steps = [common.rs_status(obj, want, ready, ready)]
        if not any(self.mgr.knobs.is_broken(img) for img in common.images(obj)) and ready < want:
            steps.append(common.rs_status(obj, want, want, want))
        return steps


class StatefulSetController(StepController):
    """StatefulSet status: pods come up, or are updated one ordinal per step."""

    name = "statefulset"
    plural = "statefulsets"

    def plan(self, obj: JSON) -> list[JSON]:
        """The statuses of a create, a scale, a rolling update (with partition) or OnDelete."""
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        replicas = int(spec.get("replicas", 1))
        revision = f"{obj['metadata']['name']}-{common.template_hash(spec.get('template') or {})}"
        strategy = spec.get("updateStrategy") or {}
        partition = int((strategy.get("rollingUpdate") or {}).get("partition", 0))
        broken = any(self.mgr.knobs.is_broken(img) for img in common.images(obj))
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
    out |= common.omit_zero(
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
        if not any(self.mgr.knobs.is_broken(img) for img in common.images(obj)):
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
    return out | common.omit_zero(
        {
            "updatedNumberScheduled": nodes,
            "numberAvailable": ready,
            "numberUnavailable": nodes - ready,
        }
    )
