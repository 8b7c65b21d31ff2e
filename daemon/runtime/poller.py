"""The Git poller: one loop per source, fetching into its mirror and recording what changed.

Each source polls every ``interval`` (with jitter), or sooner when a webhook asks
(``trigger``, debounced so a burst of pushes costs one fetch). Fetches run in a
dedicated thread pool of ``concurrency`` workers behind a semaphore, so a slow or hung
remote holds one worker until libgit2's timeout cuts it off and never the event loop
or the other sources. A failing source backs off exponentially (capped,
``core.sources.next_delay``).

What a poll records (``core.sources.recording``) goes to ``source/<name>`` in one
append expecting the stream version the poller last saw. The "last seen" head and
version come from the folded log at start (never from the mirror, which may be ahead
of the log after a crash), so after a restart a commit is neither recorded twice nor
missed; when someone else appended first (``gitopsd sources poll`` beside the daemon)
the stream is re-read and the poll redone.

Listeners (the renderer) hear of every new head. Rendering is not done here.

Every line logged during a poll carries its ``source`` (``logs.bound``), and the lines
about a new head its ``revision``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import random
from collections.abc import Callable, Iterable

from daemon import logs, settings
from daemon.core import events as ev
from daemon.core import fold, ids, sources
from daemon.core import state as core_state
from daemon.runtime import writer
from daemon.shell import eventstore, gitsource

log = logs.get("poller")

DEFAULT_CONCURRENCY = 8
DEFAULT_DEBOUNCE = 0.5
CONNECT_TIMEOUT = 10.0


@dataclasses.dataclass(slots=True)
class Cursor:
    """What the log says about a source: its head, stream version and failing state."""

    head: str | None = None
    version: int = 0
    failing: bool = False

    @classmethod
    def of(cls, src: core_state.SourceState | None) -> Cursor:
        """The cursor of a folded source state (empty when the source is new)."""
        if src is None:
            return cls()
        return cls(head=src.head, version=src.version, failing=src.failing is not None)


@dataclasses.dataclass(frozen=True, slots=True)
class PollResult:
    """What one poll of one source did."""

    source: str
    events: list[ev.AnyEvent]
    head: str | None
    error: str | None = None


RevisionListener = Callable[[str, str], None]


class Poller:
    """Polls every configured source and records what it finds."""

    def __init__(
        self,
        config: settings.Config,
        *,
        appender: writer.Appender,
        store: eventstore.EventStore,
        state: core_state.State,
        concurrency: int = DEFAULT_CONCURRENCY,
        debounce: float = DEFAULT_DEBOUNCE,
        instance: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        """Poll ``config.sources``, resuming from the folded ``state``."""
        self.sources: dict[str, settings.SourceConfig] = {s.name: s for s in config.sources}
        self._state_dir = config.state_path()
        self._appender = appender
        self._store = store
        self._cursors: dict[str, Cursor] = {
            n: Cursor.of(state.sources.get(n)) for n in self.sources
        }
        self._semaphore = asyncio.Semaphore(concurrency)
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=concurrency, thread_name_prefix="git-fetch"
        )
        self._debounce = debounce
        self._wake: dict[str, asyncio.Event] = {n: asyncio.Event() for n in self.sources}
        self.polls: dict[str, int] = dict.fromkeys(self.sources, 0)
        self._locks: dict[str, asyncio.Lock] = {n: asyncio.Lock() for n in self.sources}
        """Polls made per source (for metrics and tests)."""
        self._repos: dict[str, gitsource.Repository] = {}
        self._listeners: list[RevisionListener] = []
        self._meta = ev.EventMeta(actor="gitopsd:poller", instance=instance)
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._configure()

    def _configure(self) -> None:
        timeouts = [float(s.timeout) for s in self.sources.values()]
        if timeouts:
            io = min(timeouts)
            gitsource.configure_timeouts(connect=min(CONNECT_TIMEOUT, io), io=io)
        ca_files = sorted({s.ca_file for s in self.sources.values() if s.ca_file})
        gitsource.configure_trust(ca_files, bundle=self._state_dir / "git" / "ca-bundle.pem")

    def add_listener(self, listener: RevisionListener) -> None:
        """Call ``listener(source, head)`` whenever a source's recorded head changes."""
        self._listeners.append(listener)

    def cursor(self, name: str) -> Cursor:
        """What the poller believes the log says about ``name``."""
        return self._cursors[name]

    def trigger(self, names: Iterable[str]) -> list[str]:
        """Poll these sources soon (debounced); returns the names that exist."""
        known = [n for n in names if n in self._wake]
        for name in known:
            self._wake[name].set()
        return known

    # -- loops ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Poll every source until cancelled."""
        try:
            async with asyncio.TaskGroup() as group:
                for name in self.sources:
                    group.create_task(self._loop(name), name=f"poll:{name}")
        finally:
            self._executor.shutdown(wait=False, cancel_futures=True)

    async def _loop(self, name: str) -> None:
        interval = float(self.sources[name].interval)
        failures = 0
        with logs.bound(source=name):
            while True:
                try:
                    result = await self.poll(name)
                    failures = failures + 1 if result.error else 0
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the log is unreachable: retry later, record nothing
                    failures += 1
                    log.warning("source.record_failed", error=f"{type(exc).__name__}: {exc}")
                delay = sources.next_delay(
                    interval=interval, failures=failures, jitter=self._rng.random()
                )
                await self._sleep(name, delay)

    async def _sleep(self, name: str, delay: float) -> None:
        """Wait ``delay`` seconds, or until triggered plus the debounce window."""
        wake = self._wake[name]
        try:
            # asyncio.timeout, not wait_for: 3.11's wait_for can lose a cancellation.
            async with asyncio.timeout(delay):
                await wake.wait()
        except TimeoutError:
            return
        await asyncio.sleep(self._debounce)
        wake.clear()

    # -- one poll ------------------------------------------------------------------------

    async def poll_all(self, names: Iterable[str] | None = None) -> list[PollResult]:
        """Poll the named sources (all when None) once, concurrently; results in name order."""
        wanted = sorted(self.sources if names is None else names)
        return list(await asyncio.gather(*(self.poll(n) for n in wanted)))

    async def poll(self, name: str) -> PollResult:
        """Fetch ``name`` once and record what changed (redone if another writer raced).

        Polls of one source never overlap (one mirror, one cursor).
        """
        with logs.bound(source=name):
            return await self._poll_locked(name)

    async def _poll_locked(self, name: str) -> PollResult:
        async with self._locks[name]:
            for _ in range(3):
                try:
                    return await self._poll_once(name)
                except eventstore.ConcurrencyError:
                    self._cursors[name] = await self._reload(name)
            return await self._poll_once(name)

    async def _poll_once(self, name: str) -> PollResult:
        src = self.sources[name]
        cursor = self._cursors[name]
        error: BaseException | None = None
        seen: sources.Observation | None = None
        async with self._semaphore:
            self.polls[name] += 1
            loop = asyncio.get_running_loop()
            try:
                seen = await loop.run_in_executor(self._executor, self._observe, src, cursor.head)
            except (
                gitsource.FetchError,
                gitsource.RefNotFoundError,
                gitsource.GitError,
                OSError,
            ) as exc:
                error = exc
        message = str(error) if error is not None else ""
        events: list[ev.AnyEvent] = []
        transition = sources.failure_transition(
            source=name,
            failing=cursor.failing,
            error_class=None if error is None else _kind(error),
            message=message,
        )
        if transition is not None:
            events.append(transition)
        if seen is not None:
            events.extend(sources.recording(seen))
        if events:
            await self._appender.append(
                ids.source_stream(name), events, expected_version=cursor.version, meta=self._meta
            )
            cursor.version += len(events)
        cursor.failing = error is not None
        if error is not None:
            log.warning("source.poll_failed", error_class=_kind(error), error=message)
            return PollResult(source=name, events=events, head=cursor.head, error=message)
        assert seen is not None
        if seen.head != cursor.head:
            cursor.head = seen.head
            with logs.bound(revision=seen.head):
                log.info("source.revision", sha=seen.head, commits=len(seen.new_commits))
                for listener in self._listeners:
                    listener(name, seen.head)
        return PollResult(source=name, events=events, head=cursor.head)

    def _observe(self, src: settings.SourceConfig, previous: str | None) -> sources.Observation:
        """In a worker thread: fetch, resolve the ref and describe what changed."""
        repo = self._repos.get(src.name)
        if repo is None:
            repo = gitsource.open_mirror(gitsource.mirror_path(self._state_dir, src.name))
            self._repos[src.name] = repo
        ref = gitsource.ref_of(src)
        pinned = ref.kind is sources.RefKind.COMMIT and gitsource.has_commit(repo, ref.value)
        if not pinned:
            gitsource.fetch(
                repo,
                gitsource.remote_of(src),
                refspecs=sources.refspecs(ref),
                prune=ref.kind is sources.RefKind.SEMVER,
            )
        head, refname = gitsource.resolve(repo, ref)
        if head == previous:
            return sources.Observation(
                source=src.name,
                ref=refname,
                head=head,
                previous=previous,
                new_commits=[],
                dropped=[],
                changed_paths=[],
            )
        return sources.Observation(
            source=src.name,
            ref=refname,
            head=head,
            previous=previous,
            new_commits=gitsource.new_commits(repo, source=src.name, head=head, previous=previous),
            dropped=gitsource.dropped_commits(repo, head=head, previous=previous),
            changed_paths=gitsource.changed_paths(repo, previous, head),
        )

    async def _reload(self, name: str) -> Cursor:
        """Re-read the source's stream (another writer got there first)."""
        recorded = await self._store.read_stream(ids.source_stream(name))
        folded = fold.replay(recorded)
        return Cursor.of(folded.sources.get(name))


def _kind(error: BaseException) -> str:
    """The failure class recorded in ``SourceFailed``."""
    if isinstance(error, gitsource.FetchError):
        return error.kind
    if isinstance(error, gitsource.RefNotFoundError):
        return "RefNotFound"
    return type(error).__name__
