"""A Kubernetes API server emulator on loopback (see ../shared/KUBE_API.md).

It stands alone: nothing here imports gitopsd's core, shell or runtime. The entry point
for Python callers is ``daemon.sim.run_emulator`` (an async context manager, see
``emulator``); ``gitopsd sim`` runs the same thing from the command line (``cli``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from daemon.sim.controllers.base import Knobs
    from daemon.sim.emulator import Emulator, run_emulator

__all__ = ["Emulator", "Knobs", "run_emulator"]


def __getattr__(name: str) -> Any:
    # Lazy, so importing one algorithm module does not start importing the server.
    if name in ("Emulator", "run_emulator"):
        from daemon.sim import emulator  # noqa: PLC0415

        return getattr(emulator, name)
    if name == "Knobs":
        from daemon.sim.controllers import base  # noqa: PLC0415

        return base.Knobs
    raise AttributeError(f"module 'daemon.sim' has no attribute {name!r}")
