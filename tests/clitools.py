"""Running gitopsd as a user does (a child process) and checking what it left behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil

GITOPSD = [sys.executable, "-m", "daemon"]


def gitopsd(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``gitopsd ARGS`` in ``cwd`` with a clean GITOPSD_* environment plus ``env``."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GITOPSD_")}
    full_env.update(env or {})
    return subprocess.run(
        [*GITOPSD, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        check=False,
    )


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
