"""The DynamicClient drives every listed resource end to end (issue 3, done-when)."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes_asyncio import client, watch
from kubernetes_asyncio.dynamic import DynamicClient

from kubesim.emulator import Emulator

POD_TEMPLATE = {
    "metadata": {"labels": {"app": "x"}},
    "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]},
}
SELECTOR = {"matchLabels": {"app": "x"}}

MANIFESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("v1", "Namespace", {}),
    ("v1", "ConfigMap", {"data": {"a": "1"}}),
    ("v1", "Secret", {"stringData": {"a": "1"}}),
    ("v1", "Service", {"spec": {"selector": {"app": "x"}, "ports": [{"port": 80}]}}),
    ("v1", "ServiceAccount", {}),
    ("v1", "Pod", {"spec": POD_TEMPLATE["spec"]}),
    (
        "v1",
        "PersistentVolumeClaim",
        {"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}},
    ),
    (
        "v1",
        "Event",
        {
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
            "reason": "Test",
            "message": "m",
        },
    ),
    ("v1", "ResourceQuota", {"spec": {"hard": {"pods": "10"}}}),
    ("v1", "LimitRange", {"spec": {"limits": [{"type": "Container", "default": {"cpu": "100m"}}]}}),
    (
        "apps/v1",
        "Deployment",
        {"spec": {"replicas": 1, "selector": SELECTOR, "template": POD_TEMPLATE}},
    ),
    (
        "apps/v1",
        "StatefulSet",
        {
            "spec": {
                "replicas": 1,
                "serviceName": "x",
                "selector": SELECTOR,
                "template": POD_TEMPLATE,
            }
        },
    ),
    ("apps/v1", "DaemonSet", {"spec": {"selector": SELECTOR, "template": POD_TEMPLATE}}),
    (
        "apps/v1",
        "ReplicaSet",
        {"spec": {"replicas": 1, "selector": SELECTOR, "template": POD_TEMPLATE}},
    ),
    (
        "batch/v1",
        "Job",
        {"spec": {"template": {"spec": {**POD_TEMPLATE["spec"], "restartPolicy": "Never"}}}},
    ),
    (
        "batch/v1",
        "CronJob",
        {
            "spec": {
                "schedule": "*/5 * * * *",
                "jobTemplate": {
                    "spec": {
                        "template": {"spec": {**POD_TEMPLATE["spec"], "restartPolicy": "Never"}}
                    }
                },
            }
        },
    ),
    (
        "networking.k8s.io/v1",
        "Ingress",
        {"spec": {"defaultBackend": {"service": {"name": "x", "port": {"number": 80}}}}},
    ),
    ("networking.k8s.io/v1", "NetworkPolicy", {"spec": {"podSelector": {}}}),
    (
        "rbac.authorization.k8s.io/v1",
        "Role",
        {"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]},
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "RoleBinding",
        {
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "x"},
            "subjects": [{"kind": "ServiceAccount", "name": "x", "namespace": "default"}],
        },
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "ClusterRole",
        {"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]},
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
        {
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "x",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "x", "namespace": "default"}],
        },
    ),
    (
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
        {
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "x"},
                "maxReplicas": 3,
            }
        },
    ),
    ("policy/v1", "PodDisruptionBudget", {"spec": {"minAvailable": 1, "selector": SELECTOR}}),
]


def manifest(api_version: str, kind: str, extra: dict[str, Any], name: str) -> dict[str, Any]:
    """A complete object body."""
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, "labels": {"app": "x"}},
        **extra,
    }


@pytest.mark.parametrize(
    ("api_version", "kind", "extra"), MANIFESTS, ids=[k for _, k, _ in MANIFESTS]
)
async def test_every_resource_round_trips(
    dyn: DynamicClient, api_version: str, kind: str, extra: dict[str, Any]
) -> None:
    """Discover, create, get, list, apply, patch, watch and delete one object of each resource."""
    api = await dyn.resources.get(api_version=api_version, kind=kind)
    ns = "default" if api.namespaced else None
    made = await dyn.create(api, body=manifest(api_version, kind, extra, "one"), namespace=ns)
    got = await dyn.get(api, name="one", namespace=ns)
    listed = await dyn.get(api, namespace=ns, label_selector="app=x")
    applied = await dyn.server_side_apply(
        api,
        body=manifest(api_version, kind, extra, "two"),
        name="two",
        namespace=ns,
        field_manager="gitops",
    )
    patched = await dyn.patch(
        api,
        body={"metadata": {"labels": {"patched": "yes"}}},
        name="one",
        namespace=ns,
        content_type="application/merge-patch+json",
    )
    w = watch.Watch()
    async with w:
        first = await anext(dyn.watch(api, namespace=ns, name="two", watcher=w))
    await dyn.delete(api, name="one", namespace=ns)
    await dyn.delete(api, name="two", namespace=ns)
    assert (
        made.kind,
        got.metadata.uid,
        applied.metadata.name,
        patched.metadata.labels.patched,
    ) == (kind, made.metadata.uid, "two", "yes")
    assert "one" in [i.metadata.name for i in listed.items]
    assert (first["type"], first["object"].metadata.name) == ("ADDED", "two")


async def test_typed_models_deserialize_fresh_objects(
    api_client: client.ApiClient, dyn: DynamicClient, sim: Emulator
) -> None:
    """Objects come back complete: the typed models' required-field checks accept them."""
    sim.knobs.paused.update({"deployment", "statefulset", "daemonset", "replicaset", "job"})
    for api_version, kind, extra in MANIFESTS:
        api = await dyn.resources.get(api_version=api_version, kind=kind)
        await dyn.create(
            api,
            body=manifest(api_version, kind, extra, "t"),
            namespace="default" if api.namespaced else None,
        )
    apps = client.AppsV1Api(api_client)
    batch = client.BatchV1Api(api_client)
    read = [
        await apps.read_namespaced_deployment("t", "default"),
        await apps.read_namespaced_stateful_set("t", "default"),
        await apps.read_namespaced_daemon_set("t", "default"),
        await apps.read_namespaced_replica_set("t", "default"),
        await batch.read_namespaced_job("t", "default"),
        await batch.read_namespaced_cron_job("t", "default"),
        await client.AutoscalingV2Api(api_client).read_namespaced_horizontal_pod_autoscaler(
            "t", "default"
        ),
        await client.PolicyV1Api(api_client).read_namespaced_pod_disruption_budget("t", "default"),
        await client.NetworkingV1Api(api_client).read_namespaced_ingress("t", "default"),
        await client.CoreV1Api(api_client).read_namespaced_service("t", "default"),
    ]
    assert [o.metadata.name for o in read] == ["t"] * 10
