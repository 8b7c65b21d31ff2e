"""The daemon's state: what the fold of the event log says is true.

Plain dataclasses, mutated only by ``fold.evolve``. A state serializes to JSON for
snapshots (``to_json``/``from_json``) with a format number; a snapshot of another
format is ignored and the log is replayed from the start instead.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson

from daemon.core import codec
from daemon.core.events import Health, SyncResult

STATE_FORMAT = 2


@dataclasses.dataclass(slots=True, kw_only=True)
class SourceState:
    """A Git source as the log knows it."""

    name: str
    ref: str | None = None
    head: str | None = None
    commits: int = 0
    failing: str | None = None
    head_position: int = 0
    version: int = 0
    """Version of the source's stream: the poller appends expecting it (no double records)."""


@dataclasses.dataclass(slots=True, kw_only=True)
class AppState:
    """An application as the log knows it."""

    name: str
    revision: str | None = None
    desired: dict[str, str] = dataclasses.field(default_factory=dict)
    render_error: str | None = None
    render_revision: str | None = None
    """The revision of the last render attempt, whether it succeeded or failed."""
    render_inputs: list[str] | None = None
    """Paths the last successful render read; None when unknown (never rendered, or failed)."""
    render_config: str = ""
    """Digest of the path and render settings used by the last render attempt."""
    pinned: str | None = None
    pin_until_newer: bool = False
    health: Health | None = None
    last_sync_id: str | None = None
    last_sync_result: SyncResult | None = None
    last_synced_revision: str | None = None


@dataclasses.dataclass(slots=True, kw_only=True)
class State:
    """Everything folded so far, up to ``position``."""

    position: int = 0
    events: int = 0
    sources: dict[str, SourceState] = dataclasses.field(default_factory=dict)
    apps: dict[str, AppState] = dataclasses.field(default_factory=dict)

    def source(self, name: str) -> SourceState:
        """The source's state, created empty on first mention."""
        found = self.sources.get(name)
        if found is None:
            found = self.sources[name] = SourceState(name=name)
        return found

    def app(self, name: str) -> AppState:
        """The app's state, created empty on first mention."""
        found = self.apps.get(name)
        if found is None:
            found = self.apps[name] = AppState(name=name)
        return found


def to_json(state: State) -> bytes:
    """Serialize a state for a snapshot."""
    return orjson.dumps({"format": STATE_FORMAT, "state": state})


def from_json(data: bytes | str) -> State | None:
    """Read a snapshot back; ``None`` when it is of another format (replay from scratch)."""
    doc: Any = orjson.loads(data)
    if not isinstance(doc, dict) or doc.get("format") != STATE_FORMAT:
        return None
    return codec.from_primitive(State, doc["state"])
