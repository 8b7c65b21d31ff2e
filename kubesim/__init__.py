"""kubesim: a Kubernetes API server emulator on loopback (see kubesim/README.md).

It stands alone: nothing here imports gitopsd's ``daemon`` package (an import-linter
contract says so). The entry point for Python callers is ``kubesim.run_emulator`` (an
async context manager, see ``emulator``); ``python -m kubesim`` and ``gitopsd sim`` run
the same thing from the command line (``cli``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kubesim.controllers.base import Knobs
    from kubesim.emulator import Emulator, run_emulator

__all__ = ["Emulator", "Knobs", "run_emulator"]


def __getattr__(name: str) -> Any:
    # Lazy, so importing one algorithm module does not start importing the server.
    if name in ("Emulator", "run_emulator"):
        from kubesim import emulator  # noqa: PLC0415

        return getattr(emulator, name)
    if name == "Knobs":
        from kubesim.controllers import base  # noqa: PLC0415

        return base.Knobs
    raise AttributeError(f"module 'kubesim' has no attribute {name!r}")
