"""``python -m bench standby [--rounds N] [--json PATH]``: how fast a standby takes over.

Two ``gitopsd run`` processes share one embedded PostgreSQL (a temporary state
directory, no clusters or apps, so the figure is the hand-over itself): the first is
active, the second stands by. Each round stops the active one, alternately with SIGTERM
and ``kill -9``, and measures from the signal to the standby's ``daemon.active`` and to
its ``startup.ready`` log line; the stopped one is then started again as the next
standby. The peer is the physical floor of the same machine: the time from a signal to
the stopped process's exit (SIGTERM) and the lock's poll interval (1 s) the standby
waits at most. Target (issue 8): take over within 15 s.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

TARGET_SECONDS = 15.0


class Daemon:
    """A ``gitopsd run`` child whose JSON log lines are timestamped as they arrive."""

    def __init__(self, config: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GITOPSD_")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "daemon", "--config", str(config), "run"],
            cwd=config.parent,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.lines: queue.Queue[tuple[float, dict[str, Any]] | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if isinstance(line, dict):
                self.lines.put((time.perf_counter(), line))
        self.lines.put(None)

    def wait_for(self, event: str, timeout: float = 120) -> float:
        """The arrival time of the next ``event`` line."""
        deadline = time.perf_counter() + timeout
        while True:
            item = self.lines.get(timeout=max(0.0, deadline - time.perf_counter()))
            if item is None:
                raise RuntimeError(f"gitopsd exited before {event}")
            if item[1].get("event") == event:
                return item[0]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench standby", description=__doc__)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    results: dict[str, list[float]] = {"SIGTERM": [], "SIGKILL": []}
    ready: dict[str, list[float]] = {"SIGTERM": [], "SIGKILL": []}
    exit_after_term: list[float] = []
    with tempfile.TemporaryDirectory(prefix="gitopsd-bench-standby-") as scratch:
        config = Path(scratch) / "gitopsd.yaml"
        config.write_text(f"state_dir: {scratch}/state\nhttp: {{listen: '127.0.0.1:0'}}\n")
        active = Daemon(config)
        active.wait_for("startup.ready")
        standby = Daemon(config)
        standby.wait_for("daemon.standby")
        try:
            for i in range(args.rounds):
                sig = signal.SIGTERM if i % 2 == 0 else signal.SIGKILL
                started = time.perf_counter()
                active.proc.send_signal(sig)
                active.proc.wait(60)
                if sig is signal.SIGTERM:
                    exit_after_term.append(time.perf_counter() - started)
                took = standby.wait_for("daemon.active") - started
                results[sig.name].append(took)
                ready[sig.name].append(standby.wait_for("startup.ready") - started)
                active, standby = standby, Daemon(config)
                standby.wait_for("daemon.standby")
        finally:
            for daemon in (active, standby):
                daemon.proc.terminate()
                daemon.proc.wait(60)
    print(f"{'figure (median of rounds)':<44} {'seconds':>9} {'target':>9}")
    figures: dict[str, float] = {}
    for name in ("SIGTERM", "SIGKILL"):
        if results[name]:
            active_s = statistics.median(results[name])
            ready_s = statistics.median(ready[name])
            figures[f"{name.lower()}_active_s"] = active_s
            figures[f"{name.lower()}_ready_s"] = ready_s
            verdict = "ok" if ready_s <= TARGET_SECONDS else "SLOW"
            print(f"{name + ': signal -> standby active':<44} {active_s:>9.3f}")
            print(
                f"{name + ': signal -> standby ready':<44} {ready_s:>9.3f} {'<= 15':>9} {verdict}"
            )
    if exit_after_term:
        figures["sigterm_exit_s"] = statistics.median(exit_after_term)
        print(f"{'floor: SIGTERM -> active process exited':<44} {figures['sigterm_exit_s']:>9.3f}")
    print(f"{'floor: the standby polls the lock every':<44} {1.0:>9.3f}")
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0
