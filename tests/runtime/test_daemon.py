"""`gitopsd run`: systemd readiness and stop notifications; SIGTERM drains appends in flight."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import asyncpg

from daemon import settings
from daemon.core import events as ev
from daemon.runtime import main
from daemon.shell import eventstore


def test_run_notifies_ready_then_stopping_on_sigterm(tmp_path: Path, database_url: str) -> None:
    """Under NOTIFY_SOCKET: READY=1 after start-up, STATUS once ready, WATCHDOG=1s, STOPPING=1."""
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(60)
    (tmp_path / "gitopsd.yaml").write_text(
        f"state_dir: {tmp_path / 'state'}\nhttp: {{listen: '127.0.0.1:0'}}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITOPSD_")}
    env |= {
        "NOTIFY_SOCKET": str(sock_path),
        "GITOPSD_DATABASE_URL": database_url,
        "WATCHDOG_USEC": "400000",  # systemd's WatchdogSec=0.4s: a ping every 0.2 s
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "daemon", "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        ready = sock.recv(4096).decode()
        assert ready.splitlines()[0] == "READY=1"
        assert ready.splitlines()[1].startswith("STATUS=folded up to position")
        # The status line changes once warmed up; the watchdog pings at half of WatchdogSec.
        before = []
        while not (message := sock.recv(4096).decode()).startswith("STATUS="):
            before.append(message)
        assert message == "STATUS=ready: live state listed, folded up to 0"
        assert set(before) <= {"WATCHDOG=1"}
        assert [sock.recv(4096).decode() for _ in range(3)] == ["WATCHDOG=1"] * 3
        proc.send_signal(signal.SIGTERM)
        while (message := sock.recv(4096).decode()) == "WATCHDOG=1":
            pass
        assert message == "STOPPING=1"
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    finally:
        if proc.returncode is None:
            proc.kill()
            proc.communicate()
        sock.close()
    logs = out.decode()
    assert '"event":"daemon.ready"' in logs
    assert '"event":"daemon.stopped"' in logs


async def test_sigterm_commits_the_append_in_flight(tmp_path: Path, database_url: str) -> None:
    """An append waiting in the database when SIGTERM arrives is committed before exit."""
    config = settings.Config(
        state_dir=str(tmp_path), http=settings.HttpConfig(listen="127.0.0.1:0")
    )
    store = await eventstore.connect(database_url, pool_size=4)
    daemon = main.Daemon(config, store)
    serving = asyncio.create_task(daemon.serve())
    await asyncio.wait_for(daemon.ready.wait(), 30)
    blocker = await asyncpg.connect(database_url)
    txn = blocker.transaction()
    await txn.start()
    await blocker.execute("LOCK TABLE events IN EXCLUSIVE MODE")
    event = ev.SourceRecovered(source="infra")
    append = asyncio.create_task(daemon.writer.append("source/infra", [event]))
    # Wait until the writer's transaction is blocked on our lock: truly in flight.
    # (pg_locks, not pg_stat_activity: the latter is snapshotted once per transaction,
    # and the blocker polls inside its own.)
    while not await blocker.fetchval(
        "SELECT count(*) FROM pg_locks WHERE relation = 'events'::regclass AND NOT granted"
    ):
        await asyncio.sleep(0.02)
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.sleep(0.2)
    assert not serving.done(), "the daemon must wait for the append in flight"
    await txn.rollback()
    await blocker.close()
    await asyncio.wait_for(serving, 30)
    assert await append == [1]
    (item,) = await store.read_stream("source/infra")
    assert item.event == event
    await store.close()
