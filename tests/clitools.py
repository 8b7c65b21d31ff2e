"""Running gitopsd as a user does (a child process) and checking what it left behind."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Self

import orjson
import psutil

GITOPSD = [sys.executable, "-m", "daemon"]


def clean_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without GITOPSD_* variables, plus ``env``."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GITOPSD_")}
    full_env.update(env or {})
    return full_env


def gitopsd(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``gitopsd ARGS`` in ``cwd`` with a clean GITOPSD_* environment plus ``env``."""
    return subprocess.run(
        [*GITOPSD, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=clean_env(env),
        check=False,
    )


class Serving:
    """A long-running ``gitopsd`` child whose JSON log lines are read as they come."""

    def __init__(self, *args: str, cwd: Path, env: dict[str, str] | None = None) -> None:
        """Start ``gitopsd ARGS`` (stderr joins stdout; non-JSON lines come as ``{"raw": ...}``)."""
        self.proc = subprocess.Popen(
            [*GITOPSD, *args],
            cwd=cwd,
            env=clean_env(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.lines: list[dict[str, Any]] = []
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            try:
                line = orjson.loads(raw)
            except orjson.JSONDecodeError:
                line = {"raw": raw.decode(errors="replace").rstrip()}
            self._queue.put(line if isinstance(line, dict) else {"raw": line})
        self._queue.put(None)

    def wait_for(self, event: str, *, timeout: float = 60) -> dict[str, Any]:
        """The next log line whose ``event`` is ``event``; fails on exit or after ``timeout``."""
        return self.wait_for_all(event, timeout=timeout)[event]

    def wait_for_all(self, *events: str, timeout: float = 60) -> dict[str, dict[str, Any]]:
        """The next line of each of ``events``, in whatever order they come."""
        found: dict[str, dict[str, Any]] = {}
        while len(found) < len(events):
            try:
                line = self._queue.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no {events} within {timeout} s; log: {self.lines}") from None
            if line is None:
                raise AssertionError(f"gitopsd exited before {events}; log: {self.lines}")
            self.lines.append(line)
            if line.get("event") in events:
                found.setdefault(line["event"], line)
        return found

    def exit_code(self, *, timeout: float = 60) -> int:
        """Wait for the process to end; its exit code."""
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout)
        return code

    def terminate(self, *, timeout: float = 60) -> int:
        """SIGTERM, then wait for the process to end; its exit code."""
        self.proc.send_signal(signal.SIGTERM)
        return self.exit_code(timeout=timeout)

    def __enter__(self) -> Self:
        """The running process (closed at the end of the block)."""
        return self

    def __exit__(self, *_: object) -> None:
        """Kill it if it still runs."""
        self.close()

    def close(self) -> None:
        """Kill the process if it still runs, and reap it."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._reader.join()
        assert self.proc.stdout is not None
        self.proc.stdout.close()


def get_json(url: str, *, timeout: float = 10) -> tuple[int, Any]:
    """GET ``url``: the status and the parsed JSON body (error statuses included)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, orjson.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, orjson.loads(err.read())


def get_body(url: str, *, timeout: float = 10) -> bytes:
    """GET ``url`` (which must answer 200): the body."""
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        body: bytes = resp.read()
        return body


def postgres_processes_in(directory: Path) -> list[int]:
    """Pids of postgres processes whose command line names a path under ``directory``."""
    return [
        proc.info["pid"]
        for proc in psutil.process_iter(["pid", "name", "cmdline"])
        if proc.info["name"] == "postgres"
        and str(directory) in " ".join(proc.info["cmdline"] or [])
    ]


def start_gitopsd(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """Start ``gitopsd ARGS`` in ``cwd`` (clean GITOPSD_* environment plus ``env``), output piped."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GITOPSD_")}
    full_env.update(env or {})
    return subprocess.Popen(
        [*GITOPSD, *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full_env,
    )


def start_daemon_on_embedded_pg(tmp_path: Path) -> subprocess.Popen[str]:
    """`gitopsd run` with no database URL (embedded server in tmp_path/state), once ready."""
    config = tmp_path / "gitopsd.yaml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\nhttp: {{listen: '127.0.0.1:0'}}\n")
    proc = start_gitopsd("--config", str(config), "run", cwd=tmp_path)
    assert proc.stdout is not None
    for line in proc.stdout:
        if '"event":"daemon.ready"' in line:
            return proc
    proc.kill()
    _, err = proc.communicate()
    raise AssertionError(f"gitopsd run exited before it was ready: {err}")


def postmaster_of(pgdata: Path) -> psutil.Process:
    """The running postmaster of the server in ``pgdata`` (from postmaster.pid)."""
    return psutil.Process(int((pgdata / "postmaster.pid").read_text().split()[0]))


def fake_tool(directory: Path, name: str, *, version: str, then: str) -> Path:
    """A stand-in PostgreSQL tool: prints ``version`` for --version, else runs ``then``."""
    directory.mkdir(exist_ok=True)
    path = directory / name
    path.write_text(
        f'#!/bin/sh\nif [ "$1" = --version ]; then echo "{name} (PostgreSQL) {version}"; exit 0; fi\n'
        f"{then}\n"
    )
    path.chmod(0o755)
    return path
