"""core.targets: label selector semantics, namespace templates, and resolving targets."""

from __future__ import annotations

import pytest

from daemon.core import targets

R = targets.Requirement
EU_PROD = {"region": "eu", "tier": "prod"}


@pytest.mark.parametrize(
    ("requirement", "labels", "expected"),
    [
        (R(key="region", operator="In", values=("eu", "us")), EU_PROD, True),
        (R(key="region", operator="In", values=("us",)), EU_PROD, False),
        (R(key="zone", operator="In", values=("a",)), EU_PROD, False),
        (R(key="region", operator="NotIn", values=("us",)), EU_PROD, True),
        (R(key="region", operator="NotIn", values=("eu",)), EU_PROD, False),
        (R(key="zone", operator="NotIn", values=("a",)), EU_PROD, True),
        (R(key="tier", operator="Exists"), EU_PROD, True),
        (R(key="zone", operator="Exists"), EU_PROD, False),
        (R(key="zone", operator="DoesNotExist"), EU_PROD, True),
        (R(key="tier", operator="DoesNotExist"), EU_PROD, False),
        (R(key="tier", operator="Exists"), {"tier": ""}, True),
    ],
)
def test_requirement_matches_as_kubernetes_does(
    requirement: targets.Requirement, labels: dict[str, str], *, expected: bool
) -> None:
    """Each operator matches as labels.Requirement.Matches does (NotIn matches a missing key)."""
    assert requirement.matches(labels) is expected


@pytest.mark.parametrize(
    ("requirement", "expected"),
    [
        (R(key="a", operator="In", values=("x",)), None),
        (R(key="a", operator="In"), "values must be non-empty when operator is In"),
        (R(key="a", operator="NotIn"), "values must be non-empty when operator is NotIn"),
        (R(key="a", operator="Exists"), None),
        (
            R(key="a", operator="Exists", values=("x",)),
            "values must be empty when operator is Exists",
        ),
        (
            R(key="a", operator="DoesNotExist", values=("x",)),
            "values must be empty when operator is DoesNotExist",
        ),
        (
            R(key="a", operator="Gt", values=("1",)),
            "operator must be one of In, NotIn, Exists, DoesNotExist, got 'Gt'",
        ),
    ],
)
def test_requirement_problem_follows_the_api_server(
    requirement: targets.Requirement, expected: str | None
) -> None:
    """Values must be given for In/NotIn and absent for Exists/DoesNotExist; operators are four."""
    assert requirement.problem() == expected


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        (targets.Selector(), {}, True),
        (targets.Selector(), EU_PROD, True),
        (targets.Selector(match_labels={"region": "eu"}), EU_PROD, True),
        (targets.Selector(match_labels={"region": "eu", "tier": "dev"}), EU_PROD, False),
        (targets.Selector(match_labels={"zone": "a"}), EU_PROD, False),
        (
            targets.Selector(
                match_labels={"region": "eu"},
                match_expressions=(R(key="tier", operator="NotIn", values=("prod",)),),
            ),
            EU_PROD,
            False,
        ),
        (
            targets.Selector(
                match_expressions=(
                    R(key="tier", operator="Exists"),
                    R(key="canary", operator="DoesNotExist"),
                )
            ),
            EU_PROD,
            True,
        ),
    ],
)
def test_selector_ands_labels_and_requirements(
    selector: targets.Selector, labels: dict[str, str], *, expected: bool
) -> None:
    """Labels and requirements are ANDed; the empty selector selects everything."""
    assert selector.matches(labels) is expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("web", []),
        ("web-{{cluster}}", ["cluster"]),
        ("{{ labels.region }}-{{cluster}}", ["labels.region", "cluster"]),
        ("{{}}", [""]),
    ],
)
def test_variables_lists_what_a_template_uses(template: str, expected: list[str]) -> None:
    """Variables are read in order, with the spaces inside the braces dropped."""
    assert targets.variables(template) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("cluster", None),
        ("labels.region", None),
        ("labels.", "unknown variable {{labels.}} (use {{cluster}} or {{labels.KEY}})"),
        ("name", "unknown variable {{name}} (use {{cluster}} or {{labels.KEY}})"),
    ],
)
def test_variable_problem_knows_cluster_and_labels(name: str, expected: str | None) -> None:
    """Only {{cluster}} and {{labels.KEY}} (with a key) are variables."""
    assert targets.variable_problem(name) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("web", "web"),
        ("web-{{cluster}}", "web-c1"),
        ("{{labels.region}}-{{ labels.tier }}-{{cluster}}", "eu-prod-c1"),
    ],
)
def test_namespace_for_fills_in_the_cluster(template: str, expected: str) -> None:
    """The cluster's name and labels replace their variables; text around them stays."""
    assert targets.namespace_for(template, cluster="c1", labels=EU_PROD) == expected


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("x-{{labels.zone}}", "cluster 'c1' has no label 'zone' ({{labels.zone}})"),
        ("x-{{name}}", "unknown variable {{name}} (use {{cluster}} or {{labels.KEY}})"),
    ],
)
def test_namespace_for_refuses_what_it_cannot_fill(template: str, message: str) -> None:
    """A missing label or an unknown variable is a TemplateError saying which."""
    with pytest.raises(targets.TemplateError) as info:
        targets.namespace_for(template, cluster="c1", labels=EU_PROD)
    assert str(info.value) == message


CLUSTERS = {
    "b": {"region": "us"},
    "a": {"region": "eu"},
    "c": {"region": "eu", "canary": "1"},
}


def test_resolve_by_names_keeps_defined_clusters_sorted() -> None:
    """Named clusters become targets in name order; an undefined name is left out."""
    assert targets.resolve(clusters=CLUSTERS, names=["c", "a", "zz"], namespace="web") == {
        "a": "web",
        "c": "web",
    }


def test_resolve_by_selector_templates_each_target() -> None:
    """A selector picks by labels and each target gets its own namespace."""
    selector = targets.Selector(
        match_labels={"region": "eu"},
        match_expressions=(R(key="canary", operator="DoesNotExist"),),
    )
    assert targets.resolve(
        clusters=CLUSTERS, selector=selector, namespace="{{labels.region}}-{{cluster}}"
    ) == {"a": "eu-a"}
    assert targets.resolve(clusters=CLUSTERS, selector=targets.Selector(), namespace="n") == {
        "a": "n",
        "b": "n",
        "c": "n",
    }


def test_resolve_without_names_or_selector_selects_nothing() -> None:
    """No names and no selector: no target (the config checks refuse such a destination)."""
    assert targets.resolve(clusters=CLUSTERS, namespace="web") == {}
