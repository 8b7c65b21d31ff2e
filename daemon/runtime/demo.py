"""``gitopsd demo``: the whole loop, told step by step, on embedded defaults.

It sets up everything gitopsd needs in one state directory (a temporary one unless
given): the embedded PostgreSQL for the event log, the Kubernetes API emulator served
in this process with fast controllers, and a sample Git repository written with
``samplerepo.SampleRepo`` and served as ``file://``. Then it runs the real daemon
(``main.Daemon``) on them and tells a story by committing to the repository: v1 is synced and turns
Healthy; v2 (new image, more replicas) is auto-synced; v3 removes an object, which is
pruned; v4 deploys an image that never becomes ready and ends Degraded, and a rollback
(``commands.Commands.rollback``, as ``gitopsd rollback``) brings it back to Healthy. It ends with
the app's status and history and ``gitopsd verify``'s replay of the log.

The demo decides nothing itself: it commits, pokes the poller instead of waiting for
its interval, waits on the folded state (never on sleeps), and prints what the daemon
recorded. The daemon's own logs go to a file in the state directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import TextIO

import yaml

from daemon import errors, logs, settings
from daemon.core import events as ev
from daemon.core import ids
from daemon.core import state as core_state
from daemon.runtime import appviews, commands, database, verify
from daemon.runtime import main as daemon_main
from daemon.shell import embeddedpg, eventstore
from daemon.shell.samplerepo import SampleRepo
from kubesim.controllers.base import Knobs
from kubesim.emulator import Emulator, run_emulator

Printer = Callable[[str], None]

APP = "web"
SOURCE = "shop"
CLUSTER = "sim"
NAMESPACE = "shop"
APP_PATH = "apps/web"
LOG_FILE = "gitopsd.log"
STEP_TIMEOUT = 30.0
# Fast fake controllers: a rollout takes a fraction of a second, and a Deployment
# whose image never becomes ready reports ProgressDeadlineExceeded after 1.5 s.
KNOBS = Knobs(step=0.05, establish=0.05, progress_deadline=1.5, job_duration=0.1)


class DemoError(Exception):
    """A step of the story did not happen as told (the message says which, and the state)."""


# -- the sample repository ---------------------------------------------------------------


_NAMESPACE_YAML = f"""\
apiVersion: v1
kind: Namespace
metadata:
  name: {NAMESPACE}
"""
_SETTINGS_YAML = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-settings
data:
  greeting: hello from gitopsd
"""
_DEPLOYMENT_YAML = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
        - name: nginx
          image: {image}
"""
_SERVICE_YAML = """\
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
    - port: 80
      targetPort: 80
"""


def _manifests(*, image: str, replicas: int, settings_map: bool) -> dict[str, str | None]:
    """The app's files at one point of the story (None: the file is deleted)."""
    return {
        f"{APP_PATH}/namespace.yaml": _NAMESPACE_YAML,
        f"{APP_PATH}/settings.yaml": _SETTINGS_YAML if settings_map else None,
        f"{APP_PATH}/deployment.yaml": _DEPLOYMENT_YAML.format(image=image, replicas=replicas),
        f"{APP_PATH}/service.yaml": _SERVICE_YAML,
    }


# -- the set-up ------------------------------------------------------------------------------


def _config_text(*, state_dir: Path, sim: Emulator, repo: SampleRepo) -> str:
    """The gitopsd.yaml of the demo (written to the state directory for people to read)."""
    doc = {
        "state_dir": str(state_dir),
        "http": {"listen": "127.0.0.1:0"},
        "clusters": [{"name": CLUSTER, "kubeconfig": str(sim.kubeconfig_path), "timeout": "5s"}],
        # The demo pokes the poller after each commit, so the interval never matters.
        "sources": [{"name": SOURCE, "url": repo.url, "branch": "main", "interval": "1h"}],
        "apps": [
            {
                "name": APP,
                "source": SOURCE,
                "path": APP_PATH,
                "destination": {"cluster": CLUSTER, "namespace": NAMESPACE},
                "sync": {
                    "auto": True,
                    "prune": True,
                    "retry": {"backoff": "1s", "max_backoff": "5s", "limit": 3},
                },
            }
        ],
    }
    return yaml.safe_dump(doc, sort_keys=False)


@contextlib.asynccontextmanager
async def _embedded_database(state_dir: Path) -> AsyncIterator[database.Database]:
    """The embedded server in ``state_dir/pg``, migrated; released at the end.

    Always embedded, even when ``$GITOPSD_DATABASE_URL`` is set: the demo must never
    write its sample app into a real event log.
    """
    server = await asyncio.to_thread(embeddedpg.start, state_dir)
    db = database.Database(url=server.url(), embedded=server)
    try:
        await asyncio.to_thread(server.ensure_database, embeddedpg.DEFAULT_DATABASE)
        await database.migrate(db.url)
        yield db
    finally:
        await asyncio.to_thread(db.close)


@contextlib.contextmanager
def _daemon_logs(path: Path) -> Iterator[TextIO]:
    """Send the daemon's logs (JSON lines) to ``path``; warnings go back to stderr after."""
    with path.open("a", encoding="utf-8") as out:
        logs.configure(level="info", stream=out, json=True)
        try:
            yield out
        finally:
            logs.configure(level="warning", stream=sys.stderr)


@dataclasses.dataclass
class _Story:
    """The running demo: what the steps need to commit, wait and tell."""

    daemon: daemon_main.Daemon
    serving: asyncio.Task[None]
    store: eventstore.EventStore
    repo: SampleRepo
    app: settings.AppConfig
    out: Printer
    mark: int = 0
    """Position up to which the app's events were already told."""

    @property
    def state(self) -> core_state.AppState:
        """The app's folded state (the daemon keeps it current)."""
        return self.daemon.keeper.state.app(APP)

    @property
    def target(self) -> core_state.TargetState:
        """The app's one target: the demo's cluster."""
        return self.state.target(CLUSTER)


# -- entry point -----------------------------------------------------------------------------


async def run(*, state_dir: Path | None, out: Printer) -> None:
    """Tell the story, printing each step; raises ``DemoError`` when a step does not happen."""
    if state_dir is None:
        with tempfile.TemporaryDirectory(prefix="gitopsd-demo-") as tmp:
            await _tell(Path(tmp), out, kept=False)
        out(f"removed {tmp}")
    else:
        await _tell(await asyncio.to_thread(_empty_dir, state_dir), out, kept=True)


def _empty_dir(path: Path) -> Path:
    """``path``, made if missing, absolute; a usage error when it already holds something."""
    if path.exists() and any(path.iterdir()):
        raise errors.UsageError(f"{path} is not empty: give the demo a new or empty directory")
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


async def _tell(state_dir: Path, out: Printer, *, kept: bool) -> None:
    log_path = state_dir / LOG_FILE
    out("gitopsd demo: the whole loop on embedded defaults")
    out(f"  state directory  {state_dir}" + ("" if kept else " (temporary; keep it: --state-dir)"))
    with _daemon_logs(log_path):
        try:
            async with _embedded_database(state_dir) as db:
                out(f"  event log        embedded PostgreSQL, data in {state_dir / 'pg'}")
                await _with_cluster_and_repo(state_dir, db, out)
            out("stopped the daemon, the emulator and the embedded PostgreSQL")
        except DemoError:
            kept_note = "" if kept else " (removed; rerun with --state-dir DIR to keep it)"
            out(f"the daemon's log is {log_path}{kept_note}")
            raise
    if kept:
        out(f"daemon log: {log_path}")
        out(f"look again later: gitopsd --config {state_dir / 'gitopsd.yaml'} history {APP}")


async def _with_cluster_and_repo(state_dir: Path, db: database.Database, out: Printer) -> None:
    repo = await asyncio.to_thread(SampleRepo, state_dir / "git" / f"{SOURCE}.git")
    async with run_emulator(kubeconfig=state_dir / "sim.kubeconfig", knobs=KNOBS) as sim:
        config_path = state_dir / "gitopsd.yaml"
        text = _config_text(state_dir=state_dir, sim=sim, repo=repo)
        await asyncio.to_thread(config_path.write_text, text, encoding="utf-8")
        config = await asyncio.to_thread(settings.load, config_path, environ={})
        out(f"  Kubernetes       API emulator at {sim.url} (in this process)")
        out(f"  Git              {repo.url} (branch main)")
        out(f"  app              {APP}: {APP_PATH} -> cluster {CLUSTER}, namespace {NAMESPACE}")
        out(f"  configuration    {config_path}")
        out(f"  daemon logs      {state_dir / LOG_FILE}")
        store = await eventstore.connect(db.url, pool_size=config.database.pool_size)
        try:
            report = await _run_daemon(config, store, repo, out)
        finally:
            await store.close()
        problems = sim.internal_errors()
    if problems:
        raise DemoError(f"the emulator caught internal errors: {problems}")
    if report.mismatches:
        raise DemoError(f"gitopsd verify found {len(report.mismatches)} differences")


async def _run_daemon(
    config: settings.Config, store: eventstore.EventStore, repo: SampleRepo, out: Printer
) -> verify.Report:
    daemon = daemon_main.Daemon(config, store)
    serving = asyncio.create_task(daemon.serve(), name="gitopsd")
    story = _Story(
        daemon=daemon,
        serving=serving,
        store=store,
        repo=repo,
        app=commands.Commands(store, config).app(APP),
        out=out,
    )
    try:
        ready = asyncio.create_task(daemon.ready.wait())
        try:
            both = asyncio.wait([serving, ready], return_when=asyncio.FIRST_COMPLETED)
            await _bounded(both, "the daemon to start")
        finally:
            ready.cancel()
        _check_serving(story)
        out("  daemon           running: poller, renderer, informers, reconciler, writer")
        await _story(story)
    finally:
        daemon.stop()
        await _bounded(asyncio.shield(serving), "the daemon to stop")
    out("")
    return await _epilogue(story, config)


def _check_serving(story: _Story) -> None:
    if story.serving.done():
        exc = None if story.serving.cancelled() else story.serving.exception()
        why = f"{type(exc).__name__}: {exc}" if exc else "it was asked to stop (SIGINT/SIGTERM?)"
        raise DemoError(f"the daemon stopped early: {why}")


# -- the story -------------------------------------------------------------------------------


async def _story(story: _Story) -> None:
    v1 = await _commit(story, 1, image="nginx:1.27", replicas=2, settings_map=True)
    took = await _settle(story, v1, ev.Health.HEALTHY)
    story.out(f"   => v1 {v1[:8]} synced and Healthy ({took:.1f} s)")
    v2 = await _commit(story, 2, image="nginx:1.28", replicas=3, settings_map=True)
    took = await _settle(story, v2, ev.Health.HEALTHY)
    story.out(f"   => v2 {v2[:8]} auto-synced, rolled out and Healthy ({took:.1f} s)")
    v3 = await _commit(story, 3, image="nginx:1.28", replicas=3, settings_map=False)
    took = await _settle(story, v3, ev.Health.HEALTHY)
    if f"/ConfigMap/{NAMESPACE}/web-settings" in story.target.inventory:
        raise DemoError("web-settings was removed in Git but is still in the app's inventory")
    story.out(f"   => v3 {v3[:8]} synced: ConfigMap/{NAMESPACE}/web-settings pruned ({took:.1f} s)")
    v4 = await _commit(story, 4, image="nginx:broken", replicas=3, settings_map=False)
    took = await _settle(story, v4, ev.Health.DEGRADED)
    story.out(f"   => v4 {v4[:8]} synced but Degraded: its pods never become ready ({took:.1f} s)")
    story.out("")
    story.out(f"5. rollback to the last good revision: gitopsd rollback {APP} --to {v3[:8]}")
    service = commands.Commands(story.store, story.daemon.config)
    sha = await service.resolve_revision(APP, v3[:8])
    await service.rollback(
        APP, sha, actor=commands.actor_name(None), reason="nginx:broken never became ready"
    )
    took = await _settle(story, sha, ev.Health.HEALTHY)
    story.out(f"   => rolled back to {sha[:8]} and Healthy again ({took:.1f} s)")
    story.out(f"   (auto-sync stays on {sha[:8]} until `gitopsd unpin {APP}`)")


_MESSAGES = {
    1: "Add the web app: namespace, settings, nginx:1.27 x2, service",
    2: "Upgrade to nginx:1.28 and scale to 3 replicas",
    3: "Remove the web-settings ConfigMap",
    4: "Deploy nginx:broken (an image that never becomes ready)",
}


async def _commit(
    story: _Story, number: int, *, image: str, replicas: int, settings_map: bool
) -> str:
    """Commit version ``number`` of the app and poke the poller; returns the sha."""
    files = _manifests(image=image, replicas=replicas, settings_map=settings_map)
    message = _MESSAGES[number]
    sha = await asyncio.to_thread(story.repo.commit, files, message)
    story.out("")
    story.out(f"{number}. commit v{number} {sha[:8]}: {message}")
    assert story.daemon.git is not None
    story.daemon.git.poller.trigger([SOURCE])
    return sha


async def _settle(story: _Story, revision: str, health: ev.Health) -> float:
    """Wait until a sync of ``revision`` succeeded and the app's health settled at ``health``.

    Settled means: the informers have recorded every object the sync applied (so the
    health the daemon records is about the new objects, not the old ones), the
    reconciler has finished looking at the app since, and its recorded health is
    ``health``. Prints what the daemon recorded meanwhile; returns the seconds it took.
    """
    since = story.mark
    started = time.monotonic()

    def synced() -> bool:
        app = story.target
        return (
            app.sync is None
            and app.last_sync_position > since
            and app.last_sync_result is ev.SyncResult.SUCCEEDED
            and app.last_synced_revision == revision
        )

    await _until(story, synced, f"a sync of {revision[:8]} to succeed")
    await _bounded(_caught_up(story, since), "the informers to record the applied objects")
    reconciler = story.daemon.reconciler
    assert reconciler is not None
    while True:
        await _until(story, lambda: story.target.health is health, f"health {health}")
        await _bounded(reconciler.idle(), "the reconciler to finish its looks")
        last = await story.store.last_position()
        await _bounded(story.daemon.keeper.wait_for(last), "the state to fold the log")
        if story.target.health is health:
            break
    await _tell_new_events(story)
    return time.monotonic() - started


async def _bounded(awaitable: Awaitable[object], what: str) -> None:
    try:
        async with asyncio.timeout(STEP_TIMEOUT):
            await awaitable
    except TimeoutError:
        raise DemoError(f"waited {STEP_TIMEOUT:.0f} s for {what}") from None


async def _caught_up(story: _Story, since: int) -> None:
    """Wait until the informers recorded what the syncs after ``since`` applied."""
    informers = story.daemon.informers
    assert informers is not None
    for item in await story.store.read_stream(ids.app_stream(APP)):
        event = item.event
        if item.position <= since or not isinstance(event, ev.ObjectApplied):
            continue
        parts = ids.parse_key(event.key)
        await informers.wait_caught_up(
            CLUSTER,
            parts.group or "v1",
            parts.kind,
            event.resource_version,
            namespace=parts.namespace,
        )


async def _until(story: _Story, predicate: Callable[[], bool], what: str) -> None:
    """Wait until ``predicate()`` holds on the folded state (checked after each event)."""
    keeper = story.daemon.keeper
    try:
        async with asyncio.timeout(STEP_TIMEOUT):
            while not predicate():
                _check_serving(story)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        await keeper.wait_for(keeper.state.position + 1)
    except TimeoutError:
        raise DemoError(
            f"waited {STEP_TIMEOUT:.0f} s for {what}; {_app_summary(story.state, story.target)}"
        ) from None


def _app_summary(app: core_state.AppState, target: core_state.TargetState) -> str:
    """What the folded state says about the app, for a failure message."""
    sync = (
        f"sync {target.sync.sync_id} of {target.sync.revision[:8]} in flight"
        if target.sync
        else "idle"
    )
    return (
        f"the app: revision {_short(app.revision)}, pinned {_short(target.pinned)}, "
        f"last synced {_short(target.last_synced_revision)}, {sync}, last sync "
        f"{target.last_sync_result.value if target.last_sync_result else '-'} "
        f"({target.last_sync_message or '-'}), health "
        f"{target.health.value if target.health else '-'} ({target.health_message or '-'}), "
        f"render error {app.render_error or '-'}"
    )


def _short(sha: str | None) -> str:
    return sha[:8] if sha else "-"


# -- telling what the daemon recorded --------------------------------------------------------


async def _tell_new_events(story: _Story) -> None:
    """Print the app's events recorded since the last step, as a newcomer reads them."""
    items = [
        i for i in await story.store.read_stream(ids.app_stream(APP)) if i.position > story.mark
    ]
    if items:
        story.mark = items[-1].position
    for line in describe_sync_events([i.event for i in items]):
        story.out(f"   {line}")


def describe_sync_events(events: Sequence[ev.AnyEvent]) -> list[str]:
    """The lines ``gitopsd history`` prints for these events, plus what each update changes.

    A run of health changes with the same verdict (a rollout's progress) is told once.
    """
    reasons: dict[str, str] = {}
    lines: list[str] = []
    previous_health: ev.Health | None = None
    for event in events:
        if isinstance(event, ev.HealthChanged) and event.health is previous_health:
            continue
        previous_health = event.health if isinstance(event, ev.HealthChanged) else None
        line = appviews.describe(event)
        if line is not None:
            lines.append(_clip(line))
        if isinstance(event, ev.SyncPlanned):
            reasons = {s.key: s.reason for s in event.steps}
        if isinstance(event, ev.ObjectApplied) and not event.created:
            lines.extend(_clip(f"      {d}") for d in reasons.get(event.key, "").split("; "))
    return lines


def _clip(line: str, width: int = 100) -> str:
    """A line cut to ``width`` characters (indentation kept)."""
    return line if len(line) <= width else line[: width - 3] + "..."


async def _epilogue(story: _Story, config: settings.Config) -> verify.Report:
    """Status, history and the replay check, all read from the log (the daemon has stopped)."""
    service = commands.Commands(story.store, config)
    story.out("6. status (gitopsd status):")
    for line in appviews.format_status(await service.status()).splitlines():
        story.out(f"   {line}")
    story.out("")
    story.out(f"7. history (gitopsd history {APP}):")
    for line in appviews.format_history(await service.history(APP)):
        story.out(f"   {_clip(line, width=120)}")
    story.out("")
    report = await verify.verify(story.store)
    verdict = "the log replays cleanly" if not report.mismatches else "DIFFERENCES FOUND"
    story.out(f"8. verify (gitopsd verify): {verify.summary(report)}: {verdict}")
    for mismatch in report.mismatches:
        story.out(f"   position {mismatch.position}: sync {mismatch.sync_id}: {mismatch.detail}")
    return report
