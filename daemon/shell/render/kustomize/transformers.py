"""kustomize's built-in field transformers over a list of resources.

Namespace, name prefix/suffix, labels, annotations, images, replica counts and the
final hash suffix, each reproducing what kustomize's builtin plugin of the same name
does, including its bookkeeping (previous ids, prefixes/suffixes seen) that name
reference fixing relies on later. Patches live in ``patches``; name references in
``nameref``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from daemon.shell.render.kustomize import fieldspecs, generators, kfile
from daemon.shell.render.kustomize.fieldspecs import FieldSpec
from daemon.shell.render.kustomize.ids import Gvk
from daemon.shell.render.kustomize.resource import Resource
from daemon.shell.render.result import RenderError

_PREFIX_SKIP = (
    Gvk(kind="CustomResourceDefinition"),
    Gvk(group="apiregistration.k8s.io", kind="APIService"),
    Gvk(kind="Namespace"),
)
_ROLE_BINDINGS = ("RoleBinding", "ClusterRoleBinding")


def text(value: Any) -> str:
    """The text of a YAML scalar as kustomize sees it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _entry_setter(entry: str, value: str) -> fieldspecs.Setter:
    def put(parent: dict[str, Any], key: str) -> None:
        target = parent[key]
        if target is None:
            return
        if not isinstance(target, dict):
            raise RenderError(f"expected a map at {key!r} to set {entry!r} in")
        target[entry] = value

    return put


def set_entries(
    resources: Sequence[Resource], entries: dict[str, str], specs: Sequence[FieldSpec]
) -> None:
    """Set map entries (labels or annotations) at every field spec, keys in sorted order."""
    if not entries:
        return
    for resource in resources:
        gvk = resource.gvk
        for key in sorted(entries):
            setter = _entry_setter(key, entries[key])
            for fs in specs:
                if fieldspecs.is_match(fs, gvk):
                    fieldspecs.apply(resource.body, fs, setter, create_kind="map")


def label_specs(label: kfile.LabelArgs, config: fieldspecs.TransformerConfig) -> list[FieldSpec]:
    """The field specs one ``labels`` entry writes to."""
    specs = fieldspecs.merge_all(list(label.fields), config.labels)
    if label.include_selectors:
        return fieldspecs.merge_all(specs, config.common_labels)
    if label.include_templates:
        specs = fieldspecs.merge_all(specs, config.template_labels)
    if label.include_volume_claim_templates:
        specs = fieldspecs.merge_all(specs, config.volume_claim_template_labels)
    return fieldspecs.merge_one(specs, fieldspecs.spec("metadata/labels", create=True))


def namespace(
    resources: Sequence[Resource],
    ns: str,
    *,
    specs: Sequence[FieldSpec],
    unset_only: bool = False,
    role_binding_subjects: str = "defaultOnly",
) -> None:
    """Move namespaced resources into ``ns`` (and the fields that name namespaces)."""
    if not ns:
        return

    def put(parent: dict[str, Any], key: str) -> None:
        if unset_only and text(parent.get(key)) != "":
            return
        parent[key] = ns

    for resource in resources:
        resource.store_previous_id()
        gvk = resource.gvk
        kept = [
            fs
            for fs in specs
            if fs.path != "metadata/namespace"
            and (gvk.api_version == "v1" or fs.path != "metadata/name")
            and not (gvk.kind in _ROLE_BINDINGS and fs.path == "subjects/namespace")
        ]
        if not gvk.is_cluster_scoped():
            fieldspecs.apply(
                resource.body,
                fieldspecs.spec("metadata/namespace", create=True),
                put,
                create_kind="scalar",
            )
        if gvk.kind in _ROLE_BINDINGS:
            _role_binding_subjects(resource.body, put, mode=role_binding_subjects)
        for fs in kept:
            if fieldspecs.is_match(fs, gvk):
                fieldspecs.apply(resource.body, fs, put, create_kind="scalar")
    _refuse_id_clash(resources, "namespace transformation")


def _role_binding_subjects(body: dict[str, Any], put: fieldspecs.Setter, *, mode: str) -> None:
    subjects = body.get("subjects")
    if mode == "none" or not isinstance(subjects, list):
        return
    for subject in subjects:
        if not isinstance(subject, dict):
            continue
        if mode == "allServiceAccounts":
            wanted = subject.get("kind") == "ServiceAccount"
        else:
            wanted = subject.get("name") == "default"
        if wanted:
            subject.setdefault("namespace", "")
            put(subject, "namespace")


def _refuse_id_clash(resources: Sequence[Resource], what: str) -> None:
    seen: dict[tuple[Any, ...], Resource] = {}
    for resource in resources:
        rid = resource.cur_id()
        key = (rid.gvk, rid.name, rid.effective_namespace())
        if key in seen:
            raise RenderError(
                f"{what} produces an ID conflict: {rid.display()} "
                f"(from {seen[key].where()} and {resource.where()})"
            )
        seen[key] = resource


def prefix_suffix(
    resources: Sequence[Resource], *, prefix: str = "", suffix: str = "", specs: Sequence[FieldSpec]
) -> None:
    """Add a name prefix or suffix at the field specs (skipping CRDs, APIServices, Namespaces).

    Given both, the prefix pass runs first, then the suffix pass, as kustomize's
    PrefixSuffixTransformer does.
    """
    if prefix and suffix:
        prefix_suffix(resources, prefix=prefix, specs=specs)
        prefix_suffix(resources, suffix=suffix, specs=specs)
        return
    for resource in resources:
        org = resource.org_id()
        if any(org.gvk.is_selected_by(skip) for skip in _PREFIX_SKIP):
            continue
        for fs in specs:
            if not org.gvk.is_selected_by(fs.gvk):
                continue
            if fs.path == "metadata/name":
                _record_affix(resource, prefix=prefix, suffix=suffix)
            if fieldspecs.is_match(fs, resource.gvk):
                fieldspecs.apply(
                    resource.body,
                    fs,
                    lambda p, k: p.__setitem__(k, f"{prefix}{text(p[k])}{suffix}"),
                    create_kind="scalar",
                )


def _record_affix(resource: Resource, *, prefix: str, suffix: str) -> None:
    if prefix:
        resource.prefixes.append(prefix)
        resource.store_previous_id()
    if suffix:
        resource.suffixes.append(suffix)
        resource.store_previous_id()


def replicas(
    resources: Sequence[Resource], *, name: str, count: int, specs: Sequence[FieldSpec]
) -> None:
    """Set the replica count of the resources named ``name`` (by any of their names)."""
    found = False
    for fs in specs:
        for resource in resources:
            if any(
                rid.name == name and rid.gvk.is_selected_by(fs.gvk) for rid in resource.all_ids()
            ):
                found = True
                if fieldspecs.is_match(fs, resource.gvk):
                    fieldspecs.apply(
                        resource.body,
                        fs,
                        lambda p, k: p.__setitem__(k, count),
                        create_kind="scalar",
                    )
    if not found:
        kinds = ", ".join(fs.gvk.display() for fs in specs)
        raise RenderError(
            f"resource with name {name} does not match a config with the following GVK [{kinds}]"
        )


def images(
    resources: Sequence[Resource], image: kfile.ImageArgs, *, specs: Sequence[FieldSpec]
) -> None:
    """Rewrite container images matching ``image.name`` (both of kustomize's passes)."""
    for resource in resources:
        if resource.kind == "CustomResourceDefinition":
            continue
        _legacy_images(resource.body, image)
        gvk = resource.gvk
        for fs in specs:
            if fieldspecs.is_match(fs, gvk):
                fieldspecs.apply(
                    resource.body, fs, lambda p, k: _set_image(p, k, image), create_kind=None
                )


def _legacy_images(node: Any, image: kfile.ImageArgs) -> None:
    """Any ``containers``/``initContainers`` list anywhere in the object (the first pass)."""
    if isinstance(node, list):
        for item in node:
            _legacy_images(item, image)
        return
    if not isinstance(node, dict):
        return
    for key, value in list(node.items()):
        _legacy_images(value, image)
        if key in ("containers", "initContainers") and isinstance(value, list):
            for container in value:
                if isinstance(container, dict) and container.get("image") is not None:
                    _set_image(container, "image", image)


def _set_image(parent: dict[str, Any], key: str, image: kfile.ImageArgs) -> None:
    value = parent[key]
    if isinstance(value, (dict, list)):
        raise RenderError(f"image field {key!r} is not a string")
    current = text(value)
    if not is_image_matched(current, image.name):
        return
    name, tag, digest = split_image(current)
    if image.new_name:
        name = image.new_name
    if image.new_tag and image.digest:
        tag, digest = image.new_tag, image.digest
    elif image.new_tag:
        tag, digest = image.new_tag, ""
    elif image.digest:
        tag, digest = "", image.digest
    elif image.tag_suffix:
        tag, digest = tag + image.tag_suffix, ""
    parent[key] = name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def is_image_matched(value: str, name: str) -> bool:
    """Kustomize's test: ``name`` (a regex, unescaped) then an optional tag and digest."""
    try:
        pattern = re.compile(
            "^"
            + name
            + r"(:[a-zA-Z0-9_.{}-]*)?(@[a-zA-Z0-9]+([.+_-][a-zA-Z0-9]+)*:[a-zA-Z0-9_.{}-]*)?$"
        )
    except re.error:
        return False
    return pattern.match(value) is not None


def split_image(value: str) -> tuple[str, str, str]:
    """``(name, tag, digest)`` of an image reference, ignoring a registry port."""
    slash = value.find("/")
    offset = max(0, slash)
    search = value[offset:]
    at = search.find("@")
    colon = search.find(":")
    if colon < 0 and at < 0:
        return value, "", ""
    if at >= 0 and (at < colon or colon < 0):
        return value[: offset + at], "", value[offset + at + 1 :]
    if at >= 0 and colon >= 0:
        return (
            value[: offset + colon],
            value[offset + colon + 1 : offset + at],
            value[offset + at + 1 :],
        )
    return value[: offset + colon], value[offset + colon + 1 :], ""


def hash_suffixes(resources: Sequence[Resource]) -> None:
    """Append the content hash to the names of generated resources that want one."""
    for resource in resources:
        if resource.needs_hash:
            suffix = generators.content_hash(resource.body)
            resource.store_previous_id()
            resource.name = f"{resource.name}-{suffix}"
