"""The Jsonnet renderer: one entry file evaluated with the ``jsonnet`` package.

The entry file is the app path itself when it is a ``.jsonnet`` file, else
``main.jsonnet`` in it, else its only ``.jsonnet`` file. ``render.ext_vars`` become
``std.extVar`` strings and ``render.tla`` top-level string arguments. Every ``import``,
``importstr`` and ``importbin`` goes through the ``Reader``: relative to the importing
file first, then each of ``render.libs`` (repository-relative directories); anything
absolute or climbing out of the repository is refused, and symlinks obey the reader's
confinement.

The output may be an object (``kind: List`` flattened), an array of objects (nested
arrays flattened), or an object of objects without ``kind`` (Tanka style: its values,
in key order, recursively).
"""

from __future__ import annotations

import re
from typing import Any

import _jsonnet
import orjson

from daemon.settings import RenderConfig
from daemon.shell.render import plain
from daemon.shell.render import tree as treemod
from daemon.shell.render.reader import Reader
from daemon.shell.render.result import RenderError, Sourced

_LOCATION = re.compile(
    r"(?P<file>[^\s:]+\.(?:jsonnet|libsonnet|json)):(?P<line>\d+)(?::\d+(?:-\d+)?)?:?"
)
_MAX_STACK = 500


def main_file(files: Reader, path: str) -> str | None:
    """The jsonnet entry file name in the directory ``path``, or None when there is none.

    Raises ``RenderError`` when several ``.jsonnet`` files exist and none is ``main.jsonnet``.
    """
    names = [n for n in files.list(path) if n.endswith(".jsonnet")]
    if "main.jsonnet" in names:
        return "main.jsonnet"
    if len(names) > 1:
        raise RenderError(
            f"several .jsonnet files ({', '.join(names)}) and no main.jsonnet: "
            "name the entry point main.jsonnet",
            file=path or ".",
        )
    return names[0] if names else None


def render(files: Reader, *, path: str, config: RenderConfig) -> list[Sourced]:
    """Evaluate the app's entry file and return its objects."""
    entry = path if files.kind(path) == "file" else _entry_in(files, path)
    importer = _Importer(files, libs=[treemod.normalize(lib) for lib in config.libs])
    source = files.text(entry)
    try:
        output = _jsonnet.evaluate_snippet(
            entry,
            source,
            ext_vars=dict(config.ext_vars),
            tla_vars=dict(config.tla),
            import_callback=importer,
            max_stack=_MAX_STACK,
        )
    except RuntimeError as exc:
        if importer.error is not None:
            raise importer.error from exc
        raise _error(str(exc), entry) from exc
    if len(output) > files.limits.max_output_bytes:
        raise RenderError("jsonnet output is over the per-render output cap", file=entry)
    return [Sourced(body, entry) for body in objects_of(orjson.loads(output), file=entry)]


def _entry_in(files: Reader, path: str) -> str:
    name = main_file(files, path)
    if name is None:
        raise RenderError("no .jsonnet file to evaluate", file=path or ".")
    return f"{path}/{name}" if path else name


class _Importer:
    """The import callback: repository files only, through the reader."""

    def __init__(self, files: Reader, *, libs: list[str]) -> None:
        self.files = files
        self.libs = libs
        self.error: RenderError | None = None

    def __call__(self, directory: str, relative: str) -> tuple[str, bytes]:
        try:
            return self.find(directory.rstrip("/"), relative)
        except RenderError as exc:
            # jsonnet flattens callback errors into text; keep ours to re-raise intact.
            self.error = self.error or exc
            raise RuntimeError(str(exc)) from exc

    def find(self, directory: str, relative: str) -> tuple[str, bytes]:
        if relative.startswith("/"):
            raise RenderError(f"import {relative!r} is absolute; refused", file=directory)
        candidates = [directory, *self.libs]
        for base in candidates:
            try:
                path = treemod.join(base, relative)
            except RenderError as exc:
                raise RenderError(
                    f"import {relative!r} leaves the repository; refused", file=directory or "."
                ) from exc
            if self.files.kind(path) == "file":
                return path, self.files.read(path)
        raise RenderError(
            f"import {relative!r} not found (looked in {', '.join(c or '.' for c in candidates)})",
            file=directory or ".",
        )


def _error(text: str, entry: str) -> RenderError:
    first = text.strip().splitlines()[0] if text.strip() else "jsonnet failed"
    match = _LOCATION.search(text)
    if match is None:
        return RenderError(f"jsonnet: {first}", file=entry)
    message = " ".join(first.replace(match.group(0), "").split())
    return RenderError(
        f"jsonnet: {message}", file=match.group("file"), line=int(match.group("line"))
    )


def objects_of(value: Any, *, file: str) -> list[dict[str, Any]]:
    """Kubernetes objects in a jsonnet output value (see the module docstring)."""
    if isinstance(value, list):
        return [obj for item in value for obj in objects_of(item, file=file)]
    if not isinstance(value, dict):
        raise RenderError(
            f"jsonnet output holds a {type(value).__name__}, not an object", file=file
        )
    if "kind" in value or "apiVersion" in value:
        return [s.body for s in plain.flatten(value, file=file, line=None)]
    return [obj for key in sorted(value) for obj in objects_of(value[key], file=file)]
