"""A bare Git repository written file-set by file-set (the sample source of ``gitopsd demo``).

Each ``commit`` replaces the files it names (``None`` deletes one) and commits the whole
set on ``main``. Blocking: call it through ``asyncio.to_thread``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pygit2

SIGNATURE = ("Ada Lovelace", "ada@example.org")
"""Author and committer of every sample commit."""


class SampleRepo:
    """A bare repository with one branch, ``main``, written file-set by file-set."""

    def __init__(self, path: Path) -> None:
        """Create the repository at ``path`` (blocking: call through ``asyncio.to_thread``)."""
        self.path = path
        self._repo = pygit2.init_repository(str(path), bare=True, initial_head="main")
        self._files: dict[str, bytes] = {}

    @property
    def url(self) -> str:
        """Where gitopsd fetches it from."""
        return f"file://{self.path}"

    def commit(self, changes: Mapping[str, str | None], message: str) -> str:
        """Commit ``changes`` on main (blocking); returns the new commit's sha."""
        for path, content in changes.items():
            if content is None:
                self._files.pop(path, None)
            else:
                self._files[path] = content.encode()
        index = pygit2.Index()
        for path, data in sorted(self._files.items()):
            blob = self._repo.create_blob(data)
            index.add(pygit2.IndexEntry(path, blob, pygit2.enums.FileMode.BLOB))
        tree = index.write_tree(self._repo)
        ref = "refs/heads/main"
        parents = [self._repo.references[ref].target] if ref in self._repo.references else []
        who = pygit2.Signature(*SIGNATURE)
        return str(self._repo.create_commit(ref, who, who, message, tree, parents))
