"""Watch streams: newline-delimited JSON events from the store's change log (§3.2).

One coroutine per watch follows the shared change log from its start revision, filters
each change as a selector *transition* (enter = ADDED, leave = DELETED with the previous
content at the new RV), and writes every pending event in one chunk. Event bytes are
built from the change's once-serialized object, so N watchers cost one ``orjson.dumps``.
Start positions, the initial-events-end bookmark, periodic bookmarks, ``timeoutSeconds``,
410 as an ERROR event in a 200 stream, and dropped connections (a fault) are here; the
HTTP response object and parameter parsing belong to the server.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from kubesim import status
from kubesim.listing import Filter
from kubesim.status import StatusError
from kubesim.store import Change, EventType, Store

JSON = dict[str, Any]
Writer = Callable[[bytes], Awaitable[None]]

_PREFIX = {t: b'{"type":"' + t.value.encode() + b'","object":' for t in EventType}


class WatchEndedError(Exception):
    """Raised inside a stream when a fault drops it or it fell behind the history."""

    def __init__(self, *, abort: bool) -> None:
        super().__init__("watch ended")
        self.abort = abort


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchRequest:
    """What one watch asks for."""

    flt: Filter
    resource_version: str
    send_initial: bool | None  # None: the default for the RV
    bookmarks: bool
    timeout: float | None
    api_version: str  # the endpoint's version (objects stored in another get restamped)


def event_line(type_: EventType, obj_json: bytes) -> bytes:
    """One wire line: the event's JSON object and a newline."""
    return _PREFIX[type_] + obj_json + b"}\n"


def error_line(err: StatusError) -> bytes:
    """An ERROR event carrying a Status (code, reason and message are all required)."""
    return b'{"type":"ERROR","object":' + orjson.dumps(err.to_json()) + b"}\n"


def _bookmark(req: WatchRequest, rv: int, *, initial_end: bool) -> bytes:
    meta: JSON = {"resourceVersion": str(rv)}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    shell = {"kind": req.flt.rt.kind, "apiVersion": req.api_version, "metadata": meta}
    return b'{"type":"BOOKMARK","object":' + orjson.dumps(shell) + b"}\n"


def _next_bookmark(now: float, interval: float, deadline: float | None) -> float:
    """Every ``interval``, and once 2 s before the watch's deadline (cacher's nextBookmarkTime)."""
    due = now + interval
    if deadline is not None and deadline - 2 > now:
        due = min(due, deadline - 2)
    return due


class Hub:
    """Runs watch streams over one store; knobs for bookmarks, waits and faults."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.bookmark_interval = 60.0
        self.too_large_wait = 3.0
        self.active = 0
        self._drops = 0
        self._drop_abort = False

    def drop_all(self, *, abort: bool = False) -> None:
        """End every open watch now: cleanly, or by aborting the connection."""
        self._drop_abort = abort
        self._drops += 1
        self.store.wake()

    async def stream(self, req: WatchRequest, write: Writer) -> None:
        """Write the watch's events until timeout, a fault, or the client leaves."""
        self.active += 1
        try:
            await self._stream(req, write, self._drops)
        finally:
            self.active -= 1

    async def _stream(self, req: WatchRequest, write: Writer, drops: int) -> None:
        deadline = None if req.timeout is None else time.monotonic() + req.timeout
        try:
            cursor, initial = await self._start(req)
        except StatusError as exc:
            await write(error_line(exc))
            return
        if initial:
            await write(b"".join(initial))
        if req.bookmarks and self._sends_initial(req):
            await write(_bookmark(req, cursor, initial_end=True))
        next_bookmark = _next_bookmark(time.monotonic(), self.bookmark_interval, deadline)
        while True:
            changed = self.store.changed()
            if cursor < self.store.oldest():
                return  # fell behind a compaction: end; the client's resume gets 410
            lines = self._lines(req, self.store.changes_since(cursor))
            cursor = self.store.rv
            if lines:
                await write(b"".join(lines))
            now = time.monotonic()
            if req.bookmarks and now >= next_bookmark:
                await write(_bookmark(req, cursor, initial_end=False))
                next_bookmark = _next_bookmark(now, self.bookmark_interval, deadline)
            wait = next_bookmark - now if req.bookmarks else None
            if deadline is not None:
                left = deadline - now
                if left <= 0:
                    return
                wait = left if wait is None else min(wait, left)
            if self._drops != drops:
                raise WatchEndedError(abort=self._drop_abort)
            try:
                async with asyncio.timeout(wait):
                    await changed.wait()
            except TimeoutError:
                pass
            if self._drops != drops:
                raise WatchEndedError(abort=self._drop_abort)

    def _sends_initial(self, req: WatchRequest) -> bool:
        if req.send_initial is not None:
            return req.send_initial
        return req.resource_version in ("", "0")

    async def _start(self, req: WatchRequest) -> tuple[int, list[bytes]]:
        rv_text = req.resource_version
        if self._sends_initial(req):
            if rv_text not in ("", "0"):
                await self._wait_for_rv(int(rv_text))
            return self.store.rv, self._initial(req)
        if rv_text in ("", "0"):
            return self.store.rv, []
        rv = int(rv_text)
        await self._wait_for_rv(rv)
        self.store.require_history(rv, what="watch")
        return rv, []

    async def _wait_for_rv(self, rv: int) -> None:
        deadline = time.monotonic() + self.too_large_wait
        while self.store.rv < rv:
            left = deadline - time.monotonic()
            if left <= 0:
                raise status.timeout(
                    f"Too large resource version: {rv}, current: {self.store.rv}",
                    1,
                    [
                        status.Cause(
                            reason="ResourceVersionTooLarge", message="Too large resource version"
                        )
                    ],
                )
            try:
                async with asyncio.timeout(left):
                    await self.store.changed().wait()
            except TimeoutError:
                continue

    def _initial(self, req: WatchRequest) -> list[bytes]:
        flt = req.flt
        objs = self.store.items(flt.rt.rid)
        out = []
        for key in sorted(objs):
            obj = objs[key]
            if flt.matches(obj):
                out.append(event_line(EventType.ADDED, self._json(req, obj)))
        return out

    def _json(self, req: WatchRequest, obj: JSON) -> bytes:
        if obj.get("apiVersion") != req.api_version:
            obj = {**obj, "apiVersion": req.api_version}
        return orjson.dumps(obj)

    def _lines(self, req: WatchRequest, changes: list[Change]) -> list[bytes]:
        flt = req.flt
        rid = flt.rt.rid
        restamp = False
        out = []
        for change in changes:
            if change.rid != rid:
                continue
            if not restamp and change.obj.get("apiVersion") != req.api_version:
                restamp = True
            line = self._transition(req, change, restamp=restamp)
            if line:
                out.append(line)
        return out

    def _transition(self, req: WatchRequest, change: Change, *, restamp: bool) -> bytes | None:
        flt = req.flt
        if change.type is EventType.DELETED:
            if flt.matches(change.obj):
                body = self._json(req, change.obj) if restamp else change.obj_json()
                return event_line(EventType.DELETED, body)
            # An update that empties the finalizers deletes in the same request; what etcd
            # deletes is the object as last stored, so a watcher whose selector that one
            # passes still gets DELETED (the cacher's oldObjPasses), with its content.
            if change.prev is None or not flt.matches(change.prev):
                return None
            body = change.prev_json_at_rv()
            if restamp:
                body = self._json(req, orjson.loads(body))
            return event_line(EventType.DELETED, body)
        now_in = flt.matches(change.obj)
        was_in = change.prev is not None and flt.matches(change.prev)
        if now_in:
            kind = EventType.MODIFIED if was_in else EventType.ADDED
            body = self._json(req, change.obj) if restamp else change.obj_json()
            return event_line(kind, body)
        if was_in:
            body = change.prev_json_at_rv()
            if restamp:
                body = self._json(req, orjson.loads(body))
            return event_line(EventType.DELETED, body)
        return None
