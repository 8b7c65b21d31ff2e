"""Read-only views of a repository tree at one exact commit, for the renderers.

A ``Tree`` answers questions about paths (posix, relative to the repository root, ``""``
being the root itself) without following symlinks: renderers decide what a symlink may
point at (see ``daemon.shell.render.reader``). ``GitTree`` reads blobs straight from a
pygit2 object database at one commit, never from a working copy that can change
underneath; ``DictTree`` is the same view over a dict, for tests and small tools.

This module knows nothing of YAML, Kubernetes or size budgets beyond the per-file cap
that ``read`` enforces; it leaves fetching and choosing commits to ``gitsource``.
"""

from __future__ import annotations

import dataclasses
import posixpath
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal, Protocol

import pygit2

from daemon.shell.render import result

EntryKind = Literal["file", "dir", "symlink", "submodule"]

MAX_FILE_BYTES = 5 * 1024 * 1024
"""Per-file cap: a larger blob is refused before it is loaded."""


class Tree(Protocol):
    """A read-only repository tree at one commit. Paths are posix, repository-relative."""

    @property
    def revision(self) -> str:
        """The commit sha (or a label for trees that are not commits)."""
        ...

    def kind(self, path: str) -> EntryKind | None:
        """What ``path`` is, without following symlinks; None when it does not exist."""
        ...

    def size(self, path: str) -> int:
        """Size in bytes of a file (or of a symlink's target text), read without loading it."""
        ...

    def read(self, path: str, *, limit: int = MAX_FILE_BYTES) -> bytes:
        """Contents of a regular file; ``RenderError`` when over ``limit`` or not a file."""
        ...

    def list(self, path: str) -> list[str]:
        """Names (not paths) of a directory's entries, sorted by name; ``RenderError`` if no dir."""
        ...

    def readlink(self, path: str) -> str:
        """The target text of a symlink, exactly as stored."""
        ...


def normalize(path: str) -> str:
    """A repository path in canonical form (no ``.``, no trailing ``/``, ``""`` for the root).

    Raises ``RenderError`` for absolute paths and for ``..`` that climbs above the root.
    """
    if path.startswith("/"):
        raise result.RenderError(f"path {path!r} is absolute; paths are relative to the repository")
    joined = posixpath.normpath(path) if path else "."
    if joined == ".":
        return ""
    if joined == ".." or joined.startswith("../"):
        raise result.RenderError(f"path {path!r} leaves the repository")
    return joined


def join(base: str, relative: str) -> str:
    """``relative`` resolved against the directory ``base``, normalized (see ``normalize``)."""
    if relative.startswith("/"):
        raise result.RenderError(
            f"path {relative!r} is absolute; paths are relative to the repository"
        )
    return normalize(posixpath.join(base, relative) if base else relative)


def is_within(path: str, root: str) -> bool:
    """True when the normalized ``path`` is ``root`` or beneath it."""
    return root in ("", path) or path.startswith(root + "/")


def _over_limit(path: str, size: int, limit: int) -> result.RenderError:
    return result.RenderError(
        f"file is {size} bytes, over the {limit // (1024 * 1024)} MiB per-file cap"
        if limit >= 1024 * 1024
        else f"file is {size} bytes, over the {limit}-byte per-file cap",
        file=path,
    )


class GitTree:
    """The tree of one commit in a pygit2 repository; used from one thread at a time."""

    def __init__(self, repository: pygit2.Repository, commit: str) -> None:
        try:
            obj = repository.revparse_single(commit)
            peeled = obj.peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError) as exc:
            raise result.RenderError(f"revision {commit!r} not found in the repository") from exc
        self._repository = repository
        self._sha = str(peeled.id)
        self._root: pygit2.Tree = peeled.tree

    @property
    def revision(self) -> str:
        """The full commit sha."""
        return self._sha

    def _entry(self, path: str) -> pygit2.Object | None:
        path = normalize(path)
        if path == "":
            return self._root
        try:
            return self._root[path]
        except KeyError:
            return None

    def kind(self, path: str) -> EntryKind | None:
        """What ``path`` is, without following symlinks; None when it does not exist."""
        entry = self._entry(path)
        if entry is None:
            return None
        if entry.type == pygit2.enums.ObjectType.TREE:
            return "dir"
        if entry.type == pygit2.enums.ObjectType.COMMIT:
            return "submodule"
        if entry.filemode == pygit2.enums.FileMode.LINK:
            return "symlink"
        return "file"

    def size(self, path: str) -> int:
        """Size of a blob, from the object header only."""
        entry = self._entry(path)
        if entry is None or entry.type != pygit2.enums.ObjectType.BLOB:
            raise result.RenderError("not a file", file=normalize(path))
        _, size = self._repository.odb.read_header(entry.id)
        return int(size)

    def _blob(self, path: str, *, want: EntryKind, limit: int) -> bytes:
        if self.kind(path) != want:
            raise result.RenderError(f"not a {want}", file=normalize(path))
        entry = self._entry(path)
        assert entry is not None
        size = self.size(path)
        if size > limit:
            raise _over_limit(normalize(path), size, limit)
        blob = self._repository[entry.id]
        assert isinstance(blob, pygit2.Blob)
        return bytes(blob.data)

    def read(self, path: str, *, limit: int = MAX_FILE_BYTES) -> bytes:
        """Contents of a regular file, refused over ``limit`` before loading."""
        return self._blob(path, want="file", limit=limit)

    def list(self, path: str) -> list[str]:
        """Sorted entry names of a directory."""
        entry = self._entry(path)
        if not isinstance(entry, pygit2.Tree):
            raise result.RenderError("not a directory", file=normalize(path) or ".")
        return sorted(str(child.name) for child in entry)

    def readlink(self, path: str) -> str:
        """A symlink's stored target."""
        return self._blob(path, want="symlink", limit=4096).decode("utf-8", "surrogateescape")

    def is_executable(self, path: str) -> bool:
        """True for a file committed with mode 100755."""
        entry = self._entry(path)
        return entry is not None and entry.filemode == pygit2.enums.FileMode.BLOB_EXECUTABLE

    def checkout(self, dest: Path, *, policy: CheckoutPolicy | None = None) -> None:
        """Write the commit's tree into the empty directory ``dest`` (see ``write_tree``)."""
        write_tree(self, dest, policy=policy or CheckoutPolicy(), executable=self.is_executable)


class DictTree:
    """A tree held in memory: ``{path: bytes | str}`` for files, ``Link(target)`` for symlinks.

    Directories are implied by the paths of their files (an empty directory can be given
    as ``{"dir": None}``).
    """

    def __init__(
        self, files: Mapping[str, bytes | str | Link | None], *, revision: str = "dict"
    ) -> None:
        self._files: dict[str, bytes | Link] = {}
        self._dirs: set[str] = {""}
        for raw, content in files.items():
            path = normalize(raw)
            parent = posixpath.dirname(path)
            while True:
                self._dirs.add(parent)
                if parent == "":
                    break
                parent = posixpath.dirname(parent)
            if content is None:
                self._dirs.add(path)
            else:
                self._files[path] = content.encode() if isinstance(content, str) else content
        self._revision = revision

    @property
    def revision(self) -> str:
        """The label given at construction."""
        return self._revision

    def kind(self, path: str) -> EntryKind | None:
        """What ``path`` is, without following symlinks."""
        path = normalize(path)
        if path in self._dirs:
            return "dir"
        content = self._files.get(path)
        if content is None:
            return None
        return "symlink" if isinstance(content, Link) else "file"

    def size(self, path: str) -> int:
        """Size of a file or symlink text."""
        content = self._files.get(normalize(path))
        if content is None:
            raise result.RenderError("not a file", file=normalize(path))
        return len(content.target.encode()) if isinstance(content, Link) else len(content)

    def read(self, path: str, *, limit: int = MAX_FILE_BYTES) -> bytes:
        """A file's bytes, refused over ``limit``."""
        content = self._files.get(normalize(path))
        if not isinstance(content, bytes):
            raise result.RenderError("not a file", file=normalize(path))
        if len(content) > limit:
            raise _over_limit(normalize(path), len(content), limit)
        return content

    def list(self, path: str) -> list[str]:
        """Sorted entry names of a directory."""
        path = normalize(path)
        if path not in self._dirs:
            raise result.RenderError("not a directory", file=path or ".")
        prefix = f"{path}/" if path else ""
        names = {
            p[len(prefix) :].split("/", 1)[0]
            for p in [*self._files, *self._dirs]
            if p.startswith(prefix) and p != path
        }
        return sorted(names)

    def readlink(self, path: str) -> str:
        """A symlink's target."""
        content = self._files.get(normalize(path))
        if not isinstance(content, Link):
            raise result.RenderError("not a symlink", file=normalize(path))
        return content.target

    def checkout(self, dest: Path, *, policy: CheckoutPolicy | None = None) -> None:
        """Write the tree into the empty directory ``dest`` (see ``write_tree``)."""
        write_tree(self, dest, policy=policy or CheckoutPolicy(), executable=lambda _: False)


class Link:
    """A symlink in a ``DictTree``."""

    __slots__ = ("target",)

    def __init__(self, target: str) -> None:
        self.target = target


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CheckoutPolicy:
    """Size rules of a checkout.

    Files under ``strict_root`` over ``max_file_bytes`` fail the checkout; elsewhere in
    the repository they are left out (a large asset in an unrelated directory must not
    break an app). All bytes written count against ``max_total_bytes``.
    """

    max_file_bytes: int = MAX_FILE_BYTES
    max_total_bytes: int = 256 * 1024 * 1024
    strict_root: str = ""


def write_tree(
    tree: Tree, dest: Path, *, policy: CheckoutPolicy, executable: Callable[[str], bool]
) -> None:
    """Write every entry of ``tree`` under ``dest`` under the size ``policy``.

    Files keep their executable bit, symlinks are written as symlinks (callers vet their
    targets first), submodules become empty directories.
    """
    written = 0
    stack = [""]
    while stack:
        current = stack.pop()
        (dest / current).mkdir(parents=True, exist_ok=True)
        for name in tree.list(current):
            child = f"{current}/{name}" if current else name
            out = dest / child
            match tree.kind(child):
                case "dir":
                    stack.append(child)
                case "submodule":
                    out.mkdir()
                case "symlink":
                    out.symlink_to(tree.readlink(child))
                case "file":
                    size = tree.size(child)
                    if size > policy.max_file_bytes and not is_within(child, policy.strict_root):
                        continue
                    written += size
                    if written > policy.max_total_bytes:
                        raise result.RenderError(
                            f"checkout is over {policy.max_total_bytes // (1024 * 1024)} MiB"
                        )
                    out.write_bytes(tree.read(child, limit=policy.max_file_bytes))
                    if executable(child):
                        out.chmod(out.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
                case None:  # pragma: no cover - listed entries exist
                    pass
