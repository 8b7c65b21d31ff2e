"""The exec renderer: the user's command (``helm template``, a real ``kustomize``...) on a checkout.

The commit's tree is written to a fresh temporary directory (after every symlink in
it has passed the reader's confinement check) and ``render.command`` (an argv list, no
shell) runs with its working directory at the app's path, stdin closed, in its own
process group, with an environment holding only a minimal ``PATH``, a private empty
``HOME``, and the variables named in ``render.env`` (copied from the daemon's
environment when set). It is killed with its whole group when ``render.timeout``
passes or its stdout exceeds ``Limits.max_output_bytes``. A non-zero exit fails the
render with the tail of its stderr. Its stdout is parsed as multi-document YAML
(``kind: List`` flattened).

For fan-out the render's inputs are the app's whole path: a command may read
anything under it. Files outside it that the command reads are not tracked.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from daemon.settings import RenderConfig
from daemon.shell.render import plain
from daemon.shell.render.reader import Reader
from daemon.shell.render.result import Limits, RenderError, Sourced

MINIMAL_PATH = "/usr/local/bin:/usr/bin:/bin"
_CHUNK = 65536


def render(files: Reader, *, path: str, config: RenderConfig) -> list[Sourced]:
    """Run the command on a temporary checkout and parse its stdout."""
    if not config.command:
        raise RenderError("render.type is exec but render.command is empty", file=path or ".")
    if files.kind(path) != "dir":
        raise RenderError("exec needs the app path to be a directory", file=path or ".")
    files.inputs.add(path)
    stdout = checkout_and_run(files, path=path, argv=config.command, config=config)
    return parse_output(
        stdout, label=f"{path or '.'} ({config.command[0]} output)", limits=files.limits
    )


def checkout_and_run(files: Reader, *, path: str, argv: list[str], config: RenderConfig) -> bytes:
    """Write the tree to a scratch directory and run ``argv`` at ``path`` in it; its stdout."""
    with tempfile.TemporaryDirectory(prefix="gitopsd-render-") as scratch:
        checkout = Path(scratch) / "tree"
        home = Path(scratch) / "home"
        checkout.mkdir()
        home.mkdir()
        files.checkout(checkout)
        try:
            return run(
                argv,
                cwd=checkout / path if path else checkout,
                env=environment(config.env, home=home),
                timeout=float(config.timeout),
                max_output=files.limits.max_output_bytes,
                stderr_tail=files.limits.stderr_tail_bytes,
            )
        except RenderError as exc:
            # The command names files by their scratch paths; say them as repository paths.
            message = exc.message.replace(f"{checkout}/", "").replace(str(checkout), ".")
            raise RenderError(message, file=exc.file, line=exc.line) from None


def parse_output(stdout: bytes, *, label: str, limits: Limits) -> list[Sourced]:
    """A command's stdout as objects: multi-document YAML, ``kind: List`` flattened."""
    return plain.objects_in(decode(stdout, label), file=label, limits=limits)


def decode(stdout: bytes, label: str) -> str:
    """A command's stdout as UTF-8 text (an error names the command's output otherwise)."""
    try:
        return stdout.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RenderError(f"output is not valid UTF-8 (byte {exc.start})", file=label) from exc


def environment(names: list[str], *, home: Path) -> dict[str, str]:
    """The command's environment: minimal PATH and HOME, plus the allow-listed names."""
    env = {"PATH": MINIMAL_PATH, "HOME": str(home)}
    for name in names:
        value = os.environ.get(name)
        if value is not None:
            env[name] = value
    return env


def run(
    argv: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    timeout: float,
    max_output: int,
    stderr_tail: int,
) -> bytes:
    """Run ``argv`` and return its stdout; ``RenderError`` on failure, timeout or overflow."""
    try:
        process = subprocess.Popen(  # noqa: S603 - argv from the operator's config, no shell
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        raise RenderError(f"cannot run {argv[0]!r}: {exc.strerror or exc}") from exc
    with process:
        try:
            stdout, stderr, problem = _collect(
                process, timeout=timeout, max_output=max_output, stderr_tail=stderr_tail
            )
        finally:
            _kill_group(process)
            process.wait()
    if problem is not None:
        raise RenderError(f"command {argv[0]!r} {problem}")
    if process.returncode != 0:
        tail = stderr.decode("utf-8", "replace").strip()
        status = (
            f"was killed by signal {-process.returncode}"
            if process.returncode < 0
            else f"exited with status {process.returncode}"
        )
        raise RenderError(f"command {argv[0]!r} {status}" + (f": {tail}" if tail else ""))
    return stdout


def _collect(
    process: subprocess.Popen[bytes], *, timeout: float, max_output: int, stderr_tail: int
) -> tuple[bytes, bytes, str | None]:
    """Read both pipes until EOF, the deadline, or the output cap."""
    assert process.stdout is not None
    assert process.stderr is not None
    deadline = time.monotonic() + timeout
    out = bytearray()
    err = bytearray()
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ, out)
        selector.register(process.stderr, selectors.EVENT_READ, err)
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return bytes(out), bytes(err), f"timed out after {timeout:g}s; killed"
            for key, _ in selector.select(remaining):
                chunk = os.read(key.fd, _CHUNK)
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                buffer: bytearray = key.data
                buffer.extend(chunk)
                if buffer is err and len(err) > stderr_tail:
                    del err[: len(err) - stderr_tail]
                if len(out) > max_output:
                    return bytes(out), bytes(err), f"wrote over {max_output} bytes; killed"
    # Both pipes are closed; wait for the exit without reaping (WNOWAIT), so that the
    # group kill that follows can never hit a recycled pid.
    while os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
        if time.monotonic() >= deadline:
            return bytes(out), bytes(err), f"timed out after {timeout:g}s; killed"
        time.sleep(0.005)
    return bytes(out), bytes(err), None


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill the command's whole process group (it may have left children behind)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
