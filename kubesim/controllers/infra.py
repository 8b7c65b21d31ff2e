"""Fake controllers for Jobs, volume claims, load balancers and ingresses (KUBE_API.md §6.3).

* ``job``: a Job starts (``active``), then after ``Knobs.job_duration`` completes with
  ``SuccessCriteriaMet`` and ``Complete``, or, when an image matches the broken pattern,
  fails with ``FailureTarget`` and ``Failed`` (``BackoffLimitExceeded``); a suspended Job
  shows ``Suspended``.
* ``pvc``: binds every claim (``spec.volumeName``, phase ``Bound``, capacity) and lifts
  the ``kubernetes.io/pvc-protection`` finalizer of deleted claims.
* ``service``: gives ``type: LoadBalancer`` Services an ingress IP.
* ``ingress``: gives Ingresses a load-balancer IP.
"""

from __future__ import annotations

from typing import Any

from kubesim.controllers import common
from kubesim.controllers.base import Manager, copy_obj
from kubesim.resources import ResourceType
from kubesim.store import Change, EventType

JSON = dict[str, Any]
PVC_PROTECTION = "kubernetes.io/pvc-protection"
LB_CLEANUP = "service.kubernetes.io/load-balancer-cleanup"


def _rt(mgr: Manager, group: str, version: str, plural: str) -> ResourceType:
    rt = mgr.api.catalog.find(group, version, plural)
    assert rt is not None
    return rt


def _condition(type_: str, reason: str, message: str, now: str) -> JSON:
    return {
        "type": type_,
        "status": "True",
        "lastProbeTime": now,
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    }


class JobController:
    """Runs Jobs to completion or failure."""

    name = "job"
    rid = "jobs.batch"

    def __init__(self, mgr: Manager) -> None:
        self.mgr = mgr

    def observe(self, change: Change) -> list[tuple[float, str]]:
        """A Job that has not finished (or whose suspension changed) needs a sync."""
        if change.rid != self.rid or change.type is EventType.DELETED:
            return []
        obj = change.obj
        if obj["metadata"].get("deletionTimestamp") or _finished(obj):
            return []
        status = obj.get("status") or {}
        suspended = bool((obj.get("spec") or {}).get("suspend"))
        if suspended != _has(status, "Suspended") or (not suspended and "startTime" not in status):
            return [(self.mgr.knobs.step, change.key)]
        return []

    def sync(self, key: str) -> float | None:
        """Start, suspend, or finish the Job."""
        job = self.mgr.api.store.get(self.rid, key)
        if job is None or job["metadata"].get("deletionTimestamp") or _finished(job):
            return None
        rt = _rt(self.mgr, "batch", "v1", "jobs")
        spec, status = job.get("spec") or {}, dict(job.get("status") or {})
        now = self.mgr.api.now()
        if spec.get("suspend"):
            status.pop("active", None)
            status["conditions"] = [_condition("Suspended", "JobSuspended", "Job suspended", now)]
            common.write_status(self.mgr, rt, job, status)
            return None
        if "startTime" not in status or _has(status, "Suspended"):
            status = {
                "startTime": now,
                "active": int(spec.get("parallelism", 1)),
                "terminating": 0,
                "uncountedTerminatedPods": {},
                "ready": 0,
            }
            common.write_status(self.mgr, rt, job, status)
            duration = self.mgr.knobs.job_duration
            return 2 * self.mgr.knobs.step if duration is None else duration
        status.pop("active", None)
        if any(self.mgr.knobs.is_broken(img) for img in common.images(job)):
            status["failed"] = int(spec.get("backoffLimit", 6)) + 1
            message = "Job has reached the specified backoff limit"
            status["conditions"] = [
                _condition("FailureTarget", "BackoffLimitExceeded", message, now),
                _condition("Failed", "BackoffLimitExceeded", message, now),
            ]
        else:
            status["succeeded"] = int(spec.get("completions", 1))
            status["completionTime"] = now
            message = "Reached expected number of succeeded pods"
            status["conditions"] = [
                _condition("SuccessCriteriaMet", "CompletionsReached", message, now),
                _condition("Complete", "CompletionsReached", message, now),
            ]
        common.write_status(self.mgr, rt, job, status)
        return None


def _has(status: JSON, type_: str) -> bool:
    return any(
        c.get("type") == type_ and c.get("status") == "True" for c in status.get("conditions") or []
    )


def _finished(job: JSON) -> bool:
    status = job.get("status") or {}
    return _has(status, "Complete") or _has(status, "Failed")


class PVCController:
    """Binds claims and releases deleted ones."""

    name = "pvc"
    rid = "persistentvolumeclaims"

    def __init__(self, mgr: Manager) -> None:
        self.mgr = mgr

    def observe(self, change: Change) -> list[tuple[float, str]]:
        """Pending claims and deleting claims need a sync."""
        if change.rid != self.rid or change.type is EventType.DELETED:
            return []
        meta, status = change.obj["metadata"], change.obj.get("status") or {}
        if meta.get("deletionTimestamp"):
            return [(0.0, change.key)] if PVC_PROTECTION in (meta.get("finalizers") or []) else []
        if status.get("phase") != "Bound":
            return [(self.mgr.knobs.step, change.key)]
        return []

    def sync(self, key: str) -> float | None:
        """Bind the claim (volume name, then status), or lift its protection finalizer."""
        pvc = self.mgr.api.store.get(self.rid, key)
        if pvc is None:
            return None
        rt = _rt(self.mgr, "", "v1", "persistentvolumeclaims")
        meta = pvc["metadata"]
        if meta.get("deletionTimestamp"):
            new = copy_obj(pvc)
            fins = [f for f in meta.get("finalizers") or [] if f != PVC_PROTECTION]
            new["metadata"]["finalizers"] = fins
            self.mgr.api.update(
                rt, meta["namespace"], meta["name"], body=new, opts=self.mgr.options()
            )
            return None
        spec = pvc.get("spec") or {}
        if not spec.get("volumeName"):
            new = copy_obj(pvc)
            new["spec"]["volumeName"] = f"pvc-{meta['uid']}"
            notes = new["metadata"].setdefault("annotations", {})
            notes["pv.kubernetes.io/bind-completed"] = "yes"
            notes["pv.kubernetes.io/bound-by-controller"] = "yes"
            pvc = self.mgr.api.update(
                rt, meta["namespace"], meta["name"], body=new, opts=self.mgr.options()
            ).body
            spec = pvc.get("spec") or {}
        storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
        status: JSON = {"phase": "Bound", "accessModes": list(spec.get("accessModes") or [])}
        if storage is not None:
            status["capacity"] = {"storage": storage}
        common.write_status(self.mgr, rt, pvc, status)
        return None


class LoadBalancerController:
    """Load-balancer addresses for Services of type LoadBalancer, and for Ingresses."""

    def __init__(self, mgr: Manager, *, ingress: bool) -> None:
        self.mgr = mgr
        self.ingress = ingress
        self.name = "ingress" if ingress else "service"
        self.rid = "ingresses.networking.k8s.io" if ingress else "services"
        self.next = 0

    def observe(self, change: Change) -> list[tuple[float, str]]:
        """Objects without an address (or deleting LBs) need a sync."""
        if change.rid != self.rid or change.type is EventType.DELETED:
            return []
        obj = change.obj
        meta = obj["metadata"]
        if not self.ingress and (obj.get("spec") or {}).get("type") != "LoadBalancer":
            return []
        if meta.get("deletionTimestamp"):
            return [(0.0, change.key)] if LB_CLEANUP in (meta.get("finalizers") or []) else []
        if not ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress"):
            return [(self.mgr.knobs.step, change.key)]
        return []

    def sync(self, key: str) -> float | None:
        """Assign an address (adding the LB cleanup finalizer to Services), or release it."""
        obj = self.mgr.api.store.get(self.rid, key)
        if obj is None:
            return None
        rt = (
            _rt(self.mgr, "networking.k8s.io", "v1", "ingresses")
            if self.ingress
            else _rt(self.mgr, "", "v1", "services")
        )
        meta = obj["metadata"]
        fins = list(meta.get("finalizers") or [])
        if meta.get("deletionTimestamp"):
            new = copy_obj(obj)
            new["metadata"]["finalizers"] = [f for f in fins if f != LB_CLEANUP]
            self.mgr.api.update(
                rt, meta["namespace"], meta["name"], body=new, opts=self.mgr.options()
            )
            return None
        if ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress"):
            return None
        if not self.ingress and LB_CLEANUP not in fins:
            new = copy_obj(obj)
            new["metadata"]["finalizers"] = [*fins, LB_CLEANUP]
            obj = self.mgr.api.update(
                rt, meta["namespace"], meta["name"], body=new, opts=self.mgr.options()
            ).body
        self.next += 1
        ip = f"{self.mgr.knobs.lb_prefix}{self.next + (100 if self.ingress else 0)}"
        entry: JSON = {"ip": ip} if self.ingress else {"ip": ip, "ipMode": "VIP"}
        status = dict(obj.get("status") or {})
        status["loadBalancer"] = {"ingress": [entry]}
        common.write_status(self.mgr, rt, obj, status)
        return None
