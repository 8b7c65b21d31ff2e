"""The jsonnet renderer (interface placeholder: implementation follows in the next commits)."""

from __future__ import annotations

from typing import Any

from daemon.shell.render.reader import Reader
from daemon.shell.render.result import RenderError, Sourced


def render(files: Reader, *, path: str, **_: Any) -> list[Sourced]:
    """Render the app at ``path``."""
    del files
    raise RenderError("jsonnet rendering is not implemented yet", file=path)


def main_file(files: Reader, path: str) -> str | None:
    """The jsonnet entry point of a directory: main.jsonnet, or its only .jsonnet file."""
    names = [n for n in files.list(path) if n.endswith(".jsonnet")]
    if "main.jsonnet" in names:
        return "main.jsonnet"
    return names[0] if len(names) == 1 else None
