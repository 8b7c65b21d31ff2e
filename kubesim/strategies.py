"""Per-type write rules, like kube-apiserver's registry strategies.

What a type's strategy does on create and update beyond the generic path: the status a
new object starts with (a status subresource clears the client's status), fields reset
on the main resource vs. ``/status``, Namespace defaults, Service IP and node-port
allocation. The generic path (``api``) calls these; field defaulting proper is in
``merging``, type-specific validation in ``typerules``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from kubesim import metadata
from kubesim.resources import ResourceType

JSON = dict[str, Any]

# The status a fresh object shows; required members of the typed models are present,
# because kubernetes_asyncio validates required fields when it deserializes.
_INITIAL_STATUS: dict[str, JSON] = {
    "deployments.apps": {},
    "replicasets.apps": {"replicas": 0},
    "statefulsets.apps": {"replicas": 0, "availableReplicas": 0},
    "daemonsets.apps": {
        "currentNumberScheduled": 0,
        "numberMisscheduled": 0,
        "desiredNumberScheduled": 0,
        "numberReady": 0,
    },
    "jobs.batch": {},
    "cronjobs.batch": {},
    "services": {"loadBalancer": {}},
    "ingresses.networking.k8s.io": {"loadBalancer": {}},
    "persistentvolumeclaims": {"phase": "Pending"},
    "pods": {"phase": "Pending", "qosClass": "BestEffort"},
    "namespaces": {"phase": "Active"},
    "resourcequotas": {},
    "horizontalpodautoscalers.autoscaling": {"desiredReplicas": 0},
    "poddisruptionbudgets.policy": {
        "disruptionsAllowed": 0,
        "currentHealthy": 0,
        "desiredHealthy": 0,
        "expectedPods": 0,
    },
    "customresourcedefinitions.apiextensions.k8s.io": {
        "acceptedNames": {"plural": "", "kind": ""},
    },
}


@dataclass(kw_only=True)
class Allocator:
    """Service cluster IPs (10.96.0.0/12) and node ports (30000-32767), never reused."""

    next_ip: int = int(ipaddress.IPv4Address("10.96.0.10"))
    next_port: int = 30000
    used_ports: set[int] = field(default_factory=set)

    def cluster_ip(self) -> str:
        """The next free cluster IP."""
        ip = str(ipaddress.IPv4Address(self.next_ip))
        self.next_ip += 1
        return ip

    def node_port(self) -> int:
        """The next free node port."""
        while self.next_port in self.used_ports:
            self.next_port += 1
        self.used_ports.add(self.next_port)
        return self.next_port


def prepare_create(rt: ResourceType, obj: JSON, alloc: Allocator) -> None:
    """Type-specific changes to a new object (in place), before defaulting."""
    if rt.status:
        initial = _INITIAL_STATUS.get(rt.rid)
        if initial is None:
            obj.pop("status", None)
        else:
            obj["status"] = metadata.clone(initial)
    if rt.rid == "namespaces":
        meta = obj["metadata"]
        meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
        spec = obj.setdefault("spec", {})
        spec["finalizers"] = ["kubernetes"]
    elif rt.rid == "services":
        _allocate_service(obj, alloc)
    elif rt.rid == "persistentvolumeclaims":
        # StorageObjectInUseProtection admission; the pvc controller lifts it on deletion.
        fins = obj["metadata"].setdefault("finalizers", [])
        if "kubernetes.io/pvc-protection" not in fins:
            fins.append("kubernetes.io/pvc-protection")
    elif rt.rid == "customresourcedefinitions.apiextensions.k8s.io":
        meta = obj["metadata"]
        fins = meta.setdefault("finalizers", [])
        if "customresourcecleanup.apiextensions.k8s.io" not in fins:
            fins.append("customresourcecleanup.apiextensions.k8s.io")
        versions = [v.get("name") for v in (obj.get("spec") or {}).get("versions") or []]
        storage = [v.get("name") for v in obj["spec"].get("versions") or [] if v.get("storage")]
        obj["status"]["storedVersions"] = storage or versions[:1]


def _allocate_service(obj: JSON, alloc: Allocator) -> None:
    spec = obj.setdefault("spec", {})
    kind = spec.get("type") or "ClusterIP"
    if kind != "ExternalName" and not spec.get("clusterIP"):
        ip = alloc.cluster_ip()
        spec["clusterIP"] = ip
        spec["clusterIPs"] = [ip]
    elif spec.get("clusterIP") and not spec.get("clusterIPs"):
        spec["clusterIPs"] = [spec["clusterIP"]]
    if kind in ("NodePort", "LoadBalancer"):
        for port in spec.get("ports") or []:
            if isinstance(port, dict) and not port.get("nodePort"):
                port["nodePort"] = alloc.node_port()


def prepare_update(rt: ResourceType, old: JSON, new: JSON, subresource: str) -> None:
    """Reset what this endpoint may not change (in place).

    The main resource keeps the old status, ``/status`` the old spec (and Deployment
    labels), ``/finalize`` everything but ``spec.finalizers``.
    """
    if subresource == "status":
        if "spec" in old:
            new["spec"] = metadata.clone(old["spec"])
        else:
            new.pop("spec", None)
        if rt.rid == "deployments.apps":
            _keep(old["metadata"], new["metadata"], "labels")
    elif subresource == "finalize":
        finalizers = (new.get("spec") or {}).get("finalizers")
        rv = new["metadata"].get("resourceVersion")
        new.clear()
        new.update(metadata.clone(old))
        if rv is not None:
            new["metadata"]["resourceVersion"] = rv
        spec = new.setdefault("spec", {})
        if finalizers:
            spec["finalizers"] = finalizers
        else:
            spec.pop("finalizers", None)
    elif rt.status:
        if "status" in old:
            new["status"] = metadata.clone(old["status"])
        else:
            new.pop("status", None)
    if rt.rid == "services":
        spec, old_spec = new.setdefault("spec", {}), old.get("spec") or {}
        if not spec.get("clusterIP") and old_spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
            spec["clusterIPs"] = old_spec.get("clusterIPs", [old_spec["clusterIP"]])


def _keep(old: JSON, new: JSON, key: str) -> None:
    if key in old:
        new[key] = metadata.clone(old[key])
    else:
        new.pop(key, None)
