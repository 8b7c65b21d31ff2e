"""gitopsd: an event-sourced GitOps reconciliation daemon.

The package is cut into a pure core (``daemon.core``), an imperative shell that wraps
external systems (``daemon.shell``), the daemon's loops (``daemon.runtime``) and the
command line (``daemon.cli``). The Kubernetes API emulator is the separate top-level
package ``kubesim`` of the same distribution: it imports nothing from here, and only
``gitopsd sim`` (``daemon.cli.sim``) and ``gitopsd demo`` (``daemon.runtime.demo``) import it.
"""

__version__ = "0.1.0"
