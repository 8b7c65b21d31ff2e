"""What people do to apps from the command line: sync, rollback (pin), unpin, status, history.

Each action is an event appended to the app's stream with the person as its actor
(``meta.actor``); the running daemon folds it like any other fact and acts on it.
Status and history are read from the log (snapshot + tail), so they work whether or
not the daemon is running; a request recorded while none runs is acted on by the next
one to start (it folds the request like any other fact). ``active_daemon`` names the
gitopsd that holds the database's lock, the one that will act.
"""

from __future__ import annotations

import getpass
from typing import Any

from daemon import errors, settings
from daemon.core import events as ev
from daemon.core import ids
from daemon.core import state as core_state
from daemon.runtime import statekeeper
from daemon.shell import advisorylock, eventstore


def actor_name(explicit: str | None = None) -> str:
    """``cli:<user>`` unless given."""
    if explicit:
        return explicit
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def app_config(config: settings.Config, name: str) -> settings.AppConfig:
    """The configured app, or a usage error listing the known ones."""
    for app in config.apps:
        if app.name == name:
            return app
    known = ", ".join(sorted(a.name for a in config.apps)) or "none"
    raise errors.UsageError(f"unknown app {name!r} (configured apps: {known})")


async def load_state(store: eventstore.EventStore) -> core_state.State:
    """The folded state now (snapshot + tail)."""
    keeper = statekeeper.StateKeeper(store)
    return await keeper.load()


async def request_sync(
    store: eventstore.EventStore, app: settings.AppConfig, *, actor: str, reason: str
) -> int:
    """Record a manual sync request; returns its position."""
    meta = ev.EventMeta(actor=actor)
    events = [
        ev.SyncRequested(app=app.name, target=t, reason=reason or "manual sync")
        for t in await _targets(store, app)
    ]
    positions = await store.append(ids.app_stream(app.name), None, events, meta=meta)
    return positions[0] if positions else 0


async def _targets(store: eventstore.EventStore, app: settings.AppConfig) -> list[str]:
    """The app's targets as the log knows them (the configured cluster before any)."""
    state = await load_state(store)
    current = state.apps.get(app.name)
    if current is not None and current.targets:
        return sorted(current.targets)
    return [app.destination.cluster] if app.destination.cluster else list(app.destination.clusters)


async def active_daemon(store: eventstore.EventStore) -> advisorylock.Holder | None:
    """Who holds the database's lock, i.e. which gitopsd acts on requests (None: nobody)."""
    async with store.pool.acquire() as conn:
        return await advisorylock.holder(conn)


def sync_outcome(app: str, *, actor: str, position: int, holder: advisorylock.Holder | None) -> str:
    """What ``gitopsd sync`` tells: the request is recorded, and who will act on it when."""
    recorded = f"sync of {app} recorded by {actor} (event {position})"
    if holder is None:
        return (
            f"{recorded}; no gitopsd is running on this database: the request stays in "
            "the log and the next gitopsd to start acts on it"
        )
    if holder.instance is None:
        return (
            f"{recorded}; no gitopsd is active: a {holder.describe()} holds its lock, "
            "and a gitopsd acts on the request once it takes the lock"
        )
    return f"{recorded}; gitopsd instance {holder.instance} is active and acts on it"


async def resolve_revision(store: eventstore.EventStore, app: settings.AppConfig, text: str) -> str:
    """The full sha of a commit recorded on the app's source, from a unique prefix."""
    if len(text) < 4:
        raise errors.UsageError(f"revision {text!r} is too short: give at least 4 hex digits")
    shas = {
        item.event.sha
        for item in await store.read_stream(ids.source_stream(app.source))
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


async def pin(
    store: eventstore.EventStore,
    app: settings.AppConfig,
    *,
    revision: str,
    actor: str,
    reason: str,
    until_newer_commit: bool,
) -> str:
    """Pin the app to ``revision`` (rollback); returns the full sha pinned."""
    sha = await resolve_revision(store, app, revision)
    events = [
        ev.AppPinned(
            app=app.name,
            target=t,
            revision=sha,
            reason=reason,
            until_newer_commit=until_newer_commit,
        )
        for t in await _targets(store, app)
    ]
    await store.append(ids.app_stream(app.name), None, events, meta=ev.EventMeta(actor=actor))
    return sha


async def unpin(
    store: eventstore.EventStore, app: settings.AppConfig, *, actor: str, reason: str
) -> bool:
    """Lift the pin; False when the app was not pinned."""
    state = await load_state(store)
    current = state.apps.get(app.name)
    pinned = [t for t in current.targets.values() if t.pinned] if current else []
    if not pinned:
        return False
    events = [ev.AppUnpinned(app=app.name, target=t.name, reason=reason) for t in pinned]
    await store.append(ids.app_stream(app.name), None, events, meta=ev.EventMeta(actor=actor))
    return True


def status_rows(state: core_state.State, config: settings.Config) -> list[dict[str, Any]]:
    """One row per configured app: what it wants, what it has, and how it went."""
    rows = []
    for app in config.apps:
        current = state.apps.get(app.name) or core_state.AppState(name=app.name)
        for cluster in sorted(current.targets) or settings.targets_of(config, app):
            target = current.targets.get(cluster) or core_state.TargetState(name=cluster)
            rows.append(_row(current, target, known=cluster in current.targets))
    return rows


def _row(
    current: core_state.AppState, target: core_state.TargetState, *, known: bool
) -> dict[str, Any]:
    wanted, _ = current.converge_on(target)
    if not known:
        sync = "Unknown"
    elif target.sync is not None:
        sync = "Syncing"
    elif wanted is not None and wanted == target.last_synced_revision:
        sync = "Synced"
    else:
        sync = "OutOfSync"
    return {
        "app": current.name,
        "cluster": target.name,
        "namespace": target.namespace,
        "wanted": wanted,
        "applied": target.last_synced_revision,
        "pinned": target.pinned,
        "suspended": target.suspended,
        "sync": sync,
        "health": target.health.value if target.health else "Unknown",
        "health_message": target.health_message,
        "last_sync": target.last_sync_result.value if target.last_sync_result else None,
        "last_sync_message": target.last_sync_message,
        "render_error": current.render_error,
        "objects": len(target.inventory),
    }


def format_status(rows: list[dict[str, Any]]) -> str:
    """The status table people read."""
    header = ("APP", "WANTED", "APPLIED", "SYNC", "HEALTH", "LAST SYNC")
    lines = [header]
    for row in rows:
        wanted = _short(row["wanted"]) + (" (pinned)" if row["pinned"] else "")
        lines.append(
            (
                row["app"],
                wanted,
                _short(row["applied"]),
                row["sync"],
                row["health"],
                row["last_sync"] or "-",
            )
        )
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    out = [
        "  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    ]
    for row in rows:
        if row["render_error"]:
            out.append(f"{row['app']}: render failed: {row['render_error']}")
        if row["last_sync"] == "Failed":
            out.append(f"{row['app']}: last sync failed: {row['last_sync_message']}")
    return "\n".join(out)


async def history(store: eventstore.EventStore, app: settings.AppConfig) -> list[str]:
    """The app's story, one line per event, oldest first."""
    lines = []
    for item in await store.read_stream(ids.app_stream(app.name)):
        text = describe(item.event)
        if text is None:
            continue
        actor = (
            f" by {item.meta.actor}"
            if item.meta.actor and item.meta.actor.startswith("cli:")
            else ""
        )
        when = item.recorded_at.strftime("%Y-%m-%d %H:%M:%S")
        lines.append(f"{item.position:>6}  {when}  {text}{actor}")
    return lines


def describe(event: Any) -> str | None:
    """One line about an app event (None for the noisy ones)."""
    match event:
        case ev.DesiredStateRendered():
            count = len(event.objects)
            return f"rendered {_short(event.revision)}: {count} objects ({event.renderer})"
        case ev.RenderFailed():
            return f"render of {_short(event.revision)} failed: {event.error}"
        case ev.SyncPlanned():
            counts: dict[str, int] = {}
            for step in event.steps:
                counts[step.action.value] = counts.get(step.action.value, 0) + 1
            summary = ", ".join(f"{n} {a}" for a, n in sorted(counts.items()))
            target = _short(event.revision)
            return f"sync {event.sync_id} planned for {target} ({event.trigger}): {summary}"
        case ev.ObjectApplied():
            verb = "created" if event.created else "updated"
            hook = f" (hook {ids.display_key(event.hook)})" if event.hook else ""
            return f"  {verb} {ids.display_key(event.key)}{hook}"
        case ev.HookDeleted():
            gone = " (already gone)" if event.already_gone else ""
            return f"  deleted hook {ids.display_key(event.key)} ({event.delete_policy}){gone}"
        case ev.ObjectPruned():
            return f"  pruned {ids.display_key(event.key)}" + (
                " (already gone)" if event.already_gone else ""
            )
        case ev.StepFailed():
            what = f"{event.reason} {event.message}".strip()
            return f"  {event.stage} failed for {ids.display_key(event.key)}: {what}"
        case ev.SyncFinished():
            return (
                f"sync {event.sync_id} {event.result.value.lower()} in {event.duration_ms} ms"
                + (f": {event.message}" if event.message else "")
            )
        case ev.HealthChanged():
            return f"health {event.health.value}" + (f": {event.message}" if event.message else "")
        case ev.AppPinned():
            return f"pinned to {_short(event.revision)}" + (
                f": {event.reason}" if event.reason else ""
            )
        case ev.AppUnpinned():
            return "unpinned" + (f": {event.reason}" if event.reason else "")
        case ev.SyncRequested():
            return f"sync requested: {event.reason}"
        case ev.AppConfigured():
            return "configuration recorded"
        case _:
            return None


def _short(sha: str | None) -> str:
    return sha[:8] if sha else "-"
