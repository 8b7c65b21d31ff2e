"""One active gitopsd per database: standby, takeover on SIGTERM and kill -9, lock loss, sync."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest
import structlog
import yaml
from clitools import Serving, get_body, get_json, gitopsd
from gitfixtures import Upstream, free_port

from daemon import settings
from daemon.runtime import appviews, commands, leader, main
from daemon.runtime.leader import Role
from daemon.runtime.supervisor import Supervisor
from daemon.shell import advisorylock, eventstore, httpapi

pytestmark = pytest.mark.timeout(90)


def write_config(directory: Path, **extra: object) -> None:
    """gitopsd.yaml in ``directory``: its own state dir, any free port, and ``extra``."""
    doc = {"state_dir": str(directory / "state"), "http": {"listen": "127.0.0.1:0"}, **extra}
    (directory / "gitopsd.yaml").write_text(yaml.safe_dump(doc))


def quiet_config(tmp_path: Path) -> settings.Config:
    """A daemon with nothing to follow (its loops run, with nothing to do)."""
    return settings.Config(
        state_dir=str(tmp_path / "state"), http=settings.HttpConfig(listen="127.0.0.1:0")
    )


def readyz_url(server: httpapi.Server | None) -> str:
    """The /readyz address of a started server."""
    assert server is not None
    assert server.bound is not None
    return f"http://127.0.0.1:{server.bound[1]}/readyz"


async def readyz(server: httpapi.Server | None) -> tuple[int, object]:
    """What /readyz of ``server`` answers."""
    return await asyncio.to_thread(get_json, readyz_url(server))


async def lock_holder(url: str) -> advisorylock.Holder | None:
    """Who holds the database's lock, asked on a connection of the test's own."""
    conn = await asyncpg.connect(url)
    try:
        return await advisorylock.holder(conn)
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def leading(lead: leader.Leader) -> AsyncIterator[asyncio.Task[None]]:
    """Run ``lead`` for the block, then stop it and wait for the end."""
    task = asyncio.create_task(lead.run())
    try:
        yield task
    finally:
        lead.stop()
        with contextlib.suppress(leader.StopOverdueError):
            await asyncio.wait_for(task, 30)


def test_a_second_gitopsd_stands_by_and_takes_over_on_sigterm(
    tmp_path: Path, database_url: str
) -> None:
    """The second `gitopsd run` says standby (log, /readyz, systemd) and serves once the first stops."""
    write_config(tmp_path)
    sock_path = tmp_path / "notify.sock"
    env = {"GITOPSD_DATABASE_URL": database_url}
    with (
        socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock,
        Serving("run", cwd=tmp_path, env=env) as first,
    ):
        sock.bind(str(sock_path))
        sock.settimeout(60)
        instance = first.wait_for("daemon.active")["instance"]
        first.wait_for("daemon.ready")
        with Serving("run", cwd=tmp_path, env=env | {"NOTIFY_SOCKET": str(sock_path)}) as second:
            lines = second.wait_for_all("daemon.standby", "http.listening")
            reason = f"another gitopsd (instance {instance}) holds the lock"
            standby = lines["daemon.standby"]
            assert (standby["reason"], standby["holder"]) == (reason, instance)
            port = lines["http.listening"]["port"]
            assert get_json(f"http://127.0.0.1:{port}/readyz") == (
                503,
                {"status": "standby", "reason": reason},
            )
            assert sock.recv(4096).decode() == f"READY=1\nSTATUS=standby: {reason}"
            assert first.terminate() == 0
            lines = second.wait_for_all(
                "daemon.active", "daemon.ready", "http.listening", "startup.ready"
            )
            assert lines["daemon.active"]["term"] == 1
            port = lines["http.listening"]["port"]
            assert get_json(f"http://127.0.0.1:{port}/readyz") == (200, {"status": "ready"})
            assert second.terminate() == 0


def test_kill_9_of_the_active_gitopsd_hands_over_to_the_standby(
    tmp_path: Path, database_url: str, upstream: Upstream
) -> None:
    """After kill -9 of the active daemon the standby takes the lock and folds what it recorded."""
    upstream.commit({"README": "hello\n"})
    write_config(
        tmp_path,
        sources=[{"name": "repo", "url": upstream.url, "branch": "main", "interval": "1h"}],
    )
    env = {"GITOPSD_DATABASE_URL": database_url}
    with Serving("run", cwd=tmp_path, env=env) as first:
        first.wait_for("source.revision")  # CommitRecorded and RevisionObserved committed
        with Serving("run", cwd=tmp_path, env=env) as second:
            second.wait_for("daemon.standby")
            first.proc.kill()
            assert first.exit_code() == -signal.SIGKILL
            ready = second.wait_for("daemon.ready", timeout=30)
            assert ready["position"] == 2
            assert second.terminate() == 0


async def test_losing_the_lock_session_stops_the_loops_and_stands_by(
    tmp_path: Path, database_url: str, captured_logs: list[structlog.typing.EventDict]
) -> None:
    """pg_terminate_backend of the lock session stops every loop; standby until the lock is free."""
    store = await eventstore.connect(database_url, pool_size=4)
    lead = main.leader_for(quiet_config(tmp_path), store)
    rival = await asyncpg.connect(database_url, server_settings={"application_name": "rival"})
    try:
        async with leading(lead):
            await lead.until(Role.ACTIVE)
            first = lead.daemon
            assert isinstance(first, main.Daemon)
            await first.ready.wait()
            holder = await lock_holder(database_url)
            assert holder is not None
            assert holder.instance == lead.instance
            # The rival queues for the lock, so it holds it the moment the session ends.
            queued = asyncio.create_task(
                rival.execute("SELECT pg_advisory_lock($1)", advisorylock.ACTIVE_KEY)
            )
            while not await store.pool.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            ):
                await asyncio.sleep(0.02)
            assert await store.pool.fetchval("SELECT pg_terminate_backend($1)", holder.pid)
            await queued
            await lead.until(Role.STANDBY)
            assert (first.supervisor.stopping, first.supervisor.running(), lead.daemon) == (
                True,
                [],
                None,
            )
            reason = (
                f"another session (application_name 'rival', pid {rival.get_server_pid()}) "
                "holds the lock"
            )
            assert lead.reason == reason
            assert await readyz(lead.standby_http) == (503, {"status": "standby", "reason": reason})
            lost = [e["reason"] for e in captured_logs if e["event"] == "daemon.lock_lost"]
            assert lost == ["the lock's database session ended"]
            await rival.close()
            await lead.until(Role.ACTIVE)
            second = lead.daemon
            assert isinstance(second, main.Daemon)
            await second.ready.wait()
            await second.http.started.wait()
            while second.warmup is None:  # its tasks start right after it is made active
                await asyncio.sleep(0.01)
            await second.warmup.done.wait()
            assert (lead.terms, second is first) == (2, False)
            assert await readyz(second.http) == (200, {"status": "ready"})
    finally:
        await rival.close()
        await store.close()


async def test_an_unreachable_database_leaves_a_standby_saying_why(tmp_path: Path) -> None:
    """With no database to take the lock on, the daemon stands by: /readyz says why, no webhooks."""

    def never() -> leader.Active:
        raise AssertionError("no daemon may start without the lock")

    url = f"postgresql://gitopsd@127.0.0.1:{free_port()}/gitopsd"
    lead = leader.Leader(quiet_config(tmp_path), url=url, instance="test:1:a", daemon=never)
    async with leading(lead):
        await lead.until(Role.STANDBY)
        assert lead.reason.startswith("cannot reach the database to take the lock: ")
        status, body = await readyz(lead.standby_http)
        assert (status, body) == (503, {"status": "standby", "reason": lead.reason})
        base = readyz_url(lead.standby_http).removesuffix("/readyz")
        assert await asyncio.to_thread(get_json, base + "/healthz") == (200, {"status": "ok"})
        assert await asyncio.to_thread(get_body, base + "/metrics") == b""
        hook = base + "/hooks/github"
        async with aiohttp.ClientSession() as session, session.post(hook, data=b"{}") as resp:
            assert resp.status == 404  # only the active daemon polls on a push
    assert (lead.role, lead.terms) == (Role.STOPPED, 0)


class Stubborn:
    """A daemon whose loops never stop."""

    def __init__(self) -> None:
        """Nothing runs until ``serve``."""
        self.supervisor = Supervisor()

    async def serve(self) -> None:
        """Run until cancelled, whatever ``supervisor.stop()`` says."""
        await asyncio.Event().wait()

    def stop(self) -> None:
        """Ignore the request."""


async def test_loops_that_do_not_stop_after_a_loss_end_the_run(
    tmp_path: Path, database_url: str
) -> None:
    """When the loops outlive ``stop_grace`` after the lock is lost, run raises (exit code 1)."""
    lead = leader.Leader(
        quiet_config(tmp_path),
        url=database_url,
        instance="test:2:b",
        daemon=Stubborn,
        stop_grace=0.1,
    )
    task = asyncio.create_task(lead.run())
    await lead.until(Role.ACTIVE)
    holder = await lock_holder(database_url)
    assert holder is not None
    admin = await asyncpg.connect(database_url)
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", holder.pid)
    finally:
        await admin.close()
    with pytest.raises(leader.StopOverdueError, match=r"did not stop within 0\.1 s"):
        await asyncio.wait_for(task, 30)


def test_sync_with_no_daemon_running_says_the_request_waits_in_the_log(
    tmp_path: Path, database_url: str
) -> None:
    """`gitopsd sync` with no gitopsd holding the lock says the next one to start acts on it."""
    write_config(
        tmp_path,
        clusters=[{"name": "prod", "in_cluster": True}],
        sources=[{"name": "repo", "url": "file:///nowhere.git", "branch": "main"}],
        apps=[{"name": "web", "source": "repo", "path": "web", "destination": {"cluster": "prod"}}],
    )
    result = gitopsd(
        "sync",
        "web",
        "--actor",
        "cli:dana",
        cwd=tmp_path,
        env={"GITOPSD_DATABASE_URL": database_url},
    )
    said = (
        "sync of web on prod recorded by cli:dana (event 1); no gitopsd is running on this database: "
        "the request stays in the log and the next gitopsd to start acts on it\n"
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, said, "")


async def test_sync_names_the_gitopsd_that_will_act(
    database_url: str, store: eventstore.EventStore
) -> None:
    """While a gitopsd holds the lock, `gitopsd sync` names its instance; a stranger is named too."""
    service = commands.Commands(store, settings.Config())
    recorded = commands.Outcome(app="web", actor="cli:eve", clusters=("prod",), positions=(7,))
    lock = await advisorylock.SessionLock.connect(database_url, instance="host-a:42:cafe0001")
    try:
        assert await lock.try_acquire()
        holder = await service.active_daemon()
        assert holder is not None
        assert appviews.sync_outcome(recorded, holder=holder) == (
            "sync of web on prod recorded by cli:eve (event 7); "
            "gitopsd instance host-a:42:cafe0001 is active and acts on it"
        )
    finally:
        await lock.close()
    assert await service.active_daemon() is None
    stranger = advisorylock.Holder(pid=99, application_name="psql")
    two = commands.Outcome(
        app="web", actor="cli:eve", clusters=("east", "west"), unchanged=("lab",), positions=(8, 9)
    )
    assert appviews.sync_outcome(two, holder=stranger) == (
        "sync of web on east, west recorded by cli:eve (events 8, 9); not on lab (suspended); "
        "no gitopsd is active: a session (application_name 'psql', pid 99) holds its lock, "
        "and a gitopsd acts on the request once it takes the lock"
    )
