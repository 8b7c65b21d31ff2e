"""The embedded server's lifetime: no server outlives its users, however they exit."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import clitools

from daemon.shell import embeddedpg, pgguardian

# Generous: the machine is shared; this bounds the test, it is not a timing claim.
GONE_WITHIN = 60


def test_kill_9_of_the_only_user_stops_the_server(pg_tmp_path: Path) -> None:
    """`gitopsd run` killed with SIGKILL: its guardian stops the embedded server."""
    daemon = clitools.start_daemon_on_embedded_pg(pg_tmp_path)
    postmaster = clitools.postmaster_of((pg_tmp_path / "state" / "pg").resolve())
    daemon.send_signal(signal.SIGKILL)
    daemon.communicate()
    postmaster.wait(GONE_WITHIN)
    assert clitools.postgres_processes_in(pg_tmp_path / "state") == []


def test_kill_9_of_one_user_then_clean_exit_of_the_last_stops_the_server(pg_tmp_path: Path) -> None:
    """A user killed with SIGKILL is stale: the last user leaving cleanly still stops the server."""
    killed = clitools.start_daemon_on_embedded_pg(pg_tmp_path)
    pgdata = (pg_tmp_path / "state" / "pg").resolve()
    postmaster = clitools.postmaster_of(pgdata)
    killed.send_signal(signal.SIGKILL)
    killed.communicate()
    # While the guardian may still be between two polls, a user joins and leaves cleanly.
    result = clitools.gitopsd("migrate", cwd=pg_tmp_path)
    assert (result.returncode, result.stdout) == (0, "schema is up to date\n"), result.stderr
    postmaster.wait(GONE_WITHIN)
    assert clitools.postgres_processes_in(pg_tmp_path / "state") == []


def test_kill_9_of_the_guardian_then_of_the_user_stops_the_server(pg_tmp_path: Path) -> None:
    """A killed guardian is replaced by the next user that joins; it stops the server later."""
    (pg_tmp_path / "a").mkdir()
    first = clitools.start_daemon_on_embedded_pg(pg_tmp_path / "a")
    state = (pg_tmp_path / "a" / "state").resolve()
    guardian = pgguardian.read(state).guardian
    assert guardian is not None
    os.kill(guardian.pid, signal.SIGKILL)
    second = clitools.start_gitopsd(
        "--config", str(pg_tmp_path / "a" / "gitopsd.yaml"), "run", cwd=pg_tmp_path
    )
    try:
        assert second.stdout is not None
        # A second daemon on the same database stands by, a user of the server all the same.
        assert any('"event":"daemon.standby"' in line for line in second.stdout)
    finally:
        postmaster = clitools.postmaster_of(state / "pg")
        for proc in (first, second):
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
    postmaster.wait(GONE_WITHIN)


def test_start_drops_dead_and_reused_pids_and_stop_stops(pg_tmp_path: Path) -> None:
    """Stale holders (a dead pid, a live pid with another start time) are dropped at start."""
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    me = pgguardian.identify(os.getpid())
    assert me is not None
    stale = (
        pgguardian.ProcessId(pid=int(dead.stdout), start=1.0),
        pgguardian.ProcessId(pid=me.pid, start=me.start - 1),  # "our" pid, an older process
    )
    pg_tmp_path.joinpath("state").mkdir()
    pgguardian.write(pg_tmp_path / "state", pgguardian.Holders(holders=stale))
    server = embeddedpg.start(pg_tmp_path / "state")
    state = (pg_tmp_path / "state").resolve()
    try:
        assert pgguardian.read(state).holders == (me,)
    finally:
        postmaster = clitools.postmaster_of(server.pgdata)
        server.stop()
    assert not postmaster.is_running()
    assert pgguardian.read(state).holders == ()


def test_a_zombie_is_not_alive() -> None:
    """A child that exited but was not reaped yet (a zombie) counts as dead."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    identity = pgguardian.identify(child.pid)
    assert identity is not None
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # waits for the exit, reaps nothing
    assert (pgguardian.is_alive(identity), pgguardian.identify(child.pid)) == (False, None)
    child.wait()


def test_two_holds_in_one_process_need_two_stops(pg_tmp_path: Path) -> None:
    """A process that starts the server twice keeps it running until it stops both handles."""
    first = embeddedpg.start(pg_tmp_path)
    second = embeddedpg.start(pg_tmp_path)
    postmaster = clitools.postmaster_of(first.pgdata)
    first.stop()
    assert (postmaster.is_running(), second.psql("postgres", "SELECT 1", check=True)) == (
        True,
        "1\n",
    )
    second.stop()
    assert not postmaster.is_running()


def test_the_last_stop_ends_the_guardian_so_the_state_dir_can_be_removed(
    pg_tmp_path: Path,
) -> None:
    """After the last holder stops the server nothing writes to the state dir: it can go at once.

    The guardian used to live on for up to a second and recreate its files in a
    directory being removed (``gitopsd demo`` failed with "Directory not empty").
    """
    state = pg_tmp_path / "state"
    server = embeddedpg.start(state)
    guardian = None
    while guardian is None:  # the detached guardian records itself once it holds the lock
        guardian = pgguardian.read(state.resolve()).guardian
        time.sleep(0.01)
    server.stop()
    assert not pgguardian.is_alive(guardian)
    assert pgguardian.read(state.resolve()) == pgguardian.Holders()
    shutil.rmtree(state)
    assert not state.exists()
