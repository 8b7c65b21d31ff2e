"""Dotted field paths (``spec.template.spec.containers.[name=app].image``) as kyaml reads them.

Used by ``replacements`` (sources and targets) and ``vars`` (field references). A path
splits at dots outside brackets; a part is a map key, a list index (``0``; ``-`` for
the last element when reading), ``[key=value]`` for the list elements whose ``key``
reads ``value`` (``[=value]`` for scalar elements), or ``*`` for every element of a
list (targets only). ``lookup`` finds one value (kyaml's PathGetter); ``locate``
finds every matching field, creating missing ones on request (kyaml's PathMatcher),
and returns ``(container, key)`` pairs for the caller to read and set.

kyaml quirk kept: ``[key=value]`` in a target path is an unanchored regular
expression (``[name=app]`` also selects ``app-sidecar``); in a source path it is an
exact match.
"""

from __future__ import annotations

import re
from typing import Any, Final, Literal

from daemon.shell.render.kustomize import transformers
from daemon.shell.render.result import RenderError

Slot = tuple[dict[str, Any] | list[Any], Any]
CreateKind = Literal["map", "list", "scalar"] | None


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
CREATED: Final = _Missing()
"""A scalar field ``locate`` just created (it takes the type of what is written to it)."""
_SLICE_INDEX = re.compile(r"^(.*)\[(\d+)\]$")


def split(path: str) -> list[str]:
    r"""``path`` split at dots as kyaml's SmarterPathSplitter does.

    ``\.`` escapes a dot; a leading dot is dropped; a bracketed part spanning dots is
    kept whole (``[app.kubernetes.io/name=x]``), and without ``=`` it is a plain key
    with the brackets removed (``[cert-manager.io/inject-ca-from]``).
    """
    pieces = path.split(".")
    if len(pieces) > 1 and pieces[0] == "":
        pieces = pieces[1:]
    escaped = [pieces[0]]
    for piece in pieces[1:]:
        if escaped[-1].endswith("\\"):
            escaped[-1] = escaped[-1][:-1] + "." + piece
        else:
            escaped.append(piece)
    out: list[str] = []
    index = 0
    while index < len(escaped):
        piece = escaped[index]
        if piece.startswith("[") and not piece.endswith("]"):
            group = [piece]
            while index < len(escaped) - 1:
                index += 1
                group.append(escaped[index])
                if escaped[index].endswith("]"):
                    break
            joined = ".".join(group)
            out.append(joined if "=" in joined else joined.strip("[]"))
        else:
            out.append(piece)
        index += 1
    return out


def split_with_indexes(path: str) -> list[str]:
    """``split``, with ``containers[0]`` read as ``containers`` then ``0`` (var field refs)."""
    out: list[str] = []
    for part in split(path):
        found = _SLICE_INDEX.match(part)
        if found is None:
            out.append(part)
            continue
        if found.group(1):
            out.append(found.group(1))
        out.append(found.group(2))
    return out


def is_list_part(part: str) -> bool:
    """True for ``[key=value]`` parts."""
    return part.startswith("[") and part.endswith("]")


def _key_value(part: str) -> tuple[str, str]:
    inner = part[1:-1]
    if "=" not in inner:
        raise RenderError(
            f"list path element {part!r} must contain fieldName=fieldValue for element to match"
        )
    key, value = inner.split("=", 1)
    return key, value


def _index(part: str) -> int | None:
    return int(part) if part.isdigit() else None


def lookup(node: Any, parts: list[str]) -> Any:
    """The value at ``parts`` below ``node``, ``MISSING`` when there is none."""
    for part in parts:
        if node is None:
            return MISSING
        index = _index(part)
        if index is not None or part == "-":
            if not isinstance(node, list) or not node:
                return MISSING
            position = len(node) - 1 if index is None else index
            if position >= len(node):
                return MISSING
            node = node[position]
        elif part == "*":
            raise RenderError("wildcard is not supported in a source field path")
        elif is_list_part(part):
            key, value = _key_value(part)
            if not isinstance(node, list):
                return MISSING
            node = next((e for e in node if _element_text(e, key) == value), MISSING)
            if node is MISSING:
                return MISSING
        else:
            if not isinstance(node, dict) or part not in node:
                return MISSING
            node = node[part]
    return node


def _element_text(element: Any, key: str) -> str | None:
    if not key:
        return None if isinstance(element, (dict, list)) else transformers.text(element)
    if not isinstance(element, dict) or element.get(key) is None:
        return None
    return transformers.text(element[key]).strip()


def _part_kind(next_part: str | None, default: CreateKind) -> CreateKind:
    if next_part is None:
        return default
    if is_list_part(next_part) or _index(next_part) is not None:
        return "list"
    return "map"


def _new(kind: CreateKind) -> Any:
    if kind == "map":
        return {}
    if kind == "list":
        return []
    return CREATED


def locate(node: Any, parts: list[str], *, create: CreateKind = None) -> list[Slot]:
    """Every field matching ``parts`` below ``node``, as ``(container, key)``."""
    out: list[Slot] = []
    _locate(node, parts, create=create, out=out)
    return out


def _locate(node: Any, parts: list[str], *, create: CreateKind, out: list[Slot]) -> None:
    part, rest = parts[0], parts[1:]
    following = rest[0] if rest else None
    if _index(part) is not None:
        _locate_index(node, int(part), rest, create=create, out=out)
    elif is_list_part(part):
        _locate_matching(node, part, rest, create=create, out=out)
    elif part == "*":
        if not isinstance(node, list):
            raise RenderError(f"wildcard '*' needs a list, found {_kind_name(node)}")
        for position in range(len(node)):
            _descend(node, position, rest, create=create, out=out)
    else:
        if not isinstance(node, dict):
            raise RenderError(f"expected a map at {part!r}, found {_kind_name(node)}")
        if part not in node:
            if create is None:
                return
            node[part] = _new(_part_kind(following, create))
        _descend(node, part, rest, create=create, out=out)


def _descend(
    container: dict[str, Any] | list[Any],
    key: Any,
    rest: list[str],
    *,
    create: CreateKind,
    out: list[Slot],
) -> None:
    if not rest:
        out.append((container, key))
        return
    child = container[key]
    if child is None or child is CREATED:
        if create is None:
            return
        child = _new(_part_kind(rest[0], create))
        container[key] = child
    _locate(child, rest, create=create, out=out)


def _locate_index(
    node: Any, index: int, rest: list[str], *, create: CreateKind, out: list[Slot]
) -> None:
    if not isinstance(node, list):
        raise RenderError(f"expected a list at index {index}, found {_kind_name(node)}")
    if index == len(node) and create is not None:
        node.append(_new(_part_kind(rest[0] if rest else None, create)))
    if index >= len(node):
        raise RenderError(f"index {index} specified but only {len(node)} elements found")
    _descend(node, index, rest, create=create, out=out)


def _locate_matching(
    node: Any, part: str, rest: list[str], *, create: CreateKind, out: list[Slot]
) -> None:
    key, value = _key_value(part)
    if not isinstance(node, list):
        raise RenderError(f"expected a list at {part!r}, found {_kind_name(node)}")
    try:
        pattern = re.compile(value)
    except re.error as exc:
        raise RenderError(f"invalid regular expression in {part!r}: {exc}") from exc
    found = [
        position
        for position, element in enumerate(node)
        if (text := _element_text(element, key)) is not None and pattern.search(text)
    ]
    if not found and create is not None:
        node.append({key: value} if key else value)
        found = [len(node) - 1]
    for position in found:
        _descend(node, position, rest, create=create, out=out)


def _kind_name(node: Any) -> str:
    if isinstance(node, dict):
        return "a map"
    if isinstance(node, list):
        return "a list"
    return "a scalar" if node is not None else "null"
