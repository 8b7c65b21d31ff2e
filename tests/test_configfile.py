"""Reading gitopsd.yaml under limits: only small regular UTF-8 files, YAML without bombs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from daemon import configfile, settings
from daemon.errors import ConfigError

BOMB = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


def problems_loading(path: Path, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        settings.load(path, environ=environ or {})
    return info.value.problems


def test_non_utf8_names_line_and_offset(tmp_path: Path) -> None:
    """A byte that is not UTF-8 is reported with its line and byte offset, not a traceback."""
    path = tmp_path / "gitopsd.yaml"
    path.write_bytes(b"http:\n  listen: caf\xe9:80\n")
    why = "byte 0xe9 at offset 19 (invalid continuation byte)"
    assert problems_loading(path) == [f"{path}:2: not UTF-8: {why}; save the file as UTF-8"]


def test_file_over_the_cap_is_refused_without_reading_it(tmp_path: Path) -> None:
    """A 5 GiB (sparse) file is refused from its size; nothing near that is read."""
    path = tmp_path / "gitopsd.yaml"
    with path.open("wb") as file:
        file.truncate(5 * 1024**3)
    limit = "the limit is 4194304 bytes, raised by $GITOPSD_CONFIG_MAX_BYTES"
    assert problems_loading(path) == [f"{path}: too large (5368709120 bytes; {limit})"]


def test_size_cap_is_exact_and_overridable(tmp_path: Path) -> None:
    """A file of exactly the cap loads; one byte more is refused; the env var moves the cap."""
    path = tmp_path / "gitopsd.yaml"
    path.write_bytes(b"#" * (4 * configfile.MiB - 1) + b"\n")
    assert settings.load(path, environ={}).http.listen == "127.0.0.1:8089"
    path.write_bytes(b"state_dir: /s\n")
    assert problems_loading(path, {"GITOPSD_CONFIG_MAX_BYTES": "13"}) == [
        f"{path}: too large (14 bytes; the limit is 13 bytes, raised by $GITOPSD_CONFIG_MAX_BYTES)"
    ]
    assert settings.load(path, environ={"GITOPSD_CONFIG_MAX_BYTES": "14"}).state_dir == "/s"
    assert problems_loading(path, {"GITOPSD_CONFIG_MAX_BYTES": "4M"}) == [
        "$GITOPSD_CONFIG_MAX_BYTES: expected a positive number of bytes, got '4M'"
    ]


def test_dev_zero_is_refused_without_reading(tmp_path: Path) -> None:
    """/dev/zero as the configuration is refused as a device before a byte is read."""
    assert problems_loading(Path("/dev/zero")) == [
        "/dev/zero: not a regular file (a character device)"
    ]


def test_directory_is_refused(tmp_path: Path) -> None:
    """A directory given as the configuration is named as one."""
    assert problems_loading(tmp_path) == [f"{tmp_path}: not a regular file (a directory)"]


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    """A FIFO with no writer is refused at once (the open does not wait for a writer)."""
    fifo = tmp_path / "gitopsd.yaml"
    os.mkfifo(fifo)
    assert problems_loading(fifo) == [f"{fifo}: not a regular file (a FIFO)"]


def test_missing_file_says_so(tmp_path: Path) -> None:
    """A path that does not exist cannot be read, and the reason is given."""
    path = tmp_path / "nope.yaml"
    assert problems_loading(path) == [f"{path}: cannot read: No such file or directory"]


def test_alias_bomb_is_refused_with_its_line() -> None:
    """A billion-laughs document is refused where it crosses the node limit."""
    with pytest.raises(ConfigError) as info:
        settings.loads(BOMB, filename="g.yaml", environ={})
    assert info.value.problems == [
        "g.yaml:6: YAML expands to more than 500000 nodes (an alias bomb?); refused"
    ]


def test_deep_nesting_and_alias_count_are_capped() -> None:
    """Nesting past 64 levels (or past libyaml's own limit) and more than the allowed alias uses are refused, with lines."""
    deep = "a:\n  " + "[" * 65 + "]" * 65 + "\n"
    deeper = "[" * 10_000 + "]" * 10_000
    limits = configfile.Limits(max_aliases=3)
    aliases = "x: &x 1\ny: [*x, *x,\n  *x, *x]\n"
    with pytest.raises(ConfigError) as deep_info:
        configfile.compose(deep, filename="g.yaml")
    with pytest.raises(ConfigError) as deeper_info:
        configfile.compose(deeper, filename="g.yaml")
    with pytest.raises(ConfigError) as alias_info:
        configfile.compose(aliases, filename="g.yaml", limits=limits)
    assert (deep_info.value.problems, deeper_info.value.problems, alias_info.value.problems) == (
        ["g.yaml:2: YAML nested deeper than 64 levels; refused"],
        ["g.yaml:1: invalid YAML: exceeded maximum nesting depth"],
        ["g.yaml:3: YAML more than 3 aliases; refused"],
    )


def test_anchors_within_limits_still_work() -> None:
    """Anchors and aliases used the ordinary way (a shared sync policy) load as before."""
    text = """\
clusters: [{name: prod, kubeconfig: /k}]
sources: [{name: infra, url: https://g.example/x.git}]
apps:
  - {name: a, source: infra, destination: {cluster: prod}, sync: &manual {auto: false}}
  - {name: b, source: infra, destination: {cluster: prod}, sync: *manual}
"""
    config = settings.loads(text, filename="g.yaml", environ={})
    assert [app.sync for app in config.apps] == [settings.SyncPolicyConfig(auto=False)] * 2
