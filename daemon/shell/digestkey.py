"""The per-installation key behind Secret digests: ``state_dir/secret-digest.key``.

32 random bytes, created once with mode 0600 (atomically: written to a private
temporary file, then hard-linked into place, so two processes starting together agree
on one key). Losing the key only means the next renders give every Secret value a
new digest (a one-time "changed" for drift); leaking it lets someone test guesses of
secret values against the digests in the log, so it is as sensitive as the log.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

KEY_FILE = "secret-digest.key"
KEY_BYTES = 32


def path_in(state_dir: Path) -> Path:
    """Where the key lives in a state directory."""
    return state_dir / KEY_FILE


def load_or_create(path: Path) -> bytes:
    """The key at ``path``, created (0600) when missing; refuses a key others can read."""
    if not path.exists():
        _create(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise PermissionError(
            f"{path} has mode {mode:04o}; the Secret digest key must be private: chmod 600 {path}"
        )
    key = path.read_bytes()
    if len(key) < KEY_BYTES:
        raise ValueError(
            f"{path} holds {len(key)} bytes, want {KEY_BYTES}; remove it to make a new key"
        )
    return key


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(secrets.token_bytes(KEY_BYTES))
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):  # another process won: use its key
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
