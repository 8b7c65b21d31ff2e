"""Which fake controllers an emulator runs."""

from __future__ import annotations

from daemon.sim.controllers import base, lifecycle


def install(manager: base.Manager) -> None:
    """Register every fake controller on ``manager``."""
    manager.add(lifecycle.GarbageCollector(manager))
    manager.add(lifecycle.NamespaceController(manager))
    manager.add(lifecycle.CRDController(manager))
