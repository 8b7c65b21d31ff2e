"""The ``replacements`` field: copy a value from one resource into fields of others.

Each replacement is inline or ``path:`` to a file holding one replacement or a list.
Its ``source`` selects exactly one resource (by group/version/kind/name/namespace,
matched exactly against any of its names so far) and reads ``fieldPath`` (``metadata.name``
by default), optionally one ``delimiter``-separated piece of it; ``sourceValue``
gives the value directly. Each ``targets`` entry selects resources with ``select``
(exact values as in kustomize v5.5, not regexes; plus label and annotation
selectors), drops those any ``reject`` matches, and writes every ``fieldPaths``
entry (``create`` makes missing fields; with a ``delimiter`` the value replaces,
prepends or appends one piece of the target).

Writing into a scalar keeps the target's type where kustomize keeps its YAML tag: a
string stays a string, a number or a created field takes the value's plain YAML
reading. Errors name the replacement (its index and file) and what failed.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from daemon.shell.render import yamlsafe
from daemon.shell.render.kustomize import fieldpath, kfile, selectors, transformers
from daemon.shell.render.kustomize.ids import Gvk, ResId
from daemon.shell.render.kustomize.resource import Resource
from daemon.shell.render.result import Limits, RenderError

DEFAULT_FIELD_PATH = "metadata.name"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    """``options`` of a source or target."""

    delimiter: str = ""
    index: int = 0
    create: bool = False


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """Where the value comes from."""

    gvk: Gvk
    name: str = ""
    namespace: str = ""
    field_path: str = DEFAULT_FIELD_PATH
    options: Options = Options()

    def display(self) -> str:
        """The source as kustomize prints it in errors (``Kind.version.group/name.ns``)."""
        return ResId(self.gvk, self.name, self.namespace).display()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """Where the value goes."""

    select: kfile.Selector
    reject: tuple[kfile.Selector, ...] = ()
    field_paths: tuple[str, ...] = (DEFAULT_FIELD_PATH,)
    options: Options = Options()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Replacement:
    """One replacement, with the file and index it came from for errors."""

    source: Source | None
    value: str | None
    targets: tuple[Target, ...]
    where: str


Load = Callable[[str], bytes]


def parse(entries: Sequence[kfile.Fields], *, load: Load, limits: Limits) -> list[Replacement]:
    """The replacements of a kustomization's ``replacements`` entries (files read)."""
    out: list[Replacement] = []
    for entry in entries:
        path = entry.string("path")
        if not path:
            out.append(_replacement(entry, where=f"{entry.file} ({entry.where})"))
            continue
        if set(entry.value) - {"path"}:
            raise entry.fail("cannot specify both path and inline replacement")
        document = yamlsafe.load(load(path).decode("utf-8", "replace"), file=path, limits=limits)
        value = document.value
        items = value if isinstance(value, list) else [value]
        if not isinstance(value, (list, dict)):
            raise RenderError(
                "a replacements file must hold a replacement or a list of them", file=path
            )
        for index, item in enumerate(items):
            fields = kfile.Fields(
                item, where=f"[{index}]", file=path, lines=document.key_lines, line=None
            )
            out.append(_replacement(fields, where=f"{path} (replacement {index})"))
    return out


def _replacement(f: kfile.Fields, *, where: str) -> Replacement:
    f.only({"source", "targets", "sourceValue", "path"})
    source = f.child("source")
    value = f.value.get("sourceValue")
    if value is not None and source is not None:
        raise f.fail("value and resource selectors are mutually exclusive")
    targets = f.items("targets")
    if (source is None and value is None) or not targets:
        raise f.fail("replacements must specify a source and at least one target")
    return Replacement(
        source=_source(source) if source is not None else None,
        value=None if value is None else _source_value(value),
        targets=tuple(_target(t) for t in targets),
        where=where,
    )


def _source_value(value: Any) -> str:
    """A scalar as YAML text (``sourceValue`` is read as a string)."""
    if isinstance(value, (dict, list)):
        raise RenderError("sourceValue must be a scalar")
    return transformers.text(value)


def _options(f: kfile.Fields | None) -> Options:
    if f is None:
        return Options()
    f.only({"delimiter", "index", "create", "encoding"})
    if f.string("encoding"):
        raise f.fail("unsupported kustomize field: encoding", "encoding")
    return Options(
        delimiter=f.string("delimiter"), index=f.integer("index"), create=f.boolean("create")
    )


def _source(f: kfile.Fields) -> Source:
    f.only({"group", "version", "kind", "name", "namespace", "fieldPath", "options"})
    return Source(
        gvk=Gvk(f.string("group"), f.string("version"), f.string("kind")),
        name=f.string("name"),
        namespace=f.string("namespace"),
        field_path=f.string("fieldPath") or DEFAULT_FIELD_PATH,
        options=_options(f.child("options")),
    )


def _target(f: kfile.Fields) -> Target:
    f.only({"select", "reject", "fieldPaths", "options"})
    select = f.child("select")
    if select is None:
        raise f.fail("target must specify resources to select")
    return Target(
        select=kfile.selector(select),
        reject=tuple(kfile.selector(r) for r in f.items("reject")),
        field_paths=f.strings("fieldPaths") or (DEFAULT_FIELD_PATH,),
        options=_options(f.child("options")),
    )


def apply(resources: Sequence[Resource], replacements: Sequence[Replacement]) -> None:
    """Run ``replacements`` in order over ``resources`` (in place)."""
    for replacement in replacements:
        try:
            value = _value(resources, replacement)
            for target in replacement.targets:
                _apply_target(resources, value, target)
        except RenderError as exc:
            raise RenderError(f"replacement in {replacement.where}: {exc.message}") from exc


def _value(resources: Sequence[Resource], replacement: Replacement) -> Any:
    if replacement.source is None:
        return replacement.value
    source = replacement.source
    found = [
        r
        for r in resources
        if any(
            _is_selected_by(i, source.gvk, name=source.name, namespace=source.namespace)
            for i in _ids(r)
        )
    ]
    if len(found) > 1:
        raise RenderError(f"multiple matches for source {source.display()}")
    if not found:
        raise RenderError(f"nothing selected by source {source.display()}")
    value = fieldpath.lookup(found[0].body, fieldpath.split(source.field_path))
    if value is fieldpath.MISSING or value is None or value in ({}, []):
        raise RenderError(
            f"fieldPath `{source.field_path}` is missing for replacement source {source.display()}"
        )
    return _refined(value, source.options)


def _ids(res: Resource) -> list[ResId]:
    """The current id (namespace as written) then the earlier ones, as kyaml lists them."""
    cur = res.cur_id()
    return [ResId(cur.gvk, cur.name, res.namespace, cur.cluster), *res.prev_ids()]


def _is_selected_by(rid: ResId, gvk: Gvk, *, name: str, namespace: str) -> bool:
    """Kyaml's ResId.IsSelectedBy: empty selector parts match anything."""
    if name and name != rid.name:
        return False
    if namespace and (
        ResId(rid.gvk, "", namespace).effective_namespace() != rid.effective_namespace()
    ):
        return False
    return rid.gvk.is_selected_by(gvk)


def _refined(value: Any, options: Options) -> Any:
    if not options.delimiter:
        return value
    if isinstance(value, (dict, list)):
        raise RenderError("delimiter option can only be used with scalar nodes")
    pieces = transformers.text(value).split(options.delimiter)
    if not 0 <= options.index < len(pieces):
        raise RenderError(
            f"options.index {options.index} is out of bounds for value {transformers.text(value)}"
        )
    return pieces[options.index]


def _apply_target(resources: Sequence[Resource], value: Any, target: Target) -> None:
    for res in resources:
        if not _by_labels(res, target.select) or not _matches_any_id(res, target.select):
            continue
        if any(_is_rejected(res, reject) for reject in target.reject):
            continue
        for path in target.field_paths:
            _write(res, value, path, target.options)


def _by_labels(res: Resource, selector: kfile.Selector) -> bool:
    return selectors.matches(
        selectors.parse(selector.label_selector), res.string_map("labels")
    ) and selectors.matches(
        selectors.parse(selector.annotation_selector), res.string_map("annotations")
    )


def _is_rejected(res: Resource, reject: kfile.Selector) -> bool:
    """Kustomize's reject: by labels/annotations when given, and by id when given."""
    if (reject.label_selector or reject.annotation_selector) and _by_labels(res, reject):
        return True
    by_id = dataclasses.replace(reject, label_selector="", annotation_selector="")
    return by_id != kfile.Selector() and _matches_any_id(res, by_id)


def _matches_any_id(res: Resource, selector: kfile.Selector) -> bool:
    """True when one of the resource's ids is selected (exact values, as kustomize v5.5)."""
    return any(
        _is_selected_by(rid, selector.gvk, name=selector.name, namespace=selector.namespace)
        for rid in _ids(res)
    )


def _kind_of(value: Any) -> fieldpath.CreateKind:
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "list"
    return "scalar"


def _write(res: Resource, value: Any, path: str, options: Options) -> None:
    create = _kind_of(value) if options.create else None
    verb = "find or create" if create else "find"
    try:
        slots = fieldpath.locate(res.body, fieldpath.split(path), create=create)
    except RenderError as exc:
        raise RenderError(
            f"unable to {verb} field {path!r} in replacement target "
            f"{res.cur_id().display()}: {exc.message}"
        ) from exc
    if not slots:
        raise RenderError(
            f"unable to {verb} field {path!r} in replacement target {res.cur_id().display()}"
        )
    for container, key in slots:
        if container[key] is None:
            # kustomize fails here too (it cannot decode the value as a !!null).
            raise RenderError(
                f"field {path!r} of replacement target {res.cur_id().display()} is null: "
                "give it a value or remove it"
            )
        container[key] = _new_value(container[key], value, options)


def _new_value(current: Any, value: Any, options: Options) -> Any:
    if options.delimiter:
        if isinstance(current, (dict, list)):
            raise RenderError("delimiter option can only be used with scalar nodes")
        pieces = transformers.text(current).split(options.delimiter)
        piece = transformers.text(value)
        if options.index < 0:
            pieces.insert(0, piece)
        elif options.index >= len(pieces):
            pieces.append(piece)
        else:
            pieces[options.index] = piece
        value = options.delimiter.join(pieces)
    if isinstance(current, (dict, list)):
        return copy.deepcopy(value)
    text = "" if isinstance(value, (dict, list)) else transformers.text(value)
    if isinstance(current, str):
        return text
    return yamlsafe.resolve_plain(text)
