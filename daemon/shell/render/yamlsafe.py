"""A YAML loader for untrusted repositories: limits, exact errors, JSON-compatible values.

Built on libyaml's event stream (``yaml.parse`` with ``CSafeLoader``) rather than its
composer, so that nesting depth is checked before anything recurses and every alias
expansion is counted. It refuses:

* nesting deeper than ``Limits.max_yaml_depth``;
* more than ``Limits.max_yaml_aliases`` alias uses in one document, and documents that
  expand (aliases followed) to more than ``Limits.max_yaml_nodes`` nodes — together
  they stop "billion laughs" bombs;
* duplicate mapping keys (Kubernetes' own decoder refuses them too);
* tags it does not know (custom ``!Tags``), and collections as mapping keys.

Values follow YAML 1.1 as Kubernetes' decoder reads it (``yes``/``no``/``on``/``off``
are booleans, ``0777`` is octal), except that timestamps stay strings and sexagesimal
numbers (``1:30``) stay strings, since no Kubernetes field wants either. Mapping keys
become strings. Merge keys (``<<``) are honoured. Errors carry the file and 1-based line.

Every null reads as ``None``, but each document also lists the (mapping, key, source
text) of its null mapping values, since kustomize tells ``key:`` from ``key: null`` and
``key: ~`` (a strategic merge drops the first; annotations print the text). Nulls
reached through an alias or a merge key are not listed (they live in a copy).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
from typing import Any

import yaml

from daemon.shell.render.result import DEFAULT_LIMITS, Limits, RenderError

_TAG = "tag:yaml.org,2002:"
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_TRUE = frozenset({"yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"})
_FALSE = frozenset({"no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"})
_INT = re.compile(
    r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"
)
_FLOAT = re.compile(
    r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?"
    r"|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)


@dataclasses.dataclass(frozen=True, slots=True)
class Document:
    """One YAML document: its value, the line its content starts at, its top-level key lines."""

    value: Any
    line: int
    key_lines: dict[str, int]
    null_texts: tuple[tuple[dict[str, Any], str, str], ...] = ()
    """(mapping, key, source text) of each null mapping value in ``value``."""


def load_all(text: str, *, file: str, limits: Limits = DEFAULT_LIMITS) -> list[Document]:
    """Every document of ``text`` (empty documents included as ``None`` values)."""
    try:
        return _Builder(file=file, limits=limits).run(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        line = mark.line + 1 if mark is not None else None
        raise RenderError(f"invalid YAML: {problem}", file=file, line=line) from exc
    except yaml.YAMLError as exc:
        raise RenderError(f"invalid YAML: {exc}", file=file) from exc


def load(text: str, *, file: str, limits: Limits = DEFAULT_LIMITS) -> Document:
    """The single document of ``text``; several documents are an error."""
    documents = [d for d in load_all(text, file=file, limits=limits) if d.value is not None]
    if len(documents) > 1:
        raise RenderError("expected one YAML document, found several", file=file)
    return documents[0] if documents else Document(None, 1, {})


def _scalar(event: yaml.ScalarEvent, *, file: str) -> Any:
    value: str = event.value
    tag = event.tag
    plain = event.implicit[0]
    if tag in (None, "!") and plain and event.style in (None, ""):
        return resolve_plain(value)
    if tag in (None, "!", _TAG + "str"):
        return value
    line = event.start_mark.line + 1 if event.start_mark is not None else None
    resolved = resolve_plain(value)
    match tag.removeprefix(_TAG):
        case "int" if isinstance(resolved, int) and not isinstance(resolved, bool):
            return resolved
        case "float" if isinstance(resolved, (int, float)) and not isinstance(resolved, bool):
            return float(resolved)
        case "bool" if isinstance(resolved, bool):
            return resolved
        case "null" if resolved is None:
            return None
        case "binary":
            return _binary(value, file=file, line=line)
    raise RenderError(f"unsupported YAML tag {tag!r} on {value!r}", file=file, line=line)


def _binary(value: str, *, file: str, line: int | None) -> str:
    compact = "".join(value.split())
    try:
        base64.b64decode(compact, validate=True)
    except binascii.Error as exc:
        raise RenderError("invalid !!binary value", file=file, line=line) from exc
    return compact


def resolve_plain(value: str) -> Any:
    """The value of a plain (unquoted) scalar under the rules in the module docstring."""
    if _NULL.match(value):
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    first = value[0]
    if first in "0123456789+-." and _INT.match(value):
        return _to_int(value)
    if first in "0123456789+-." and _FLOAT.match(value):
        return _to_float(value)
    return value


def _to_int(value: str) -> int:
    text = value.replace("_", "")
    sign = -1 if text.startswith("-") else 1
    text = text.lstrip("+-")
    if text.startswith(("0b", "0x")):
        return sign * int(text, 0)
    if len(text) > 1 and text.startswith("0"):
        return sign * int(text, 8)
    return sign * int(text)


def _to_float(value: str) -> float:
    text = value.replace("_", "").lower()
    if text.endswith(".inf"):
        return float("-inf") if text.startswith("-") else float("inf")
    if text == ".nan":
        return float("nan")
    return float(text)


def _key(value: Any, *, file: str, line: int) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return str(value)
    raise RenderError("a mapping key must be a scalar", file=file, line=line)


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


@dataclasses.dataclass(slots=True)
class _Frame:
    """A collection being built."""

    value: dict[str, Any] | list[Any]
    anchor: str | None
    line: int
    nodes: int = 1
    key: Any = None
    has_key: bool = False
    key_line: int = 0
    key_lines: dict[str, int] = dataclasses.field(default_factory=dict)
    merges: list[tuple[Any, int]] = dataclasses.field(default_factory=list)
    merge_pending: bool = False


class _Builder:
    """Turns libyaml events into values, one document at a time, under the limits."""

    def __init__(self, *, file: str, limits: Limits) -> None:
        self.file = file
        self.limits = limits
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.aliases = 0
        self.nodes = 0
        self.documents: list[Document] = []
        self.doc_line = 1
        self.root: tuple[Any, dict[str, int], int] | None = None
        self.null_texts: list[tuple[dict[str, Any], str, str]] = []

    def run(self, text: str) -> list[Document]:
        for event in yaml.parse(text, Loader=yaml.CSafeLoader):
            self.on_event(event)
        return self.documents

    def on_event(self, event: yaml.Event) -> None:
        line = event.start_mark.line + 1 if event.start_mark is not None else 0
        match event:
            case yaml.DocumentStartEvent():
                self.anchors, self.aliases, self.nodes = {}, 0, 0
                self.doc_line, self.root, self.null_texts = line, None, []
            case yaml.DocumentEndEvent():
                value, key_lines, line = self.root if self.root is not None else (None, {}, 0)
                self.documents.append(
                    Document(value, line or self.doc_line, key_lines, tuple(self.null_texts))
                )
            case yaml.MappingStartEvent() | yaml.SequenceStartEvent():
                self.open(event, line)
            case yaml.MappingEndEvent() | yaml.SequenceEndEvent():
                self.close()
            case yaml.ScalarEvent():
                self.count(1, line)
                value = _scalar(event, file=self.file)
                if event.anchor:
                    self.anchors[event.anchor] = (value, 1)
                is_merge = event.value == "<<" and event.implicit[0] and event.tag is None
                self.add(value, 1, line, merge_key=is_merge)
                if value is None:
                    self.note_null(event.value)
            case yaml.AliasEvent():
                self.alias(event.anchor or "", line)

    def note_null(self, text: str) -> None:
        """Record the source text of the null just put, when it was a mapping value."""
        frame = self.stack[-1] if self.stack else None
        if (
            frame is not None
            and isinstance(frame.value, dict)
            and not frame.has_key
            and frame.value.get(frame.key, ...) is None
        ):
            self.null_texts.append((frame.value, frame.key, text))

    def count(self, nodes: int, line: int) -> None:
        self.nodes += nodes
        if self.nodes > self.limits.max_yaml_nodes:
            raise RenderError(
                f"document expands to over {self.limits.max_yaml_nodes} nodes "
                "(YAML alias bomb?); refused",
                file=self.file,
                line=line,
            )

    def open(self, event: yaml.CollectionStartEvent, line: int) -> None:
        if len(self.stack) >= self.limits.max_yaml_depth:
            raise RenderError(
                f"YAML nested deeper than {self.limits.max_yaml_depth} levels; refused",
                file=self.file,
                line=line,
            )
        if event.tag not in (None, "!", _TAG + "map", _TAG + "seq", _TAG + "omap"):
            raise RenderError(f"unsupported YAML tag {event.tag!r}", file=self.file, line=line)
        self.count(1, line)
        value: dict[str, Any] | list[Any] = {} if isinstance(event, yaml.MappingStartEvent) else []
        self.stack.append(_Frame(value=value, anchor=event.anchor, line=line))

    def close(self) -> None:
        frame = self.stack.pop()
        value = frame.value
        if isinstance(value, dict) and frame.merges:
            value = self.merged(frame)
        if frame.anchor:
            self.anchors[frame.anchor] = (value, frame.nodes)
        self.add(value, frame.nodes, frame.line, key_lines=frame.key_lines)

    def merged(self, frame: _Frame) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for source, line in frame.merges:
            sources = source if isinstance(source, list) else [source]
            for item in sources:
                if not isinstance(item, dict):
                    raise RenderError(
                        "a merge key (<<) needs a mapping or a list of mappings",
                        file=self.file,
                        line=line,
                    )
                for key, val in item.items():
                    result.setdefault(key, val)
        assert isinstance(frame.value, dict)
        result.update(frame.value)
        return result

    def alias(self, anchor: str, line: int) -> None:
        found = self.anchors.get(anchor)
        if found is None:
            raise RenderError(
                f"alias *{anchor} refers to an unknown or enclosing anchor",
                file=self.file,
                line=line,
            )
        self.aliases += 1
        if self.aliases > self.limits.max_yaml_aliases:
            raise RenderError(
                f"more than {self.limits.max_yaml_aliases} alias uses in one document; refused",
                file=self.file,
                line=line,
            )
        value, nodes = found
        self.count(nodes, line)
        self.add(_copy(value), nodes, line)

    def add(
        self,
        value: Any,
        nodes: int,
        line: int,
        *,
        merge_key: bool = False,
        key_lines: dict[str, int] | None = None,
    ) -> None:
        if not self.stack:
            self.root = (value, key_lines or {}, line)
            return
        frame = self.stack[-1]
        frame.nodes += nodes
        if isinstance(frame.value, list):
            frame.value.append(value)
        elif not frame.has_key:
            if isinstance(value, (dict, list)):
                raise RenderError("a mapping key must be a scalar", file=self.file, line=line)
            frame.merge_pending = merge_key
            frame.key = _key(value, file=self.file, line=line)
            frame.key_line, frame.has_key = line, True
        else:
            self.put(frame, value)

    def put(self, frame: _Frame, value: Any) -> None:
        assert isinstance(frame.value, dict)
        frame.has_key = False
        if frame.merge_pending:
            frame.merges.append((value, frame.key_line))
            frame.merge_pending = False
            return
        key = frame.key
        if key in frame.value:
            raise RenderError(
                f"duplicate key {key!r} (first at line {frame.key_lines[key]})",
                file=self.file,
                line=frame.key_line,
            )
        frame.value[key] = value
        frame.key_lines[key] = frame.key_line
