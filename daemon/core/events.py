"""The facts gitopsd records: one frozen dataclass per event type.

Names are past tense and permanent; each class carries its type name and schema
version (see ``codec.event``). Changing a payload means a new version plus an upcaster
in ``codec``, never a rename. Entity names (source, app, cluster) are part of every
payload so that an event read on its own says what it is about.

Streams: ``source/<name>``, ``app/<name>``, ``cluster/<name>``, ``rollout/<app>``
(DESIGN.md §2). The ``AnyEvent`` union lists every type the fold understands.

Targets. An app deploys to every cluster its destination selects; each is a *target*,
named by its cluster. Every app event about one target (a sync and its steps, health,
a pin, a request, suspension) carries ``target``. Three app events are about the app as
a whole, shared by all of its targets, and carry none: ``DesiredStateRendered`` and
``RenderFailed`` (one render serves every target) and ``AppConfigured`` (the policy,
with the targets it resolved to). Events written before targets existed decode with
``target == ""`` (see the upcasters in ``codec``), which the fold reads as "the app's
single destination of the time": the cluster its policy then named.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from typing import Any, ClassVar, NamedTuple

from daemon.core import codec


class EventBase:
    """Base of every event: the type name and schema version set by ``codec.event``."""

    __slots__ = ()
    TYPE: ClassVar[str]
    VERSION: ClassVar[int]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class EventMeta:
    """Who and what caused an event; stored beside it, not in its payload."""

    correlation_id: str | None = None
    causation_position: int | None = None
    actor: str | None = None
    instance: str | None = None


class Recorded(NamedTuple):
    """An event as read back from the log, with its place in it.

    A named tuple rather than a dataclass: replay builds a million of these, and tuple
    construction is several times cheaper than a frozen dataclass's ``__init__``.
    """

    position: int
    stream: str
    version: int
    recorded_at: dt.datetime
    event: AnyEvent
    meta: EventMeta


# -- source/<name> ---------------------------------------------------------------------


@codec.event("CommitRecorded")
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CommitRecorded(EventBase):
    """A new commit on the tracked ref, recorded oldest first."""

    source: str
    sha: str
    parents: tuple[str, ...]
    author: str
    author_email: str
    authored_at: str
    committer: str
    committer_email: str
    committed_at: str
    subject: str


@codec.event("RevisionObserved")
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RevisionObserved(EventBase):
    """The tracked ref of a source now points at ``sha``.

    ``changed_paths`` lists the repository paths that differ from ``previous`` (None on
    the first observation, or when more than ``MAX_CHANGED_PATHS`` changed).
    """

    MAX_CHANGED_PATHS: ClassVar[int] = 1000

    source: str
    ref: str
    sha: str
    previous: str | None = None
    changed_paths: tuple[str, ...] | None = None


@codec.event("HistoryRewritten")
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class HistoryRewritten(EventBase):
    """The new head does not descend from the old one (force-push or moved tag)."""

    source: str
    ref: str
    old_head: str
    new_head: str
    dropped: tuple[str, ...]


@codec.event("SourceFailed")
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SourceFailed(EventBase):
    """Polling a source started failing (recorded on change of state only)."""

    source: str
    error_class: str
    message: str


@codec.event("SourceRecovered")
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SourceRecovered(EventBase):
    """Polling a source works again."""

    source: str


# -- app/<name> -------------------------------------------------------------------------


@codec.event("DesiredStateRendered")
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DesiredStateRendered(EventBase):
    """The app's manifests at ``revision``: object key -> blob digest of the body.

    ``inputs`` are the repository paths the render read (a later commit that touches
    none of them, nor the app's path, leaves the app alone); ``config`` is the digest of
    the app's path and render settings, so a changed ``gitopsd.yaml`` re-renders. Secret
    values in the bodies are keyed digests, never the values (``core.manifests``).
    """

    app: str
    revision: str
    objects: dict[str, str]
    renderer: str = ""
    inputs: tuple[str, ...] = ()
    config: str = ""


@codec.event("RenderFailed")
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RenderFailed(EventBase):
    """Rendering the app at ``revision`` failed; ``file``/``line`` say where when known.

    ``inputs`` are the repository paths the failed render depended on (what it had read,
    or for a render stopped by a limit what its last render read): like a success, the
    app renders again only for a commit touching them or its path. None (events written
    before gitopsd recorded it): any new commit renders it again.
    """

    app: str
    revision: str
    error: str
    file: str | None = None
    line: int | None = None
    config: str = ""
    inputs: tuple[str, ...] | None = None


class SyncResult(enum.StrEnum):
    """How a sync ended."""

    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ABORTED = "Aborted"


@codec.event("SyncFinished", version=2)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SyncFinished(EventBase):
    """A sync ended."""

    app: str
    target: str
    sync_id: str
    revision: str
    result: SyncResult
    message: str = ""
    duration_ms: int = 0


class Health(enum.StrEnum):
    """Health codes, in order of severity (DESIGN.md §4)."""

    HEALTHY = "Healthy"
    SUSPENDED = "Suspended"
    PROGRESSING = "Progressing"
    MISSING = "Missing"
    DEGRADED = "Degraded"
    UNKNOWN = "Unknown"


@codec.event("HealthChanged", version=2)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class HealthChanged(EventBase):
    """The target's aggregated health changed (the worst of its objects')."""

    app: str
    target: str
    health: Health
    previous: Health | None = None
    message: str = ""


@codec.event("AppPinned", version=2)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class AppPinned(EventBase):
    """A person pinned the app to an earlier revision (rollback)."""

    app: str
    target: str
    revision: str
    reason: str = ""
    until_newer_commit: bool = False


@codec.event("AppUnpinned", version=2)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class AppUnpinned(EventBase):
    """The pin was lifted; auto-sync follows the source again.

    A person's unpin has no ``state_position``; a pin "until a newer commit" is lifted by
    ``core.pins`` with reason ``newer commit`` and the position of the state that decided it.
    """

    NEWER_COMMIT: ClassVar[str] = "newer commit"

    app: str
    target: str
    reason: str = ""
    state_position: int | None = None


@codec.event("AppConfigured")
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class AppConfigured(EventBase):
    """The app's policy as configured (recorded when it changes), so decisions replay exactly.

    ``policy`` is the app's settings as plain JSON (destination, sync policy,
    restrictions); ``digest`` identifies it.
    """

    app: str
    digest: str
    policy: dict[str, Any]


@codec.event("AppSuspended")
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class AppSuspended(EventBase):
    """A person suspended the target: nothing is synced, healed or pruned until resumed."""

    app: str
    target: str
    reason: str = ""


@codec.event("AppResumed")
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class AppResumed(EventBase):
    """A suspended target was resumed; its triggers apply again."""

    app: str
    target: str
    reason: str = ""


@codec.event("TargetAdded")
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TargetAdded(EventBase):
    """A cluster started to be selected by the app's destination (config or labels changed)."""

    app: str
    target: str
    namespace: str
    state_position: int


@codec.event("TargetRemoved")
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TargetRemoved(EventBase):
    """A cluster is no longer selected by the app's destination.

    ``prune`` says whether its objects are deleted: only when the app prunes. Otherwise
    they are left in the cluster, still labelled, and forgotten by gitopsd.
    """

    app: str
    target: str
    prune: bool
    state_position: int
    objects: int = 0


class TriggerReason(enum.StrEnum):
    """Why a sync starts (``core.triggers``)."""

    REVISION = "revision"
    """A new revision to converge on (a commit, a pin, a lifted pin)."""
    REQUESTED = "requested"
    """A person or an API client asked for it."""
    RETRY = "retry"
    """The previous sync of this revision failed and its backoff is over."""
    RESYNC = "resync"
    """The periodic resync found the cluster different from Git."""
    SELF_HEAL = "self-heal"
    """A watched change made the cluster differ from Git, and self-heal is on."""
    PRUNE = "prune"
    """The target was removed from the app and its objects are pruned."""


@codec.event("SyncTriggered")
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SyncTriggered(EventBase):
    """The decision to start a sync, with its reason and what it was computed from.

    ``state_position`` is the position of the state the decision read and ``at`` the
    UTC wall-clock time it used (ISO 8601), so ``gitopsd verify`` recomputes it.
    Recorded in the same append as the ``SyncPlanned`` it leads to.
    """

    app: str
    target: str
    sync_id: str
    reason: TriggerReason
    state_position: int
    at: str
    detail: str = ""


@codec.event("NormalizationGapDetected")
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class NormalizationGapDetected(EventBase):
    """The plan differs from the cluster only where the server keeps what gitopsd applied.

    Every changed object was applied by gitopsd with the same body and has not changed
    since (same resourceVersion observed): the difference lies in the comparison, not
    in the cluster, so no sync is started (it would loop). Recorded once per set of
    keys, with the position of the state it came from.
    """

    app: str
    target: str
    keys: tuple[str, ...]
    state_position: int
    scopes: dict[str, bool] = dataclasses.field(default_factory=dict)
    """Discovery scopes of custom kinds the plan used (as in SyncPlanned)."""


@codec.event("SyncRequested", version=2)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SyncRequested(EventBase):
    """A person (or an API client) asked for a sync; the actor is in the event's meta."""

    app: str
    target: str
    reason: str = ""


class StepAction(enum.StrEnum):
    """What a plan step does to one object."""

    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    PRUNE = "prune"
    REFUSED = "refused"
    KEEP = "keep"
    """In the inventory, no longer desired, but protected from pruning (policy or annotation)."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PlanStep:
    """One object's step in a sync plan."""

    key: str
    action: StepAction
    wave: int = 0
    phase: str = "Sync"
    digest: str | None = None
    """Digest of the desired body (none for prunes)."""
    reason: str = ""


@codec.event("SyncPlanned", version=2)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SyncPlanned(EventBase):
    """A sync's ordered plan, computed from the state folded up to ``state_position``."""

    app: str
    target: str
    sync_id: str
    revision: str
    trigger: str
    state_position: int
    steps: tuple[PlanStep, ...]
    scopes: dict[str, bool] = dataclasses.field(default_factory=dict)
    """Scopes of custom kinds learnt from discovery (``group/Kind`` -> namespaced): an
    input of the plan that the log does not otherwise hold."""


@codec.event("ObjectApplied", version=3)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ObjectApplied(EventBase):
    """Applying one object succeeded; ``resource_version`` is the server's answer.

    Usually a server-side apply of ``key``. For a hook named by ``generateName`` it is a
    create: ``hook`` is the hook's key (``.../prefix*``) and ``key`` the instance's, with
    the name the server gave it (version 2 added ``hook``; empty otherwise; version 3
    added ``target``).
    """

    app: str
    target: str
    sync_id: str
    key: str
    created: bool
    resource_version: str
    digest: str
    hook: str = ""


@codec.event("ObjectPruned", version=2)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ObjectPruned(EventBase):
    """An object gitopsd had applied and Git no longer declares was deleted (or was gone)."""

    app: str
    target: str
    sync_id: str
    key: str
    already_gone: bool = False


@codec.event("HookDeleted", version=2)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class HookDeleted(EventBase):
    """A hook's instance was deleted as its delete policy asks (or was found gone).

    ``key`` is the object deleted, ``hook`` the hook's key (the same for a named hook,
    ``.../prefix*`` for one named by ``generateName``); ``delete_policy`` is ``BeforeHookCreation``,
    ``HookSucceeded`` or ``HookFailed``.
    """

    app: str
    target: str
    sync_id: str
    key: str
    hook: str
    delete_policy: str
    already_gone: bool = False


@codec.event("StepFailed", version=2)
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class StepFailed(EventBase):
    """A step failed; ``stage`` is dry-run, apply, prune or health; the API's answer is kept."""

    app: str
    target: str
    sync_id: str
    key: str
    stage: str
    code: int = 0
    reason: str = ""
    message: str = ""


class Change(enum.StrEnum):
    """The kind of change a watch reported."""

    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FieldManager:
    """One managedFields entry, without its field set (that stays in the body's blob)."""

    manager: str
    operation: str
    time: str | None = None
    subresource: str = ""


@codec.event("ObjectObserved")
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ObjectObserved(EventBase):
    """A watched object changed in a cluster. ``digest`` names the stored body (none on delete)."""

    cluster: str
    change: Change
    key: str
    uid: str
    resource_version: str
    digest: str | None = None
    app: str | None = None
    managers: tuple[FieldManager, ...] = ()


@codec.event("WatchRestarted")
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class WatchRestarted(EventBase):
    """A watch was restarted with a full relist (after 410 Gone or a reconnect).

    The informer records what the relist changed as ObjectObserved events of its own
    (deletions included), so this event only marks the restart for the timeline.
    """

    cluster: str
    resource: str
    reason: str


@codec.event("ClusterUnreachable")
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ClusterUnreachable(EventBase):
    """The cluster's API stopped answering (recorded on change only)."""

    cluster: str
    error: str


@codec.event("ClusterReachable")
@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ClusterReachable(EventBase):
    """The cluster's API answers again."""

    cluster: str


AnyEvent = (
    CommitRecorded
    | RevisionObserved
    | HistoryRewritten
    | SourceFailed
    | SourceRecovered
    | DesiredStateRendered
    | RenderFailed
    | SyncFinished
    | HealthChanged
    | AppPinned
    | AppUnpinned
    | AppConfigured
    | AppSuspended
    | AppResumed
    | TargetAdded
    | TargetRemoved
    | SyncTriggered
    | NormalizationGapDetected
    | SyncRequested
    | SyncPlanned
    | ObjectApplied
    | ObjectPruned
    | HookDeleted
    | StepFailed
    | ObjectObserved
    | WatchRestarted
    | ClusterUnreachable
    | ClusterReachable
)
