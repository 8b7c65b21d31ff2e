"""Fixtures for render tests: real Git repositories made with pygit2 in temporary folders.

``git_tree(files)`` commits ``files`` (path -> text, bytes, ``Link(target)`` for a
symlink, or ``EXECUTABLE(text)`` for a file with the executable bit) straight into a
fresh bare repository's object database and returns a ``GitTree`` at that commit.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pygit2
import pytest
from rendertest import Executable

from daemon.shell import render

_counter = itertools.count()


Content = str | bytes | render.Link | Executable
GitTreeFactory = Callable[[Mapping[str, Content]], render.GitTree]


def _build(repo: pygit2.Repository, files: Mapping[str, Content]) -> pygit2.Oid:
    """Write nested trees bottom-up and return the root tree id."""
    children: dict[str, dict[str, Any]] = {"": {}}
    for path, content in files.items():
        parts = path.split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[: depth - 1])
            directory = "/".join(parts[:depth])
            children.setdefault(directory, {})
            children[parent][parts[depth - 1]] = ("dir", directory)
        children.setdefault("/".join(parts[:-1]), {})[parts[-1]] = ("file", content)

    def write(directory: str) -> pygit2.Oid:
        builder = repo.TreeBuilder()
        for name, (kind, value) in sorted(children[directory].items()):
            if kind == "dir":
                builder.insert(name, write(value), pygit2.enums.FileMode.TREE)
            elif isinstance(value, render.Link):
                builder.insert(
                    name, repo.create_blob(value.target.encode()), pygit2.enums.FileMode.LINK
                )
            elif isinstance(value, Executable):
                blob = repo.create_blob(value.content.encode())
                builder.insert(name, blob, pygit2.enums.FileMode.BLOB_EXECUTABLE)
            else:
                data = value.encode() if isinstance(value, str) else value
                builder.insert(name, repo.create_blob(data), pygit2.enums.FileMode.BLOB)
        return builder.write()

    return write("")


@pytest.fixture
def git_tree(tmp_path: Path) -> GitTreeFactory:
    """Commit files into a new bare repository and return the tree at that commit."""

    def make(files: Mapping[str, Content]) -> render.GitTree:
        repo = pygit2.init_repository(str(tmp_path / f"repo{next(_counter)}.git"), bare=True)
        signature = pygit2.Signature("Test", "test@example.com", 1_700_000_000, 0)
        commit = repo.create_commit(
            "refs/heads/main", signature, signature, "test", _build(repo, files), []
        )
        return render.GitTree(repo, str(commit))

    return make
