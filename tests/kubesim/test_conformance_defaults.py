"""Defaulting (KUBE_API.md §2.2) as clients read it back."""

from __future__ import annotations

from kubernetes_asyncio import client
from test_conformance_crud import deployment


async def test_defaults_on_service(core: client.CoreV1Api) -> None:
    """A Service gets a cluster IP and the defaults of §2.2."""
    svc = await core.create_namespaced_service(
        "default",
        {
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
        },
    )
    spec = svc.spec
    assert (spec.type, spec.cluster_ip == spec.cluster_ips[0], spec.session_affinity) == (
        "ClusterIP",
        True,
        "None",
    )
    assert (spec.ip_families, spec.ip_family_policy, spec.internal_traffic_policy) == (
        ["IPv4"],
        "SingleStack",
        "Cluster",
    )
    assert (spec.ports[0].protocol, spec.ports[0].target_port) == ("TCP", 80)


async def test_deployment_defaults(apps: client.AppsV1Api) -> None:
    """A Deployment gets the §2.2 defaults (replicas, strategy, pod template, container)."""
    made = await apps.create_namespaced_deployment("default", deployment("web"))
    spec = made.spec
    container = spec.template.spec.containers[0]
    assert (spec.revision_history_limit, spec.progress_deadline_seconds, spec.strategy.type) == (
        10,
        600,
        "RollingUpdate",
    )
    assert (
        spec.strategy.rolling_update.max_surge,
        spec.strategy.rolling_update.max_unavailable,
    ) == ("25%", "25%")
    pod = spec.template.spec
    assert (
        pod.restart_policy,
        pod.dns_policy,
        pod.termination_grace_period_seconds,
        pod.scheduler_name,
    ) == (
        "Always",
        "ClusterFirst",
        30,
        "default-scheduler",
    )
    assert (
        container.image_pull_policy,
        container.termination_message_path,
        container.termination_message_policy,
    ) == (
        "IfNotPresent",
        "/dev/termination-log",
        "File",
    )
