"""Which fake controllers an emulator runs."""

from __future__ import annotations

from kubesim.controllers import base, deployment, infra, lifecycle, workloads


def install(manager: base.Manager) -> None:
    """Register every fake controller on ``manager``."""
    manager.add(lifecycle.GarbageCollector(manager))
    manager.add(lifecycle.NamespaceController(manager))
    manager.add(lifecycle.CRDController(manager))
    manager.add(deployment.DeploymentController(manager))
    manager.add(workloads.ReplicaSetController(manager))
    manager.add(workloads.StatefulSetController(manager))
    manager.add(workloads.DaemonSetController(manager))
    manager.add(infra.JobController(manager))
    manager.add(infra.PVCController(manager))
    manager.add(infra.LoadBalancerController(manager, ingress=False))
    manager.add(infra.LoadBalancerController(manager, ingress=True))
