"""Emulator throughput: 1,000 server-side applies while 5 watchers follow.

``python -m bench sim [--json PATH] [--objects N] [--watchers N] [--concurrency N]``

The emulator runs as ``gitopsd sim`` in its own process (as gitopsd's tests and demo
use it); this process drives it over HTTP with plain aiohttp (the client library's own
cost is not the emulator's). Watchers start before the first apply, from the current
revision, and count every ADDED event. Figures:

* applies/s: objects / wall time from the first apply sent to the last answer;
* watch events/s: events delivered to all watchers / wall time from the first apply
  sent to the last event received (the physical limit is watchers x applies/s);
* watch latency: per event, time received minus the time its apply was sent (p50/p99);
* emulator CPU per apply: CPU time the emulator process used over the same window
  (``/proc``; Linux only), divided by the objects. Wall-clock rates swing with whatever
  else runs on the machine, this figure much less: compare it across changes.

``--rounds N`` runs N fresh emulators and reports the median of each figure.

Targets (issue 3): >= 2,000 applies/s and >= 20,000 watch events/s on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import uvloop

TOKEN = "bench-token"
APPLY_TARGET = 2000.0
EVENTS_TARGET = 20000.0


async def start_emulator() -> tuple[asyncio.subprocess.Process, str]:
    """``gitopsd sim`` in a child process; its URL once ready."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-sim-"))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "daemon",
        "--log-level",
        "warning",
        "sim",
        "--token",
        TOKEN,
        "--kubeconfig",
        str(tmp / "kubeconfig"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode().split()
    if line[:1] != ["ready"]:
        raise RuntimeError(f"gitopsd sim did not start: {line}")
    return proc, line[1]


async def watcher(
    session: aiohttp.ClientSession,
    url: str,
    rv: str,
    *,
    expected: int,
    sent: dict[str, float],
    latencies: list[float],
    done: list[float],
) -> int:
    """Follow the ConfigMaps from ``rv`` until ``expected`` ADDED events arrived."""
    seen = 0
    path = f"{url}/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv}"
    async with session.get(path) as resp:
        while seen < expected:
            line = await resp.content.readline()
            if not line:
                break
            now = time.perf_counter()
            event = orjson.loads(line)
            if event["type"] != "ADDED":
                continue
            seen += 1
            name = event["object"]["metadata"]["name"]
            latencies.append(now - sent[name])
    done.append(time.perf_counter())
    return seen


async def applier(
    session: aiohttp.ClientSession, url: str, names: asyncio.Queue[str], sent: dict[str, float]
) -> int:
    """Server-side apply ConfigMaps taken from the queue; returns how many succeeded."""
    ok = 0
    headers = {"Content-Type": "application/apply-patch+yaml"}
    while True:
        try:
            name = names.get_nowait()
        except asyncio.QueueEmpty:
            return ok
        body = orjson.dumps(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": name, "labels": {"app": "bench"}},
                "data": {"key": name, "payload": "x" * 64},
            }
        )
        path = f"{url}/api/v1/namespaces/default/configmaps/{name}?fieldManager=bench&force=true"
        sent[name] = time.perf_counter()
        async with session.patch(path, data=body, headers=headers) as resp:
            await resp.read()
            if resp.status == 201:
                ok += 1


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time of process ``pid`` (None where /proc is missing)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run(objects: int, watchers: int, concurrency: int) -> dict[str, float]:
    """One measured run against a fresh emulator."""
    proc, url = await start_emulator()
    cpu_start = cpu_end = None
    try:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        conn = aiohttp.TCPConnector(limit=concurrency + watchers + 4)
        async with aiohttp.ClientSession(headers=headers, connector=conn) as session:
            async with session.get(f"{url}/api/v1/namespaces/default/configmaps") as resp:
                rv = (await resp.json())["metadata"]["resourceVersion"]
            sent: dict[str, float] = {}
            latencies: list[float] = []
            done: list[float] = []
            watch_tasks = [
                asyncio.create_task(
                    watcher(
                        session,
                        url,
                        rv,
                        expected=objects,
                        sent=sent,
                        latencies=latencies,
                        done=done,
                    )
                )
                for _ in range(watchers)
            ]
            await asyncio.sleep(0.2)  # let every watch connect before the clock starts
            names: asyncio.Queue[str] = asyncio.Queue()
            for i in range(objects):
                names.put_nowait(f"cm-{i:05d}")
            cpu_start = cpu_seconds(proc.pid)
            start = time.perf_counter()
            created = sum(
                await asyncio.gather(
                    *(applier(session, url, names, sent) for _ in range(concurrency))
                )
            )
            applied = time.perf_counter()
            delivered = sum(await asyncio.wait_for(asyncio.gather(*watch_tasks), 120))
            finished = max(done, default=applied)
            cpu_end = cpu_seconds(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        await proc.wait()
    if created != objects or delivered != objects * watchers:
        raise RuntimeError(
            f"created {created}/{objects}, delivered {delivered}/{objects * watchers}"
        )
    ordered = sorted(latencies) or [0.0]
    cpu = -1.0 if cpu_start is None or cpu_end is None else (cpu_end - cpu_start) / objects
    return {
        "objects": objects,
        "watchers": watchers,
        "concurrency": concurrency,
        "applies_per_s": objects / (applied - start),
        "watch_events_per_s": delivered / (finished - start),
        "watch_latency_p50_ms": statistics.median(ordered) * 1000,
        "watch_latency_p99_ms": ordered[int(len(ordered) * 0.99) - 1] * 1000,
        "emulator_cpu_us_per_apply": cpu * 1e6 if cpu >= 0 else -1.0,
    }


async def run_rounds(rounds: int, objects: int, watchers: int, concurrency: int) -> dict[str, Any]:
    """``rounds`` runs, each against a fresh emulator; the median of every figure."""
    results = [await run(objects, watchers, concurrency) for _ in range(rounds)]
    figures: dict[str, Any] = {
        key: statistics.median(r[key] for r in results) for key in results[0]
    }
    figures["rounds"] = rounds
    if rounds > 1:
        figures["per_round"] = results
    return figures


def main(argv: list[str]) -> int:
    """Run the benchmark, print a table, optionally write JSON."""
    parser = argparse.ArgumentParser(
        prog="python -m bench sim", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--watchers", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=1, help="fresh runs; medians reported")
    args = parser.parse_args(argv)
    os.environ.setdefault("PYTHONHASHSEED", "0")
    # The client runs on uvloop too, so that its own cost disturbs the figures less.
    figures = uvloop.run(run_rounds(args.rounds, args.objects, args.watchers, args.concurrency))
    figures["cpus"] = os.cpu_count() or 0
    rows = [
        ("applies/s", figures["applies_per_s"], f">= {APPLY_TARGET:,.0f}"),
        ("watch events/s", figures["watch_events_per_s"], f">= {EVENTS_TARGET:,.0f}"),
        ("watch latency p50 (ms)", figures["watch_latency_p50_ms"], ""),
        ("watch latency p99 (ms)", figures["watch_latency_p99_ms"], ""),
        ("emulator CPU/apply (us)", figures["emulator_cpu_us_per_apply"], ""),
    ]
    print(
        f"emulator: {args.objects} server-side applies, {args.watchers} watchers, "
        f"{args.concurrency} in flight, median of {args.rounds} run(s)"
    )
    print(f"{'figure':<26}{'measured':>14}  target")
    for label, value, target in rows:
        print(f"{label:<26}{value:>14,.1f}  {target}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0
