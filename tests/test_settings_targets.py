"""gitopsd.yaml destinations: one cluster, a list or a selector, namespace templates, errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from daemon import configdump, settings
from daemon.errors import ConfigError

CANARIES = {3, 6, 9, 12}


def fleet() -> str:
    """20 clusters: c01-c08 in eu, c09-c16 in us, c17-c20 in ap (profile edge), odd ones prod."""
    lines = ["clusters:"]
    for n in range(1, 21):
        region = "eu" if n <= 8 else "us" if n <= 16 else "ap"
        labels = {"fleet": "main", "region": region, "tier": "prod" if n % 2 else "staging"}
        if n in CANARIES:
            labels["canary"] = "wave-1"
        if region == "ap":
            labels["profile"] = "edge"
        shown = ", ".join(f"{k}: {v}" for k, v in labels.items())
        lines.append(f"  - {{name: c{n:02}, kubeconfig: /k, labels: {{{shown}}}}}")
    lines.append("sources: [{name: s, url: file:///r}]")
    return "\n".join(lines) + "\n"


def load(text: str, environ: dict[str, str] | None = None) -> settings.Config:
    return settings.loads(text, filename="g.yaml", environ=environ or {})


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(text)
    return info.value.problems


def targets(config: settings.Config) -> dict[str, dict[str, str]]:
    return {app.name: settings.targets_of(config, app) for app in config.apps}


SMALL = """\
clusters:
  - {name: a, kubeconfig: /k, labels: {region: eu}}
  - {name: b, kubeconfig: /k, labels: {region: us, tier: prod}}
sources: [{name: s, url: file:///r}]
apps:
"""


def test_three_forms_resolve_to_their_targets() -> None:
    """Cluster, clusters and a selector (all four operators) resolve to templated targets."""
    text = fleet() + textwrap.dedent(
        """\
        apps:
          - name: api
            source: s
            render: {type: plain}
            destination: {cluster: c02, namespace: api}
          - name: web
            source: s
            render: {type: plain}
            destination: {clusters: [c05, c01], namespace: "web-{{labels.tier}}"}
          - name: shop
            source: s
            render: {type: plain}
            destination:
              selector:
                matchLabels: {fleet: main}
                matchExpressions:
                  - {key: region, operator: In, values: [eu, us]}
                  - {key: canary, operator: DoesNotExist}
                  - {key: profile, operator: NotIn, values: [edge]}
                  - {key: tier, operator: Exists}
              namespace: "shop-{{labels.region}}-{{ cluster }}"
        """
    )
    config = load(text)
    picked = [n for n in range(1, 17) if n not in CANARIES]
    assert targets(config) == {
        "api": {"c02": "api"},
        "web": {"c01": "web-prod", "c05": "web-prod"},
        "shop": {f"c{n:02}": f"shop-{'eu' if n <= 8 else 'us'}-c{n:02}" for n in picked},
    }
    assert len(targets(config)["shop"]) == 12
    assert config.warnings == ()


def test_empty_selector_selects_every_cluster() -> None:
    """``selector: {}`` selects all clusters (as Kubernetes' empty selector does)."""
    config = load(fleet() + "apps: [{name: x, source: s, destination: {selector: {}}}]\n")
    assert targets(config) == {"x": {f"c{n:02}": "default" for n in range(1, 21)}}


def test_selector_that_selects_nothing_is_a_warning_not_an_error() -> None:
    """A selector matching no cluster loads; the config carries a FILE:LINE warning for it."""
    text = SMALL + (
        "  - name: x\n"
        "    source: s\n"
        "    destination:\n"
        "      selector: {matchLabels: {region: ap}}\n"
    )
    config = load(text)
    assert targets(config) == {"x": {}}
    assert config.warnings == (
        (
            "g.yaml:9: apps[0].destination.selector: selects no cluster yet (of 2): "
            "app 'x' deploys nowhere until a cluster's labels match"
        ),
    )


def test_destination_needs_exactly_one_form() -> None:
    """No cluster, clusters or selector is an error; two of them name both."""
    text = SMALL + (
        "  - {name: x, source: s, destination: {namespace: web}}\n"
        "  - name: y\n"
        "    source: s\n"
        "    destination:\n"
        "      cluster: a\n"
        "      selector: {matchLabels: {region: eu}}\n"
    )
    assert problems(text) == [
        "g.yaml:6: apps[0].destination: set one of cluster, clusters or selector",
        (
            "g.yaml:11: apps[1].destination: "
            "set only one of cluster, clusters or selector (got cluster and selector)"
        ),
    ]


def test_named_clusters_must_be_defined_and_listed_once() -> None:
    """``cluster`` and each ``clusters[i]`` must be defined; a list names a cluster once."""
    text = SMALL + (
        "  - {name: x, source: s, destination: {cluster: z}}\n"
        "  - name: y\n"
        "    source: s\n"
        "    destination:\n"
        "      clusters:\n"
        "        - a\n"
        "        - q\n"
        "        - a\n"
    )
    assert problems(text) == [
        "g.yaml:6: apps[0].destination.cluster: undefined cluster 'z' (defined: a, b)",
        "g.yaml:12: apps[1].destination.clusters[1]: undefined cluster 'q' (defined: a, b)",
        "g.yaml:13: apps[1].destination.clusters[2]: duplicate cluster 'a' (also clusters[0])",
    ]


def test_selector_is_validated_as_kubernetes_validates_it() -> None:
    """Values per operator, label keys and values, and the YAML key names are checked."""
    text = SMALL + textwrap.indent(
        textwrap.dedent(
            """\
            - name: x
              source: s
              destination:
                selector:
                  matchLabels: {"-bad": ok, good: "not ok"}
                  matchExpressions:
                    - {key: region, operator: In}
                    - {key: tier, operator: Exists, values: [prod]}
                    - {key: "Example.com/x", operator: NotIn, values: ["a b"]}
            """
        ),
        "  ",
    )
    assert problems(text) == [
        (
            "g.yaml:10: apps[0].destination.selector.matchLabels.-bad: label key '-bad': the name "
            "must be alphanumeric characters, '-', '_' or '.', starting and ending with an "
            "alphanumeric character, at most 63 characters"
        ),
        (
            "g.yaml:10: apps[0].destination.selector.matchLabels.good: label value 'not ok' must be "
            "empty or alphanumeric characters, '-', '_' or '.', starting and ending with an "
            "alphanumeric character, at most 63 characters"
        ),
        (
            "g.yaml:12: apps[0].destination.selector.matchExpressions[0].values: "
            "values must be non-empty when operator is In"
        ),
        (
            "g.yaml:13: apps[0].destination.selector.matchExpressions[1].values: "
            "values must be empty when operator is Exists"
        ),
        (
            "g.yaml:14: apps[0].destination.selector.matchExpressions[2].key: label key "
            "'Example.com/x': the prefix before '/' must be a DNS subdomain (lowercase, e.g. "
            "example.com)"
        ),
        (
            "g.yaml:14: apps[0].destination.selector.matchExpressions[2].values[0]: label value "
            "'a b' must be empty or alphanumeric characters, '-', '_' or '.', starting and ending "
            "with an alphanumeric character, at most 63 characters"
        ),
    ]


def test_selector_keys_are_spelled_as_kubernetes_spells_them() -> None:
    """An unknown key lists matchLabels/matchExpressions; a bad operator lists the four."""
    text = SMALL + (
        "  - name: x\n"
        "    source: s\n"
        "    destination:\n"
        "      selector:\n"
        "        match_labels: {region: eu}\n"
        "        matchExpressions: [{key: region, operator: in, values: [eu]}]\n"
    )
    assert problems(text) == [
        (
            "g.yaml:10: apps[0].destination.selector.match_labels: "
            "unknown key (known keys: matchExpressions, matchLabels)"
        ),
        (
            "g.yaml:11: apps[0].destination.selector.matchExpressions[0].operator: "
            "must be one of In, NotIn, Exists, DoesNotExist, got 'in'"
        ),
    ]


def test_namespace_template_errors_name_the_cluster() -> None:
    """Unknown variables, missing labels and non-DNS-1123 namespaces name line and cluster."""
    text = SMALL + (
        "  - {name: v, source: s, render: {type: plain},\n"
        "     destination: {cluster: a, namespace: 'x-{{name}}'}}\n"
        "  - {name: w, source: s, render: {type: plain},\n"
        "     destination: {clusters: [a, b], namespace: 'x-{{labels.tier}}'}}\n"
        "  - {name: x, source: s, render: {type: plain},\n"
        "     destination: {selector: {}, namespace: 'x_{{cluster}}'}}\n"
        "  - {name: y, source: s, destination: {cluster: a, namespace: Web}}\n"
    )
    rule = (
        "is not a DNS-1123 label (lowercase letters, digits and '-', starting and ending "
        "with a letter or digit, at most 63 characters)"
    )
    assert problems(text) == [
        (
            "g.yaml:7: apps[0].destination.namespace: "
            "unknown variable {{name}} (use {{cluster}} or {{labels.KEY}})"
        ),
        (
            "g.yaml:9: apps[1].destination.namespace: cluster 'a' has no label 'tier' "
            "({{labels.tier}})"
        ),
        f"g.yaml:11: apps[2].destination.namespace: namespace 'x_a' (on cluster 'a') {rule}",
        f"g.yaml:11: apps[2].destination.namespace: namespace 'x_b' (on cluster 'b') {rule}",
        f"g.yaml:12: apps[3].destination.namespace: namespace 'Web' {rule}",
    ]


def test_templated_namespace_needs_an_explicit_helm_namespace() -> None:
    """A templated namespace needs render.helm.namespace for type helm; auto leaves it empty."""
    text = SMALL + (
        "  - {name: h, source: s, render: {type: helm},\n"
        "     destination: {clusters: [a, b], namespace: 'web-{{cluster}}'}}\n"
        "  - {name: u, source: s, destination: {cluster: a, namespace: 'web-{{cluster}}'}}\n"
        "  - {name: p, source: s, render: {type: plain},\n"
        "     destination: {cluster: a, namespace: 'web-{{cluster}}'}}\n"
    )
    assert problems(text) == [
        (
            "g.yaml:7: apps[0].destination.namespace: 'web-{{cluster}}' is templated per target, "
            "but Helm renders once for all targets: set render.helm.namespace (the release "
            "namespace)"
        ),
    ]
    # ``auto`` renders Helm only on a chart, which the config cannot see: the namespace is
    # left empty, and the Helm renderer refuses it with the same advice.
    auto = load(
        SMALL
        + "  - {name: u, source: s, destination: {cluster: a, namespace: 'web-{{cluster}}'}}\n"
    )
    assert auto.apps[0].render.helm.namespace == ""


def test_helm_namespace_defaults_to_a_fixed_destination_namespace_only() -> None:
    """A fixed namespace is Helm's default; with a template the explicit one is kept."""
    text = SMALL + (
        "  - {name: f, source: s, destination: {cluster: a, namespace: web}}\n"
        "  - {name: t, source: s, render: {helm: {namespace: shop}},\n"
        "     destination: {clusters: [a, b], namespace: 'shop-{{labels.region}}'}}\n"
    )
    config = load(text)
    assert [app.render.helm.namespace for app in config.apps] == ["web", "shop"]
    assert targets(config) == {"f": {"a": "web"}, "t": {"a": "shop-eu", "b": "shop-us"}}


def test_effective_config_writes_selectors_with_their_yaml_keys(tmp_path: Path) -> None:
    """The effective config writes matchLabels (and ${ENV} as written); it loads back equal."""
    text = SMALL + (
        "  - name: x\n"
        "    source: s\n"
        "    render: {type: plain}\n"
        "    destination:\n"
        "      selector:\n"
        "        matchLabels: {region: '${REGION}'}\n"
        "        matchExpressions: [{key: tier, operator: DoesNotExist}]\n"
        "      namespace: 'x-{{cluster}}'\n"
    )
    environ = {"REGION": "eu"}
    original = load(text, environ)
    shown = configdump.effective(original)
    assert yaml.safe_load(shown)["apps"][0]["destination"] == {
        "cluster": None,
        "clusters": [],
        "selector": {
            "matchLabels": {"region": "${REGION}"},
            "matchExpressions": [{"key": "tier", "operator": "DoesNotExist", "values": []}],
        },
        "namespace": "x-{{cluster}}",
    }
    (tmp_path / "effective.yaml").write_text(shown)
    again = settings.load(tmp_path / "effective.yaml", environ=environ)
    assert settings.targets_of(again, again.apps[0]) == {"a": "x-a"}
    assert again.apps == original.apps
