"""diff.compare: what gitopsd sets must match; what it owned and dropped is a difference."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from daemon.core import diff

DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "prod", "labels": {"app": "web"}},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [
                    {
                        "name": "web",
                        "image": "nginx:1.27",
                        "ports": [{"containerPort": 80}],
                        "resources": {"limits": {"cpu": "0.5", "memory": "1Gi"}},
                    }
                ]
            },
        },
    },
}


def live_of(desired: dict[str, Any]) -> dict[str, Any]:
    """The object as a real API server returns it: defaults, status, server metadata added."""
    desired = copy.deepcopy(desired)
    spec = desired["spec"]
    container = spec["template"]["spec"]["containers"][0]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            **desired["metadata"],
            "uid": "u-1",
            "resourceVersion": "42",
            "generation": 2,
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "annotations": {"deployment.kubernetes.io/revision": "1"},
        },
        "spec": {
            **spec,
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
            "strategy": {"type": "RollingUpdate"},
            "template": {
                "metadata": spec["template"]["metadata"],
                "spec": {
                    "containers": [
                        {
                            **container,
                            "ports": [{"containerPort": 80, "protocol": "TCP"}],
                            "resources": {"limits": {"cpu": "500m", "memory": "1Gi"}},
                            "imagePullPolicy": "IfNotPresent",
                            "terminationMessagePath": "/dev/termination-log",
                        },
                        {"name": "istio-proxy", "image": "istio/proxyv2"},
                    ],
                    "restartPolicy": "Always",
                    "dnsPolicy": "ClusterFirst",
                },
            },
        },
        "status": {"replicas": 3, "readyReplicas": 3},
    }


def test_defaults_status_and_injected_items_are_not_differences() -> None:
    """Server defaults, status, quantities written differently and a sidecar are in sync."""
    assert diff.compare(DEPLOYMENT, live_of(DEPLOYMENT)) == []


def test_changed_fields_are_named_with_both_values() -> None:
    """A changed replica count and image are each a difference with desired and live values."""
    live = live_of(DEPLOYMENT)
    live["spec"]["replicas"] = 5
    live["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.26"
    assert diff.compare(DEPLOYMENT, live) == [
        diff.Difference(".spec.replicas", 3, 5),
        diff.Difference(
            '.spec.template.spec.containers[name="web"].image', "nginx:1.27", "nginx:1.26"
        ),
    ]
    assert diff.compare(DEPLOYMENT, live)[0].describe() == ".spec.replicas: 5 -> 3"


@pytest.mark.parametrize(
    ("want", "have", "same"),
    [
        ("500m", "0.5", True),
        ("1Gi", "1024Mi", True),
        ("1G", "1000M", True),
        ("1", "1000m", True),
        ("2", "1", False),
        ("100Mi", "100M", False),
        (1, 1.0, True),
    ],
)
def test_quantities_compare_by_value(want: Any, have: Any, same: bool) -> None:
    """Resource quantities are equal when their values are, however written."""
    desired = {"kind": "Pod", "spec": {"resources": {"requests": {"cpu": want}}}}
    live = {"kind": "Pod", "spec": {"resources": {"requests": {"cpu": have}}}}
    assert diff.is_in_sync(desired, live) is same


def test_quantity_rules_do_not_apply_to_labels() -> None:
    """A label "1k" differs from "1000": only resource quantities compare by value."""
    desired = {"kind": "Pod", "metadata": {"labels": {"size": "1k"}}}
    live = {"kind": "Pod", "metadata": {"labels": {"size": "1000"}}}
    assert diff.compare(desired, live) == [diff.Difference(".metadata.labels.size", "1k", "1000")]


def test_booleans_are_not_numbers() -> None:
    """JSON true differs from 1 (Python would call them equal)."""
    assert diff.compare({"spec": {"x": True}}, {"spec": {"x": 1}}) == [
        diff.Difference(".spec.x", True, 1)
    ]


def test_atomic_lists_compare_whole() -> None:
    """Lists without a merge key (args) differ when their items or length differ."""
    desired = {"spec": {"args": ["--a", "--b"]}}
    assert diff.is_in_sync(desired, {"spec": {"args": ["--a", "--b"]}})
    assert not diff.is_in_sync(desired, {"spec": {"args": ["--a"]}})
    assert not diff.is_in_sync(desired, {"spec": {"args": ["--a", "--b", "--c"]}})


def test_secret_string_data_matches_data() -> None:
    """Secret stringData is compared with data (the server moves it there)."""
    desired = {"apiVersion": "v1", "kind": "Secret", "stringData": {"password": "hmac-sha256:aa"}}
    live = {"apiVersion": "v1", "kind": "Secret", "data": {"password": "hmac-sha256:aa"}}
    assert diff.compare(desired, live) == []
    live["data"]["password"] = "hmac-sha256:bb"
    assert diff.compare(desired, live) == [
        diff.Difference(".data.password", "hmac-sha256:aa", "hmac-sha256:bb")
    ]


def test_fields_owned_by_gitopsd_but_no_longer_desired_are_differences() -> None:
    """A label and a container gitopsd applied earlier and Git dropped would be removed."""
    live = live_of(DEPLOYMENT)
    live["metadata"]["labels"]["tier"] = "front"
    live["spec"]["template"]["spec"]["containers"].append({"name": "old", "image": "x"})
    live["metadata"]["managedFields"] = [
        {
            "manager": "gitopsd",
            "operation": "Apply",
            "apiVersion": "apps/v1",
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {"f:app": {}, "f:tier": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:template": {
                        "f:spec": {
                            "f:containers": {
                                'k:{"name":"web"}': {".": {}, "f:image": {}, "f:name": {}},
                                'k:{"name":"old"}': {".": {}, "f:image": {}, "f:name": {}},
                            }
                        }
                    },
                },
            },
        },
        {
            "manager": "istio",
            "operation": "Update",
            "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {}}}}},
        },
    ]
    assert diff.compare(DEPLOYMENT, live) == [
        diff.Difference(".metadata.labels.tier", diff.MISSING, "front"),
        diff.Difference(
            '.spec.template.spec.containers[name="old"]',
            diff.MISSING,
            {"name": "old", "image": "x"},
        ),
    ]


def test_missing_fields_and_nulls() -> None:
    """A desired field absent from live differs; a desired null matches an absent field."""
    assert diff.compare({"spec": {"a": 1}}, {"spec": {}}) == [
        diff.Difference(".spec.a", 1, diff.MISSING)
    ]
    assert diff.compare({"spec": {"a": None}}, {"spec": {}}) == []
    assert diff.compare({"spec": {"a": {}}}, {"spec": {}}) == []


def test_zero_values_match_fields_the_server_omits() -> None:
    """Desired false, 0 and "" equal an absent live field (omitempty); a non-zero one does not."""
    desired = {
        "spec": {
            "paused": False,
            "minReadySeconds": 0,
            "template": {"spec": {"containers": [{"name": "a", "stdin": False, "workingDir": ""}]}},
        }
    }
    live = {"spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}}
    assert diff.compare(desired, live) == []
    assert diff.compare({"spec": {"minReadySeconds": 5}}, live) == [
        diff.Difference(".spec.minReadySeconds", 5, diff.MISSING)
    ]


def test_repeated_merge_keys_compare_item_by_item() -> None:
    """Two env entries with one name are compared by position, not paired with one live item."""
    env = [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]
    desired = {"spec": {"containers": [{"name": "c", "env": env}]}}
    live = {"spec": {"containers": [{"name": "c", "env": [dict(e) for e in env]}]}}
    assert diff.compare(desired, live) == []
    assert diff.is_in_sync(desired, live)
