"""Checks every rendered object must pass (placeholder: implementation follows)."""

from __future__ import annotations

from daemon.shell.render.result import Sourced


def validate(objects: list[Sourced]) -> None:
    """Raise ``RenderError`` for the first invalid object."""
    del objects
