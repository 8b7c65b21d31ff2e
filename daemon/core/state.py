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
from daemon.core.events import FieldManager, Health, SyncResult

STATE_FORMAT = 4


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
    """An application as the log knows it: its renders and policy, shared by its targets."""

    name: str
    revision: str | None = None
    desired: dict[str, str] = dataclasses.field(default_factory=dict)
    revision_position: int = 0
    """Position of the render of ``revision`` (a pin older than it can lift)."""
    render_error: str | None = None
    render_revision: str | None = None
    """The revision of the last render attempt, whether it succeeded or failed."""
    render_inputs: list[str] | None = None
    """Paths the last render attempt depended on; None when unknown (never rendered, or a
    failure recorded before failures carried their inputs)."""
    render_config: str = ""
    """Digest of the path and render settings used by the last render attempt."""
    pinned_renders: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
    """The objects rendered at each revision a target is pinned to (once recorded)."""
    policy: dict[str, Any] | None = None
    policy_digest: str = ""
    targets: dict[str, TargetState] = dataclasses.field(default_factory=dict)
    """The clusters the app deploys to, by cluster name."""

    def target(self, name: str) -> TargetState:
        """The target's state, created empty on first mention."""
        found = self.targets.get(name)
        if found is None:
            found = self.targets[name] = TargetState(name=name)
        return found

    def converge_on(self, target: TargetState) -> tuple[str | None, dict[str, str] | None]:
        """The revision ``target`` converges on and its objects: the pin's while pinned.

        A removed target that prunes converges on nothing (every object is pruned).
        """
        if target.removed:
            return target.last_synced_revision or self.revision or "", {}
        if target.pinned is not None:
            return target.pinned, self.pinned_renders.get(target.pinned)
        # A failed render leaves `revision`/`desired` at the last good render.
        return self.revision, self.desired if self.revision is not None else None

    def pinned_revisions(self) -> set[str]:
        """Every revision some target is pinned to."""
        return {t.pinned for t in self.targets.values() if t.pinned is not None}


@dataclasses.dataclass(slots=True, kw_only=True)
class TargetState:
    """One cluster an app deploys to: what gitopsd applied there and how it went."""

    name: str
    """The cluster's name."""
    namespace: str = "default"
    added_position: int = 0
    removed: bool = False
    """No longer selected, and its objects are being pruned (the app prunes)."""
    removed_position: int = 0
    """Where the TargetRemoved is: only a sync planned after it prunes the target's objects."""
    inventory: dict[str, str] = dataclasses.field(default_factory=dict)
    """Keys gitopsd applied and has not pruned, with the digest last applied."""
    applied_versions: dict[str, str] = dataclasses.field(default_factory=dict)
    """Key -> the resourceVersion the server answered gitopsd's last apply with."""
    hook_instances: dict[str, str] = dataclasses.field(default_factory=dict)
    """Instances of hooks named by ``generateName`` still in the inventory: the
    instance's key (the server's name) -> the hook's key (``.../prefix*``)."""
    health: Health | None = None
    health_message: str = ""
    sync: SyncProgress | None = None
    """The sync in flight (planned, not finished)."""
    sync_requested: bool = False
    """A manual sync was asked for and has not been planned yet."""
    failed_syncs: int = 0
    """Consecutive failed syncs of the current revision (drives the retry backoff)."""
    last_sync_id: str | None = None
    last_sync_result: SyncResult | None = None
    last_sync_message: str = ""
    last_sync_position: int = 0
    last_sync_at: str | None = None
    """When the last sync finished (UTC, ISO 8601): the retry and resync timers start there."""
    last_synced_revision: str | None = None
    pinned: str | None = None
    pin_until_newer: bool = False
    pin_position: int = 0
    pin_legacy: bool = False
    """Pinned by an event written before targets: lifted by the fold itself on a newer
    render, as gitopsd did then (newer pins are lifted by a recorded decision)."""
    suspended: bool = False
    gap_keys: tuple[str, ...] = ()
    """The keys of the last NormalizationGapDetected, until the next sync or render."""


@dataclasses.dataclass(slots=True, kw_only=True)
class SyncProgress:
    """A sync between its SyncPlanned and its SyncFinished."""

    sync_id: str
    revision: str
    position: int
    applied: list[str] = dataclasses.field(default_factory=list)
    pruned: list[str] = dataclasses.field(default_factory=list)
    failed: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(slots=True, kw_only=True)
class LiveObject:
    """An object as last observed in a cluster."""

    uid: str
    resource_version: str
    digest: str
    app: str | None = None
    managers: list[FieldManager] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(slots=True, kw_only=True)
class ClusterState:
    """A cluster as the log knows it: the objects gitopsd watches there."""

    name: str
    objects: dict[str, LiveObject] = dataclasses.field(default_factory=dict)
    unreachable: str | None = None


@dataclasses.dataclass(slots=True, kw_only=True)
class State:
    """Everything folded so far, up to ``position``."""

    position: int = 0
    events: int = 0
    sources: dict[str, SourceState] = dataclasses.field(default_factory=dict)
    apps: dict[str, AppState] = dataclasses.field(default_factory=dict)
    clusters: dict[str, ClusterState] = dataclasses.field(default_factory=dict)

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

    def cluster(self, name: str) -> ClusterState:
        """The cluster's state, created empty on first mention."""
        found = self.clusters.get(name)
        if found is None:
            found = self.clusters[name] = ClusterState(name=name)
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
