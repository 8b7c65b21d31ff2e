"""`gitopsd render` and `gitopsd sources poll` as a user runs them (subprocesses, real log)."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import orjson
import yaml
from gitfixtures import Upstream

from daemon.core import manifests
from daemon.shell import digestkey

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: prod\ndata:\n  v: '{v}'\n"
SECRET = (
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: prod\ndata:\n  k: {b64}\n"
)


def _write_config(tmp_path: Path, upstream: Upstream) -> Path:
    path = tmp_path / "gitopsd.yaml"
    path.write_text(
        f"""state_dir: {tmp_path / "state"}
clusters:
  - name: c
    kubeconfig: /dev/null
sources:
  - name: src
    url: {upstream.url}
apps:
  - name: web
    source: src
    path: web
    destination: {{cluster: c}}
"""
    )
    return path


def _gitopsd(
    config: Path, *args: str, database_url: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITOPSD_")}
    if database_url:
        env["GITOPSD_DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "daemon", "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_render_prints_objects_sorted_by_key_with_secrets_digested(
    tmp_path: Path, upstream: Upstream
) -> None:
    """`render --json` prints one array sorted by object key; YAML mode prints the same documents."""
    b64 = base64.b64encode(b"top-secret").decode()
    upstream.commit(
        {
            "web/b.yaml": CM.format(name="b", v="1"),
            "web/a.yaml": CM.format(name="z", v="2"),
            "web/s.yaml": SECRET.format(b64=b64),
        }
    )
    config = _write_config(tmp_path, upstream)
    as_json = _gitopsd(config, "render", "web", "--json")
    as_yaml = _gitopsd(config, "render", "web")
    key = digestkey.load_or_create(digestkey.path_in(tmp_path / "state"))
    objects = orjson.loads(as_json.stdout)
    assert (as_json.returncode, as_yaml.returncode) == (0, 0), as_json.stderr + as_yaml.stderr
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("ConfigMap", "b"),
        ("ConfigMap", "z"),
        ("Secret", "s"),
    ]
    assert objects[2]["data"] == {"k": manifests.value_digest(b"top-secret", key=key)}
    assert list(yaml.safe_load_all(as_yaml.stdout)) == objects
    assert "top-secret" not in as_json.stdout + as_yaml.stdout


def test_render_at_an_older_revision_and_errors(tmp_path: Path, upstream: Upstream) -> None:
    """--revision renders an older commit; a broken file exits 1 with FILE:LINE; an unknown app exits 2."""
    old = upstream.commit({"web/a.yaml": CM.format(name="a", v="old")})
    upstream.commit({"web/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [a\n"})
    config = _write_config(tmp_path, upstream)
    older = _gitopsd(config, "render", "web", "--json", "--revision", old[:10])
    broken = _gitopsd(config, "render", "web")
    unknown = _gitopsd(config, "render", "nope")
    assert (older.returncode, orjson.loads(older.stdout)[0]["data"]) == (0, {"v": "old"})
    assert (broken.returncode, broken.stdout, broken.stderr.startswith("web/a.yaml:")) == (
        1,
        "",
        True,
    )
    assert (unknown.returncode, unknown.stderr) == (
        2,
        f"error: no app named 'nope' in {config} (apps: web)\n",
    )


def test_sources_poll_prints_what_it_recorded(
    tmp_path: Path, upstream: Upstream, database_url: str
) -> None:
    """`sources poll` records and prints commits, the new head and the render; a second run finds nothing new."""
    c1 = upstream.commit({"web/a.yaml": CM.format(name="a", v="1")}, message="first")
    config = _write_config(tmp_path, upstream)
    first = _gitopsd(config, "sources", "poll", database_url=database_url)
    c2 = upstream.commit({"web/a.yaml": CM.format(name="a", v="2")}, message="second")
    second = _gitopsd(config, "sources", "poll", "src", database_url=database_url)
    third = _gitopsd(config, "sources", "poll", database_url=database_url)
    unknown = _gitopsd(config, "sources", "poll", "nope", database_url=database_url)
    assert (first.returncode, first.stdout.splitlines()) == (
        0,
        [
            f"src: commit {c1[:12]} first (Alice)",
            f"src: revision refs/heads/main {c1[:12]}",
            f"app web: rendered 1 objects at {c1[:12]} (plain)",
        ],
    ), first.stderr
    assert second.stdout.splitlines() == [
        f"src: commit {c2[:12]} second (Alice)",
        f"src: revision refs/heads/main {c2[:12]} (was {c1[:12]})",
        f"app web: rendered 1 objects at {c2[:12]} (plain)",
    ]
    assert third.stdout.splitlines() == [f"src: up to date at {c2[:12]}"]
    assert (unknown.returncode, unknown.stderr) == (2, f"error: no source named nope in {config}\n")


def test_render_of_a_memory_bomb_exits_1_with_the_limit_named(
    tmp_path: Path, upstream: Upstream
) -> None:
    """`gitopsd render` of a jsonnet memory bomb is a clean error and exit 1, not a crash."""
    upstream.commit({"web/main.jsonnet": "std.makeArray(1e9, function(i) i)"})
    config = _write_config(tmp_path, upstream)
    text = config.read_text() + "    render: {limits: {memory: 256Mi}}\n"
    config.write_text(text)
    bomb = _gitopsd(config, "render", "web")
    assert (bomb.returncode, bomb.stdout, bomb.stderr) == (
        1,
        "",
        "render exceeded its memory limit (256 MiB address space)\n",
    )
