"""gitopsd: an event-sourced GitOps reconciliation daemon.

The package is cut into a pure core (``daemon.core``), an imperative shell that wraps
external systems (``daemon.shell``), the daemon's loops (``daemon.runtime``) and the
command line (``daemon.cli``). ``daemon.sim`` is a Kubernetes API emulator used by the
tests and by ``gitopsd demo``; it stands alone and imports nothing else from here.
"""

__version__ = "0.1.0"
