"""The start-up gate behind ``/readyz``: ready once the live state is current and looked at.

After a start the daemon is ready when, in this order,

1. the reconciler has started: policies recorded, and every kind an app declares or
   has applied handed to the informers (``Reconciler.started``);
2. every cluster that answers has listed those kinds, and what the lists differ from
   the log is recorded and folded (``Informers.settle``): the state is current;
3. every app on those clusters has been looked at once on that state: planned, and a
   drifted app with self-heal has its heal planned (``Reconciler.first_looks``).

A cluster that does not answer (unreachable, a 503) is not waited for: its apps are
looked at when it answers again. The whole wait is bounded by ``timeout`` (a cluster
that answers but cannot list, e.g. a forbidden list): then the daemon turns ready and
logs what it did not wait for. Once ready it stays ready (``/readyz`` still checks
the event log). This module only waits and tells why: listing is the informers' job,
looking the reconciler's.
"""

from __future__ import annotations

import asyncio
import contextlib

from daemon import logs
from daemon.runtime import informers as informers_mod
from daemon.runtime import reconciler as reconciler_mod

log = logs.get("warmup")

TIMEOUT = 120.0
"""Seconds the start-up waits at most for the informers' lists and the first looks."""
SHOWN_APPS = 5


class WarmUp:
    """Waits for the first lists and looks after a start; says why it is not done yet."""

    def __init__(
        self,
        *,
        reconciler: reconciler_mod.Reconciler,
        informers: informers_mod.Informers,
        timeout: float = TIMEOUT,
    ) -> None:
        """A gate over ``reconciler`` and ``informers``; it waits once ``run`` runs."""
        self._reconciler = reconciler
        self._informers = informers
        self._timeout = timeout
        self._listed: set[str] | None = None
        self.done = asyncio.Event()
        self.ready_at: float | None = None
        """The event loop's time when ``done`` was set (benchmarks measure from it)."""

    def waiting(self) -> str | None:
        """Why the daemon is not ready yet (for ``/readyz``); None once warmed up."""
        if self.done.is_set():
            return None
        if not self._reconciler.started.is_set():
            return "starting up"
        if self._listed is None:
            unlisted = self._informers.unlisted()
            if not unlisted:
                return "waiting for informers: recording what they listed"
            return "waiting for informers: " + ", ".join(
                f"{name} ({count} kind{'s' if count != 1 else ''})"
                for name, count in sorted(unlisted.items())
            )
        return "looking at apps: " + _names(self._reconciler.unlooked(self._listed))

    async def run(self) -> None:
        """Wait (at most ``timeout``), then set ``done`` and log what was not waited for."""
        loop = asyncio.get_running_loop()
        began = loop.time()
        timed_out = True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._timeout):
                await self._reconciler.started.wait()
                self._listed = await self._informers.settle()
                await self._reconciler.first_looks(self._listed)
                timed_out = False
        self.ready_at = loop.time()
        self.done.set()
        log.info(
            "startup.ready",
            waited_s=round(loop.time() - began, 3),
            timed_out=timed_out,
            clusters_listed=sorted(self._listed or ()),
            clusters_listing=sorted(self._informers.unlisted()),
            apps_unlooked=self._reconciler.unlooked(),
        )


def _names(apps: list[str]) -> str:
    """``a, b, c`` or ``a, b, c, d, e and 7 more``."""
    shown = ", ".join(apps[:SHOWN_APPS])
    more = len(apps) - SHOWN_APPS
    return f"{shown} and {more} more" if more > 0 else shown
