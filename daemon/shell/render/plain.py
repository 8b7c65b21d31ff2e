"""The plain renderer (interface placeholder: implementation follows in the next commits)."""

from __future__ import annotations

from typing import Any

from daemon.shell.render.reader import Reader
from daemon.shell.render.result import RenderError, Sourced


def render(files: Reader, *, path: str, **_: Any) -> list[Sourced]:
    """Render the app at ``path``."""
    del files
    raise RenderError("plain rendering is not implemented yet", file=path)
