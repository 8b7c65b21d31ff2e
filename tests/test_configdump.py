"""`config check --effective`: every default written out, secrets hidden, loads back equal."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import clitools
import yaml

from daemon import configdump, settings

ENVIRON = {"DB_URL": "postgresql://u:dbpass@db/g", "GIT_TOKEN": "tok-value", "KC": "/etc/k"}

FULL = """\
state_dir: /var/lib/gitopsd
database: {url: "${DB_URL}", pool_size: 5}
http: {listen: "127.0.0.1:9000"}
clusters:
  - {name: prod, kubeconfig: "${KC}", context: prod, labels: {region: eu, "1": "yes"}, qps: 7}
sources:
  - name: infra
    url: https://git.example.com/infra.git
    tag: v1.0
    interval: 90s
    timeout: 1.5s
    auth: {token: "${GIT_TOKEN}"}
apps:
  - name: web
    source: infra
    path: "apps/$${literal}"
    destination: {cluster: prod, namespace: web}
    render: {type: jsonnet, ext_vars: {env: prod}, libs: [lib]}
    sync: {auto: false, resync: 1h30m, retry: {limit: 3, backoff: 500ms}}
    restrictions: {namespaces: [web], denied_kinds: [ClusterRole], cluster_scoped: false}
  - name: chart
    source: infra
    path: charts/shop
    destination: {cluster: prod}
    render:
      helm: {values_files: [prod.yaml], values: {image: {tag: "1.2"}, hosts: [a], note: "${x}"}}
  - name: plugins
    source: infra
    path: apps/plugins
    destination: {cluster: prod}
    render: {kustomize: {binary: kubectl, build_options: [--enable-helm]}}
"""


def load_text(text: str, tmp_path: Path, name: str) -> settings.Config:
    path = tmp_path / name
    path.write_text(text)
    return settings.load(path, environ=ENVIRON)


def test_effective_output_loads_back_to_the_same_config(tmp_path: Path) -> None:
    """The effective YAML of a config using every kind of value loads back equal, and is stable."""
    original = load_text(FULL, tmp_path, "gitopsd.yaml")
    shown = configdump.effective(original)
    again = load_text(shown, tmp_path, "effective.yaml")
    assert dataclasses.replace(again, path=original.path) == original
    assert again.env_refs == original.env_refs
    assert configdump.effective(again).splitlines()[2:] == shown.splitlines()[2:]


def test_every_default_is_written_out(tmp_path: Path) -> None:
    """An app that sets nothing shows auto, prune and self_heal on, and every other default."""
    text = (
        "clusters: [{name: prod, kubeconfig: /k}]\n"
        "sources: [{name: infra, url: https://g.example/x.git}]\n"
        "apps: [{name: web, source: infra, destination: {cluster: prod}}]\n"
    )
    doc = yaml.safe_load(configdump.effective(load_text(text, tmp_path, "g.yaml")))
    assert doc["apps"][0]["sync"] == {
        "auto": True,
        "prune": True,
        "self_heal": True,
        "allow_recreate": False,
        "create_namespace": False,
        "resync": "10m",
        "retry": {"limit": 5, "backoff": "5s", "max_backoff": "5m"},
    }
    assert (doc["database"], doc["http"], doc["apps"][0]["destination"]) == (
        {"url": None, "pool_size": 10},
        {"listen": "127.0.0.1:8089"},
        {"cluster": "prod", "clusters": [], "selector": None, "namespace": "default"},
    )


def test_secrets_are_never_written(tmp_path: Path) -> None:
    """Literal secrets and references with text around them are ***; a bare reference stays."""
    text = (
        "database: {url: 'postgresql://u:literalpw@db/g'}\n"
        "sources:\n"
        "  - name: infra\n"
        "    url: https://g.example/x.git\n"
        "    auth: {username: me, password: 'pre-${GIT_TOKEN}'}\n"
        "    webhook_secret: ${GIT_TOKEN}\n"
    )
    shown = configdump.effective(load_text(text, tmp_path, "g.yaml"))
    doc = yaml.safe_load(shown)
    assert (doc["database"]["url"], doc["sources"][0]["auth"]["password"]) == ("***", "***")
    assert doc["sources"][0]["webhook_secret"] == "${GIT_TOKEN}"
    assert [s for s in ("literalpw", "tok-value", "pre-") if s in shown] == []


def test_durations_are_written_in_file_units_exactly() -> None:
    """Durations print as d/h/m/s (fractions as exact seconds) and parse back to the same value."""
    seconds = [90.0, 5400.0, 86401.0, 0.5, 1.5, 1e-05, 0.1]
    written = [configdump.format_duration(s) for s in seconds]
    assert written == ["1m30s", "1h30m", "1d1s", "0.5s", "1.5s", "0.00001s", "0.1s"]
    assert [settings.parse_duration(w) for w in written] == seconds


def test_cli_effective_round_trips_through_config_check(tmp_path: Path) -> None:
    """`config check --effective FILE` prints YAML that `config check` accepts back."""
    (tmp_path / "gitopsd.yaml").write_text(FULL)
    shown = clitools.gitopsd("config", "check", "--effective", cwd=tmp_path, env=ENVIRON)
    assert (shown.returncode, shown.stderr) == (0, "")
    (tmp_path / "effective.yaml").write_text(shown.stdout)
    check = clitools.gitopsd("config", "check", "effective.yaml", cwd=tmp_path, env=ENVIRON)
    assert (check.returncode, check.stdout, check.stderr) == (0, "ok\n", "")
    assert [s for s in ENVIRON.values() if s in shown.stdout] == []
