"""How the answers of ``commands`` read to people: the status table, history lines, outcomes.

Pure functions from ``commands``' dataclasses to text, shared by the command line and
the demo; the HTTP API serves the dataclasses themselves as JSON instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from daemon.core import events as ev
from daemon.core import ids
from daemon.runtime import commands
from daemon.shell import advisorylock

STATUS_HEADER = (
    "APP",
    "CLUSTER",
    "NAMESPACE",
    "REVISION",
    "APPLIED",
    "SYNC",
    "HEALTH",
    "PINNED",
    "SUSPENDED",
    "LAST SYNC",
)


def format_status(rows: Sequence[commands.StatusRow]) -> str:
    """The status table people read: one line per app and target, then what went wrong."""
    lines = [STATUS_HEADER]
    for row in rows:
        pinned = "-"
        if row.pinned:
            pinned = short(row.pinned) + (" (until newer)" if row.pin_until_newer_commit else "")
        last = row.last_sync or "-"
        if row.last_sync and row.last_sync_at:
            last += f" {row.last_sync_at[:19].replace('T', ' ')}"
        lines.append(
            (
                row.app,
                row.cluster,
                row.namespace,
                short(row.revision),
                short(row.applied),
                row.sync,
                row.health,
                pinned,
                "yes" if row.suspended else "-",
                last,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(STATUS_HEADER))]
    out = [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    ]
    told: set[str] = set()
    for row in rows:
        if row.render_error and row.app not in told:
            told.add(row.app)
            out.append(f"{row.app}: render failed: {row.render_error}")
        if row.last_sync == ev.SyncResult.FAILED.value:
            out.append(f"{row.app} on {row.cluster}: last sync failed: {row.last_sync_message}")
    return "\n".join(out)


def status_json(rows: Sequence[commands.StatusRow]) -> list[dict[str, Any]]:
    """The rows as JSON objects (``gitopsd status --json``, the HTTP API)."""
    return [
        {field: getattr(row, field) for field in commands.StatusRow.__dataclass_fields__}
        for row in rows
    ]


def format_history(lines: Sequence[commands.HistoryLine]) -> list[str]:
    """One line per event worth telling: position, time, target ("-": the app's own), text."""
    told = [(line, text) for line in lines if (text := describe(line.event)) is not None]
    width = max((len(line.target) for line, _ in told), default=1) or 1
    out = []
    for line, text in told:
        actor = f" by {line.actor}" if line.actor and line.actor.startswith("cli:") else ""
        when = line.recorded_at.strftime("%Y-%m-%d %H:%M:%S")
        out.append(f"{line.position:>6}  {when}  {(line.target or '-'):<{width}}  {text}{actor}")
    return out


def describe(event: ev.AnyEvent) -> str | None:
    """One line about an app event (None for the noisy ones)."""
    match event:
        case ev.DesiredStateRendered():
            count = len(event.objects)
            return f"rendered {short(event.revision)}: {count} objects ({event.renderer})"
        case ev.RenderFailed():
            return f"render of {short(event.revision)} failed: {event.error}"
        case ev.SyncPlanned():
            counts: dict[str, int] = {}
            for step in event.steps:
                counts[step.action.value] = counts.get(step.action.value, 0) + 1
            summary = ", ".join(f"{n} {a}" for a, n in sorted(counts.items()))
            target = short(event.revision)
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
            until = " until a newer commit" if event.until_newer_commit else ""
            return f"pinned to {short(event.revision)}{until}" + _reason(event.reason)
        case ev.AppUnpinned():
            return "unpinned" + _reason(event.reason)
        case ev.AppSuspended():
            return "suspended" + _reason(event.reason)
        case ev.AppResumed():
            return "resumed" + _reason(event.reason)
        case ev.TargetAdded():
            return f"target added (namespace {event.namespace})"
        case ev.TargetRemoved():
            return "target removed" + (
                f", pruning its {event.objects} objects" if event.prune else ", objects left"
            )
        case ev.SyncRequested():
            return f"sync requested: {event.reason}"
        case ev.AppConfigured():
            return "configuration recorded"
        case _:
            return None


def sync_outcome(outcome: commands.Outcome, *, holder: advisorylock.Holder | None) -> str:
    """What ``gitopsd sync`` tells: the request is recorded, and who will act on it when."""
    recorded = (
        f"sync of {outcome.app} on {', '.join(outcome.clusters)} recorded by {outcome.actor} "
        f"({_events(outcome.positions)})"
    )
    if outcome.unchanged:
        recorded += f"; not on {', '.join(outcome.unchanged)} (suspended)"
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


def action_outcome(outcome: commands.Outcome, *, done: str, already: str) -> str:
    """``web pinned on a, b by cli:eve``; then the targets that were already so, if any."""
    parts = []
    if outcome.clusters:
        parts.append(f"{outcome.app} {done} on {', '.join(outcome.clusters)} by {outcome.actor}")
    if outcome.unchanged:
        parts.append(f"{outcome.app} was {already} on {', '.join(outcome.unchanged)}")
    return "; ".join(parts)


def short(sha: str | None) -> str:
    """A sha as people read it (8 digits), "-" for none."""
    return sha[:8] if sha else "-"


def _reason(reason: str) -> str:
    return f": {reason}" if reason else ""


def _events(positions: Sequence[int]) -> str:
    if len(positions) == 1:
        return f"event {positions[0]}"
    return f"events {', '.join(str(p) for p in positions)}"
