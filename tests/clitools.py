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
