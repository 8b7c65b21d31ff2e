"""The ``/scale`` subresource: an autoscaling/v1 Scale view of a workload (§6.1).

Reads ``spec.replicas``, ``status.replicas`` and the selector (as a label-selector
string) through the paths the descriptor names (fixed for built-ins, declared by CRDs),
and writes replicas back. The write path itself (RV check, generation) is ``api``'s.
"""

from __future__ import annotations

from typing import Any

from kubesim import metadata
from kubesim.resources import ResourceType

JSON = dict[str, Any]


def scale_of(rt: ResourceType, obj: JSON) -> JSON:
    """The autoscaling/v1 Scale view of an object with a scale subresource."""
    assert rt.scale is not None
    meta = obj["metadata"]
    out_meta = {
        k: meta[k]
        for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
        if k in meta
    }
    spec_replicas = _path_get(obj, rt.scale.spec_replicas)
    status_replicas = _path_get(obj, rt.scale.status_replicas)
    scale_status: JSON = {"replicas": status_replicas or 0}
    selector = _selector_string(rt, obj)
    if selector:
        scale_status["selector"] = selector
    spec: JSON = {"replicas": spec_replicas} if spec_replicas else {}
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": out_meta,
        "spec": spec,
        "status": scale_status,
    }


def with_replicas(rt: ResourceType, obj: JSON, replicas: Any) -> JSON:
    """A copy of ``obj`` with the scale's spec replicas set."""
    assert rt.scale is not None
    new = metadata.clone(obj)
    parts = rt.scale.spec_replicas.lstrip(".").split(".")
    cur = new
    for part in parts[:-1]:
        cur = cur.setdefault(part, {})
    cur[parts[-1]] = replicas
    return new


def _path_get(obj: JSON, path: str) -> Any:
    cur: Any = obj
    for part in path.lstrip(".").split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def _selector_string(rt: ResourceType, obj: JSON) -> str:
    if rt.custom:
        if not rt.scale or not rt.scale.label_selector:
            return ""
        value = _path_get(obj, rt.scale.label_selector)
        return value if isinstance(value, str) else ""
    selector = (obj.get("spec") or {}).get("selector") or {}
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        op, key, values = expr.get("operator"), expr.get("key"), expr.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(sorted(values))})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(sorted(values))})")
        elif op == "Exists":
            parts.append(str(key))
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(sorted(parts))
