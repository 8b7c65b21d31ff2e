"""The one place the server calls the merge algorithms (patches, apply, defaults, schema).

The algorithms themselves (schema topology, field paths, server-side apply, strategic
merge, defaulting) live in sibling modules written separately (``schema``, ``fieldpath``,
``apply``, ``patch``, ``defaults``). This adapter gives the server a stable, small surface
and translates their errors into Status errors. Where a sibling module is not there yet,
the adapter falls back to a plain implementation that is enough for the server's own
tests (RFC 7386 merge patch, RFC 6902 JSON patch, apply as merge without ownership);
the fallbacks go once the algorithms are complete.
"""

from __future__ import annotations

import copy
import importlib
from typing import Any

from daemon.sim import apply as apply_mod
from daemon.sim import patch as patch_mod
from daemon.sim import schema as schema_mod
from daemon.sim import status
from daemon.sim.resources import ResourceType

JSON = dict[str, Any]

PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
)


def accepted_patch_types(rt: ResourceType) -> list[str]:
    """The patch Content-Types a resource accepts (no strategic merge for CRs)."""
    return [t for t in PATCH_TYPES if rt.strategic_merge or "strategic" not in t]


def schema_of(rt: ResourceType) -> schema_mod.TypeSchema:
    """The type topology of a resource (built-in from kubernetes-validate, CR from its CRD)."""
    key = (rt.rid, rt.version, id(rt.schema))
    found = _SCHEMAS.get(key)
    if found is None:
        if rt.custom:
            found = schema_mod.from_openapi(
                rt.schema or {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
            )
        else:
            found = schema_mod.for_kind(rt.group, rt.version, rt.kind) or schema_mod.DEDUCED
        _SCHEMAS[key] = found
    return found


_SCHEMAS: dict[tuple[str, str, int], schema_mod.TypeSchema] = {}


def apply_defaults(rt: ResourceType, obj: JSON) -> JSON:
    """The object with the server's defaults filled in (idempotent)."""
    module = _optional("defaults")
    if module is None or rt.custom:
        return obj
    try:
        return module.apply_defaults(obj, group=rt.group, kind=rt.kind)  # type: ignore[no-any-return]
    except NotImplementedError:
        return obj


def drop_unknown_fields(rt: ResourceType, obj: JSON) -> tuple[JSON, list[str]]:
    """The object without fields its schema does not know, and those fields' paths."""
    if rt.custom and rt.preserve_unknown:
        return obj, []
    try:
        return schema_mod.prune_unknown(obj, schema_of(rt))
    except NotImplementedError:
        return obj, []


def _optional(name: str) -> Any:
    """A sibling module that may not exist yet (the algorithms land separately)."""
    try:
        return importlib.import_module(f"daemon.sim.{name}")
    except ImportError:
        return None


def _status_from(err: Any) -> status.StatusError:
    body = err.status()
    return status.StatusError(code=int(body["code"]), raw=body)


def json_patch(obj: JSON, ops: Any, *, field_validation: str = "Warn") -> JSON:
    """RFC 6902: apply ``ops`` to ``obj``; 400 for a non-array, 422 on failure."""
    try:
        return patch_mod.json_patch(obj, ops, field_validation=field_validation)
    except NotImplementedError:
        return _fallback_json_patch(obj, ops)
    except patch_mod.PatchError as exc:
        raise _status_from(exc) from None


def _fallback_json_patch(obj: JSON, ops: Any) -> JSON:
    if not isinstance(ops, list):
        raise status.bad_request(
            "json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp"
        )
    doc: Any = copy.deepcopy(obj)
    try:
        for op in ops:
            doc = _json_patch_op(doc, op)
    except (KeyError, IndexError, ValueError, TypeError):
        raise status.StatusError(
            code=422,
            reason="Invalid",
            message="the server rejected our request due to an error in our request",
            has_details=False,
        ) from None
    if not isinstance(doc, dict):
        raise status.bad_request("the patched document is not an object")
    return doc


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ValueError(path)
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str]) -> Any:
    cur = doc
    for part in parts[:-1]:
        cur = cur[int(part)] if isinstance(cur, list) else cur[part]
    return cur


def _json_patch_op(doc: Any, op: Any) -> Any:
    kind, parts = op["op"], _pointer(op["path"])
    if not parts:
        if kind in ("add", "replace"):
            return copy.deepcopy(op["value"])
        raise ValueError(kind)
    parent, last = _parent(doc, parts), parts[-1]
    if kind == "test":
        current = parent[int(last)] if isinstance(parent, list) else parent[last]
        if current != op["value"]:
            raise ValueError("test failed")
        return doc
    if kind in ("move", "copy"):
        src = _pointer(op["from"])
        src_parent = _parent(doc, src)
        value = src_parent[int(src[-1])] if isinstance(src_parent, list) else src_parent[src[-1]]
        value = copy.deepcopy(value)
        if kind == "move":
            doc = _json_patch_op(doc, {"op": "remove", "path": op["from"]})
        return _json_patch_op(doc, {"op": "add", "path": op["path"], "value": value})
    if kind == "remove":
        if isinstance(parent, list):
            del parent[int(last)]
        else:
            del parent[last]
        return doc
    value = copy.deepcopy(op["value"])
    if isinstance(parent, list):
        if kind == "add":
            idx = len(parent) if last == "-" else int(last)
            if idx > len(parent) or idx < 0:
                raise IndexError(idx)
            parent.insert(idx, value)
        else:
            parent[int(last)] = value
    else:
        if kind == "replace" and last not in parent:
            raise KeyError(last)
        if kind not in ("add", "replace"):
            raise ValueError(kind)
        parent[last] = value
    return doc


def merge_patch(obj: JSON, patch: Any) -> JSON:
    """RFC 7386: maps merge, null deletes, everything else replaces."""
    try:
        return patch_mod.merge_patch(obj, patch)
    except NotImplementedError:
        return _fallback_merge_patch(obj, patch)
    except patch_mod.PatchError as exc:
        raise _status_from(exc) from None


def _fallback_merge_patch(obj: JSON, patch: Any) -> JSON:
    if not isinstance(patch, dict):
        raise status.bad_request("merge patch is not a JSON object")
    out = _merge(obj, patch)
    assert isinstance(out, dict)
    return out


def _merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    base = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            base.pop(key, None)
        else:
            base[key] = _merge(base.get(key), value)
    return base


def strategic_merge_patch(rt: ResourceType, obj: JSON, patch: Any) -> JSON:
    """Strategic merge patch (built-ins only; the server answers 415 for CRs)."""
    try:
        return patch_mod.strategic_merge_patch(obj, patch, schema_of(rt))
    except NotImplementedError:
        return _fallback_merge_patch(obj, patch)
    except patch_mod.PatchError as exc:
        raise _status_from(exc) from None


def _reset_fields(rt: ResourceType, subresource: str) -> tuple[tuple[str, ...], ...]:
    reset = getattr(apply_mod, "reset_fields_for", None)
    if reset is None:
        return ()
    return tuple(
        reset(group=rt.group, kind=rt.kind, subresource=subresource or None, has_status=rt.status)
    )


def server_side_apply(
    rt: ResourceType,
    live: JSON | None,
    config: JSON,
    *,
    manager: str,
    force: bool,
    subresource: str,
    now: str,
) -> JSON:
    """Apply ``config`` for ``manager``; the merged object with its managedFields."""
    try:
        result = apply_mod.apply(
            live,
            config,
            manager=manager,
            force=force,
            schema=schema_of(rt),
            api_version=rt.api_version,
            now=now,
            subresource=subresource or None,
            reset_fields=_reset_fields(rt, subresource),
        )
    except NotImplementedError:
        return _fallback_merge_patch(live or {}, config)
    except (apply_mod.ApplyConflict, apply_mod.ApplyInvalid) as exc:
        raise _status_from(exc) from None
    return result.object


def track_update(
    rt: ResourceType,
    old: JSON | None,
    new: JSON,
    *,
    manager: str,
    subresource: str,
    now: str,
) -> list[JSON]:
    """The managedFields after an Update-operation write by ``manager``."""
    try:
        managed = apply_mod.update_managed_fields(
            old,
            new,
            manager=manager,
            schema=schema_of(rt),
            api_version=rt.api_version,
            now=now,
            subresource=subresource or None,
            reset_fields=_reset_fields(rt, subresource),
        )
    except NotImplementedError:
        return list((old or {}).get("metadata", {}).get("managedFields") or [])
    return list(managed or [])
