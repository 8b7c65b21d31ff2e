"""Helpers shared by the render tests (imported as ``rendertest``)."""

from __future__ import annotations

from typing import Any

import yaml

from daemon.settings import RenderConfig


class Executable:
    """A file committed with mode 100755."""

    def __init__(self, content: str) -> None:
        self.content = content


def config(**fields: Any) -> RenderConfig:
    """A render config with the given fields."""
    return RenderConfig(**fields)


def docs(text: str) -> list[dict[str, Any]]:
    """Expected objects written as a YAML stream."""
    return [d for d in yaml.safe_load_all(text) if d is not None]
