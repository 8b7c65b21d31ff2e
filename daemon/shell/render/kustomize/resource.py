"""One resource during a kustomize build: its body plus the build metadata kustomize tracks.

kustomize keeps its bookkeeping (previous names, prefixes and suffixes applied,
generator behavior, whether a hash suffix is due, whether something refers to it) in
annotations that it strips before output. Here the same facts live beside the body,
so user annotations are never confused with them; ``has_build_annotations`` tells
where kustomize would have had an annotations map because of them.

Also here: reading resources from YAML the way kustomize does (empty documents
dropped, ``kind`` and ``metadata.name`` required, ``*List`` kinds with ``items``
inlined after the other documents of the file, null list items refused), noting
the source text of each null: kyaml keeps ``key:`` apart from ``key: null`` (a strategic
merge patch drops the first, see ``smp``) and prints a null annotation as its text.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from daemon.shell.render import yamlsafe
from daemon.shell.render.kustomize import ids
from daemon.shell.render.result import Limits, RenderError


@dataclasses.dataclass(slots=True, eq=False)
class Resource:
    """A resource body and its build metadata."""

    body: dict[str, Any]
    file: str
    line: int | None = None
    previous: list[tuple[str, str, str]] = dataclasses.field(default_factory=list)
    """(name, effective namespace, kind) of every earlier identity, oldest first."""
    prefixes: list[str] = dataclasses.field(default_factory=list)
    suffixes: list[str] = dataclasses.field(default_factory=list)
    behavior: str | None = None
    """Generator behavior (create/merge/replace/unspecified); None when not generated."""
    needs_hash: bool = False
    referred: bool = False
    allow_name_change: bool = False
    allow_kind_change: bool = False
    var_names: list[str] = dataclasses.field(default_factory=list)
    """Names of the ``vars`` that read from this resource."""
    null_texts: list[tuple[dict[str, Any], str, str]] = dataclasses.field(default_factory=list)
    """(map in ``body``, key, source text) of each null read from YAML.

    Held by map identity, so a record follows its map wherever the body moves it;
    records whose value is no longer null are ignored."""

    def copy(self) -> Resource:
        """A deep copy (body and metadata)."""
        memo: dict[int, Any] = {}
        body = copy.deepcopy(self.body, memo)
        return dataclasses.replace(
            self,
            body=body,
            previous=list(self.previous),
            prefixes=list(self.prefixes),
            suffixes=list(self.suffixes),
            var_names=list(self.var_names),
            null_texts=[(memo[id(m)], k, t) for m, k, t in self.null_texts if id(m) in memo],
        )

    def empty_null_places(self) -> frozenset[tuple[int, str]]:
        """(id of map, key) of the nulls in the body that were written with no text."""
        return frozenset(
            (id(m), k) for m, k, t in self.null_texts if not t and m.get(k, ...) is None
        )

    def null_text(self, mapping: dict[str, Any], key: str) -> str:
        """The source text of the null at ``mapping[key]`` ("" when not known)."""
        return next((t for m, k, t in self.null_texts if m is mapping and k == key), "")

    @property
    def gvk(self) -> ids.Gvk:
        """The current group/version/kind."""
        return ids.gvk_of(self.body)

    @property
    def kind(self) -> str:
        """The current kind."""
        return self.gvk.kind

    def metadata(self) -> dict[str, Any]:
        """``metadata``, created when missing."""
        meta = self.body.get("metadata")
        if not isinstance(meta, dict):
            meta = {}
            self.body["metadata"] = meta
        return meta

    @property
    def name(self) -> str:
        """``metadata.name`` (empty when missing)."""
        value = self.metadata().get("name")
        return value if isinstance(value, str) else ""

    @name.setter
    def name(self, value: str) -> None:
        self.metadata()["name"] = value

    @property
    def namespace(self) -> str:
        """``metadata.namespace`` (empty when missing)."""
        value = self.metadata().get("namespace")
        return value if isinstance(value, str) else ""

    @namespace.setter
    def namespace(self, value: str) -> None:
        meta = self.metadata()
        if value:
            meta["namespace"] = value
        else:
            meta.pop("namespace", None)

    def string_map(self, field: str) -> dict[str, Any]:
        """``metadata.<field>`` (labels or annotations) as a dict (empty when missing)."""
        value = self.metadata().get(field)
        return value if isinstance(value, dict) else {}

    def set_string_map(self, field: str, value: dict[str, Any]) -> None:
        """Replace ``metadata.<field>``; an empty map removes the field, as kustomize does."""
        meta = self.metadata()
        old = meta.get(field)
        if value:
            meta[field] = new = dict(sorted(value.items()))
            self.null_texts = [(new if m is old else m, k, t) for m, k, t in self.null_texts]
        else:
            meta.pop(field, None)

    def cur_id(self) -> ids.ResId:
        """The identity now."""
        return ids.current_id(self.body)

    def prev_ids(self) -> list[ids.ResId]:
        """Earlier identities, oldest first (with the current group/version)."""
        gvk = self.gvk
        return [
            ids.ResId(ids.Gvk(gvk.group, gvk.version, kind), name, namespace)
            for name, namespace, kind in self.previous
        ]

    def org_id(self) -> ids.ResId:
        """The first identity this resource had."""
        if self.previous:
            return self.prev_ids()[0]
        return self.cur_id()

    def all_ids(self) -> list[ids.ResId]:
        """Earlier identities then the current one."""
        return [*self.prev_ids(), self.cur_id()]

    def store_previous_id(self) -> None:
        """Remember the current identity before it changes."""
        rid = self.cur_id()
        self.previous.append((rid.name, rid.effective_namespace(), rid.gvk.kind))

    def has_build_annotations(self) -> bool:
        """True where kustomize would carry build annotations on this resource."""
        return bool(
            self.previous
            or self.prefixes
            or self.suffixes
            or self.behavior is not None
            or self.needs_hash
            or self.referred
            or self.allow_name_change
            or self.allow_kind_change
        )

    def where(self) -> str:
        """``FILE:LINE`` of the resource's origin."""
        return f"{self.file}:{self.line}" if self.line is not None else self.file


def from_text(text: str, *, file: str, limits: Limits) -> list[Resource]:
    """The resources of a YAML stream, read as kustomize reads resource files."""
    queue: list[tuple[Any, int | None, list[tuple[dict[str, Any], str, str]]]] = [
        (doc.value, doc.line, list(doc.null_texts))
        for doc in yamlsafe.load_all(text, file=file, limits=limits)
        if doc.value is not None
    ]
    out: list[Resource] = []
    while queue:
        body, line, null_texts = queue.pop(0)
        if not isinstance(body, dict):
            raise RenderError("expected a resource (a mapping)", file=file, line=line)
        if not body:
            continue
        check(body, file=file, line=line)
        kind = body.get("kind")
        if isinstance(kind, str) and kind.endswith("List") and "items" in body:
            items = body["items"]
            if items is None:
                continue
            if not isinstance(items, list):
                raise RenderError(f"expected a list in {kind}.items", file=file, line=line)
            queue.extend((item, line, null_texts) for item in items if item)
            continue
        out.append(Resource(body=body, file=file, line=line, null_texts=null_texts))
    return out


def check(body: dict[str, Any], *, file: str, line: int | None) -> None:
    """Refuse what kustomize refuses: no kind, no name (except lists), null list items."""
    kind = body.get("kind")
    if not isinstance(kind, str) or not kind:
        raise RenderError("missing kind in object", file=file, line=line)
    metadata = body.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    if not kind.endswith("List") and (not isinstance(name, str) or not name):
        raise RenderError(f"missing metadata.name in {kind} object", file=file, line=line)
    path = _null_item(body, "")
    if path is not None:
        raise RenderError(f"empty item at {path} in {kind} {name}", file=file, line=line)


def _null_item(value: Any, path: str) -> str | None:
    if isinstance(value, dict):
        for key, child in value.items():
            found = _null_item(child, f"{path}.{key}" if path else key)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, child in enumerate(value):
            if child is None:
                return f"{path}[{index}]"
            found = _null_item(child, f"{path}[{index}]")
            if found is not None:
                return found
    return None
