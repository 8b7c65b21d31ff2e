"""Health assessment: golden fixtures per kind and state, severity, worst and aggregate.

Fixtures live in ``fixtures/health/``, one file per kind and state. Each file holds two
YAML documents: first ``source`` (where the expectation comes from: KUBE_API.md §6,
gitops-engine, Argo CD's health scripts or kstatus) and ``expected`` (``health`` and
``message``), then the object exactly as an API server returns it (``kubectl get -o
yaml``, managedFields left out). Expected values were written from those sources, not
from ``health.assess``'s output.
"""

from __future__ import annotations

import copy
import pathlib
from typing import Any

import hypothesis.strategies as st
import pytest
import yaml
from hypothesis import given

from daemon.core import health
from daemon.core.events import Health
from daemon.core.health import HealthStatus

FIXTURES = pathlib.Path(__file__).parent / "fixtures" / "health"
FIXTURE_FILES = sorted(FIXTURES.glob("*.yaml"))


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps timestamps as strings, as they arrive in an API server's JSON."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _load(path: pathlib.Path) -> tuple[dict[str, Any], dict[str, Any]]:
    header, obj = yaml.load_all(path.read_text(), Loader=_Loader)
    return header, obj


def _expected(header: dict[str, Any]) -> HealthStatus:
    return HealthStatus(Health(header["expected"]["health"]), header["expected"]["message"])


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.stem)
def test_golden_fixture(path: pathlib.Path) -> None:
    """Each fixture object is assessed to the health and message its file expects."""
    header, obj = _load(path)
    assert sorted(header) == ["expected", "source"]
    assert health.assess(obj) == _expected(header)


def test_fixtures_cover_every_kind_the_issue_names() -> None:
    """Every kind of issue 5 item 7 has golden fixtures, and so do custom resources."""
    kinds = {_load(path)[1]["kind"] for path in FIXTURE_FILES}
    wanted = {
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "ReplicaSet",
        "Pod",
        "Service",
        "Ingress",
        "PersistentVolumeClaim",
        "Job",
        "CronJob",
        "HorizontalPodAutoscaler",
        "Namespace",
        "CustomResourceDefinition",
        "Certificate",
        "Kustomization",
        "HelmRelease",
    }
    assert wanted - kinds == set()


def test_fixtures_reach_every_health_an_object_can_have() -> None:
    """The fixtures exercise Healthy, Suspended, Progressing and Degraded (Missing is not a live state)."""
    seen = {_expected(_load(path)[0]).health for path in FIXTURE_FILES}
    assert seen == {Health.HEALTHY, Health.SUSPENDED, Health.PROGRESSING, Health.DEGRADED}


def test_assess_leaves_the_object_unchanged() -> None:
    """Assessing reads the object and never writes to it."""
    for path in FIXTURE_FILES:
        obj = _load(path)[1]
        before = copy.deepcopy(obj)
        health.assess(obj)
        assert obj == before, path.name


def _deployment(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "generation": 1},
        "spec": {"replicas": 1, **spec},
        "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1},
    }


def test_a_field_of_the_wrong_type_makes_the_object_unknown() -> None:
    """A wrong JSON type is reported as Unknown naming the field, never raised."""
    assert health.assess(_deployment(replicas="three")) == HealthStatus(
        Health.UNKNOWN, "failed to read Deployment: spec.replicas is a string, want an integer"
    )
    bad_conditions = _deployment()
    bad_conditions["status"]["conditions"] = {"type": "Progressing"}
    assert health.assess(bad_conditions) == HealthStatus(
        Health.UNKNOWN, "failed to read Deployment: status.conditions is an object, want an array"
    )
    bad_meta = {"apiVersion": "v1", "kind": "Pod", "metadata": ["web"]}
    assert health.assess(bad_meta) == HealthStatus(
        Health.UNKNOWN, "failed to read Pod: object.metadata is an array, want an object"
    )
    bad_annotation = {
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"annotations": {"autoscaling.alpha.kubernetes.io/conditions": "[{"}},
    }
    assert health.assess(bad_annotation).health is Health.UNKNOWN


def test_an_object_without_kind_is_unknown() -> None:
    """Without kind or apiVersion there is no rule to apply."""
    assert health.assess({"metadata": {"name": "x"}}) == HealthStatus(
        Health.UNKNOWN, "object has no kind or apiVersion"
    )


def test_statefulset_without_strategy_type_compares_revisions() -> None:
    """gitops-engine's last StatefulSet branch: revisions differ is Progressing, equal is Healthy."""
    sts: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "generation": 2},
        "spec": {"replicas": 2},
        "status": {
            "observedGeneration": 2,
            "readyReplicas": 2,
            "currentReplicas": 2,
            "updatedReplicas": 1,
            "currentRevision": "db-1",
            "updateRevision": "db-2",
        },
    }
    assert health.assess(sts) == HealthStatus(
        Health.PROGRESSING,
        "waiting for statefulset rolling update to complete 1 pods at revision db-2...",
    )
    sts["status"]["currentRevision"] = "db-2"
    assert health.assess(sts) == HealthStatus(
        Health.HEALTHY, "statefulset rolling update complete 2 pods at revision db-2..."
    )


def test_pod_in_no_known_phase_is_unknown() -> None:
    """A pod whose phase matches no rule is Unknown with its status message."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"restartPolicy": "Always"},
        "status": {"phase": "Unknown", "message": "node lost"},
    }
    assert health.assess(pod) == HealthStatus(Health.UNKNOWN, "node lost")


def test_deletion_without_a_hook_finalizer_wins_over_the_kind_rule() -> None:
    """Any object being deleted is Progressing "Pending deletion", custom resources too."""
    obj: dict[str, Any] = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "deletionTimestamp": "2026-03-02T12:00:00Z", "finalizers": ["x"]},
        "status": {"conditions": [{"type": "Ready", "status": "False", "message": "broken"}]},
    }
    assert health.assess(obj) == HealthStatus(Health.PROGRESSING, "Pending deletion")
    obj["metadata"]["finalizers"] = ["gitopsd.io/hook-finalizer"]
    assert health.assess(obj) == HealthStatus(Health.DEGRADED, "broken")


def test_ready_false_with_an_in_progress_reason_is_progressing() -> None:
    """Ready False is Degraded unless its reason says the work is still under way."""
    obj: dict[str, Any] = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "generation": 1},
        "status": {
            "observedGeneration": 1,
            "conditions": [
                {"type": "Ready", "status": "False", "reason": "Progressing", "message": "wait"}
            ],
        },
    }
    assert health.assess(obj) == HealthStatus(Health.PROGRESSING, "wait")
    obj["status"]["conditions"][0]["reason"] = "Failed"
    assert health.assess(obj) == HealthStatus(Health.DEGRADED, "wait")
    obj["status"]["conditions"][0]["status"] = "True"
    assert health.assess(obj) == HealthStatus(Health.HEALTHY, "wait")
    obj["status"]["conditions"][0]["message"] = ""
    obj["status"]["conditions"][0]["reason"] = ""
    assert health.assess(obj) == HealthStatus(Health.HEALTHY, "Resource is Ready")


# -- ordering and aggregation -----------------------------------------------------------


def test_severity_orders_health_as_design_section_4_says() -> None:
    """Healthy < Suspended < Progressing < Missing < Degraded < Unknown, every code ranked."""
    assert sorted(Health, key=health.severity) == [
        Health.HEALTHY,
        Health.SUSPENDED,
        Health.PROGRESSING,
        Health.MISSING,
        Health.DEGRADED,
        Health.UNKNOWN,
    ]
    assert [health.severity(h) for h in health.ORDER] == [0, 1, 2, 3, 4, 5]


def test_missing_is_the_health_of_an_absent_object() -> None:
    """A desired object not in the cluster is Missing."""
    assert health.missing() == HealthStatus(Health.MISSING, "Not found in the cluster")


def test_worst_picks_the_most_severe() -> None:
    """Worst of several statuses is the most severe; of none, Healthy."""
    statuses = [
        HealthStatus(Health.HEALTHY),
        HealthStatus(Health.DEGRADED, "b"),
        HealthStatus(Health.MISSING, "m"),
        HealthStatus(Health.DEGRADED, "a"),
    ]
    assert health.worst(statuses) == HealthStatus(Health.DEGRADED, "a")
    assert health.worst([]) == HealthStatus(Health.HEALTHY, "")


def test_aggregate_names_the_worst_object() -> None:
    """App health is the worst object's, its message prefixed with the object's display key."""
    items = {
        "apps/Deployment/shop/web": HealthStatus(Health.PROGRESSING, "Waiting for rollout"),
        "/ConfigMap/shop/cfg": HealthStatus(Health.HEALTHY),
        "/Pod/shop/web-1": HealthStatus(Health.DEGRADED, "back-off"),
        "/Namespace//shop": HealthStatus(Health.HEALTHY),
    }
    assert health.aggregate(items) == HealthStatus(Health.DEGRADED, "Pod/shop/web-1: back-off")


def test_aggregate_counts_others_at_the_same_level() -> None:
    """Ties name the first key in sorted order and say how many more share the level."""
    items = {
        "apps/Deployment/shop/web": health.missing(),
        "/Service/shop/web": HealthStatus(Health.HEALTHY),
        "apps/Deployment/shop/api": health.missing(),
        "/Namespace//shop": health.missing(),
    }
    assert health.aggregate(items) == HealthStatus(
        Health.MISSING, "Namespace/shop: Not found in the cluster (and 2 more)"
    )


def test_aggregate_of_healthy_objects_needs_no_message() -> None:
    """All healthy (or no objects at all) is Healthy with an empty message."""
    items = {"/ConfigMap/shop/cfg": HealthStatus(Health.HEALTHY, "fine")}
    assert health.aggregate(items) == HealthStatus(Health.HEALTHY, "")
    assert health.aggregate({}) == HealthStatus(Health.HEALTHY, "")


def test_aggregate_of_an_object_without_message_shows_only_its_key() -> None:
    """An empty message leaves just the display key."""
    items = {"/Service/shop/web": HealthStatus(Health.PROGRESSING)}
    assert health.aggregate(items) == HealthStatus(Health.PROGRESSING, "Service/shop/web")


statuses = st.builds(
    HealthStatus, st.sampled_from(list(Health)), st.text(alphabet="abc", max_size=3)
)


@given(st.lists(statuses, max_size=8), st.randoms(use_true_random=False))
def test_worst_is_order_independent_and_never_milder_than_a_member(
    items: list[HealthStatus], random: Any
) -> None:
    """Any order gives the same worst, which is a member at least as severe as every member."""
    shuffled = list(items)
    random.shuffle(shuffled)
    result = health.worst(items)
    assert health.worst(shuffled) == result
    assert all(health.severity(result.health) >= health.severity(s.health) for s in items)
    assert result in items or (items == [] and result == HealthStatus(Health.HEALTHY))


keys = st.builds(
    lambda group, kind, ns, name: f"{group}/{kind}/{ns}/{name}",
    st.sampled_from(["", "apps"]),
    st.sampled_from(["Pod", "Deployment"]),
    st.sampled_from(["", "shop"]),
    st.text(alphabet="xyz", min_size=1, max_size=2),
)


@given(st.dictionaries(keys, statuses, max_size=8), st.randoms(use_true_random=False))
def test_aggregate_is_order_independent_and_as_bad_as_worst(
    items: dict[str, HealthStatus], random: Any
) -> None:
    """Aggregate does not depend on the mapping's order and has the worst member's health."""
    pairs = list(items.items())
    random.shuffle(pairs)
    result = health.aggregate(items)
    assert health.aggregate(dict(pairs)) == result
    assert result.health is health.worst(items.values()).health
