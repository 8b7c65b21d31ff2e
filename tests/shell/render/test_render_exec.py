"""The exec renderer: a user's command on a checkout, with timeout, output cap and env allow-list."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pytest
from rendertest import Executable, config

from daemon.shell import render

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"


def exec_config(*command: str, **fields: object) -> object:
    return config(type="exec", command=list(command), **fields)


def test_command_runs_in_a_checkout_at_the_app_path(git_tree) -> None:
    """The command sees the commit's files (exec bit kept) with cwd at the app path; stdout is YAML."""
    tree = git_tree(
        {
            "charts/web/gen.sh": Executable("#!/bin/sh\ncat values.txt ../shared/more.yaml\n"),
            "charts/web/values.txt": CM.format(name="from-values") + "---\n",
            "charts/shared/more.yaml": "apiVersion: v1\nkind: List\nitems:\n- "
            "{apiVersion: v1, kind: ConfigMap, metadata: {name: from-shared}}\n",
        }
    )
    result = render.render(tree, path="charts/web", config=exec_config("./gen.sh"))
    assert result.objects == [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "from-values"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "from-shared"}},
    ]
    assert (result.renderer, result.inputs >= {"charts/web"}) == ("exec", True)


def test_environment_is_an_allow_list_and_stdin_is_closed(git_tree, monkeypatch) -> None:
    """Only PATH, HOME and the named variables reach the command; stdin reads as empty."""
    monkeypatch.setenv("ALLOWED_VAR", "yes")
    monkeypatch.setenv("SECRET_VAR", "leak")
    script = (
        "set -e\n"
        "input=$(cat)\n"
        "printf 'apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: env\\ndata:\\n'\n"
        "printf '  vars: \"%s\"\\n' \"$(env | cut -d= -f1 | sort | tr '\\n' ' ')\"\n"
        'printf \'  stdin: "%s"\\n\' "$input"\n'
        'printf \'  home_empty: "%s"\\n\' "$(ls -A "$HOME" | wc -l)"\n'
    )
    tree = git_tree({"app/run.sh": Executable(script)})
    result = render.render(
        tree, path="app", config=exec_config("sh", "run.sh", env=["ALLOWED_VAR", "UNSET_VAR"])
    )
    assert result.objects[0]["data"] == {
        "vars": "ALLOWED_VAR HOME PATH PWD ",
        "stdin": "",
        "home_empty": "0",
    }


def test_non_zero_exit_carries_stderr_tail(git_tree) -> None:
    """A failing command fails the render with its exit status and the end of its stderr."""
    tree = git_tree({"app/x": "x"})
    with pytest.raises(render.RenderError) as err:
        render.render(
            tree,
            path="app",
            config=exec_config("sh", "-c", "echo ignored; printf 'chart not found\\n' >&2; exit 3"),
        )
    assert str(err.value) == "command 'sh' exited with status 3: chart not found"


def test_timeout_kills_the_whole_process_group(git_tree, tmp_path: Path) -> None:
    """A hung command is killed with its children once render.timeout passes."""
    pidfile = tmp_path / "child.pid"
    tree = git_tree({"app/x": "x"})
    command = f"sleep 60 & echo $! > {pidfile}; wait"
    with pytest.raises(render.RenderError) as err:
        render.render(tree, path="app", config=exec_config("sh", "-c", command, timeout=0.5))
    assert str(err.value) == "command 'sh' timed out after 0.5s; killed"
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its reaper counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_output_cap_stops_a_flood(git_tree) -> None:
    """A command writing more than the output cap is killed and the render fails."""
    tree = git_tree({"app/x": "x"})
    limits = render.Limits(max_output_bytes=100_000)
    with pytest.raises(render.RenderError) as err:
        render.render(tree, path="app", config=exec_config("yes"), limits=limits)
    assert str(err.value) == "command 'yes' wrote over 100000 bytes; killed"


def test_symlink_escaping_the_app_is_refused_before_the_command_runs(
    git_tree, tmp_path: Path
) -> None:
    """The checkout refuses symlinks leaving the app path, so the command never sees them."""
    marker = tmp_path / "ran"
    tree = git_tree({"app/creds": render.Link("../../../etc/shadow"), "app/x": "x"})
    with pytest.raises(render.RenderError) as err:
        render.render(tree, path="app", config=exec_config("touch", str(marker)))
    assert (
        str(err.value)
        == "app/creds: symlink to '../../../etc/shadow' leaves the app path 'app'; refused"
    )
    assert not marker.exists()


def test_missing_program_is_a_clear_error(git_tree) -> None:
    """A command that cannot start names itself."""
    tree = git_tree({"app/x": "x"})
    with pytest.raises(render.RenderError) as err:
        render.render(tree, path="app", config=exec_config("no-such-renderer-binary"))
    assert str(err.value) == "cannot run 'no-such-renderer-binary': No such file or directory"


def test_checkout_is_removed_afterwards(git_tree, tmp_path: Path, monkeypatch) -> None:
    """The temporary checkout does not outlive the render."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    tree = git_tree({"app/cm.yaml": CM.format(name="c")})
    render.render(tree, path="app", config=exec_config("cat", "cm.yaml"))
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("gitopsd-render-")] == []
    assert os.environ["TMPDIR"] == str(tmp_path)


def test_checkout_caps_sizes_inside_the_app_and_skips_large_files_elsewhere(git_tree) -> None:
    """A large asset elsewhere is left out of the checkout; one inside the app fails the render."""
    big = b"x" * 2048
    limits = render.Limits(max_file_bytes=1024)
    elsewhere = git_tree({"docs/big.png": big, "app/cm.yaml": CM.format(name="c")})
    listing = render.render(
        elsewhere,
        path="app",
        config=exec_config("sh", "-c", "cat cm.yaml; test ! -e ../docs/big.png"),
        limits=limits,
    )
    assert listing.objects == [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}]
    inside = git_tree({"app/big.bin": big, "app/cm.yaml": CM.format(name="c")})
    with pytest.raises(render.RenderError) as err:
        render.render(inside, path="app", config=exec_config("cat", "cm.yaml"), limits=limits)
    assert str(err.value) == "app/big.bin: file is 2048 bytes, over the 1024-byte per-file cap"
