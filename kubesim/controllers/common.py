"""What the fake workload controllers share: pod-template hashes, images, status writes.

``write_status`` writes through ``/status`` as ``kube-controller-manager``;
``set_condition`` follows SetDeploymentCondition; ``rs_status`` is a ReplicaSet's status.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from kubesim.controllers.base import Manager, copy_obj
from kubesim.resources import ResourceType

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


def omit_zero(status: JSON) -> JSON:
    """Drop zero-valued members, as omitempty does."""
    return {k: v for k, v in status.items() if v not in (0, None, "", [], {})}


def rs_status(rs: JSON, replicas: int, ready: int, available: int) -> JSON:
    """A ReplicaSet status (``replicas`` is always present)."""
    out = omit_zero(
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
