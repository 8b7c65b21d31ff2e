"""A render worker process: ``python -m daemon.shell.render.worker PARENT_PID``.

Started by ``render.pool``; reads jobs from stdin and answers on stdout, one at a time,
until stdin closes (its parent stopped or died). Before anything else it moves the two
pipes out of the way (fds 0 and 1 become /dev/null and stderr), so a library or a
command that prints cannot corrupt the protocol, and asks the kernel to kill it when
its parent dies (Linux ``PR_SET_PDEATHSIG``).

Each job runs under its app's ``render.limits``: the address space (``RLIMIT_AS``,
counted from the worker's size before the job) and the CPU time (``RLIMIT_CPU``,
counted from what the worker had used before the job) are lowered for the render and
lifted after it, soft limits only, so the next job can have others. Before a job that
may render a Helm chart the SDK's Go runtime is started outside the limits
(``helmsdk.warm_up``): it reserves ~1.7 GB of address space at once, which a limited
render cannot hold. Past the CPU limit the kernel kills the worker with SIGXCPU; past the memory
limit Python raises MemoryError (answered, then the worker exits: its heap may be
damaged) or a C library aborts (jsonnet prints "a memory allocation error occurred").
The parent tells these apart, enforces the wall clock, and replaces a worker that died.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import os
import resource
import signal
import sys
from pathlib import Path
from typing import Any, BinaryIO

import pygit2

from daemon.shell import render
from daemon.shell.render import helmsdk, protocol

PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> int:
    """Serve jobs until stdin closes; the exit code is 0 unless the parent is already gone."""
    parent = int(argv[0]) if argv else os.getppid()
    jobs = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    os.close(devnull)
    if not _die_with(parent):
        return 0
    signal.signal(signal.SIGXCPU, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    protocol.limit_tree_cache()
    repos: dict[str, pygit2.Repository] = {}
    while True:
        job = _read_job(jobs)
        if job is None:
            return 0
        frame, stop = serve(job, repos=repos)
        try:
            replies.write(frame)
            replies.flush()
        except BrokenPipeError:
            return 0
        if stop:
            return 0


def serve(job: protocol.Job, *, repos: dict[str, pygit2.Repository]) -> tuple[bytes, bool]:
    """The reply frame for ``job``, rendered under its limits; True when the worker must exit."""
    limits = job.config.limits
    inputs: set[str] = set()
    outcome: Any
    if _may_render_helm(job, repos):
        helmsdk.warm_up()
    before = _lower(memory=int(limits.memory), cpu=float(limits.cpu))
    try:
        header, blobs = protocol.reply_for(protocol.run(job, repos=repos, inputs=inputs))
        outcome = protocol.encode_reply(header, blobs)
        del header, blobs
    except render.RenderError as exc:
        outcome = exc
    except (pygit2.GitError, OSError) as exc:
        outcome = protocol.mirror_error(exc)
    except MemoryError:
        outcome = None
    except Exception as exc:  # a renderer bug fails this render, not the worker
        outcome = render.RenderError(f"renderer crashed: {type(exc).__name__}: {exc}")
    finally:
        _restore(before)
    if outcome is None:
        repos.clear()
        header = {"kind": "limit", "limit": "memory", "size": int(limits.memory)}
        return protocol.encode_reply(header), True
    if isinstance(outcome, render.RenderError):
        return protocol.encode_reply(protocol.error_reply(outcome, inputs)), False
    if isinstance(outcome, dict):
        return protocol.encode_reply(outcome), False
    if len(outcome) > limits.output:
        header = {"kind": "limit", "limit": "output", "size": int(limits.output)}
        return protocol.encode_reply(header), False
    return outcome, False


def _read_job(jobs: BinaryIO) -> protocol.Job | None:
    head = jobs.read(protocol.JOB_HEAD.size)
    if len(head) < protocol.JOB_HEAD.size:
        return None
    (size,) = protocol.JOB_HEAD.unpack(head)
    payload = jobs.read(size)
    if len(payload) < size:
        return None
    return protocol.decode_job(payload)


_Limits = dict[int, tuple[int, int]]
_LIMITED = (resource.RLIMIT_AS, resource.RLIMIT_CPU)


def _may_render_helm(job: protocol.Job, repos: dict[str, pygit2.Repository]) -> bool:
    """True for ``render.type: helm``, and for ``auto`` where the app's path has Chart.yaml."""
    if job.config.type != "auto":
        return job.config.type == "helm"
    chart = f"{job.path.strip('/')}/Chart.yaml" if job.path.strip("/") else "Chart.yaml"
    try:
        repo = repos.get(job.repo) or repos.setdefault(job.repo, pygit2.Repository(job.repo))
        tree = repo.revparse_single(job.revision).peel(pygit2.Tree)
    except (pygit2.GitError, KeyError, ValueError):
        return False  # the render itself reports what is wrong with the mirror
    return chart in tree


def address_space() -> int:
    """The worker's address space now, in bytes (``VmSize``)."""
    pages = Path("/proc/self/statm").read_text(encoding="ascii").split()[0]
    return int(pages) * resource.getpagesize()


def _lower(*, memory: int, cpu: float) -> _Limits:
    """Soft limits for one job: ``memory`` more bytes of address space, ``cpu`` more seconds.

    Returns the limits to restore after it.
    """
    before = {which: resource.getrlimit(which) for which in _LIMITED}
    soft_as, hard_as = before[resource.RLIMIT_AS]
    resource.setrlimit(resource.RLIMIT_AS, (_capped(address_space() + memory, soft_as), hard_as))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    until = math.ceil(usage.ru_utime + usage.ru_stime + cpu)
    soft_cpu, hard_cpu = before[resource.RLIMIT_CPU]
    resource.setrlimit(resource.RLIMIT_CPU, (_capped(until, soft_cpu), hard_cpu))
    return before


def _restore(before: _Limits) -> None:
    for which, limits in before.items():
        resource.setrlimit(which, limits)


def _capped(value: int, ceiling: int) -> int:
    return value if ceiling == resource.RLIM_INFINITY else min(value, ceiling)


def _die_with(parent: int) -> bool:
    """Ask for SIGKILL when the parent dies; False when it already has."""
    if sys.platform == "linux":
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    return os.getppid() == parent


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
