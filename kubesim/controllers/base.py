"""The fake controller manager: one task that follows the change log and runs syncs.

Controllers see every committed change (``observe``) and ask for keys to be synced after
a delay; the manager keeps one timer heap, runs each due ``sync`` synchronously (so a
controller's read-modify-write is atomic on the event loop, like any API write) and
re-queues when a sync asks to run again. Controllers write only through ``Api`` as
``kube-controller-manager``. Knobs (speed, stalls, failure patterns) are in :class:`Knobs`.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import heapq
import itertools
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from kubesim import api as api_mod
from kubesim import metadata
from kubesim.status import StatusError
from kubesim.store import Change, EventType

JSON = dict[str, Any]
MANAGER = "kube-controller-manager"


@dataclass(kw_only=True)
class Knobs:
    """Speeds and failure switches of the fake controllers (seconds are wall time)."""

    step: float = 0.5  # between two status steps of a rollout, a Job, a binding...
    establish: float = 0.2  # CRD NamesAccepted/Established after creation
    broken_image: str = "*:broken"  # images matching this never become ready
    progress_deadline: float | None = None  # overrides spec.progressDeadlineSeconds
    job_duration: float | None = None  # default: 2 steps
    nodes: int = 1  # DaemonSet desiredNumberScheduled
    paused: set[str] = field(default_factory=set)  # controller names that do nothing
    lb_prefix: str = "172.18.255."

    def is_broken(self, image: str) -> bool:
        """Whether a container image is configured never to become available."""
        return bool(self.broken_image) and fnmatch.fnmatchcase(image, self.broken_image)


class Controller(Protocol):
    """What the manager needs from a controller."""

    name: str

    def observe(self, change: Change) -> list[tuple[float, str]]:
        """Keys to sync (with delays) because of a committed change."""
        ...

    def sync(self, key: str) -> float | None:
        """Do one round of work for ``key``; a delay to run again, or None."""
        ...


class Manager:
    """Runs controllers against one Api."""

    def __init__(self, api: api_mod.Api, knobs: Knobs) -> None:
        self.api = api
        self.knobs = knobs
        self.controllers: list[Controller] = []
        self._heap: list[tuple[float, int, str, str]] = []
        self._due: dict[tuple[str, str], float] = {}
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self.errors: list[BaseException] = []

    def add(self, controller: Controller) -> None:
        """Register a controller."""
        self.controllers.append(controller)

    def schedule(self, name: str, key: str, delay: float) -> None:
        """Ask for ``name``'s sync of ``key`` after ``delay`` seconds (earliest wins)."""
        due = time.monotonic() + max(delay, 0.0)
        current = self._due.get((name, key))
        if current is not None and current <= due:
            return
        self._due[(name, key)] = due
        heapq.heappush(self._heap, (due, next(self._seq), name, key))
        self._idle.clear()
        self._wake.set()

    def options(self, *, dry_run: bool = False) -> api_mod.WriteOptions:
        """Write options of the controller manager."""
        return api_mod.WriteOptions(
            manager=MANAGER, user="system:kube-controller-manager", dry_run=dry_run
        )

    async def run(self) -> None:
        """Follow the log and run due syncs until cancelled."""
        store = self.api.store
        cursor = store.rv
        self._resync()
        while True:
            changed = store.changed()
            if cursor < store.oldest():
                self._resync()
            else:
                for change in store.changes_since(cursor):
                    self._observe(change)
            cursor = store.rv
            self._run_due()
            if store.rv != cursor:
                continue
            delay = self._heap[0][0] - time.monotonic() if self._heap else None
            if delay is None:
                self._idle.set()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await _first(changed, self._wake)

    async def idle(self, timeout: float = 30.0) -> None:
        """Wait until no controller has work pending (raises TimeoutError after ``timeout``)."""
        async with asyncio.timeout(timeout):
            while True:
                await self._idle.wait()
                await asyncio.sleep(0)
                if self._idle.is_set() and not self._heap:
                    return

    def _resync(self) -> None:
        for rid, key, obj in list(self.api.store.iter_all()):
            synthetic = Change(rv=0, type=EventType.ADDED, rid=rid, key=key, obj=obj, prev=None)
            self._observe(synthetic)

    def _observe(self, change: Change) -> None:
        for ctl in self.controllers:
            if ctl.name in self.knobs.paused:
                continue
            try:
                for delay, key in ctl.observe(change):
                    self.schedule(ctl.name, key, delay)
            except Exception as exc:
                self.errors.append(exc)

    def _run_due(self) -> None:
        by_name = {c.name: c for c in self.controllers}
        now = time.monotonic()
        while self._heap and self._heap[0][0] <= now:
            due, _, name, key = heapq.heappop(self._heap)
            if self._due.get((name, key)) != due:
                continue
            del self._due[(name, key)]
            ctl = by_name[name]
            if name in self.knobs.paused:
                continue
            try:
                again = ctl.sync(key)
            except StatusError as exc:
                again = 0.05 if exc.code in (404, 409) else None
                if exc.code not in (404, 409):
                    self.errors.append(exc)
            except Exception as exc:
                self.errors.append(exc)
                again = None
            if again is not None:
                self.schedule(name, key, again)


async def _first(a: asyncio.Event, b: asyncio.Event) -> None:
    if a.is_set() or b.is_set():
        return
    ta = asyncio.ensure_future(a.wait())
    tb = asyncio.ensure_future(b.wait())
    try:
        await asyncio.wait((ta, tb), return_when=asyncio.FIRST_COMPLETED)
    finally:
        ta.cancel()
        tb.cancel()


def copy_obj(obj: JSON) -> JSON:
    """A deep copy to modify before writing back."""
    return metadata.clone(obj)
