"""The one place the server calls the merge algorithms (patches, apply, defaults, schema).

The algorithms themselves (schema topology, field sets, server-side apply, strategic
merge, defaulting, spec validation) live in ``schema``, ``fieldpath``, ``apply``,
``patch``, ``defaults`` and ``validation``. This adapter gives the server a small
surface keyed by resource descriptors, caches schemas per resource, and turns their
errors into Status errors.
"""

from __future__ import annotations

from typing import Any

from kubesim import apply as apply_mod
from kubesim import conversion, status
from kubesim import defaults as defaults_mod
from kubesim import patch as patch_mod
from kubesim import schema as schema_mod
from kubesim import validation as validation_mod
from kubesim.resources import ResourceType

JSON = dict[str, Any]

PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
)
_PRESERVE: JSON = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
_SCHEMAS: dict[tuple[str, str, int], schema_mod.TypeSchema] = {}


def accepted_patch_types(rt: ResourceType) -> list[str]:
    """The patch Content-Types a resource accepts (no strategic merge for CRs)."""
    return [t for t in PATCH_TYPES if rt.strategic_merge or "strategic" not in t]


def schema_of(rt: ResourceType) -> schema_mod.TypeSchema:
    """The type topology of a resource (built-in from kubernetes-validate, CR from its CRD)."""
    key = (rt.rid, rt.version, id(rt.schema))
    found = _SCHEMAS.get(key)
    if found is None:
        if rt.custom:
            found = schema_mod.from_openapi(rt.schema or _PRESERVE)
        else:
            found = schema_mod.for_kind(rt.group, rt.version, rt.kind) or schema_mod.DEDUCED
        _SCHEMAS[key] = found
    return found


def decode(rt: ResourceType, obj: JSON) -> list[str] | None:
    """The Go round trip of a written built-in object, in place (``conversion``).

    Returns the undeclared fields it dropped; None for custom resources, which are stored
    as sent (``drop_unknown_fields`` prunes them). Raises ``conversion.ConversionError``.
    """
    if rt.custom:
        return None
    return conversion.decode(obj, schema_of(rt), group=rt.group, kind=rt.kind)


def prepare_for_create(rt: ResourceType, obj: JSON) -> JSON:
    """What strategies do once on create (Job selector, Namespace finalizers)."""
    if rt.custom:
        return obj
    return defaults_mod.prepare_for_create(obj, group=rt.group, kind=rt.kind)


def apply_defaults(rt: ResourceType, obj: JSON) -> JSON:
    """The object with the server's defaults filled in (idempotent)."""
    if rt.custom:
        if rt.schema is None:
            return obj
        return defaults_mod.schema_defaults(obj, schema_of(rt))
    return defaults_mod.apply_defaults(obj, group=rt.group, kind=rt.kind)


def validate(rt: ResourceType, obj: JSON) -> list[status.FieldError]:
    """Field validation of a (defaulted) built-in object (workload specs, pods, jobs)."""
    if rt.custom:
        return []
    return validation_mod.validate(obj, group=rt.group, kind=rt.kind)


def drop_unknown_fields(rt: ResourceType, obj: JSON) -> tuple[JSON, list[str]]:
    """The object without fields its schema does not know, and those fields' paths."""
    if rt.custom and (rt.schema is None or rt.preserve_unknown):
        return obj, []
    return schema_mod.prune_unknown(obj, schema_of(rt))


def _status_from(err: Any) -> status.StatusError:
    body = err.status()
    return status.StatusError(code=int(body["code"]), raw=body)


def json_patch(obj: JSON, ops: Any, *, field_validation: str = "Warn") -> JSON:
    """RFC 6902 as the apiserver applies it."""
    try:
        return patch_mod.json_patch(obj, ops, field_validation=field_validation)
    except patch_mod.PatchError as exc:
        raise _status_from(exc) from None


def merge_patch(obj: JSON, patch: Any) -> JSON:
    """RFC 7386: maps merge, null deletes, everything else replaces."""
    try:
        return patch_mod.merge_patch(obj, patch)
    except patch_mod.PatchError as exc:
        raise _status_from(exc) from None


def strategic_merge_patch(rt: ResourceType, obj: JSON, patch: Any) -> JSON:
    """Strategic merge patch (built-ins only; the server answers 415 for CRs)."""
    try:
        return patch_mod.strategic_merge_patch(obj, patch, schema_of(rt))
    except patch_mod.PatchError as exc:
        raise _status_from(exc) from None


def _reset_fields(rt: ResourceType, subresource: str) -> tuple[tuple[str, ...], ...]:
    return apply_mod.reset_fields_for(
        group=rt.group, kind=rt.kind, subresource=subresource or None, has_status=rt.status
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
    return list(managed or [])
