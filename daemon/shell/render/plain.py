"""The plain renderer: YAML and JSON files at the app's path, as they are.

Files ending in ``.yaml``, ``.yml`` or ``.json`` are read in lexical order of their
paths (with ``recurse``, subdirectories are walked at their place in that order, like
``filepath.Walk``); names starting with ``.`` are skipped. Every document is an object,
empty documents are skipped, ``kind: List`` (and ``*List`` kinds carrying ``items``) is
flattened. Validation of the objects is left to ``validate``.
"""

from __future__ import annotations

from typing import Any

from daemon.shell.render import yamlsafe
from daemon.shell.render.reader import Reader
from daemon.shell.render.result import Limits, RenderError, Sourced

EXTENSIONS = (".yaml", ".yml", ".json")


def render(files: Reader, *, path: str, recurse: bool = False) -> list[Sourced]:
    """Objects of every manifest file at ``path`` (a directory or a single file)."""
    if files.kind(path) == "file":
        return objects_of(files, path)
    out: list[Sourced] = []
    for file in manifest_files(files, path, recurse=recurse):
        out.extend(objects_of(files, file))
    return out


def manifest_files(files: Reader, path: str, *, recurse: bool) -> list[str]:
    """Manifest file paths under the directory ``path`` in rendering order."""
    found: list[str] = []
    for name in files.list(path):
        if name.startswith("."):
            continue
        child = f"{path}/{name}" if path else name
        kind = files.kind(child)
        if kind == "dir" and recurse:
            found.extend(manifest_files(files, child, recurse=recurse))
        elif kind == "file" and name.endswith(EXTENSIONS):
            found.append(child)
    return found


def objects_of(files: Reader, file: str) -> list[Sourced]:
    """The objects of one manifest file, ``List`` kinds flattened."""
    return objects_in(files.text(file), file=file, limits=files.limits)


def objects_in(text: str, *, file: str, limits: Limits) -> list[Sourced]:
    """The objects of a YAML stream (a file, or a command's output labelled ``file``)."""
    out: list[Sourced] = []
    for document in yamlsafe.load_all(text, file=file, limits=limits):
        if document.value is None:
            continue
        if not isinstance(document.value, dict):
            raise RenderError(
                "expected a Kubernetes object (a mapping) as the document",
                file=file,
                line=document.line,
            )
        out.extend(flatten(document.value, file=file, line=document.line))
    return out


def is_list(body: dict[str, Any]) -> bool:
    """True for ``kind: List`` and ``*List`` kinds holding an ``items`` list."""
    kind = body.get("kind")
    return (
        isinstance(kind, str)
        and kind.endswith("List")
        and isinstance(body.get("items"), list)
        and "spec" not in body
    )


def flatten(body: dict[str, Any], *, file: str, line: int | None) -> list[Sourced]:
    """``body`` itself, or the items of a list (recursively)."""
    if not is_list(body):
        return [Sourced(body, file, line)]
    out: list[Sourced] = []
    for item in body["items"]:
        if item is None:
            continue
        if not isinstance(item, dict):
            raise RenderError("a List item is not an object", file=file, line=line)
        out.extend(flatten(item, file=file, line=line))
    return out
