"""The kustomization file: finding it, reading it strictly, refusing what is not supported.

Every field is checked for its type (kustomize decodes strictly too); fields kustomize
knows but gitopsd does not implement, and unknown fields, fail with
``unsupported kustomize field X (FILE:LINE)``. Deprecated spellings are folded in as
kustomize does (``bases`` into ``resources``, ``imageTags`` into ``images``, ``env``
into ``envs``). The result is plain dataclasses; applying them is ``target``'s job.
"""

from __future__ import annotations

import dataclasses
import posixpath
from typing import Any

from daemon.shell.render import yamlsafe
from daemon.shell.render.kustomize import fieldspecs
from daemon.shell.render.kustomize.ids import Gvk
from daemon.shell.render.reader import Reader
from daemon.shell.render.result import RenderError

FILE_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
KUSTOMIZATION_VERSION = "kustomize.config.k8s.io/v1beta1"
COMPONENT_VERSION = "kustomize.config.k8s.io/v1alpha1"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Selector:
    """A patch target: regexes for gvk, name, namespace; label/annotation selectors."""

    gvk: Gvk = dataclasses.field(default_factory=Gvk)
    name: str = ""
    namespace: str = ""
    label_selector: str = ""
    annotation_selector: str = ""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PatchArgs:
    """One entry of ``patches`` or ``patchesJson6902``."""

    path: str = ""
    patch: str = ""
    target: Selector | None = None
    allow_name_change: bool = False
    allow_kind_change: bool = False


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class GeneratorOptions:
    """``generatorOptions`` or a generator's ``options``."""

    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    disable_name_suffix_hash: bool = False
    immutable: bool = False


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class GeneratorArgs:
    """One ``configMapGenerator`` or ``secretGenerator`` entry."""

    name: str = ""
    namespace: str = ""
    behavior: str = ""
    literals: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    envs: tuple[str, ...] = ()
    options: GeneratorOptions | None = None
    type: str = ""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ImageArgs:
    """One ``images`` entry."""

    name: str = ""
    new_name: str = ""
    new_tag: str = ""
    digest: str = ""
    tag_suffix: str = ""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LabelArgs:
    """One ``labels`` entry."""

    pairs: dict[str, str]
    include_selectors: bool = False
    include_templates: bool = False
    include_volume_claim_templates: bool = False
    fields: tuple[fieldspecs.FieldSpec, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SortOptions:
    """``sortOptions``: legacy (with optional kind lists) or fifo."""

    order: str
    order_first: tuple[str, ...] | None = None
    order_last: tuple[str, ...] | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Kustomization:
    """A parsed kustomization (or component) file."""

    file: str
    dir: str
    kind: str = "Kustomization"
    resources: tuple[str, ...] = ()
    components: tuple[str, ...] = ()
    namespace: str = ""
    name_prefix: str = ""
    name_suffix: str = ""
    common_labels: dict[str, str] = dataclasses.field(default_factory=dict)
    labels: tuple[LabelArgs, ...] = ()
    common_annotations: dict[str, str] = dataclasses.field(default_factory=dict)
    images: tuple[ImageArgs, ...] = ()
    replicas: tuple[tuple[str, int], ...] = ()
    patches: tuple[PatchArgs, ...] = ()
    patches_strategic_merge: tuple[str, ...] = ()
    patches_json6902: tuple[PatchArgs, ...] = ()
    config_map_generator: tuple[GeneratorArgs, ...] = ()
    secret_generator: tuple[GeneratorArgs, ...] = ()
    generator_options: GeneratorOptions | None = None
    transformers: tuple[str, ...] = ()
    sort_options: SortOptions | None = None
    configurations: tuple[str, ...] = ()
    vars: tuple[Fields, ...] = ()
    """``vars`` entries, read by ``varref.parse``."""
    replacements: tuple[Fields, ...] = ()
    """``replacements`` entries, read by ``replacement.parse``."""
    lines: dict[str, int] = dataclasses.field(default_factory=dict)

    def line(self, key: str) -> int | None:
        """Line of a top-level key."""
        return self.lines.get(key)


class Fields:
    """Typed access to one mapping of a file, with errors that name file and line.

    ``lines`` holds the lines of the file's top-level keys; a nested mapping reports
    the line of the top-level key it sits under.
    """

    def __init__(
        self, value: Any, *, where: str, file: str, lines: dict[str, int], line: int | None = None
    ) -> None:
        if not isinstance(value, dict):
            raise RenderError(f"{where or 'document'} must be a mapping", file=file, line=line)
        self.value: dict[str, Any] = value
        self.where = where
        self.file = file
        self.lines = lines
        self.line = line

    def _line(self, key: str) -> int | None:
        return self.line if self.line is not None else self.lines.get(key)

    def _name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def fail(self, message: str, key: str = "") -> RenderError:
        """An error about ``key`` (or the whole mapping)."""
        where = self._name(key) if key else self.where
        return RenderError(
            f"{where}: {message}" if where else message, file=self.file, line=self._line(key)
        )

    def only(self, allowed: set[str]) -> None:
        """Refuse keys outside ``allowed`` (matched without case, as kustomize's decoder does)."""
        folded = {name.lower(): name for name in allowed}
        for key in list(self.value):
            if (
                key not in allowed
                and key.lower() in folded
                and folded[key.lower()] not in self.value
            ):
                self.value[folded[key.lower()]] = self.value.pop(key)
                if key in self.lines:
                    self.lines = {**self.lines, folded[key.lower()]: self.lines[key]}
        for key in self.value:
            if key not in allowed:
                line = self._line(key)
                raise RenderError(
                    f"unsupported kustomize field {self._name(key)} ({self.file}:{line})",
                    file=self.file,
                    line=line,
                )

    def string(self, key: str, default: str = "") -> str:
        """A string field."""
        value = self.value.get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            raise self.fail(f"must be a string, not {_type(value)}", key)
        return value

    def boolean(self, key: str) -> bool:
        """A boolean field (false when absent)."""
        value = self.value.get(key)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self.fail(f"must be true or false, not {_type(value)}", key)
        return value

    def integer(self, key: str) -> int:
        """An integer field (0 when absent)."""
        value = self.value.get(key)
        if value is None:
            return 0
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(f"must be an integer, not {_type(value)}", key)
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        """A list of strings (empty when absent)."""
        value = self.value.get(key)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail("must be a list of strings", key)
        return tuple(value)

    def string_map(self, key: str) -> dict[str, str] | None:
        """A map of strings (None when absent)."""
        value = self.value.get(key)
        if value is None:
            return None
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise self.fail("must be a map of strings (quote numbers and booleans)", key)
        return dict(value)

    def items(self, key: str) -> list[Fields]:
        """A list of mappings (empty when absent)."""
        value = self.value.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail("must be a list", key)
        return [
            Fields(
                item,
                where=f"{self._name(key)}[{i}]",
                file=self.file,
                lines=self.lines,
                line=self._line(key),
            )
            for i, item in enumerate(value)
        ]

    def child(self, key: str) -> Fields | None:
        """A nested mapping (None when absent)."""
        value = self.value.get(key)
        if value is None:
            return None
        return Fields(
            value, where=self._name(key), file=self.file, lines=self.lines, line=self._line(key)
        )


def _type(value: Any) -> str:
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        list: "a list",
        dict: "a map",
    }.get(type(value), type(value).__name__)


SUPPORTED = {
    "apiVersion", "kind", "metadata", "resources", "bases", "components", "namespace",
    "namePrefix", "nameSuffix", "commonLabels", "labels", "commonAnnotations", "images",
    "imageTags", "replicas", "patches", "patchesStrategicMerge", "patchesJson6902",
    "configMapGenerator", "secretGenerator", "generatorOptions", "transformers", "sortOptions",
    "configurations", "vars", "replacements",
}  # fmt: skip


def find(files: Reader, directory: str) -> str | None:
    """The kustomization file in ``directory`` (None when there is none)."""
    names = files.list(directory)
    found = [n for n in FILE_NAMES if n in names]
    if len(found) > 1:
        raise RenderError(
            f"found multiple kustomization files ({', '.join(found)})", file=directory or "."
        )
    if not found:
        return None
    return posixpath.join(directory, found[0]) if directory else found[0]


def load(files: Reader, directory: str) -> Kustomization:
    """Read and check the kustomization file of ``directory``."""
    path = find(files, directory)
    if path is None:
        raise RenderError(
            f"no kustomization file ({', '.join(FILE_NAMES)}) in directory", file=directory or "."
        )
    document = yamlsafe.load(files.text(path), file=path, limits=files.limits)
    if document.value is None:
        raise RenderError("kustomization is empty", file=path)
    return parse(document.value, file=path, directory=directory, lines=document.key_lines)


def parse(value: Any, *, file: str, directory: str, lines: dict[str, int]) -> Kustomization:
    """A ``Kustomization`` from the decoded YAML of ``file``."""
    top = Fields(value, where="", file=file, lines=lines)
    top.only(SUPPORTED)
    kind = top.string("kind", "Kustomization")
    _check_type_meta(top, kind=kind)
    options = top.child("generatorOptions")
    sort_options = top.child("sortOptions")
    result = Kustomization(
        file=file,
        dir=directory,
        kind=kind,
        resources=(*top.strings("resources"), *top.strings("bases")),
        components=top.strings("components"),
        namespace=top.string("namespace"),
        name_prefix=top.string("namePrefix"),
        name_suffix=top.string("nameSuffix"),
        common_labels=top.string_map("commonLabels") or {},
        labels=tuple(_label(f) for f in top.items("labels")),
        common_annotations=top.string_map("commonAnnotations") or {},
        images=tuple(image(f) for key in ("images", "imageTags") for f in top.items(key)),
        replicas=tuple(_replica(f) for f in top.items("replicas")),
        patches=tuple(_patch(f) for f in top.items("patches")),
        patches_strategic_merge=top.strings("patchesStrategicMerge"),
        patches_json6902=tuple(_patch(f) for f in top.items("patchesJson6902")),
        config_map_generator=tuple(
            _generator(f, secret=False) for f in top.items("configMapGenerator")
        ),
        secret_generator=tuple(_generator(f, secret=True) for f in top.items("secretGenerator")),
        generator_options=_options(options) if options else None,
        transformers=top.strings("transformers"),
        sort_options=_sort_options(sort_options) if sort_options else None,
        configurations=top.strings("configurations"),
        vars=tuple(top.items("vars")),
        replacements=tuple(top.items("replacements")),
        lines=dict(lines),
    )
    if result == Kustomization(file=file, dir=directory, kind=kind, lines=dict(lines)):
        raise RenderError("kustomization is empty", file=file)
    return result


def _check_type_meta(top: Fields, *, kind: str) -> None:
    if kind not in ("Kustomization", "Component"):
        raise top.fail("kind should be Kustomization or Component", "kind")
    version = top.string("apiVersion")
    wanted = COMPONENT_VERSION if kind == "Component" else KUSTOMIZATION_VERSION
    if version and version != wanted:
        raise top.fail(f"apiVersion for {kind} should be {wanted}", "apiVersion")


def _label(f: Fields) -> LabelArgs:
    f.only(
        {"pairs", "includeSelectors", "includeTemplates", "includeVolumeClaimTemplates", "fields"}
    )
    return LabelArgs(
        pairs=f.string_map("pairs") or {},
        include_selectors=f.boolean("includeSelectors"),
        include_templates=f.boolean("includeTemplates"),
        include_volume_claim_templates=f.boolean("includeVolumeClaimTemplates"),
        fields=tuple(field_spec(item) for item in f.items("fields")),
    )


def field_spec(f: Fields, *, strict: bool = True) -> fieldspecs.FieldSpec:
    """A field spec written in a file (``group``, ``version``, ``kind``, ``path``, ``create``)."""
    if strict:
        f.only({"group", "version", "kind", "path", "create"})
    return fieldspecs.FieldSpec(
        Gvk(f.string("group"), f.string("version"), f.string("kind")),
        f.string("path"),
        f.boolean("create"),
    )


def image(f: Fields) -> ImageArgs:
    """An ``images`` entry (or a built-in ImageTagTransformer's ``imageTag``)."""
    f.only({"name", "newName", "newTag", "digest", "tagSuffix"})
    return ImageArgs(
        name=f.string("name"),
        new_name=f.string("newName"),
        new_tag=f.string("newTag"),
        digest=f.string("digest"),
        tag_suffix=f.string("tagSuffix"),
    )


def _replica(f: Fields) -> tuple[str, int]:
    f.only({"name", "count"})
    return f.string("name"), f.integer("count")


def selector(f: Fields) -> Selector:
    """A patch ``target``."""
    f.only({"group", "version", "kind", "name", "namespace", "labelSelector", "annotationSelector"})
    return Selector(
        gvk=Gvk(f.string("group"), f.string("version"), f.string("kind")),
        name=f.string("name"),
        namespace=f.string("namespace"),
        label_selector=f.string("labelSelector"),
        annotation_selector=f.string("annotationSelector"),
    )


def patch_args(f: Fields, *, patch_key: str = "patch") -> PatchArgs:
    """A patch entry: ``path`` or inline text, optional ``target`` and ``options``."""
    options = f.child("options")
    if options is not None:
        options.only({"allowNameChange", "allowKindChange"})
    target = f.child("target")
    return PatchArgs(
        path=f.string("path"),
        patch=f.string(patch_key),
        target=selector(target) if target else None,
        allow_name_change=options.boolean("allowNameChange") if options else False,
        allow_kind_change=options.boolean("allowKindChange") if options else False,
    )


def _patch(f: Fields) -> PatchArgs:
    f.only({"path", "patch", "target", "options"})
    return patch_args(f)


def _options(f: Fields) -> GeneratorOptions:
    f.only({"labels", "annotations", "disableNameSuffixHash", "immutable"})
    return GeneratorOptions(
        labels=f.string_map("labels"),
        annotations=f.string_map("annotations"),
        disable_name_suffix_hash=f.boolean("disableNameSuffixHash"),
        immutable=f.boolean("immutable"),
    )


def _generator(f: Fields, *, secret: bool) -> GeneratorArgs:
    allowed = {"name", "namespace", "behavior", "literals", "files", "envs", "env", "options"}
    f.only(allowed | {"type"} if secret else allowed)
    env = f.string("env")
    options = f.child("options")
    return GeneratorArgs(
        name=f.string("name"),
        namespace=f.string("namespace"),
        behavior=f.string("behavior"),
        literals=f.strings("literals"),
        files=f.strings("files"),
        envs=(*f.strings("envs"), *((env,) if env else ())),
        options=_options(options) if options else None,
        type=f.string("type") if secret else "",
    )


def _sort_options(f: Fields) -> SortOptions:
    f.only({"order", "legacySortOptions"})
    order = f.string("order")
    if order not in ("legacy", "fifo"):
        raise f.fail("the field 'sortOptions.order' must be one of [fifo, legacy]", "order")
    legacy = f.child("legacySortOptions")
    if legacy is None:
        return SortOptions(order=order)
    if order != "legacy":
        raise f.fail("legacySortOptions is set but the order is not 'legacy'", "legacySortOptions")
    legacy.only({"orderFirst", "orderLast"})
    return SortOptions(
        order=order,
        order_first=legacy.strings("orderFirst"),
        order_last=legacy.strings("orderLast"),
    )
