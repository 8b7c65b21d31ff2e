"""What every ``gitopsd`` command shares: the configuration it was given, and a runner.

The group in ``daemon.cli`` puts a :class:`Context` on the click context; commands take it
with :data:`pass_ctx` and ask it for the configuration only when they need one, so a
command that needs none (``demo``, ``sim``) runs without a file. This module lives apart
from the package's ``__init__`` so that the topic modules can import it while
``daemon.cli`` imports them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click

from daemon import settings

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one command's coroutine to its end on a fresh event loop."""
    return asyncio.run(coro)


class Context:
    """The ``--config`` the user gave, and the configuration once a command has loaded it."""

    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path
        self._config: settings.Config | None = None

    def located(self) -> Path:
        """The configuration file's path (exit 2, saying where it looked, when there is none)."""
        return settings.locate(self.config_path)

    def config(self) -> settings.Config:
        """The configuration; every command that calls this needs a file (no silent defaults)."""
        if self._config is None:
            self._config = settings.load(self.located())
        return self._config


pass_ctx = click.make_pass_decorator(Context)
