"""Fake controllers (KUBE_API.md §6): rollout status as health checks read it, Jobs, PVCs, LBs."""

from __future__ import annotations

from typing import Any

from kubernetes_asyncio import client
from simclient import Raw, read_lines

from kubesim.emulator import Emulator

DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"
MERGE = "application/merge-patch+json"


def deployment(name: str = "web", image: str = "nginx:1.27", replicas: int = 3) -> dict[str, Any]:
    """A Deployment manifest."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
        },
    }


def deployment_health(obj: dict[str, Any]) -> str:
    """gitops-engine's Deployment health rules (§6.3), written from the spec."""
    meta, spec, status = obj["metadata"], obj["spec"], obj.get("status") or {}
    if spec.get("paused"):
        return "Suspended"
    if meta["generation"] > status.get("observedGeneration", 0):
        return "Progressing"
    progressing = next(
        (c for c in status.get("conditions", []) if c["type"] == "Progressing"), None
    )
    if progressing and progressing["reason"] == "ProgressDeadlineExceeded":
        return "Degraded"
    updated = status.get("updatedReplicas", 0)
    if (
        updated < spec["replicas"]
        or status.get("replicas", 0) > updated
        or status.get("availableReplicas", 0) < updated
    ):
        return "Progressing"
    return "Healthy"


def row(obj: dict[str, Any]) -> tuple[Any, ...]:
    """One line of the §6.2 table: gen, observedGen, replicas, updated, ready, available, reason."""
    status = obj.get("status") or {}
    progressing = next(
        (c["reason"] for c in status.get("conditions", []) if c["type"] == "Progressing"), None
    )
    return (
        obj["metadata"]["generation"],
        status.get("observedGeneration", 0),
        status.get("replicas", 0),
        status.get("updatedReplicas", 0),
        status.get("readyReplicas", 0),
        status.get("availableReplicas", 0),
        progressing,
    )


async def history(raw: Raw, path: str, since: int, count: int) -> list[dict[str, Any]]:
    """The objects of the first ``count`` watch events after ``since``."""
    return [
        e["object"] for e in await read_lines(raw, f"{path}?watch=1&resourceVersion={since}", count)
    ]


async def test_fresh_deployment_status_sequence(raw: Raw, sim: Emulator) -> None:
    """A new Deployment shows status {} then NewReplicaSetCreated, then all available."""
    mark = sim.resource_version
    made = (await raw("POST", DEPLOYS, body=deployment())).json()
    assert made["status"] == {}
    await sim.idle()
    seen = await history(raw, DEPLOYS, mark, 3)
    assert [row(o) for o in seen] == [
        (1, 0, 0, 0, 0, 0, None),
        (1, 1, 3, 3, 0, 0, "NewReplicaSetCreated"),
        (1, 1, 3, 3, 3, 3, "NewReplicaSetAvailable"),
    ]
    assert [deployment_health(o) for o in seen] == ["Progressing", "Progressing", "Healthy"]
    [rs] = (await raw("GET", "/apis/apps/v1/namespaces/default/replicasets")).json()["items"]
    final = seen[-1]["status"]
    assert [(c["type"], c["status"], c["reason"], c["message"]) for c in final["conditions"]] == [
        ("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability."),
        (
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            f'ReplicaSet "{rs["metadata"]["name"]}" has successfully progressed.',
        ),
    ]
    assert seen[-1]["metadata"]["annotations"] == {"deployment.kubernetes.io/revision": "1"}


async def test_rollout_follows_the_table(raw: Raw, sim: Emulator) -> None:
    """An image change on 3 replicas steps through the §6.2 table exactly, and Argo's health with it."""
    await raw("POST", DEPLOYS, body=deployment())
    await sim.idle()
    mark = sim.resource_version
    patch = {
        "spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:1.28"}]}}}
    }
    await raw(
        "PATCH", f"{DEPLOYS}/web", body=patch, content_type="application/strategic-merge-patch+json"
    )
    await sim.idle()
    seen = await history(raw, DEPLOYS, mark, 5)
    assert [row(o) for o in seen] == [
        (2, 1, 3, 3, 3, 3, "NewReplicaSetAvailable"),
        (2, 2, 4, 1, 3, 3, "ReplicaSetUpdated"),
        (2, 2, 4, 3, 3, 3, "ReplicaSetUpdated"),
        (2, 2, 3, 3, 2, 2, "ReplicaSetUpdated"),
        (2, 2, 3, 3, 3, 3, "NewReplicaSetAvailable"),
    ]
    assert [deployment_health(o) for o in seen] == ["Progressing"] * 4 + ["Healthy"]
    assert seen[-1]["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"


async def test_replica_sets_follow_the_deployment(
    raw: Raw, sim: Emulator, apps: client.AppsV1Api
) -> None:
    """The Deployment owns ReplicaSets named by template hash; the old one ends at 0 replicas."""
    await raw("POST", DEPLOYS, body=deployment())
    await sim.idle()
    patch = {
        "spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:1.28"}]}}}
    }
    await raw(
        "PATCH", f"{DEPLOYS}/web", body=patch, content_type="application/strategic-merge-patch+json"
    )
    await sim.idle()
    dep = await apps.read_namespaced_deployment("web", "default")
    sets = sorted(
        (await apps.list_namespaced_replica_set("default")).items,
        key=lambda r: r.metadata.annotations["deployment.kubernetes.io/revision"],
    )
    summary = [
        (
            r.metadata.annotations["deployment.kubernetes.io/revision"],
            r.spec.replicas,
            r.status.ready_replicas,
            r.metadata.owner_references[0].uid,
        )
        for r in sets
    ]
    assert summary == [("1", 0, None, dep.metadata.uid), ("2", 3, 3, dep.metadata.uid)]
    assert all(r.metadata.name == f"web-{r.metadata.labels['pod-template-hash']}" for r in sets)


async def test_broken_image_ends_in_progress_deadline_exceeded(raw: Raw, sim: Emulator) -> None:
    """An image matching the broken pattern never becomes available and ends Degraded."""
    await raw("POST", DEPLOYS, body=deployment())
    await sim.idle()
    patch = {
        "spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:broken"}]}}}
    }
    await raw(
        "PATCH", f"{DEPLOYS}/web", body=patch, content_type="application/strategic-merge-patch+json"
    )
    await sim.idle()
    dep = (await raw("GET", f"{DEPLOYS}/web")).json()
    progressing = next(c for c in dep["status"]["conditions"] if c["type"] == "Progressing")
    assert (row(dep)[:6], progressing["status"], progressing["reason"], deployment_health(dep)) == (
        (2, 2, 4, 1, 3, 3),
        "False",
        "ProgressDeadlineExceeded",
        "Degraded",
    )
    new_rs = [
        r
        for r in (await raw("GET", "/apis/apps/v1/namespaces/default/replicasets")).json()["items"]
        if r["spec"]["replicas"] == 1
    ]
    assert (
        progressing["message"]
        == f'ReplicaSet "{new_rs[0]["metadata"]["name"]}" has timed out progressing.'
    )


async def test_scale_and_paused_knob(raw: Raw, sim: Emulator) -> None:
    """A paused controller leaves status alone; scaling then converges to the new count."""
    sim.knobs.paused.add("deployment")
    await raw("POST", DEPLOYS, body=deployment(replicas=2))
    await sim.idle()
    assert (await raw("GET", f"{DEPLOYS}/web")).json()["status"] == {}
    sim.knobs.paused.discard("deployment")
    sim.controllers.schedule("deployment", "default/web", 0)
    await sim.idle()
    await raw("PATCH", f"{DEPLOYS}/web/scale", body={"spec": {"replicas": 5}}, content_type=MERGE)
    await sim.idle()
    dep = (await raw("GET", f"{DEPLOYS}/web")).json()
    assert (row(dep), deployment_health(dep)) == (
        (2, 2, 5, 5, 5, 5, "NewReplicaSetAvailable"),
        "Healthy",
    )


async def test_statefulset_rolls_one_ordinal_at_a_time(raw: Raw, sim: Emulator) -> None:
    """A StatefulSet comes up, then updates one pod per step until revisions match."""
    sts = deployment("db")
    sts["kind"] = "StatefulSet"
    sts["spec"]["serviceName"] = "db"
    path = "/apis/apps/v1/namespaces/default/statefulsets"
    await raw("POST", path, body=sts)
    await sim.idle()
    mark = sim.resource_version
    patch = {
        "spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:1.28"}]}}}
    }
    await raw(
        "PATCH", f"{path}/db", body=patch, content_type="application/strategic-merge-patch+json"
    )
    await sim.idle()
    seen = await history(raw, path, mark, 5)
    rows = [
        (
            o["status"]["observedGeneration"],
            o["status"].get("readyReplicas", 0),
            o["status"].get("updatedReplicas", 0),
            o["status"]["currentRevision"] == o["status"]["updateRevision"],
        )
        for o in seen
    ]
    assert rows == [
        (1, 3, 3, True),
        (2, 2, 1, False),
        (2, 2, 2, False),
        (2, 2, 3, False),
        (2, 3, 3, True),
    ]


async def test_daemonset_ready_on_every_node(raw: Raw, sim: Emulator) -> None:
    """A DaemonSet is scheduled on Knobs.nodes nodes and becomes available there."""
    sim.knobs.nodes = 3
    ds = deployment("agent")
    ds["kind"] = "DaemonSet"
    del ds["spec"]["replicas"]
    path = "/apis/apps/v1/namespaces/default/daemonsets"
    await raw("POST", path, body=ds)
    await sim.idle()
    status = (await raw("GET", f"{path}/agent")).json()["status"]
    assert status == {
        "currentNumberScheduled": 3,
        "numberMisscheduled": 0,
        "desiredNumberScheduled": 3,
        "numberReady": 3,
        "observedGeneration": 1,
        "updatedNumberScheduled": 3,
        "numberAvailable": 3,
    }


def job(name: str, image: str) -> dict[str, Any]:
    """A Job manifest."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": image}]}
            }
        },
    }


async def test_job_completes_or_fails(raw: Raw, sim: Emulator) -> None:
    """A Job completes (SuccessCriteriaMet, Complete); a broken image fails with BackoffLimitExceeded."""
    path = "/apis/batch/v1/namespaces/default/jobs"
    await raw("POST", path, body=job("ok", "busybox"))
    await raw("POST", path, body=job("bad", "busybox:broken"))
    await sim.idle()
    ok = (await raw("GET", f"{path}/ok")).json()["status"]
    bad = (await raw("GET", f"{path}/bad")).json()["status"]
    assert (
        [(c["type"], c["status"], c["reason"]) for c in ok["conditions"]],
        ok["succeeded"],
        "active" in ok,
    ) == (
        [
            ("SuccessCriteriaMet", "True", "CompletionsReached"),
            ("Complete", "True", "CompletionsReached"),
        ],
        1,
        False,
    )
    assert ([(c["type"], c["reason"], c["message"]) for c in bad["conditions"]], bad["failed"]) == (
        [
            (
                "FailureTarget",
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
            ),
            ("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit"),
        ],
        7,
    )


async def test_pvc_binds_and_releases(raw: Raw, sim: Emulator) -> None:
    """A claim is bound with its requested capacity; deleting it lifts pvc-protection."""
    path = "/api/v1/namespaces/default/persistentvolumeclaims"
    pvc = {
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    made = (await raw("POST", path, body=pvc)).json()
    assert (made["status"], made["metadata"]["finalizers"]) == (
        {"phase": "Pending"},
        ["kubernetes.io/pvc-protection"],
    )
    await sim.idle()
    bound = (await raw("GET", f"{path}/data")).json()
    assert (bound["status"], bound["spec"]["volumeName"]) == (
        {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}},
        f"pvc-{made['metadata']['uid']}",
    )
    await raw("DELETE", f"{path}/data")
    await sim.idle()
    assert (await raw("GET", f"{path}/data")).status == 404


async def test_load_balancer_and_ingress_addresses(raw: Raw, sim: Emulator) -> None:
    """LoadBalancer Services and Ingresses get status.loadBalancer.ingress."""
    svc = {
        "metadata": {"name": "lb"},
        "spec": {"type": "LoadBalancer", "selector": {"a": "b"}, "ports": [{"port": 80}]},
    }
    made = (await raw("POST", "/api/v1/namespaces/default/services", body=svc)).json()
    assert made["status"] == {"loadBalancer": {}}
    assert made["spec"]["ports"][0]["nodePort"] >= 30000
    ing = {
        "metadata": {"name": "web"},
        "spec": {"defaultBackend": {"service": {"name": "lb", "port": {"number": 80}}}},
    }
    await raw("POST", "/apis/networking.k8s.io/v1/namespaces/default/ingresses", body=ing)
    await sim.idle()
    svc_status = (await raw("GET", "/api/v1/namespaces/default/services/lb")).json()["status"]
    ing_status = (
        await raw("GET", "/apis/networking.k8s.io/v1/namespaces/default/ingresses/web")
    ).json()["status"]
    assert svc_status == {"loadBalancer": {"ingress": [{"ip": "172.18.255.1", "ipMode": "VIP"}]}}
    assert ing_status == {"loadBalancer": {"ingress": [{"ip": "172.18.255.101"}]}}


async def test_deleting_a_deployment_collects_its_replica_sets(raw: Raw, sim: Emulator) -> None:
    """Background deletion of a Deployment: the GC removes its ReplicaSets."""
    await raw("POST", DEPLOYS, body=deployment())
    await sim.idle()
    await raw("DELETE", f"{DEPLOYS}/web")
    await sim.idle()
    assert (await raw("GET", "/apis/apps/v1/namespaces/default/replicasets")).json()["items"] == []


async def test_controller_writes_are_attributed(raw: Raw, sim: Emulator) -> None:
    """Controller status writes show kube-controller-manager with subresource status."""
    await raw("POST", DEPLOYS, body=deployment())
    await sim.idle()
    dep = (await raw("GET", f"{DEPLOYS}/web")).json()
    entries = [
        (m["manager"], m["operation"], m.get("subresource"))
        for m in dep["metadata"]["managedFields"]
    ]
    assert entries == [
        ("OpenAPI-Generator", "Update", None),
        ("kube-controller-manager", "Update", "status"),
    ]
