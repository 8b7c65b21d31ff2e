"""Object storage: one global revision, the objects, and an append-only change log.

Like etcd under kube-apiserver (KUBE_API.md §3.1, §8.1): every committed write takes the
next global revision and appends one :class:`Change`; the log serves watch replay,
consistent list snapshots for ``continue`` tokens, and 410 ``Expired`` once compacted.
A change serializes its object once, lazily, and every watcher shares those bytes.

Writers call :meth:`Store.commit` synchronously from the event loop, so a
read-modify-validate-write-emit sequence with no ``await`` in it is atomic without a
lock. What a write means (metadata, validation, admission) is ``api``'s business; how
changes reach clients is ``watch``'s.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

from kubesim import status

JSON = dict[str, Any]


class EventType(StrEnum):
    """Watch event types that a change can produce."""

    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"


def storage_key(namespace: str, name: str) -> str:
    """The key objects sort by: ``ns/name``, or ``name`` when cluster-scoped (etcd order)."""
    return f"{namespace}/{name}" if namespace else name


@dataclass(slots=True, kw_only=True)
class Change:
    """One committed write: the object after it (``obj``) and before it (``prev``)."""

    rv: int
    type: EventType
    rid: str
    key: str
    obj: JSON
    prev: JSON | None
    _json: bytes | None = field(default=None, repr=False)
    _prev_json: bytes | None = field(default=None, repr=False)

    def obj_json(self) -> bytes:
        """The object after the change, serialized once and shared."""
        if self._json is None:
            self._json = orjson.dumps(self.obj)
        return self._json

    def prev_json_at_rv(self) -> bytes:
        """The previous object stamped with this change's RV (a selector-exit DELETED)."""
        if self._prev_json is None:
            assert self.prev is not None
            meta = {**self.prev["metadata"], "resourceVersion": str(self.rv)}
            self._prev_json = orjson.dumps({**self.prev, "metadata": meta})
        return self._prev_json


class Store:
    """The objects of every resource, keyed by resource id then storage key."""

    def __init__(self, *, history: int = 100_000) -> None:
        self.rv = 0
        self.history = history
        self._objects: dict[str, dict[str, JSON]] = {}
        self._log: list[Change] = []
        self._first = 1  # RV of self._log[0] (changes are contiguous: one per RV)
        self._changed = asyncio.Event()

    # Reads -------------------------------------------------------------------------

    def get(self, rid: str, key: str) -> JSON | None:
        """The current object, or None."""
        objs = self._objects.get(rid)
        return None if objs is None else objs.get(key)

    def items(self, rid: str) -> dict[str, JSON]:
        """The live mapping key -> object of one resource (do not mutate)."""
        return self._objects.get(rid, {})

    def resource_ids(self) -> list[str]:
        """Every resource id that holds or held objects."""
        return list(self._objects)

    def snapshot(self, rid: str, at: int, *, what: str = "list") -> dict[str, JSON]:
        """The objects of ``rid`` as they were at revision ``at`` (for continue/Exact lists)."""
        current = dict(self.items(rid))
        if at >= self.rv:
            return current
        self.require_history(at, what=what)
        for change in reversed(self._log[at + 1 - self._first :]):
            if change.rid != rid:
                continue
            if change.prev is None:
                current.pop(change.key, None)
            else:
                current[change.key] = change.prev
        return current

    def require_history(self, since: int, *, what: str) -> None:
        """Raise 410 Expired unless every change after ``since`` is still retained."""
        if since < self._first - 1:
            if what == "watch":
                raise status.expired(f"too old resource version: {since} ({self._first - 1})")
            if what == "list":
                raise status.expired("The resourceVersion for the provided list is too old.")
            raise status.expired(
                "The provided continue parameter is too old to display a consistent list "
                "result. You can start a new list without the continue parameter."
            )

    def changes_since(self, since: int) -> list[Change]:
        """Retained changes with RV > ``since`` (caller checked :meth:`require_history`)."""
        start = max(since + 1 - self._first, 0)
        return self._log[start:]

    def oldest(self) -> int:
        """The oldest RV a watch may resume from without a 410."""
        return self._first - 1

    # Writes ------------------------------------------------------------------------

    def commit(
        self, *, type_: EventType, rid: str, key: str, obj: JSON, prev: JSON | None
    ) -> Change:
        """Store ``obj`` (a fresh dict the store now owns) at the next revision.

        For DELETED, ``obj`` is the last state; it is stamped with the deletion's RV and
        removed from the live objects.
        """
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        objs = self._objects.setdefault(rid, {})
        if type_ is EventType.DELETED:
            objs.pop(key, None)
        else:
            objs[key] = obj
        change = Change(rv=self.rv, type=type_, rid=rid, key=key, obj=obj, prev=prev)
        self._log.append(change)
        self._trim()
        self._notify()
        return change

    def load(self, *, rv: int, objects: dict[str, dict[str, JSON]]) -> None:
        """Replace everything with a saved state (no history survives a restart)."""
        self.rv = rv
        self._objects = objects
        self._log = []
        self._first = rv + 1

    def dump(self) -> tuple[int, dict[str, dict[str, JSON]]]:
        """The revision and the live objects (for the state file)."""
        return self.rv, self._objects

    def compact(self, *, keep: int = 0) -> None:
        """Drop history, keeping the newest ``keep`` changes: older resumes get 410."""
        drop = max(len(self._log) - keep, 0)
        del self._log[:drop]
        self._first += drop

    def _trim(self) -> None:
        # Trim in chunks so appends stay O(1) amortized.
        if len(self._log) > self.history + max(self.history // 4, 16):
            self.compact(keep=self.history)

    # Change notification -----------------------------------------------------------

    def changed(self) -> asyncio.Event:
        """An event set at the next commit; take it before checking for news, then wait."""
        return self._changed

    def wake(self) -> None:
        """Wake every waiter without a commit (used to end watches on a fault)."""
        self._notify()

    def _notify(self) -> None:
        # A fresh Event per commit: waiters that took the old one wake, later ones wait.
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    def iter_all(self) -> Iterator[tuple[str, str, JSON]]:
        """(rid, key, obj) for every live object."""
        for rid, objs in self._objects.items():
            for key, obj in objs.items():
                yield rid, key, obj
