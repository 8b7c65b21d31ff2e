"""Confined, budgeted, recorded reads of a ``Tree`` for one render.

Every renderer reads through a ``Reader`` so that three rules hold in one place:

* **Confinement.** Symlinks are followed component by component. A symlink lying
  inside the app's path must resolve (after every hop) inside the app's path; one
  lying elsewhere in the repository (a kustomize base, a jsonnet library) must resolve
  inside the repository. Absolute targets and targets climbing above the root are
  refused, as are chains longer than ``Limits.max_symlink_hops``.
* **Budget.** Each file is capped (``max_file_bytes``) and the bytes of distinct files
  read by one render are capped together (``max_render_bytes``).
* **Recording.** Every path read, listed, or probed (including absent ones and the
  symlinks crossed on the way) lands in ``inputs`` for fan-out by path.
"""

from __future__ import annotations

import posixpath
from pathlib import Path

from daemon.shell.render import tree as treemod
from daemon.shell.render.result import Limits, RenderError
from daemon.shell.render.tree import EntryKind, Tree


class Reader:
    """Reads of one render: confined to ``root`` for paths under it, recorded, budgeted."""

    def __init__(self, tree: Tree, *, root: str, limits: Limits) -> None:
        self.tree = tree
        self.root = treemod.normalize(root)
        self.limits = limits
        self.inputs: set[str] = set()
        self._cache: dict[str, bytes] = {}
        self._spent = 0

    def confinement(self, path: str) -> str:
        """The directory a symlink at ``path`` must stay within."""
        return self.root if treemod.is_within(path, self.root) else ""

    def resolve(self, path: str) -> str:
        """``path`` with every symlink along it followed, checked against its confinement."""
        path = treemod.normalize(path)
        pending = path.split("/") if path else []
        current = ""
        hops = 0
        while pending:
            name = pending.pop(0)
            candidate = treemod.normalize(posixpath.join(current, name) if current else name)
            if self.tree.kind(candidate) != "symlink":
                current = candidate
                continue
            hops += 1
            if hops > self.limits.max_symlink_hops:
                raise RenderError("too many levels of symbolic links", file=path)
            self.inputs.add(candidate)
            current, rest = self._follow(candidate), pending
            pending = [*(current.split("/") if current else []), *rest]
            current = ""
        return current

    def _follow(self, link: str) -> str:
        target = self.tree.readlink(link)
        allowed = self.confinement(link)
        where = f"the app path {allowed!r}" if allowed else "the repository"
        if target.startswith("/"):
            raise RenderError(f"symlink to absolute path {target!r} is refused", file=link)
        joined = posixpath.normpath(posixpath.join(posixpath.dirname(link), target))
        if (
            joined == ".."
            or joined.startswith("../")
            or not treemod.is_within("" if joined == "." else joined, allowed)
        ):
            raise RenderError(f"symlink to {target!r} leaves {where}; refused", file=link)
        return "" if joined == "." else joined

    def kind(self, path: str) -> EntryKind | None:
        """What ``path`` is once symlinks are followed (None when absent); recorded."""
        path = treemod.normalize(path)
        self.inputs.add(path)
        real = self.resolve_quiet(path)
        if real is None:
            return None
        self.inputs.add(real)
        return self.tree.kind(real)

    def resolve_quiet(self, path: str) -> str | None:
        """Like ``resolve`` but None when a component is missing (escapes still raise)."""
        real = self.resolve(path)
        return real if self.tree.kind(real) is not None else None

    def is_file(self, path: str) -> bool:
        """True when ``path`` is (or links to) a regular file."""
        return self.kind(path) == "file"

    def is_dir(self, path: str) -> bool:
        """True when ``path`` is (or links to) a directory."""
        return self.kind(path) == "dir"

    def list(self, path: str) -> list[str]:
        """Sorted entry names of the directory at ``path`` (symlinks followed); recorded."""
        path = treemod.normalize(path)
        self.inputs.add(path)
        real = self.resolve(path)
        self.inputs.add(real)
        return self.tree.list(real)

    def read(self, path: str) -> bytes:
        """Bytes of the file at ``path`` under the per-file and per-render caps; recorded."""
        path = treemod.normalize(path)
        self.inputs.add(path)
        real = self.resolve(path)
        self.inputs.add(real)
        cached = self._cache.get(real)
        if cached is not None:
            return cached
        kind = self.tree.kind(real)
        if kind is None:
            raise RenderError("file not found", file=path)
        if kind != "file":
            raise RenderError(f"is a {kind}, not a file", file=path)
        size = self.tree.size(real)
        if self._spent + size > self.limits.max_render_bytes:
            raise RenderError(
                f"render reads over {self.limits.max_render_bytes // (1024 * 1024)} MiB "
                "(per-render cap)",
                file=path,
            )
        data = self.tree.read(real, limit=self.limits.max_file_bytes)
        self._spent += len(data)
        self._cache[real] = data
        return data

    def text(self, path: str) -> str:
        """The file at ``path`` decoded as UTF-8 (an error names the file otherwise)."""
        data = self.read(path)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RenderError(f"not valid UTF-8 (byte {exc.start})", file=path) from exc

    def check_links(self, path: str) -> None:
        """Refuse any symlink under ``path`` (recursively) that leaves its confinement.

        Used before a checkout for the exec renderer, whose command follows links on disk.
        """
        stack = [treemod.normalize(path)]
        while stack:
            current = stack.pop()
            for name in self.tree.list(current):
                child = f"{current}/{name}" if current else name
                kind = self.tree.kind(child)
                if kind == "symlink":
                    self.resolve(child)
                elif kind == "dir":
                    stack.append(child)

    def checkout(self, dest: Path) -> None:
        """Write the whole tree into ``dest`` once every symlink in it passed ``check_links``.

        Files under the app path obey the per-file cap; larger files elsewhere are left
        out; everything written counts against ``Limits.max_checkout_bytes``.
        """
        self.check_links("")
        checkout = getattr(self.tree, "checkout", None)
        if checkout is None:
            raise RenderError("this tree cannot be checked out for an exec render")
        checkout(
            dest,
            policy=treemod.CheckoutPolicy(
                max_file_bytes=self.limits.max_file_bytes,
                max_total_bytes=self.limits.max_checkout_bytes,
                strict_root=self.root,
            ),
        )
