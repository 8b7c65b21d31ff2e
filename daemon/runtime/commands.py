"""What people do to apps: request a sync, pin (rollback), unpin, suspend, resume; status.

One service, :class:`Commands`, for every front end: the command line now, the HTTP API
later. Methods take plain arguments and return frozen dataclasses; bad requests raise
``errors.UsageError`` (``errors.NotFoundError`` for an unknown app or cluster,
``errors.ConflictError`` for a race lost every time), whose messages say what to do.

Each action is a set of events, one per target it acts on, each naming its target,
appended in one append to the app's stream with the person as actor (``meta.actor``).
The running daemon folds them like any other fact and acts on them; a request recorded
while none runs is acted on by the next one to start.

No check-then-act race: an action reads the folded state at log position P, decides
from the app's targets there, and appends expecting the version the app's stream had at
P. When anything was appended to the stream in between (another person, the daemon),
the store refuses the append, and the action reads and decides again (``ATTEMPTS``
times), so two concurrent unpins record one ``AppUnpinned``, not two.

Wording for people (status table, history lines) lives in ``appviews``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import getpass
from collections.abc import Awaitable, Callable, Sequence

from daemon import errors, settings
from daemon.core import events as ev
from daemon.core import ids
from daemon.core import state as core_state
from daemon.runtime import statekeeper
from daemon.shell import advisorylock, eventstore

ATTEMPTS = 3
"""Reads and decisions an action makes before it reports a conflict."""

StateLoader = Callable[[], Awaitable[core_state.State]]
"""Where the folded state comes from: by default a fresh fold of the log (snapshot +
tail). Each call must return a state that includes every event committed before it."""


def actor_name(explicit: str | None = None) -> str:
    """``cli:<user>`` unless given."""
    if explicit:
        return explicit
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What an action recorded: the targets it acted on, and those already as asked."""

    app: str
    actor: str
    clusters: tuple[str, ...]
    """The targets an event was recorded for, sorted."""
    unchanged: tuple[str, ...] = ()
    """Selected targets already as asked (not pinned, already suspended, ...): no event."""
    positions: tuple[int, ...] = ()
    """Log positions of the events recorded, one per cluster in ``clusters``."""
    revision: str | None = None
    """For a pin: the full sha pinned."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class StatusRow:
    """One app on one target: what it wants, what it has, how it went."""

    app: str
    cluster: str
    namespace: str
    revision: str | None
    """The revision the target converges on (the pin's while pinned)."""
    applied: str | None
    """The revision of the target's last successful sync."""
    sync: str
    """Synced, OutOfSync, Syncing, Pruning (target removed), or Unknown (never rendered)."""
    health: str
    health_message: str
    pinned: str | None
    pin_until_newer_commit: bool
    suspended: bool
    last_sync: str | None
    """Result of the last sync (Succeeded, Failed, Aborted), None before the first."""
    last_sync_at: str | None
    last_sync_message: str
    failed_syncs: int
    render_error: str | None
    objects: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class HistoryLine:
    """One event of an app's story, as recorded."""

    position: int
    recorded_at: dt.datetime
    target: str
    """The cluster the event is about; "" for an event about the app as a whole."""
    event: ev.AnyEvent
    actor: str | None


class Commands:
    """The actions and queries on the apps of one configuration and its event log."""

    def __init__(
        self,
        store: eventstore.EventStore,
        config: settings.Config,
        *,
        load_state: StateLoader | None = None,
    ) -> None:
        """Act on ``store``'s log for the apps of ``config``."""
        self._store = store
        self._config = config
        self._load_state = load_state or statekeeper.StateKeeper(store).load

    # -- resolving names ------------------------------------------------------------------

    def app(self, name: str) -> settings.AppConfig:
        """The configured app, or a not-found error listing the known ones."""
        for app in self._config.apps:
            if app.name == name:
                return app
        known = ", ".join(sorted(a.name for a in self._config.apps)) or "none"
        raise errors.NotFoundError(f"unknown app {name!r} (configured apps: {known})")

    def targets(self, name: str, clusters: Sequence[str] | None = None) -> dict[str, str]:
        """Cluster -> namespace of the app's targets that ``clusters`` selects (None: all)."""
        configured = settings.targets_of(self._config, self.app(name))
        if clusters is None:
            return configured
        unknown = sorted({c for c in clusters if c not in configured})
        if unknown:
            valid = ", ".join(configured) or "none"
            raise errors.NotFoundError(
                f"app {name!r} has no target {', '.join(repr(c) for c in unknown)} "
                f"(its targets: {valid})"
            )
        return {c: configured[c] for c in sorted(set(clusters))}

    async def resolve_revision(self, name: str, text: str) -> str:
        """The full sha of a commit recorded on the app's source, from a unique prefix."""
        app = self.app(name)
        if len(text) < 4:
            raise errors.UsageError(f"revision {text!r} is too short: give at least 4 hex digits")
        shas = {
            item.event.sha
            for item in await self._store.read_stream(ids.source_stream(app.source))
            if isinstance(item.event, ev.CommitRecorded | ev.RevisionObserved)
        }
        found = sorted(s for s in shas if s.startswith(text.lower()))
        if not found:
            raise errors.UsageError(
                f"revision {text!r} was never recorded on source {app.source!r} "
                f"(see `gitopsd history {app.name}`)"
            )
        if len(found) > 1:
            raise errors.UsageError(
                f"revision {text!r} is ambiguous: {', '.join(f[:12] for f in found)}"
            )
        return found[0]

    # -- actions --------------------------------------------------------------------------

    async def sync(
        self, app: str, clusters: Sequence[str] | None = None, *, actor: str, reason: str = ""
    ) -> Outcome:
        """Ask for a sync of the app's selected targets; suspended ones are left out."""
        selected = self.targets(app, clusters)
        why = reason or "manual sync"

        def decide(current: core_state.AppState | None) -> dict[str, ev.AnyEvent | None]:
            suspended = _suspended(current, selected)
            if suspended and len(suspended) == len(selected):
                raise errors.ConflictError(
                    f"app {app!r} is suspended on {', '.join(suspended)}: nothing is synced "
                    f"there until `gitopsd resume {app}`"
                )
            return {
                c: None if c in suspended else ev.SyncRequested(app=app, target=c, reason=why)
                for c in selected
            }

        return await self._act(app, decide, actor=actor)

    async def rollback(
        self,
        app: str,
        revision: str,
        clusters: Sequence[str] | None = None,
        *,
        actor: str,
        reason: str = "",
        until_newer_commit: bool = False,
    ) -> Outcome:
        """Pin the selected targets to ``revision`` (a unique prefix of a recorded commit)."""
        selected = self.targets(app, clusters)
        sha = await self.resolve_revision(app, revision)

        def decide(current: core_state.AppState | None) -> dict[str, ev.AnyEvent | None]:
            decided: dict[str, ev.AnyEvent | None] = {}
            for cluster in selected:
                target = _target(current, cluster)
                same = target is not None and (target.pinned, target.pin_until_newer) == (
                    sha,
                    until_newer_commit,
                )
                decided[cluster] = (
                    None
                    if same
                    else ev.AppPinned(
                        app=app,
                        target=cluster,
                        revision=sha,
                        reason=reason,
                        until_newer_commit=until_newer_commit,
                    )
                )
            return decided

        outcome = await self._act(app, decide, actor=actor)
        return dataclasses.replace(outcome, revision=sha)

    async def unpin(
        self, app: str, clusters: Sequence[str] | None = None, *, actor: str, reason: str = ""
    ) -> Outcome:
        """Lift the pin of the selected targets that are pinned."""
        selected = self.targets(app, clusters)

        def decide(current: core_state.AppState | None) -> dict[str, ev.AnyEvent | None]:
            return {
                c: ev.AppUnpinned(app=app, target=c, reason=reason)
                if (t := _target(current, c)) is not None and t.pinned is not None
                else None
                for c in selected
            }

        return await self._act(app, decide, actor=actor)

    async def suspend(
        self, app: str, clusters: Sequence[str] | None = None, *, actor: str, reason: str = ""
    ) -> Outcome:
        """Suspend the selected targets: no sync, no self-heal, no prune until resumed."""
        selected = self.targets(app, clusters)

        def decide(current: core_state.AppState | None) -> dict[str, ev.AnyEvent | None]:
            suspended = _suspended(current, selected)
            return {
                c: None if c in suspended else ev.AppSuspended(app=app, target=c, reason=reason)
                for c in selected
            }

        return await self._act(app, decide, actor=actor)

    async def resume(
        self, app: str, clusters: Sequence[str] | None = None, *, actor: str, reason: str = ""
    ) -> Outcome:
        """Resume the selected targets that are suspended."""
        selected = self.targets(app, clusters)

        def decide(current: core_state.AppState | None) -> dict[str, ev.AnyEvent | None]:
            suspended = _suspended(current, selected)
            return {
                c: ev.AppResumed(app=app, target=c, reason=reason) if c in suspended else None
                for c in selected
            }

        return await self._act(app, decide, actor=actor)

    async def _act(
        self,
        app: str,
        decide: Callable[[core_state.AppState | None], dict[str, ev.AnyEvent | None]],
        *,
        actor: str,
    ) -> Outcome:
        """Read, decide, append expecting the version read; again on a clash."""
        stream = ids.app_stream(app)
        clash: eventstore.ConcurrencyError | None = None
        for _ in range(ATTEMPTS):
            state = await self._load_state()
            version = await self._store.stream_version(stream, at_position=state.position)
            decided = decide(state.apps.get(app))
            acting = {c: e for c, e in decided.items() if e is not None}
            unchanged = tuple(c for c, e in decided.items() if e is None)
            if not acting:
                return Outcome(app=app, actor=actor, clusters=(), unchanged=unchanged)
            try:
                positions = await self._store.append(
                    stream, version, list(acting.values()), meta=ev.EventMeta(actor=actor)
                )
            except eventstore.ConcurrencyError as exc:
                clash = exc
                continue
            return Outcome(
                app=app,
                actor=actor,
                clusters=tuple(acting),
                unchanged=unchanged,
                positions=tuple(positions),
            )
        raise errors.ConflictError(
            f"app {app!r} kept changing while this request was decided ({ATTEMPTS} attempts; "
            f"last: {clash}); nothing was recorded: look at `gitopsd status` and try again"
        )

    # -- queries --------------------------------------------------------------------------

    async def status(self, apps: Sequence[str] | None = None) -> list[StatusRow]:
        """One row per app and target (every configured app unless ``apps`` names some)."""
        for name in apps or ():
            self.app(name)
        rows = status_rows(await self._load_state(), self._config)
        return [r for r in rows if apps is None or r.app in apps]

    async def history(self, app: str, clusters: Sequence[str] | None = None) -> list[HistoryLine]:
        """The app's events, oldest first: those about the selected targets, and the app's own."""
        self.app(app)
        wanted = None if clusters is None else set(clusters)
        if wanted is not None:
            self._known_clusters(app, wanted)
        lines = []
        legacy = ""
        for item in await self._store.read_stream(ids.app_stream(app)):
            event = item.event
            if isinstance(event, ev.AppConfigured) and "targets" not in event.policy:
                legacy = str(event.policy.get("cluster", ""))
            target = _target_named(event, legacy)
            if wanted is not None and target and target not in wanted:
                continue
            lines.append(
                HistoryLine(
                    position=item.position,
                    recorded_at=item.recorded_at,
                    target=target,
                    event=event,
                    actor=item.meta.actor,
                )
            )
        return lines

    def _known_clusters(self, app: str, clusters: set[str]) -> None:
        """History may name a past target too: only a cluster never configured is refused."""
        known = {c.name for c in self._config.clusters}
        unknown = sorted(clusters - known)
        if unknown:
            targets = ", ".join(settings.targets_of(self._config, self.app(app))) or "none"
            raise errors.NotFoundError(
                f"unknown cluster {', '.join(repr(c) for c in unknown)} "
                f"(configured clusters: {', '.join(sorted(known)) or 'none'}; "
                f"targets of {app!r}: {targets})"
            )

    async def active_daemon(self) -> advisorylock.Holder | None:
        """Who holds the database's lock, i.e. which gitopsd acts on requests (None: nobody)."""
        async with self._store.pool.acquire() as conn:
            return await advisorylock.holder(conn)


def status_rows(state: core_state.State, config: settings.Config) -> list[StatusRow]:
    """Rows for every configured app: its configured targets, then any still being pruned."""
    rows: list[StatusRow] = []
    for app in config.apps:
        current = state.apps.get(app.name)
        configured = settings.targets_of(config, app)
        known = current.targets if current is not None else {}
        clusters = [*configured, *sorted(c for c in known if c not in configured)]
        rows.extend(
            _row(app.name, c, configured.get(c) or known[c].namespace, current) for c in clusters
        )
    return rows


def _row(app: str, cluster: str, namespace: str, current: core_state.AppState | None) -> StatusRow:
    target = current.targets.get(cluster) if current is not None else None
    if current is None or target is None:
        return StatusRow(
            app=app,
            cluster=cluster,
            namespace=namespace,
            revision=current.revision if current is not None else None,
            applied=None,
            sync="Unknown" if current is None or current.revision is None else "OutOfSync",
            health="Unknown",
            health_message="",
            pinned=None,
            pin_until_newer_commit=False,
            suspended=False,
            last_sync=None,
            last_sync_at=None,
            last_sync_message="",
            failed_syncs=0,
            render_error=current.render_error if current is not None else None,
            objects=0,
        )
    revision, _ = current.converge_on(target)
    return StatusRow(
        app=app,
        cluster=cluster,
        namespace=namespace,
        revision=revision or None,
        applied=target.last_synced_revision,
        sync=_sync_state(target, revision),
        health=target.health.value if target.health is not None else "Unknown",
        health_message=target.health_message,
        pinned=target.pinned,
        pin_until_newer_commit=target.pin_until_newer,
        suspended=target.suspended,
        last_sync=target.last_sync_result.value if target.last_sync_result else None,
        last_sync_at=target.last_sync_at,
        last_sync_message=target.last_sync_message,
        failed_syncs=target.failed_syncs,
        render_error=current.render_error,
        objects=len(target.inventory),
    )


def _sync_state(target: core_state.TargetState, revision: str | None) -> str:
    if target.sync is not None:
        return "Syncing"
    if target.removed:
        return "Pruning"
    if revision is None:
        return "Unknown"
    return "Synced" if revision == target.last_synced_revision else "OutOfSync"


def _target_named(event: ev.AnyEvent, legacy: str) -> str:
    """The cluster an event is about ("" for the app's own); before targets, the legacy one."""
    if isinstance(event, ev.DesiredStateRendered | ev.RenderFailed | ev.AppConfigured):
        return ""
    named: str = getattr(event, "target", "")
    return named or legacy


def _target(current: core_state.AppState | None, cluster: str) -> core_state.TargetState | None:
    return current.targets.get(cluster) if current is not None else None


def _suspended(current: core_state.AppState | None, selected: dict[str, str]) -> list[str]:
    return [c for c in selected if (t := _target(current, c)) is not None and t.suspended]
