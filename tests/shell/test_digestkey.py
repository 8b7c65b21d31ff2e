"""The per-installation Secret digest key: created private once, reused, refused when readable."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from daemon.shell import digestkey


def test_key_is_created_0600_and_reused(tmp_path: Path) -> None:
    """The first call creates a 32-byte key with mode 0600; later calls return the same key."""
    path = digestkey.path_in(tmp_path / "state")
    first = digestkey.load_or_create(path)
    again = digestkey.load_or_create(path)
    assert (len(first), first == again, stat.S_IMODE(path.stat().st_mode)) == (32, True, 0o600)


def test_a_key_others_can_read_is_refused(tmp_path: Path) -> None:
    """A key file with group or world permissions is an error that says how to fix it."""
    path = digestkey.path_in(tmp_path)
    digestkey.load_or_create(path)
    path.chmod(0o644)
    with pytest.raises(PermissionError, match="chmod 600"):
        digestkey.load_or_create(path)
