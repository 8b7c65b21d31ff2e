"""GitTree reads one commit from the object database; DictTree behaves the same for tests."""

from __future__ import annotations

import stat
from pathlib import Path

import pygit2
import pytest
from rendertest import Executable, config

from daemon.shell import render
from daemon.shell.render import reader, tree


def test_git_tree_answers_kind_size_read_list_readlink(git_tree) -> None:
    """Paths are repository-relative; symlinks are reported, not followed."""
    t = git_tree(
        {
            "a/b.yaml": "hello",
            "a/link": render.Link("b.yaml"),
            "a/run.sh": Executable("#!/bin/sh\n"),
        }
    )
    assert [t.kind(p) for p in ("", "a", "a/b.yaml", "a/link", "missing", "a/./b.yaml")] == [
        "dir",
        "dir",
        "file",
        "symlink",
        None,
        "file",
    ]
    assert (t.size("a/b.yaml"), t.read("a/b.yaml"), t.list("a"), t.readlink("a/link")) == (
        5,
        b"hello",
        ["b.yaml", "link", "run.sh"],
        "b.yaml",
    )
    assert len(t.revision) == 40


def test_git_tree_reads_the_commit_not_later_ones(git_tree, tmp_path: Path) -> None:
    """A tree keeps answering from its commit after the branch moves on."""
    first = git_tree({"f.yaml": "one"})
    repo = first._repository
    signature = pygit2.Signature("T", "t@example.com")
    builder = repo.TreeBuilder()
    builder.insert("f.yaml", repo.create_blob(b"two"), pygit2.enums.FileMode.BLOB)
    repo.create_commit(
        "refs/heads/main", signature, signature, "next", builder.write(), [first.revision]
    )
    assert (first.read("f.yaml"), render.GitTree(repo, "refs/heads/main").read("f.yaml")) == (
        b"one",
        b"two",
    )


def test_unknown_revision_is_a_render_error(git_tree) -> None:
    """Constructing a tree at a revision the repository lacks fails clearly."""
    t = git_tree({"f": "x"})
    with pytest.raises(render.RenderError) as err:
        render.GitTree(t._repository, "0" * 40)
    assert str(err.value) == f"revision {'0' * 40!r} not found in the repository"


def test_escaping_paths_are_refused() -> None:
    """Absolute paths and ``..`` above the root are not repository paths."""
    for bad in ("/etc", "../x", "a/../../x"):
        with pytest.raises(render.RenderError):
            tree.normalize(bad)
    assert [tree.normalize(p) for p in ("", ".", "a/./b/", "a/b/../c")] == ["", "", "a/b", "a/c"]


def test_checkout_writes_files_modes_and_symlinks(git_tree, tmp_path: Path) -> None:
    """A checkout reproduces the tree on disk, executable bits and symlinks included."""
    t = git_tree(
        {"d/f.txt": "data", "d/run.sh": Executable("#!/bin/sh\n"), "d/l": render.Link("f.txt")}
    )
    t.checkout(tmp_path / "out")
    out = tmp_path / "out"
    assert (
        (out / "d/f.txt").read_text(),
        bool((out / "d/run.sh").stat().st_mode & stat.S_IXUSR),
        bool((out / "d/f.txt").stat().st_mode & stat.S_IXUSR),
        (out / "d/l").readlink().as_posix(),
    ) == ("data", True, False, "f.txt")


def test_symlink_loops_are_refused(git_tree) -> None:
    """A symlink cycle stops at the hop limit instead of spinning."""
    t = git_tree({"app/a": render.Link("b"), "app/b": render.Link("a")})
    files = reader.Reader(t, root="app", limits=render.DEFAULT_LIMITS)
    with pytest.raises(render.RenderError) as err:
        files.read("app/a")
    assert str(err.value) == "app/a: too many levels of symbolic links"


def test_symlinked_directory_inside_the_app_is_followed(git_tree) -> None:
    """A directory symlink within the app path resolves component by component."""
    t = git_tree(
        {
            "app/real/cm.yaml": "{apiVersion: v1, kind: ConfigMap, metadata: {name: c}}",
            "app/alias": render.Link("real"),
        }
    )
    files = reader.Reader(t, root="app", limits=render.DEFAULT_LIMITS)
    assert (files.kind("app/alias/cm.yaml"), files.read("app/alias/cm.yaml")) == (
        "file",
        b"{apiVersion: v1, kind: ConfigMap, metadata: {name: c}}",
    )


def test_dict_tree_matches_git_tree(git_tree) -> None:
    """The in-memory tree renders the same objects as the Git one."""
    files = {
        "app/a.yaml": "{apiVersion: v1, kind: ConfigMap, metadata: {name: a}}",
        "app/sub/b.yaml": "{}",
    }
    from_git = render.render(git_tree(files), path="app", config=config())
    from_dict = render.render(render.DictTree(files), path="app", config=config())
    assert (from_dict.objects, from_dict.inputs) == (from_git.objects, from_git.inputs)
