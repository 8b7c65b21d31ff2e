"""What a render produces or why it failed, and the limits it runs under.

Kept apart from ``__init__`` so every renderer module (and ``tree``) can raise
``RenderError`` without importing the dispatcher.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

Renderer = Literal["plain", "kustomize", "jsonnet", "exec", "helm"]

MiB = 1024 * 1024


class RenderError(Exception):
    """A render failed; ``str(error)`` is ``FILE:LINE: message`` (or ``FILE: message``).

    ``file`` is a repository path (posix), ``line`` is 1-based; either may be None.
    ``inputs``, when known, are the paths the failed render had read (set by the pool).
    """

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.inputs: frozenset[str] | None = None

    def __str__(self) -> str:
        if self.file is not None and self.line is not None:
            return f"{self.file}:{self.line}: {self.message}"
        if self.file is not None:
            return f"{self.file}: {self.message}"
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep keyword-only fields across pickling (process pools, test runners).
        return (_rebuild, (self.message, self.file, self.line))


def _rebuild(message: str, file: str | None, line: int | None) -> RenderError:
    return RenderError(message, file=file, line=line)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RenderResult:
    """The objects an app's path renders to at one commit.

    ``objects`` are plain JSON-compatible dicts in the renderer's output order.
    ``inputs`` holds every repository path the render read or probed (files, symlinks,
    directories it listed, files whose absence it checked); ``is_affected`` in this
    package turns it into a fan-out decision for a tree diff.
    """

    objects: list[dict[str, Any]]
    renderer: Renderer
    inputs: frozenset[str]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Safety caps of one render; the defaults are the documented ones."""

    max_file_bytes: int = 5 * MiB
    max_render_bytes: int = 50 * MiB
    max_output_bytes: int = 50 * MiB
    """Cap on an exec renderer's stdout (and on jsonnet's output text)."""
    max_yaml_depth: int = 100
    max_yaml_aliases: int = 10_000
    """Alias uses allowed per YAML document (expansion itself is capped by max_yaml_nodes)."""
    max_yaml_nodes: int = 1_000_000
    """Nodes a document may expand to once aliases are followed."""
    max_checkout_bytes: int = 256 * MiB
    """Cap on what an exec render's checkout writes (larger files outside the app are skipped)."""
    max_symlink_hops: int = 40
    stderr_tail_bytes: int = 4096


DEFAULT_LIMITS = Limits()


@dataclasses.dataclass(slots=True)
class Sourced:
    """One rendered object and where it came from (for errors that name the file)."""

    body: dict[str, Any]
    file: str
    line: int | None = None
