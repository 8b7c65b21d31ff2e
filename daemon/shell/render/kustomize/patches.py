"""The three patch fields: ``patches``, ``patchesStrategicMerge`` and ``patchesJson6902``.

A ``patches`` entry is a strategic merge patch when its text holds objects and a JSON
patch when it holds a list of operations. Without a ``target``, a strategic merge
patch applies to the one resource whose any earlier or current id equals the patch's
(kind, name, namespace with empty meaning ``default``); with one, to every selected
resource. A patch keeps the target's name, namespace and kind unless its options
allow a change. JSON patches always need a target.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from daemon.shell.render import yamlsafe
from daemon.shell.render.kustomize import jsonpatch, kfile, resource, selectors, smp
from daemon.shell.render.kustomize.resource import Resource
from daemon.shell.render.result import Limits, RenderError

Load = Callable[[str], bytes]


class Patch:
    """A parsed patch text: strategic merge objects or JSON operations (never both)."""

    def __init__(self, text: str, *, source: str, limits: Limits) -> None:
        self.source = source
        self.objects: list[Resource] = []
        self.operations: list[dict[str, Any]] | None = None
        documents = [
            d for d in yamlsafe.load_all(text, file=source, limits=limits) if d.value is not None
        ]
        if len(documents) == 1 and isinstance(documents[0].value, list):
            self.operations = jsonpatch.check(documents[0].value)
        else:
            self.objects = resource.from_text(text, file=source, limits=limits)


def _patch_text(args: kfile.PatchArgs, *, load: Load, where: str) -> tuple[str, str]:
    inline = args.patch.strip()
    if inline and args.path:
        raise RenderError(f"{where}: patch and path can't be set at the same time")
    if inline:
        return inline, where
    if args.path:
        return load(args.path).decode("utf-8", "replace"), args.path
    raise RenderError(f"{where}: must specify one of patch and path")


def apply_patches(
    resources: list[Resource],
    entries: tuple[kfile.PatchArgs, ...],
    *,
    load: Load,
    where: str,
    limits: Limits,
) -> list[Resource]:
    """The ``patches`` field, entry by entry."""
    for number, args in enumerate(entries):
        label = f"{where} patches[{number}]"
        text, source = _patch_text(args, load=load, where=label)
        patch = Patch(text, source=source, limits=limits)
        if patch.operations is not None:
            if args.target is None:
                raise RenderError(f"{label}: must specify a target for JSON patch {source}")
            for target in selectors.select(resources, args.target):
                target.store_previous_id()
                apply_json(target, patch.operations, source=source)
            continue
        for obj in patch.objects:
            obj.allow_name_change = args.allow_name_change
            obj.allow_kind_change = args.allow_kind_change
        if args.target is not None:
            if len(patch.objects) > 1:
                raise RenderError(
                    f"{label}: multiple strategic merge patches in one entry may not set a target"
                )
            if patch.objects:
                chosen = selectors.select(resources, args.target)
                resources = apply_strategic(resources, chosen, patch.objects[0])
            continue
        for obj in patch.objects:
            resources = apply_strategic(resources, [find_target(resources, obj)], obj)
    return resources


def apply_patches_strategic_merge(
    resources: list[Resource], entries: tuple[str, ...], *, load: Load, where: str, limits: Limits
) -> list[Resource]:
    """The ``patchesStrategicMerge`` field: inline objects or files, by id."""
    if not entries:
        return resources
    loaded: list[Resource] = []
    for entry in entries:
        objects = _inline_objects(entry, where=where, limits=limits)
        if objects is None:
            text = load(entry).decode("utf-8", "replace")
            objects = resource.from_text(text, file=entry, limits=limits)
        _metadata_nulls_as_text(objects)
        loaded.extend(objects)
    if not loaded:
        raise RenderError(f"{where}: patchesStrategicMerge patches appear to be empty")
    for obj in loaded:
        resources = apply_strategic(resources, [find_target(resources, obj)], obj)
    return resources


_STRING_MAPS = ("labels", "annotations")


def _metadata_nulls_as_text(objects: list[Resource]) -> None:
    """Null label and annotation values of ``patchesStrategicMerge`` objects become text.

    kustomize reads these patches as resources and rewrites their labels and annotations
    as strings, so ``drop: null`` sets the label to the text ``null`` (``drop:`` to
    ``""``, ``drop: ~`` to ``~``) instead of deleting it, unlike a ``patches`` entry.
    """
    for obj in objects:
        metadata = obj.body.get("metadata")
        if not isinstance(metadata, dict):
            continue
        for field in _STRING_MAPS:
            values = metadata.get(field)
            if not isinstance(values, dict):
                continue
            for key, value in values.items():
                if value is None:
                    values[key] = obj.null_text(values, key)


def _inline_objects(entry: str, *, where: str, limits: Limits) -> list[Resource] | None:
    if "\n" not in entry.strip() and ":" not in entry:
        return None
    try:
        documents = yamlsafe.load_all(entry, file=where, limits=limits)
    except RenderError:
        return None
    if not documents or not all(
        isinstance(d.value, dict) for d in documents if d.value is not None
    ):
        return None
    return resource.from_text(entry, file=where, limits=limits)


def apply_json6902(
    resources: list[Resource],
    entries: tuple[kfile.PatchArgs, ...],
    *,
    load: Load,
    where: str,
    limits: Limits,
) -> None:
    """The ``patchesJson6902`` field."""
    for number, args in enumerate(entries):
        label = f"{where} patchesJson6902[{number}]"
        if args.target is None or not args.target.name:
            raise RenderError(f"{label}: must specify the target name")
        text, source = _patch_text(args, load=load, where=label)
        documents = [
            d.value
            for d in yamlsafe.load_all(text, file=source, limits=limits)
            if d.value is not None
        ]
        if len(documents) != 1:
            raise RenderError(f"{label}: expected one list of JSON patch operations", file=source)
        operations = jsonpatch.check(documents[0])
        if not operations:
            raise RenderError(f"{label}: patch appears to be empty", file=source)
        for target in selectors.select(resources, args.target):
            apply_json(target, operations, source=source)


def find_target(resources: list[Resource], patch: Resource) -> Resource:
    """The one resource a target-less strategic merge patch applies to."""
    wanted = patch.org_id()
    found = [r for r in resources if any(rid.equals(wanted) for rid in r.all_ids())]
    if len(found) == 1:
        return found[0]
    what = "multiple matches" if found else "no matches"
    raise RenderError(
        f"{what} for strategic merge patch {wanted.display()}; failed to find unique target",
        file=patch.file,
        line=patch.line,
    )


def apply_strategic(
    resources: list[Resource], chosen: list[Resource], patch: Resource
) -> list[Resource]:
    """Merge ``patch`` into each chosen resource; resources a patch deletes are dropped."""
    chosen_ids = {id(r) for r in chosen}
    kept: list[Resource] = []
    for target in resources:
        if id(target) in chosen_ids and not _merge_into(target, patch):
            continue
        kept.append(target)
    return kept


def _merge_into(target: Resource, patch: Resource) -> bool:
    """Apply one strategic merge patch; False when it deleted the resource."""
    name, namespace, kind = target.name, target.namespace, target.kind
    body = copy.deepcopy(patch.body)
    body["apiVersion"] = target.body.get("apiVersion")
    if patch.allow_name_change or patch.allow_kind_change:
        target.store_previous_id()
    merged = smp.merge(target.body, body, empty_nulls=target.empty_null_places())
    if merged is None or not merged:
        return False
    target.body = merged
    target.allow_name_change |= patch.allow_name_change
    target.allow_kind_change |= patch.allow_kind_change
    if not patch.allow_kind_change:
        target.body["kind"] = kind
    if not patch.allow_name_change:
        target.name = name
    target.namespace = namespace
    return True


def apply_json(target: Resource, operations: list[dict[str, Any]], *, source: str) -> None:
    """Apply JSON patch operations to one resource.

    Where kustomize would carry build annotations, it has an annotations map during the
    patch (so ``add /metadata/annotations/x`` works there); an empty one is dropped after.
    """
    metadata = target.metadata()
    added = target.has_build_annotations() and "annotations" not in metadata
    if added:
        metadata["annotations"] = {}
    try:
        result = jsonpatch.apply(target.body, operations)
    except RenderError as exc:
        raise RenderError(
            f"{exc.message} (patch {source}, target {target.cur_id().display()})"
        ) from exc
    if not isinstance(result, dict):
        raise RenderError(
            f"JSON patch {source} turned {target.cur_id().display()} into a non-object"
        )
    target.body = result
    meta = result.get("metadata")
    if added and isinstance(meta, dict) and meta.get("annotations") == {}:
        del meta["annotations"]
    # kustomize rebuilds the patched resource from JSON: every null now reads ``null``.
    annotations = target.string_map("annotations")
    target.null_texts = [(annotations, k, "null") for k, v in annotations.items() if v is None]
