"""gitopsd.yaml: schema, validation with FILE:LINE errors, env references, defaults."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from daemon import settings
from daemon.errors import ConfigError

GOOD = """\
state_dir: /var/lib/gitopsd
database:
  url: ${DB_URL}
  pool_size: 5
http:
  listen: 127.0.0.1:9000
clusters:
  - name: prod
    kubeconfig: /etc/gitopsd/prod.kubeconfig
    context: prod
    labels: {region: eu}
sources:
  - name: infra
    url: https://git.example.com/infra.git
    branch: main
    interval: 30s
    auth:
      token: ${GIT_TOKEN}
apps:
  - name: web
    source: infra
    path: apps/web
    destination: {cluster: prod, namespace: web}
    sync: {auto: true, retry: {limit: 3, backoff: 10s, max_backoff: 5m}}
"""


def problems(text: str, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        settings.loads(textwrap.dedent(text), filename="g.yaml", environ=environ or {})
    return info.value.problems


def test_valid_file_loads_with_env_references() -> None:
    """A valid file loads; ${VAR} references resolve; secrets print as ***."""
    config = settings.loads(
        GOOD,
        filename="g.yaml",
        environ={"DB_URL": "postgresql://u:pw@db/x", "GIT_TOKEN": "s3cr3t-t0ken"},
    )
    assert config.database.url is not None
    assert config.database.url.reveal() == "postgresql://u:pw@db/x"
    assert config.database_url() == "postgresql://u:pw@db/x"
    assert config.sources[0].auth is not None
    assert str(config.sources[0].auth.token) == "***"
    assert "s3cr3t" not in repr(config)
    assert config.sources[0].interval == 30.0
    assert config.apps[0].sync.retry.max_backoff == 300.0
    assert config.clusters[0].labels == {"region": "eu"}
    assert config.apps[0].destination == settings.DestinationConfig(cluster="prod", namespace="web")


def test_unknown_key_and_wrong_type_name_line_and_path() -> None:
    """Unknown keys and wrong types are reported as FILE:LINE: key.path: problem."""
    found = problems(
        """\
        database:
          pool_size: lots
          colour: blue
        """
    )
    assert found == [
        "g.yaml:2: database.pool_size: expected an integer, got a string",
        "g.yaml:3: database.colour: unknown key (known keys: pool_size, url)",
    ]


def test_bad_durations_are_rejected() -> None:
    """Durations need a unit; every bad one is listed with its line."""
    found = problems(
        """\
        clusters:
          - {name: a, kubeconfig: k, timeout: 30}
        sources:
          - name: s
            url: file:///r
            interval: 5x
          - name: t
            url: file:///r
            interval: 1h30m
        """
    )
    assert found == [
        "g.yaml:2: clusters[0].timeout: expected a duration like 30s, 5m, 1h or 7d, got an integer",
        (
            "g.yaml:6: sources[0].interval: bad duration '5x': write a number and a unit, "
            "e.g. 30s, 5m, 1h, 7d"
        ),
    ]


def test_duration_units() -> None:
    """30s, 5m, 1h, 7d and compounds parse to seconds."""
    assert [settings.parse_duration(t) for t in ("30s", "5m", "1h", "7d", "1h30m", "250ms")] == [
        30.0,
        300.0,
        3600.0,
        604800.0,
        5400.0,
        0.25,
    ]


def test_names_must_be_dns1123_labels_and_unique() -> None:
    """Bad names and duplicate names are errors naming both places."""
    found = problems(
        """\
        clusters:
          - {name: Prod_1, kubeconfig: k}
          - {name: dev, kubeconfig: k}
          - {name: dev, kubeconfig: k2}
        """
    )
    assert found[0].startswith("g.yaml:2: clusters[0].name: 'Prod_1' is not a DNS-1123 label")
    assert len(found) == 1  # the duplicate is checked only once the types are valid
    found = problems(
        """\
        clusters:
          - {name: dev, kubeconfig: k}
          - {name: dev, kubeconfig: k2}
        """
    )
    assert found == ["g.yaml:3: clusters[1].name: duplicate name 'dev' (also clusters[0])"]


def test_undefined_references() -> None:
    """An app naming an undefined source or cluster is an error at that line."""
    found = problems(
        """\
        clusters:
          - {name: dev, kubeconfig: k}
        sources:
          - {name: infra, url: file:///r}
        apps:
          - name: web
            source: missing
            destination:
              cluster: prod
        """
    )
    assert found == [
        "g.yaml:7: apps[0].source: undefined source 'missing' (defined: infra)",
        "g.yaml:9: apps[0].destination.cluster: undefined cluster 'prod' (defined: dev)",
    ]


def test_required_keys_and_missing_env() -> None:
    """Missing required keys and unset environment variables are reported, values never shown."""
    found = problems(
        """\
        sources:
          - name: s
            auth: {token: "${NOPE}"}
        """
    )
    assert found == [
        "g.yaml:2: sources[0].url: required key is missing",
        "g.yaml:3: sources[0].auth.token: environment variable NOPE is not set",
    ]


def test_env_values_are_never_echoed() -> None:
    """A bad value that came from the environment is not printed in the error."""
    found = problems(
        """\
        clusters:
          - {name: "${SECRET_NAME}", kubeconfig: k}
        """,
        environ={"SECRET_NAME": "Hunter2_Password"},
    )
    assert len(found) == 1
    assert "Hunter2" not in found[0]
    assert "(value from the environment, not shown)" in found[0]


def test_duplicate_yaml_keys_and_bad_yaml() -> None:
    """Duplicate mapping keys and YAML syntax errors carry their line."""
    assert problems("http:\n  listen: a\n  listen: b\n") == ["g.yaml:3: http.listen: duplicate key"]
    assert problems("apps: [\n  {name: x\n") == [
        "g.yaml:3: invalid YAML: did not find expected ',' or '}'"
    ]


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    """An empty file is valid: embedded database, local state directory, nothing to deploy."""
    path = tmp_path / "gitopsd.yaml"
    path.write_text("")
    config = settings.load(path, environ={})
    assert (config.apps, config.sources, config.clusters) == ([], [], [])
    assert config.database.url is None
    assert config.http.listen == "127.0.0.1:8089"


def test_one_ref_kind_per_source_and_cluster_access() -> None:
    """A source follows one ref kind; a cluster needs kubeconfig or in_cluster, not both."""
    found = problems(
        """\
        clusters:
          - {name: a}
          - {name: b, in_cluster: true, kubeconfig: k}
        sources:
          - {name: s, url: file:///r, branch: main, tag: v1}
        """
    )
    assert found == [
        "g.yaml:2: clusters[0]: set kubeconfig (with an optional context) or in_cluster: true",
        "g.yaml:3: clusters[1]: in_cluster and kubeconfig exclude each other",
        "g.yaml:5: sources[0]: set only one of branch, tag, semver, commit (got branch, tag)",
    ]


def test_cluster_namespaces_are_dns1123_labels() -> None:
    """A cluster's `namespaces` (namespaced RBAC) lists DNS-1123 labels; the default is all."""
    config = settings.loads(
        "clusters:\n  - {name: a, kubeconfig: k, namespaces: [web, api]}\n  - {name: b, kubeconfig: k}\n",
        filename="g.yaml",
    )
    assert [c.namespaces for c in config.clusters] == [["web", "api"], []]
    found = problems(
        """\
        clusters:
          - {name: a, kubeconfig: k, namespaces: [Web]}
        """
    )
    assert len(found) == 1
    assert found[0].startswith("g.yaml:2: clusters[0].namespaces[0]: 'Web' is not a DNS-1123 label")


def test_yaml_11_numbers_python_cannot_read_are_problems_not_tracebacks() -> None:
    """Octal 017, base-60 1:30, .inf, .nan and overflowing floats are reported with their line."""
    text = """\
        database: {pool_size: 017}
        clusters:
          - {name: a, kubeconfig: k, burst: 1:30, qps: .inf}
          - {name: b, kubeconfig: k, qps: .nan}
          - {name: c, kubeconfig: k, qps: 1.0e+999}
        """
    finite = "expected a finite number like 50 or 0.5, got"
    assert problems(text) == [
        "g.yaml:1: database.pool_size: expected a decimal integer, got '017'",
        "g.yaml:3: clusters[0].burst: expected a decimal integer, got '1:30'",
        f"g.yaml:3: clusters[0].qps: {finite} '.inf'",
        f"g.yaml:4: clusters[1].qps: {finite} '.nan'",
        f"g.yaml:5: clusters[2].qps: {finite} '1.0e+999'",
    ]
