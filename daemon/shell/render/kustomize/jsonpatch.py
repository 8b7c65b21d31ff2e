"""RFC 6902 JSON patches over JSON-like Python values (the semantics kustomize's library has).

Operations: ``add`` (``-`` appends; a missing parent is an error), ``remove`` and
``replace`` (the target must exist), ``move``, ``copy``, ``test``. Array indexes may
be negative (counted from the end), as in evanphx/json-patch v4, which kustomize uses.
"""

from __future__ import annotations

import copy
from typing import Any

from daemon.shell.render.result import RenderError

_OPS = ("add", "remove", "replace", "move", "copy", "test")


def check(operations: Any) -> list[dict[str, Any]]:
    """The operations of a decoded patch, refused when malformed."""
    if not isinstance(operations, list):
        raise RenderError("a JSON patch is a list of operations")
    for number, op in enumerate(operations):
        if not isinstance(op, dict) or op.get("op") not in _OPS:
            raise RenderError(f"JSON patch operation {number}: unknown or missing 'op'")
        if not isinstance(op.get("path"), str):
            raise RenderError(f"JSON patch operation {number} ({op['op']}): missing 'path'")
        if op["op"] in ("move", "copy") and not isinstance(op.get("from"), str):
            raise RenderError(f"JSON patch operation {number} ({op['op']}): missing 'from'")
        if op["op"] in ("add", "replace", "test") and "value" not in op:
            raise RenderError(f"JSON patch operation {number} ({op['op']}): missing 'value'")
    return operations


def apply(document: Any, operations: list[dict[str, Any]]) -> Any:
    """``document`` with the operations applied (it is modified in place when possible)."""
    for op in operations:
        document = _apply_one(document, op)
    return document


def _tokens(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise RenderError(f"JSON pointer {pointer!r} must start with '/'")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _container(document: Any, tokens: list[str], op: dict[str, Any]) -> Any:
    node = document
    for token in tokens[:-1]:
        node = _child(node, token, op)
    return node


def _child(node: Any, token: str, op: dict[str, Any]) -> Any:
    if isinstance(node, dict) and token in node:
        return node[token]
    if isinstance(node, list):
        return node[_index(node, token, op, allow_end=False)]
    raise _missing(op)


def _index(array: list[Any], token: str, op: dict[str, Any], *, allow_end: bool) -> int:
    try:
        index = int(token)
    except ValueError:
        raise _missing(op) from None
    size = len(array) + (1 if allow_end else 0)
    if index < 0:
        index += len(array)
    if not 0 <= index < size:
        raise RenderError(f"JSON patch {op['op']} {op['path']}: index {token} out of range")
    return index


def _missing(op: dict[str, Any]) -> RenderError:
    return RenderError(
        f"JSON patch {op['op']} operation does not apply: doc is missing path {op['path']}"
    )


def _get(document: Any, pointer: str, op: dict[str, Any]) -> Any:
    node = document
    for token in _tokens(pointer):
        node = _child(node, token, op)
    return node


def _add(document: Any, pointer: str, value: Any, op: dict[str, Any]) -> Any:
    tokens = _tokens(pointer)
    if not tokens:
        return value
    parent = _container(document, tokens, op)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            parent.insert(_index(parent, last, op, allow_end=True), value)
    else:
        raise _missing(op)
    return document


def _remove(document: Any, pointer: str, op: dict[str, Any]) -> tuple[Any, Any]:
    tokens = _tokens(pointer)
    if not tokens:
        raise RenderError("JSON patch: cannot remove the whole document")
    parent = _container(document, tokens, op)
    last = tokens[-1]
    if isinstance(parent, dict) and last in parent:
        return document, parent.pop(last)
    if isinstance(parent, list):
        return document, parent.pop(_index(parent, last, op, allow_end=False))
    raise _missing(op)


def _apply_one(document: Any, op: dict[str, Any]) -> Any:
    path = op["path"]
    match op["op"]:
        case "add":
            return _add(document, path, copy.deepcopy(op["value"]), op)
        case "remove":
            return _remove(document, path, op)[0]
        case "replace":
            tokens = _tokens(path)
            if not tokens:
                return copy.deepcopy(op["value"])
            parent = _container(document, tokens, op)
            if isinstance(parent, dict) and tokens[-1] in parent:
                parent[tokens[-1]] = copy.deepcopy(op["value"])
            elif isinstance(parent, list):
                parent[_index(parent, tokens[-1], op, allow_end=False)] = copy.deepcopy(op["value"])
            else:
                raise _missing(op)
            return document
        case "move":
            document, value = _remove(document, op["from"], op)
            return _add(document, path, value, op)
        case "copy":
            return _add(document, path, copy.deepcopy(_get(document, op["from"], op)), op)
        case _:
            if _get(document, path, op) != op["value"]:
                raise RenderError(f"JSON patch test failed at {path}")
            return document
