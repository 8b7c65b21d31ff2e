"""Which fake controllers an emulator runs."""

from __future__ import annotations

from daemon.sim.controllers import base


def install(manager: base.Manager) -> None:
    """Register every fake controller on ``manager``."""
    del manager
