"""Workload field validation (kubesim.validation), worded as apimachinery's field errors.

Expected strings follow KUBE_API.md §2.3 and pkg/apis/apps/validation (selector vs
template labels, required containers, restart policy), written by hand.
"""

from __future__ import annotations

from typing import Any

from kubesim import validation

JSON = dict[str, Any]


def deployment(**spec: Any) -> JSON:
    base: JSON = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"restartPolicy": "Always", "containers": [{"name": "c", "image": "x:1"}]},
        },
    }
    base.update(spec)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": base,
    }


def messages(obj: JSON, group: str = "apps", kind: str = "Deployment") -> list[str]:
    return [str(e) for e in validation.validate(obj, group=group, kind=kind)]


def test_a_valid_deployment_has_no_errors() -> None:
    """The happy path yields nothing."""
    assert messages(deployment()) == []


def test_selector_must_match_template_labels() -> None:
    """The §2.3-style message with Go's %#v of the template labels."""
    obj = deployment(selector={"matchLabels": {"app": "other"}})
    assert messages(obj) == [
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`'
    ]


def test_match_expressions_count_for_the_selector() -> None:
    """MatchExpressions are evaluated with In/NotIn/Exists/DoesNotExist."""
    ok = {
        "matchExpressions": [
            {"key": "app", "operator": "In", "values": ["web"]},
            {"key": "x", "operator": "DoesNotExist"},
        ]
    }
    bad = {"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["web"]}]}
    assert messages(deployment(selector=ok)) == []
    assert len(messages(deployment(selector=bad))) == 1


def test_negative_replicas_and_missing_selector() -> None:
    """Replicas >= 0 and a required selector, in the server's order."""
    obj = deployment(replicas=-1)
    del obj["spec"]["selector"]
    assert messages(obj) == [
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
        "spec.selector: Required value",
    ]


def test_container_rules() -> None:
    """Containers need a unique RFC 1123 name and an image."""
    obj = deployment()
    obj["spec"]["template"]["spec"]["containers"] = [
        {"name": "a", "image": "x"},
        {"name": "a"},
        {"image": "y"},
        {"name": "Bad_Name", "image": "z"},
    ]
    assert messages(obj) == [
        'spec.template.spec.containers[1].name: Duplicate value: "a"',
        "spec.template.spec.containers[1].image: Required value",
        "spec.template.spec.containers[2].name: Required value",
        "spec.template.spec.containers[3].name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
    ]


def test_pods_need_containers() -> None:
    """An empty container list is a required-value error."""
    obj = deployment()
    obj["spec"]["template"]["spec"]["containers"] = []
    assert messages(obj) == ["spec.template.spec.containers: Required value"]


def test_restart_policy_per_kind() -> None:
    """Deployments need Always; Jobs need OnFailure or Never."""
    obj = deployment()
    obj["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    assert messages(obj) == [
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"'
    ]
    job = {
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Always", "containers": [{"name": "c", "image": "x"}]}
            }
        }
    }
    assert messages(job, "batch", "Job") == [
        'spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"'
    ]


def test_other_kinds_are_not_checked_here() -> None:
    """Kinds without rules in this module yield nothing."""
    assert messages({"data": {"a": 1}}, "", "ConfigMap") == []
