"""Every render runs in a pool of long-lived worker processes, so a render cannot hurt the daemon.

A worker (``render.worker``) is a fresh interpreter started once and reused: the import
cost of the renderers is paid at start, and each worker renders one job at a time. A
job is an app's path and ``RenderConfig`` at a commit of a mirror, plus the
secret-digest key; the worker opens the mirror itself and returns the redacted result
(or, without a key, the raw objects the executor needs to apply Secrets).

Limits, per job, from the app's ``render.limits``: address space and CPU time are
enforced by the kernel in the worker (``RLIMIT_AS``, ``RLIMIT_CPU``), the wall clock
and the size of the answer here. A worker past a limit dies or is killed (with its
process group: an exec renderer's command goes too) and the next job gets a fresh
one; the job raises ``RenderLimitError`` naming the limit, or ``WorkerDiedError``
naming the signal or exit code when the worker died for another reason.

Why subprocesses speaking a pipe protocol (``render.protocol``), not
``multiprocessing``: the parent is an asyncio process with threads, so nothing may be
forked from it except an ``exec``; ``asyncio.create_subprocess_exec`` waits on the
pipes in the event loop (no thread per render), can kill one worker on its deadline
and reports exactly how it ended (exit code or signal). multiprocessing's pools cannot
cancel one task, and they unpickle what a worker sends, which would hand a worker
running untrusted templates the daemon. Workers exit when their stdin closes, and the
kernel kills them when the daemon dies (``PR_SET_PDEATHSIG``): no orphans.

Idle workers wait in a queue of ``size`` slots. A worker that dies is replaced at
once, in the background; a slot whose replacement could not start holds None and the
next job that takes it starts one.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import os
import signal
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import orjson

from daemon import logs
from daemon.settings import RenderConfig
from daemon.shell.render import protocol
from daemon.shell.render.result import RenderError

log = logs.get("renderpool")

DEFAULT_WORKERS = 2
STDERR_TAIL = 4096
EXIT_GRACE = 5.0
"""Seconds a worker gets to exit after its stdin closes before it is killed."""
MEMORY_MARKS = (
    "memory allocation error",  # jsonnet's C++ allocator, just before it aborts
    "std::bad_alloc",
    "MemoryError",
    "Cannot allocate memory",
    "out of memory",
)
"""What a worker that ran out of address space prints to stderr as it dies."""

Rendered = protocol.Rendered
RenderLimitError = protocol.RenderLimitError
WorkerDiedError = protocol.WorkerDiedError


def worker_command() -> list[str]:
    """The argv that starts a worker with this interpreter (the parent's pid is appended)."""
    return [sys.executable, "-m", "daemon.shell.render.worker"]


@dataclasses.dataclass(slots=True)
class _Worker:
    process: asyncio.subprocess.Process
    stderr: bytearray
    drain: asyncio.Task[None]

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL the worker, and the process group of each of its children.

        An exec renderer runs its command in a session of its own (so that its timeout
        can kill the whole group): the worker's own group would not include it.
        """
        if self.process.returncode is not None:
            return
        groups = {self.process.pid, *(_group_of(child) for child in _children(self.process.pid))}
        for group in groups - {0}:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)


class RenderPool:
    """``size`` render worker processes; ``render``/``render_objects`` wait for a free one."""

    def __init__(
        self, *, size: int = DEFAULT_WORKERS, command: Sequence[str] | None = None
    ) -> None:
        """A pool of ``size`` workers started by ``command`` (default: ``worker_command()``)."""
        if size < 1:
            raise ValueError(f"a render pool needs at least one worker, got {size}")
        self.size = size
        self._command = list(command or worker_command())
        self._idle: asyncio.Queue[_Worker | None] = asyncio.Queue()
        self._live: dict[int, _Worker] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._started = False
        self._closed = False
        self.renders = 0
        """Jobs handed to a worker (for metrics and tests)."""
        self.spawned = 0
        """Workers started, replacements included."""

    @property
    def pids(self) -> list[int]:
        """Process ids of the workers alive now (sorted)."""
        return sorted(self._live)

    async def __aenter__(self) -> Self:
        """Start the workers."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the workers."""
        await self.close()

    async def start(self) -> None:
        """Start every worker now (they load the renderers while the daemon starts up)."""
        if self._started:
            return
        self._started = True
        for _ in range(self.size):
            self._idle.put_nowait(await self._spawn())

    async def close(self) -> None:
        """Stop every worker: idle ones exit when their stdin closes, the rest are killed."""
        self._closed = True
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        workers = list(self._live.values())
        for worker in workers:
            if worker.process.stdin is not None:
                worker.process.stdin.close()
        for worker in workers:
            try:
                async with asyncio.timeout(EXIT_GRACE):
                    await worker.process.wait()
            except TimeoutError:
                worker.kill()
                await worker.process.wait()
            await _finish(worker.drain)
            self._live.pop(worker.pid, None)

    async def render(
        self, repo: Path | str, *, revision: str, path: str, config: RenderConfig, key: bytes
    ) -> Rendered:
        """The redacted render of ``path`` at ``revision``; ``RenderError`` (or a subclass)."""
        job = protocol.Job(repo=str(repo), revision=revision, path=path, config=config, key=key)
        done = await self.run(job)
        if not isinstance(done, protocol.Rendered):  # pragma: no cover - a protocol bug
            raise WorkerDiedError("render worker answered a keyed job with raw objects")
        return done

    async def render_objects(
        self, repo: Path | str, *, revision: str, path: str, config: RenderConfig
    ) -> list[dict[str, Any]]:
        """The raw objects (Secret values included) of ``path`` at ``revision``."""
        job = protocol.Job(repo=str(repo), revision=revision, path=path, config=config)
        done = await self.run(job)
        if isinstance(done, protocol.Rendered):  # pragma: no cover - a protocol bug
            raise WorkerDiedError("render worker answered a keyless job with a redacted result")
        return done

    async def run(self, job: protocol.Job) -> Rendered | list[dict[str, Any]]:
        """Hand ``job`` to the next free worker and return what it rendered."""
        if self._closed:
            raise RuntimeError("the render pool is closed")
        await self.start()
        slot = await self._idle.get()
        worker: _Worker | None = None
        try:
            worker = slot if slot is not None and slot.process.returncode is None else None
            if worker is None:
                if slot is not None:
                    self._reap(slot)
                worker = await self._spawn()
            self.renders += 1
            header, blob = await self._exchange(worker, job)
        except BaseException:
            if worker is not None:
                self._reap(worker)
            self._replace()
            raise
        if header.get("kind") == "limit" and header.get("limit") == "memory":
            self._reap(worker)  # it exits by itself after a MemoryError
            self._replace()
        else:
            self._idle.put_nowait(worker)
        try:
            return protocol.result_of(header, blob)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise WorkerDiedError(f"render worker sent a malformed reply ({exc!r})") from None

    async def _exchange(self, worker: _Worker, job: protocol.Job) -> tuple[dict[str, Any], bytes]:
        """Send ``job``, read the reply, under the job's wall clock and output limits."""
        limits = job.config.limits
        stdin, stdout = worker.process.stdin, worker.process.stdout
        assert stdin is not None, "spawned with pipes"
        assert stdout is not None, "spawned with pipes"
        worker.stderr.clear()
        try:
            async with asyncio.timeout(float(limits.wall_clock)):
                stdin.write(protocol.encode_job(job))
                await stdin.drain()
                head = await stdout.readexactly(protocol.REPLY_HEAD.size)
                header_size, blob_size = protocol.REPLY_HEAD.unpack(head)
                if header_size > protocol.MAX_HEADER_BYTES:
                    raise WorkerDiedError(f"render worker sent a {header_size}-byte header")
                if len(head) + header_size + blob_size > limits.output:
                    raise protocol.limit_error("output", limits.output)
                header = orjson.loads(await stdout.readexactly(header_size))
                blob = await stdout.readexactly(blob_size) if blob_size else b""
        except TimeoutError:
            raise protocol.limit_error("wall_clock", limits.wall_clock) from None
        except (asyncio.IncompleteReadError, ConnectionError):
            raise await self._death(worker, job) from None
        if not isinstance(header, dict):
            raise WorkerDiedError("render worker sent a malformed reply")
        return header, blob

    async def _death(self, worker: _Worker, job: protocol.Job) -> RenderError:
        """Why ``worker`` stopped answering ``job``, as the error the render records."""
        try:
            async with asyncio.timeout(EXIT_GRACE):
                code = await worker.process.wait()
        except TimeoutError:
            worker.kill()
            code = await worker.process.wait()
        await _finish(worker.drain)
        stderr = worker.stderr.decode(errors="replace")
        error = death_error(code, stderr, config=job.config)
        # A limit is the render's failure (the caller records it); anything else is news.
        report = log.debug if isinstance(error, RenderLimitError) else log.warning
        report("render.worker_died", pid=worker.pid, code=code, stderr=stderr[-1000:])
        return error

    async def _spawn(self) -> _Worker:
        process = await asyncio.create_subprocess_exec(
            *self._command,
            str(os.getpid()),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        tail = bytearray()
        assert process.stderr is not None, "spawned with a pipe"
        drain = asyncio.create_task(
            _keep_tail(process.stderr, tail), name=f"render-worker-{process.pid}-stderr"
        )
        worker = _Worker(process=process, stderr=tail, drain=drain)
        self._live[worker.pid] = worker
        self.spawned += 1
        return worker

    def _reap(self, worker: _Worker) -> None:
        """Kill ``worker`` (when still alive) and collect it in the background."""
        self._live.pop(worker.pid, None)
        worker.kill()
        self._background(_collect(worker), name=f"render-worker-{worker.pid}-reap")

    def _replace(self) -> None:
        """Fill the slot of a worker that is gone with a fresh one, started in the background."""
        if self._closed:
            self._idle.put_nowait(None)
        else:
            self._background(self._refill(), name="render-worker-spawn")

    async def _refill(self) -> None:
        worker: _Worker | None = None
        try:
            worker = await self._spawn()
        except OSError as exc:  # the next job that takes the empty slot tries again
            log.warning("render.worker_spawn_failed", error=str(exc))
        self._idle.put_nowait(worker)

    def _background(self, work: Coroutine[Any, Any, None], *, name: str) -> None:
        # An empty context: the pool's own work is no app's, so its lines must not carry
        # the app and revision bound by the render that happened to start it.
        task = asyncio.create_task(work, name=name, context=contextvars.Context())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def death_error(code: int, stderr: str, *, config: RenderConfig) -> RenderError:
    """The error of a render whose worker ended with ``code`` after printing ``stderr``."""
    limits = config.limits
    if code == -signal.SIGXCPU:
        return protocol.limit_error("cpu", limits.cpu)
    if any(mark in stderr for mark in MEMORY_MARKS):
        return protocol.limit_error("memory", limits.memory)
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else "a signal"
        return WorkerDiedError(f"render worker died: killed by {name} (signal {-code})")
    return WorkerDiedError(f"render worker died: exited with code {code}")


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (Linux ``/proc``; none elsewhere)."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry.name}/stat").read_bytes()
            except OSError:
                continue
            fields = stat.rsplit(b")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _group_of(pid: int) -> int:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return 0


async def _keep_tail(stream: asyncio.StreamReader, tail: bytearray) -> None:
    while chunk := await stream.read(65536):
        tail.extend(chunk)
        del tail[:-STDERR_TAIL]


async def _collect(worker: _Worker) -> None:
    await worker.process.wait()
    await _finish(worker.drain)


async def _finish(task: asyncio.Task[None]) -> None:
    """Let a stderr reader see its end of file (a grandchild may hold it: then stop it)."""
    try:
        async with asyncio.timeout(1.0):
            await asyncio.shield(task)
    except TimeoutError:
        task.cancel()
