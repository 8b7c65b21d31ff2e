"""Built-in transformer configurations named by a kustomization's ``transformers`` field.

A configuration is an object with ``apiVersion: builtin`` and the kind of one of
kustomize's built-in transformers; its fields are that transformer's settings, with
explicit ``fieldSpecs`` (no defaults apply, as in kustomize). Anything that is not
built in (exec or Go plugins, KRM functions) is refused: kustomize itself refuses
them unless plugins are enabled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from daemon.shell.render.kustomize import kfile, patches, transformers
from daemon.shell.render.kustomize.fieldspecs import FieldSpec
from daemon.shell.render.kustomize.resource import Resource
from daemon.shell.render.result import RenderError

if TYPE_CHECKING:
    from daemon.shell.render.kustomize.target import Builder

SUPPORTED = (
    "AnnotationsTransformer",
    "HashTransformer",
    "ImageTagTransformer",
    "LabelTransformer",
    "NamespaceTransformer",
    "PatchJson6902Transformer",
    "PatchStrategicMergeTransformer",
    "PatchTransformer",
    "PrefixSuffixTransformer",
    "PrefixTransformer",
    "ReplicaCountTransformer",
    "SuffixTransformer",
)


def _fields(plugin: Resource) -> kfile.Fields:
    return kfile.Fields(
        plugin.body, where=plugin.kind, file=plugin.file, lines={}, line=plugin.line
    )


def _specs(f: kfile.Fields, *, required: bool = False) -> list[FieldSpec]:
    if f.value.get("fieldSpecs") is None and required:
        raise f.fail("fieldSpecs is not expected to be nil")
    return [kfile.field_spec(item, strict=False) for item in f.items("fieldSpecs")]


def run(
    plugin: Resource, resources: list[Resource], *, builder: Builder, k: kfile.Kustomization
) -> list[Resource]:
    """Apply one transformer configuration to ``resources``."""
    gvk = plugin.gvk
    if gvk.group or gvk.version != "builtin":
        raise RenderError(
            f"transformer {gvk.kind} {plugin.name!r} has apiVersion {gvk.api_version!r}: only "
            "built-in transformers (apiVersion: builtin) are supported",
            file=plugin.file,
            line=plugin.line,
        )
    if gvk.kind not in SUPPORTED:
        raise RenderError(
            f"unsupported built-in transformer {gvk.kind} (supported: {', '.join(SUPPORTED)})",
            file=plugin.file,
            line=plugin.line,
        )
    f = _fields(plugin)
    match gvk.kind:
        case "AnnotationsTransformer" | "LabelTransformer":
            key = "annotations" if gvk.kind == "AnnotationsTransformer" else "labels"
            transformers.set_entries(resources, f.string_map(key) or {}, _specs(f))
        case "NamespaceTransformer":
            _namespace(f, resources)
        case "PrefixTransformer" | "SuffixTransformer" | "PrefixSuffixTransformer":
            specs = _specs(f, required=True)
            transformers.prefix_suffix(
                resources,
                prefix=f.string("prefix") if gvk.kind != "SuffixTransformer" else "",
                suffix=f.string("suffix") if gvk.kind != "PrefixTransformer" else "",
                specs=specs,
            )
        case "ImageTagTransformer":
            tag = f.child("imageTag")
            transformers.images(
                resources, _image(tag) if tag else kfile.ImageArgs(), specs=_specs(f)
            )
        case "ReplicaCountTransformer":
            replica = f.child("replica")
            transformers.replicas(
                resources,
                name=replica.string("name") if replica else "",
                count=replica.integer("count") if replica else 0,
                specs=_specs(f),
            )
        case "HashTransformer":
            transformers.hash_suffixes(resources)
        case _:
            return _patch(gvk.kind, f, resources, builder=builder, k=k)
    return resources


def _namespace(f: kfile.Fields, resources: list[Resource]) -> None:
    metadata = f.child("metadata")
    namespace = metadata.string("namespace") if metadata else ""
    mode = f.string("setRoleBindingSubjects") or "defaultOnly"
    if mode not in ("defaultOnly", "allServiceAccounts", "none"):
        raise f.fail(
            f"invalid value {mode!r} for setRoleBindingSubjects: must be one of "
            "'defaultOnly', 'none' or 'allServiceAccounts'"
        )
    transformers.namespace(
        resources,
        namespace,
        specs=_specs(f),
        unset_only=f.boolean("unsetOnly"),
        role_binding_subjects=mode,
    )


def _image(f: kfile.Fields) -> kfile.ImageArgs:
    """An ``imageTag`` (unknown keys ignored, as kustomize's plugin configs do)."""
    return kfile.ImageArgs(
        name=f.string("name"),
        new_name=f.string("newName"),
        new_tag=f.string("newTag"),
        digest=f.string("digest"),
        tag_suffix=f.string("tagSuffix"),
    )


def _patch(
    kind: str,
    f: kfile.Fields,
    resources: list[Resource],
    *,
    builder: Builder,
    k: kfile.Kustomization,
) -> list[Resource]:
    limits = builder.files.limits

    def load(path: str) -> bytes:
        return builder.load(k, path, key="transformers")

    if kind == "PatchStrategicMergeTransformer":
        entries: list[str] = list(f.strings("paths"))
        inline = f.string("patches")
        if inline:
            entries.append(inline)
        if not entries:
            raise f.fail("empty file path and empty patch content")
        return patches.apply_patches_strategic_merge(
            resources, tuple(entries), load=load, where=f.file, limits=limits
        )
    if kind == "PatchJson6902Transformer":
        args = kfile.patch_args(f, patch_key="jsonOp")
        patches.apply_json6902(resources, (args,), load=load, where=f.file, limits=limits)
        return resources
    return patches.apply_patches(
        resources, (kfile.patch_args(f),), load=load, where=f.file, limits=limits
    )
