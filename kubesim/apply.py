"""Server-side apply and managedFields bookkeeping (KUBE_API.md §4.2-§4.5).

The job: given the live object, an applied configuration and the managedFields, compute the
merged object and the new managedFields as structured-merge-diff's ``Updater.Apply`` /
``Updater.Update`` and apimachinery's field-manager chain do (``merge/update.go``,
``managedfields/internal/{fieldmanager,structuredmerge,managedfieldsupdater,stripmeta,
capmanagers,skipnonapplied,versioncheck,conflict}.go``). Pure and synchronous: time is an
argument, nothing is stored, nothing is logged. Inputs are never mutated; results may share
unchanged sub-trees with ``live`` and ``config`` (treat stored objects as immutable; the
defaulting in ``defaults`` is idempotent, so running it on a result never writes into a
sub-tree shared with an already-defaulted live object).

Left to the server: HTTP parsing (YAML/JSON body -> dict), defaulting (run
``defaults.apply_defaults`` on ``ApplyResult.object`` afterwards, as the real server does
after SMD's merge), strategies (status reset, generation), validation, storage, the no-op
decision (compare the final object with the stored one) and the RV.

API (keyword arguments after the first two):

``apply(live, config, *, manager, force, schema, api_version, now, kind=None,
subresource=None, reset_fields=()) -> ApplyResult``
    ``live``: the stored object (with its ``metadata.managedFields``) or ``None`` to create.
    ``config``: the parsed apply body (ownership passes to this function).
    ``manager``: the ``fieldManager`` query parameter (the server checks it is present).
    ``schema``: ``schema.for_kind(...)`` or ``schema.from_openapi(...)``.
    ``api_version`` / ``kind``: the endpoint's ``group/version`` (``v1`` for core) and kind
    (``None`` skips the kind check; pass it so a body of another kind is refused).
    ``now``: RFC 3339 UTC to the second, e.g. ``"2026-01-01T00:00:00Z"``.
    ``subresource``: ``None`` for the main resource, ``"status"`` for ``/status``.
    ``reset_fields``: paths the strategy resets (``reset_fields_for(...)`` computes them);
    they are dropped from the config and ignored for ownership, as the real filter does.
    Raises ``ApplyInvalid`` (400 ``invalid object type: apps/v1beta1, Kind=Deployment`` for
    a config of another apiVersion/kind, 400 ``metadata.managedFields must be nil``; 500
    ``failed to create typed patch object (ns/name; apps/v1, Kind=Deployment): .spec.foo:
    field not declared in schema`` for unknown fields, duplicate or key-less list items)
    and ``ApplyConflict`` (409).

``update_managed_fields(old, new, *, manager, schema, api_version, now, subresource=None,
reset_fields=()) -> list[dict] | None``
    For create (``old=None``), update and non-apply patch: the managedFields the written
    object carries (``None``: leave ``metadata.managedFields`` out). Operation ``Update``,
    never conflicts, takes what it changed from every other manager. ``new`` is the
    defaulted object about to be stored; managedFields the client sent in it are honoured
    (``[]`` or ``[{}]`` resets them), as the real server does.

``reset_fields_for(*, group, kind, subresource, has_status) -> tuple[tuple[str, ...], ...]``

``ApplyResult``: ``object`` (merged, with ``metadata.managedFields`` set, not defaulted),
``managed_fields`` (the same list), ``changed`` (the object apart from managedFields differs
from ``live``; the real server stamps the applier's entry with ``now`` only then).

``ApplyConflict``: ``.conflicts`` (``Conflict(manager, path)`` display strings),
``.message``, ``.status()`` -> the full 409 Status dict of §4.5.
``ApplyInvalid``: ``.code``, ``.reason`` (``BadRequest``, or ``""`` for the 500s),
``.message``, ``.status()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from kubesim import fieldpath
from kubesim import schema as schema_mod
from kubesim import status as status_mod
from kubesim.fieldpath import Tree

JSON = dict[str, Any]
_ABSENT: Any = object()

_MAX_UPDATE_MANAGERS = 10
_ANCIENT = "ancient-changes"
_BEFORE_FIRST_APPLY = "before-first-apply"

# stripmeta.go: never part of any manager's set (a plain difference: children of
# `metadata` such as labels stay).
_STRIP = fieldpath.from_paths(
    [
        ("f:apiVersion",),
        ("f:kind",),
        ("f:metadata",),
        ("f:metadata", "f:name"),
        ("f:metadata", "f:namespace"),
        ("f:metadata", "f:creationTimestamp"),
        ("f:metadata", "f:selfLink"),
        ("f:metadata", "f:uid"),
        ("f:metadata", "f:clusterName"),
        ("f:metadata", "f:generation"),
        ("f:metadata", "f:managedFields"),
        ("f:metadata", "f:resourceVersion"),
    ]
)


# ---------------------------------------------------------------- errors and results


@dataclass(frozen=True, slots=True)
class Conflict:
    """One conflicting field: the other manager as the server prints it, and the path."""

    manager: str  # '"kubectl-edit" using apps/v1'
    path: str  # '.spec.replicas'


class ApplyConflict(Exception):  # noqa: N818 - named after apimachinery's error
    """409: the apply changes fields other managers own (and force was not set)."""

    code = 409
    reason = "Conflict"

    def __init__(self, conflicts: list[Conflict], message: str) -> None:
        super().__init__(message)
        self.conflicts = conflicts
        self.message = message

    def status(self) -> JSON:
        """The Status body of the 409 answer (details carry only the causes)."""
        causes = [
            {
                "reason": "FieldManagerConflict",
                "message": f"conflict with {c.manager}",
                "field": c.path,
            }
            for c in self.conflicts
        ]
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": "Conflict",
            "details": {"causes": causes},
            "code": 409,
        }


class ApplyInvalid(Exception):  # noqa: N818 - named after the Status it becomes
    """The apply body itself is refused (400 BadRequest, or the server's plain 500)."""

    def __init__(self, message: str, *, code: int = 400, reason: str = "BadRequest") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.reason = reason

    def status(self) -> JSON:
        """The Status body of the answer (``reason`` left out when it is empty)."""
        return status_mod.failure_status(code=self.code, message=self.message, reason=self.reason)


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """What an apply produced."""

    object: JSON
    managed_fields: list[JSON]
    changed: bool


# ---------------------------------------------------------------- managers


@dataclass(slots=True)
class _Entry:
    """One managedFields entry while it is worked on."""

    manager: str
    operation: str
    api_version: str
    subresource: str
    time: str | None
    fields: Tree
    raw: JSON | None  # the entry as stored, reused when nothing changed

    @property
    def ident(self) -> str:
        return _identifier(self.manager, self.operation, self.api_version, self.subresource)

    @property
    def applied(self) -> bool:
        return self.operation == "Apply"

    def display(self) -> str:
        """How conflict messages name this manager (conflict.go printManager)."""
        text = _go_quote(self.manager)
        if self.subresource:
            text += f" with subresource {_go_quote(self.subresource)}"
        if not self.applied:
            text += f" using {self.api_version}"
        return text

    def encode(self) -> JSON:
        if self.raw is not None:
            return self.raw
        out: JSON = {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
        }
        if self.time is not None:
            out["time"] = self.time
        out["fieldsType"] = "FieldsV1"
        out["fieldsV1"] = fieldpath.encode(self.fields)
        if self.subresource:
            out["subresource"] = self.subresource
        return out

    def replace(self, fields: Tree, *, stamp: bool = False, time: str | None = None) -> None:
        """Give the entry new fields (and with ``stamp`` a new time).

        Unchanged entries keep their stored form byte for byte.
        """
        new_time = time if stamp else self.time
        if new_time == self.time and (fields is self.fields or fields == self.fields):
            return
        self.fields = fields
        self.time = new_time
        self.raw = None


def _go_quote(text: str) -> str:
    return fieldpath._go_quote(text)  # noqa: SLF001 - one quoting routine for the package


def _identifier(manager: str, operation: str, api_version: str, subresource: str) -> str:
    """BuildManagerIdentifier.

    The entry as JSON without time and fields (and without apiVersion for appliers, so
    an applier keeps its identity across versions).
    """
    parts = ['{"manager":', _go_json(manager), ',"operation":', _go_json(operation)]
    if operation != "Apply" and api_version:
        parts += [',"apiVersion":', _go_json(api_version)]
    if subresource:
        parts += [',"subresource":', _go_json(subresource)]
    parts.append("}")
    return "".join(parts)


def _go_json(value: str) -> str:
    return fieldpath._go_json(value)  # noqa: SLF001 - one encoder for the package


def _decode_entries(raw_entries: Any) -> dict[str, _Entry]:
    """The managedFields entries keyed by manager identity (TypeError/ValueError if bad)."""
    if raw_entries is None:
        return {}
    if not isinstance(raw_entries, list):
        raise TypeError("managedFields must be a list")
    entries: dict[str, _Entry] = {}
    for index, raw in enumerate(raw_entries):
        if not isinstance(raw, dict):
            raise TypeError(f"managed fields entry {index} is not an object")
        operation = raw.get("operation")
        if operation not in ("Apply", "Update"):
            raise ValueError("operation must be `Apply` or `Update`")
        api_version = raw.get("apiVersion")
        if not isinstance(api_version, str) or not api_version:
            raise ValueError("apiVersion must not be empty")
        if raw.get("fieldsType") != "FieldsV1":
            raise ValueError(f"invalid fieldsType in managed fields entry {index}")
        fields = fieldpath.decode(raw.get("fieldsV1") or {})
        time = raw.get("time")
        entry = _Entry(
            manager=str(raw.get("manager") or ""),
            operation=operation,
            api_version=api_version,
            subresource=str(raw.get("subresource") or ""),
            time=time if isinstance(time, str) else None,
            fields=fields,
            raw=raw,
        )
        entries[entry.ident] = entry
    return entries


def _encode_entries(entries: dict[str, _Entry]) -> list[JSON]:
    """Sorted as managedfields.go sortEncodedManagedFields: Apply first, then time, name."""
    ordered = sorted(
        entries.values(),
        key=lambda e: (e.operation, e.time or "", e.manager, e.api_version, e.subresource),
    )
    return [e.encode() for e in ordered]


# ---------------------------------------------------------------- apply


def apply(
    live: JSON | None,
    config: JSON,
    *,
    manager: str,
    force: bool,
    schema: schema_mod.TypeSchema,
    api_version: str,
    now: str,
    kind: str | None = None,
    subresource: str | None = None,
    reset_fields: tuple[tuple[str, ...], ...] = (),
) -> ApplyResult:
    """Server-side apply of ``config`` by ``manager`` (SMD ``Updater.Apply``)."""
    _check_config(config, schema=schema, kind=kind, api_version=api_version)
    config = _drop_paths(config, reset_fields)
    reset = _reset_tree(reset_fields)
    base: JSON = live if live is not None else {}
    try:
        entries = _decode_entries(_managed_of(live))
    except (TypeError, ValueError, fieldpath.FieldPathError) as exc:
        raise ApplyInvalid(f"failed to decode managed fields: {exc}", code=500, reason="") from None
    if live is not None and not entries:
        _track_existing_fields(
            live, entries, schema=schema, api_version=api_version, now=now, reset=reset
        )
    ident = _identifier(manager, "Apply", api_version, subresource or "")
    previous = entries.get(ident)
    applied = fieldpath.recursive_difference(fieldpath.from_object(config, schema), reset)
    merged = _merge(base, config, schema)
    if previous is not None and previous.fields:
        merged = _prune(
            merged, previous.fields, applied=applied, entries=entries, ident=ident, schema=schema
        )
    before, after = _without_managed(base), _without_managed(merged)
    if live is None or before == after:
        # A create has no other managers to conflict with or take fields from; an apply
        # that changes nothing touches and removes nothing.
        changed = live is None
    else:
        # SMD compares the values (value.Equals): a reordered list is a change even though
        # no field set differs, so ``changed`` holds whatever the comparison finds.
        changed = True
        comparison = fieldpath.compare(before, after, schema)
        touched = fieldpath.recursive_difference(
            fieldpath.union(comparison.added, comparison.modified), reset
        )
        removed = fieldpath.recursive_difference(comparison.removed, reset)
        _settle_others(entries, ident, touched=touched, removed=removed, force=force)
    own = fieldpath.difference(applied, _STRIP)
    if own:
        time = now if changed else (previous.time if previous is not None else None)
        if previous is not None:
            previous.replace(own, stamp=True, time=time)
        else:
            entries[ident] = _Entry(
                manager=manager,
                operation="Apply",
                api_version=api_version,
                subresource=subresource or "",
                time=time,
                fields=own,
                raw=None,
            )
    else:
        entries.pop(ident, None)
    managed = _encode_entries(entries)
    return ApplyResult(
        object=_with_managed(merged, managed), managed_fields=managed, changed=changed
    )


def _check_config(
    config: Any, *, schema: schema_mod.TypeSchema, kind: str | None, api_version: str
) -> None:
    if not isinstance(config, dict):
        raise ApplyInvalid(
            f"error decoding patch: json: cannot unmarshal {_json_type(config)} into Go value"
            " of type map[string]interface {}"
        )
    gvk = _gvk_string(config.get("apiVersion"), config.get("kind"))
    if gvk != _gvk_string(api_version, config.get("kind") if kind is None else kind):
        raise ApplyInvalid(f"invalid object type: {gvk}")
    meta = config.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("managedFields"), list):
        raise ApplyInvalid("metadata.managedFields must be nil")
    errors = schema_mod.typed_errors(config, schema)
    if errors:
        meta = meta if isinstance(meta, dict) else {}
        where = f"{meta.get('namespace') or ''}/{meta.get('name') or ''}; {gvk}"
        text = errors[0] if len(errors) == 1 else "errors:\n  " + "\n  ".join(errors)
        raise ApplyInvalid(
            f"failed to create typed patch object ({where}): {text}", code=500, reason=""
        )


def _json_type(value: Any) -> str:
    """The JSON type word Go's decoder uses in its errors."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _gvk_string(api_version: Any, kind: Any) -> str:
    """schema.GroupVersionKind.String() of an object's apiVersion and kind."""
    version = api_version if isinstance(api_version, str) else ""
    name = kind if isinstance(kind, str) else ""
    if version.count("/") > 1:
        return "/, Kind="  # ParseGroupVersion fails: an empty GroupVersionKind
    group, _, ver = version.rpartition("/")
    return f"{group}/{ver}, Kind={name}"


def _managed_of(obj: JSON | None) -> Any:
    if obj is None:
        return None
    meta = obj.get("metadata")
    return meta.get("managedFields") if isinstance(meta, dict) else None


def _without_managed(obj: JSON) -> JSON:
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or "managedFields" not in meta:
        return obj
    out = dict(obj)
    out["metadata"] = {k: v for k, v in meta.items() if k != "managedFields"}
    return out


def _with_managed(obj: JSON, managed: list[JSON]) -> JSON:
    out = dict(obj)
    meta = dict(out.get("metadata") or {})
    if managed:
        meta["managedFields"] = managed
    else:
        meta.pop("managedFields", None)
    out["metadata"] = meta
    return out


def _track_existing_fields(
    live: JSON,
    entries: dict[str, _Entry],
    *,
    schema: schema_mod.TypeSchema,
    api_version: str,
    now: str,
    reset: Tree,
) -> None:
    """skipnonapplied.go.

    An object without managedFields gets them on its first apply, its existing fields
    owned by an Update manager ``before-first-apply``.
    """
    comparison = fieldpath.compare({}, _without_managed(live), schema)
    touched = fieldpath.union(comparison.added, comparison.modified)
    fields = fieldpath.difference(fieldpath.recursive_difference(touched, reset), _STRIP)
    if fields:
        entry = _Entry(_BEFORE_FIRST_APPLY, "Update", api_version, "", now, fields, None)
        entries[entry.ident] = entry


def _settle_others(
    entries: dict[str, _Entry], ident: str, *, touched: Tree, removed: Tree, force: bool
) -> None:
    """merge/update.go update(): conflicts with, and removals from, every other manager."""
    conflicts: list[tuple[_Entry, Tree]] = []
    for key, entry in entries.items():
        if key == ident:
            continue
        clash = fieldpath.intersection(entry.fields, touched)
        if clash:
            conflicts.append((entry, clash))
    if conflicts and not force:
        raise _conflict_error(conflicts)
    for key in list(entries):
        if key == ident:
            continue
        entry = entries[key]
        fields = entry.fields
        for entry2, clash in conflicts:
            if entry2 is entry:
                fields = fieldpath.difference(fields, clash)
        fields = fieldpath.difference(fields, removed)
        if not fields:
            del entries[key]
        elif fields is not entry.fields:
            entry.replace(fields)


def _conflict_error(conflicts: list[tuple[_Entry, Tree]]) -> ApplyConflict:
    """conflict.go NewConflictError: one cause per path, managers in identifier order."""
    conflicts.sort(key=lambda pair: pair[0].ident)
    items = [
        Conflict(entry.display(), fieldpath.render_path(path))
        for entry, clash in conflicts
        for path in fieldpath.paths(clash)
    ]
    if len(items) == 1:
        message = f"Apply failed with 1 conflict: conflict with {items[0].manager}: {items[0].path}"
    else:
        lines: list[str] = []
        for entry, clash in conflicts:
            lines.append(f"conflicts with {entry.display()}:")
            lines.extend(f"- {fieldpath.render_path(p)}" for p in fieldpath.paths(clash))
        message = f"Apply failed with {len(items)} conflicts: " + "\n".join(lines)
    return ApplyConflict(items, message)


# ---------------------------------------------------------------- pruning


def _prune(
    merged: JSON,
    last: Tree,
    *,
    applied: Tree,
    entries: dict[str, _Entry],
    ident: str,
    schema: schema_mod.TypeSchema,
) -> JSON:
    """update.go prune().

    Drop what this manager applied last time and no longer applies, unless any manager
    (this apply included) still owns it. A path counts as owned when any set has a node
    there (EnsureNamedFieldsAreMembers); removing a path removes all below it, defaulted
    fields included (the server defaults them again).
    """
    owned = applied
    for key, entry in entries.items():
        if key != ident:
            owned = fieldpath.union(owned, entry.fields)
    doomed = _doomed(last, owned)
    if not doomed:
        return merged
    result = fieldpath.remove(merged, doomed, schema)
    assert isinstance(result, dict)
    return result


def _doomed(last: Tree, owned: Tree) -> Tree:
    out: Tree = {}
    for key, node in last.items():
        if key == ".":
            continue
        other = owned.get(key)
        if other is None:
            out[key] = {}
            continue
        below = {k: v for k, v in node.items() if k != "."}
        if below:
            sub = _doomed(below, {k: v for k, v in other.items() if k != "."})
            if sub:
                out[key] = sub
    return out


# ---------------------------------------------------------------- merging


def _merge(lhs: Any, rhs: Any, schema: schema_mod.TypeSchema) -> Any:
    """typed/merge.go with ruleKeepRHS.

    The config wins; granular maps and structs merge per key, associative lists per item
    (SMD's ordering), everything else is replaced.
    """
    if rhs is _ABSENT:
        return lhs
    if lhs is _ABSENT or lhs is rhs:
        return rhs
    kind = schema.kind
    if kind is schema_mod.Kind.SCALAR or kind is schema_mod.Kind.UNTYPED or schema.atomic:
        return rhs
    if kind is schema_mod.Kind.LIST:
        if not schema.is_associative:
            return rhs
        if not _list_or_null(lhs) or not _list_or_null(rhs):
            return rhs
        if not lhs and not rhs:
            return rhs
        return _merge_items(lhs or [], rhs or [], schema)
    if not _map_or_null(lhs) or not _map_or_null(rhs):
        return rhs
    if not lhs and not rhs:
        return rhs
    out = dict(lhs) if lhs else {}
    if rhs:
        for key, value in rhs.items():
            sub = schema.child(key) or schema_mod.UNTYPED
            out[key] = _merge(out.get(key, _ABSENT), value, sub)
    return out


def _list_or_null(value: Any) -> bool:
    return value is None or isinstance(value, list)


def _map_or_null(value: Any) -> bool:
    return value is None or isinstance(value, dict)


def _merge_items(lhs: list[Any], rhs: list[Any], schema: schema_mod.TypeSchema) -> list[Any]:
    """merge.go visitListItems.

    Live order, with config items placed by the order the config lists the shared ones;
    live-only items stay where they were.
    """
    element = schema.element
    assert element is not None
    rhs_pes = [fieldpath.item_element(item, schema) for item in rhs]
    rhs_seen = dict(zip(rhs_pes, rhs, strict=True))
    lhs_pes = [fieldpath.item_element(item, schema) for item in lhs]
    lhs_seen: dict[str, Any] = {}
    for pe, item in zip(lhs_pes, lhs, strict=True):
        lhs_seen[pe] = None if pe in lhs_seen else item  # duplicates are not merged
    shared = [pe for pe in rhs_pes if pe in lhs_seen]
    shared_at = 0
    next_shared = shared[0] if shared else None
    merged_rhs: set[str] = set()
    out: list[Any] = []
    li = ri = 0
    while li < len(lhs_pes) or ri < len(rhs_pes):
        if li < len(lhs_pes) and ri < len(rhs_pes):
            pe = lhs_pes[li]
            if pe == rhs_pes[ri]:
                merged_rhs.add(pe)
                out.append(_merge(_item(lhs_seen[pe]), rhs_seen[pe], element))
                li += 1
                ri += 1
                shared_at += 1
                next_shared = shared[shared_at] if shared_at < len(shared) else None
                continue
            if pe in rhs_seen and next_shared is not None and next_shared != pe:
                li += 1
                continue
        if li < len(lhs_pes):
            pe = lhs_pes[li]
            if pe not in rhs_seen:
                out.append(lhs[li])
                li += 1
                continue
            if pe in merged_rhs:
                li += 1
        if ri < len(rhs_pes):
            pe = rhs_pes[ri]
            merged_rhs.add(pe)
            out.append(_merge(_item(lhs_seen.get(pe, _ABSENT)), rhs_seen[pe], element))
            ri += 1
            if next_shared is not None and next_shared == pe:
                shared_at += 1
                next_shared = shared[shared_at] if shared_at < len(shared) else None
    return out


def _item(value: Any) -> Any:
    return _ABSENT if value is None else value


# ---------------------------------------------------------------- reset fields


def reset_fields_for(
    *, group: str, kind: str, subresource: str | None, has_status: bool
) -> tuple[tuple[str, ...], ...]:
    """The fields a strategy resets, as its GetResetFields says.

    ``status`` on the main resource of a type with a status subresource; ``spec`` on
    ``/status`` (and, for Deployments, ``metadata.labels``).
    """
    if not has_status:
        return ()
    if subresource == "status":
        if group == "apps" and kind == "Deployment":
            return (("spec",), ("metadata", "labels"))
        return (("spec",),)
    if subresource is None:
        return (("status",),)
    return ()


def _reset_tree(reset_fields: tuple[tuple[str, ...], ...]) -> Tree:
    return fieldpath.from_paths([tuple("f:" + p for p in path) for path in reset_fields])


def _drop_paths(obj: JSON, reset_fields: tuple[tuple[str, ...], ...]) -> JSON:
    """``obj`` without the reset paths (copy-on-write)."""
    for path in reset_fields:
        obj = _drop_path(obj, path)
    return obj


def _drop_path(obj: JSON, path: tuple[str, ...]) -> JSON:
    head = path[0]
    if head not in obj:
        return obj
    out = dict(obj)
    if len(path) == 1:
        del out[head]
    elif isinstance(obj[head], dict):
        out[head] = _drop_path(obj[head], path[1:])
    return out


# ---------------------------------------------------------------- updates


def update_managed_fields(
    old: JSON | None,
    new: JSON,
    *,
    manager: str,
    schema: schema_mod.TypeSchema,
    api_version: str,
    now: str,
    subresource: str | None = None,
    reset_fields: tuple[tuple[str, ...], ...] = (),
) -> list[JSON] | None:
    """The managedFields after an Update-operation write (SMD ``Updater.Update``)."""
    entries = _entries_for_update(old, new, is_subresource=subresource is not None)
    if not entries and old is not None:
        # skipnonapplied.go: an existing object without managedFields keeps none until
        # its next apply.
        return None
    reset = _reset_tree(reset_fields)
    comparison = fieldpath.compare(
        _without_managed(old) if old is not None else {}, _without_managed(new), schema
    )
    touched = fieldpath.recursive_difference(
        fieldpath.union(comparison.added, comparison.modified), reset
    )
    removed = fieldpath.recursive_difference(comparison.removed, reset)
    for key in list(entries):
        entry = entries[key]
        fields = fieldpath.difference(fieldpath.difference(entry.fields, touched), removed)
        if not fields:
            del entries[key]
        elif fields is not entry.fields:
            entry.replace(fields)
    current = fieldpath.difference(touched, _STRIP)
    if current:
        ident = _identifier(manager or "unknown", "Update", api_version, subresource or "")
        previous = entries.get(ident)
        if previous is not None:
            previous.replace(fieldpath.union(current, previous.fields), stamp=True, time=now)
        else:
            entries[ident] = _Entry(
                manager=manager or "unknown",
                operation="Update",
                api_version=api_version,
                subresource=subresource or "",
                time=now,
                fields=current,
                raw=None,
            )
    _cap_update_managers(entries)
    return _encode_entries(entries) or None


def _entries_for_update(old: JSON | None, new: JSON, *, is_subresource: bool) -> dict[str, _Entry]:
    """fieldmanager.go decodeLiveOrNew.

    The request's managedFields win unless they are absent or undecodable (then the live
    ones); ``[]``/``[{}]`` reset them.
    """
    if not is_subresource:
        sent = _managed_of(new)
        if isinstance(sent, list) and (not sent or sent == [{}]):
            return {}
        try:
            entries = _decode_entries(sent)
        except (TypeError, ValueError, fieldpath.FieldPathError):
            entries = {}
        if entries:
            return entries
    try:
        return _decode_entries(_managed_of(old))
    except (TypeError, ValueError, fieldpath.FieldPathError):
        return {}


def _cap_update_managers(entries: dict[str, _Entry]) -> None:
    """capmanagers.go.

    Merge the oldest Update entries into ``ancient-changes`` buckets (one per
    apiVersion) until at most ten Update entries remain.
    """
    updaters = [key for key, entry in entries.items() if not entry.applied]
    if len(updaters) <= _MAX_UPDATE_MANAGERS:
        return
    updaters.sort(key=lambda key: (entries[key].time or "", key))
    first_of_version: dict[str, str] = {}
    length = len(updaters)
    for key in updaters:
        if length <= _MAX_UPDATE_MANAGERS:
            break
        entry = entries[key]
        version = entry.api_version
        bucket = _identifier(_ANCIENT, "Update", version, "")
        if version not in first_of_version:
            first_of_version[version] = key
            continue
        if bucket not in entries:
            first = entries.pop(first_of_version[version])
            entries[bucket] = _Entry(
                _ANCIENT, "Update", version, "", first.time, first.fields, None
            )
        target = entries[bucket]
        target.replace(fieldpath.union(entry.fields, target.fields), stamp=True, time=entry.time)
        del entries[key]
        length -= 1


def encode_fields(fields: Tree) -> str:
    """A set as compact fieldsV1 JSON text (for tests and debugging)."""
    return orjson.dumps(fieldpath.encode(fields)).decode()
