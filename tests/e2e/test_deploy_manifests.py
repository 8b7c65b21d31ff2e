"""deploy/: the in-cluster manifests are accepted by the API and say what gitopsd needs."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubefixtures import configmap

from daemon import settings
from daemon.core import ids
from daemon.core import state as core_state
from daemon.runtime import clusterinformer, informers, writer
from daemon.shell import eventstore, httpapi, kubeclient
from kubesim.emulator import Emulator

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
TARGET = "apps"  # the example target namespace of deploy/namespaced


def documents(*folders: str) -> list[dict[str, Any]]:
    """The objects of deploy/base plus the given variant folders and the example Secrets."""
    paths = [p for folder in ("base", *folders) for p in sorted((DEPLOY / folder).glob("*.yaml"))]
    paths.append(DEPLOY / "secrets.example.yaml")
    docs: list[dict[str, Any]] = []
    for path in paths:
        if path.name == "kustomization.yaml":
            continue
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    """The one document of ``kind``."""
    (found,) = [d for d in docs if d["kind"] == kind]
    return found


async def apply_all(kube: kubeclient.KubeClient, docs: list[dict[str, Any]]) -> list[str]:
    """Apply namespaces first, then the rest; return the keys read back from the API."""
    ordered = sorted(docs, key=lambda d: d["kind"] != "Namespace")
    keys = []
    for doc in ordered:
        obj, created = await kube.apply(doc)
        assert created is True, ids.display_key(ids.key_of(doc))
        keys.append(ids.key_of(obj))
    found = [await kube.get(key) for key in keys]
    return sorted(ids.key_of(obj) for obj in found if obj is not None)


@pytest.mark.parametrize("variant", ["cluster", "namespaced"])
def test_kustomizations_list_every_manifest(variant: str) -> None:
    """Each kustomization.yaml lists exactly the manifests beside it (what the test applies)."""
    for folder in ("base", variant):
        kustomization = yaml.safe_load((DEPLOY / folder / "kustomization.yaml").read_text())
        files = sorted(
            p.name for p in (DEPLOY / folder).glob("*.yaml") if p.name != "kustomization.yaml"
        )
        listed = sorted(r for r in kustomization["resources"] if not r.startswith(".."))
        assert listed == files
    assert yaml.safe_load((DEPLOY / variant / "kustomization.yaml").read_text())["resources"][
        0
    ] == ("../base")


async def test_cluster_variant_is_accepted(kube: kubeclient.KubeClient) -> None:
    """Every object of deploy/base + deploy/cluster (and the example Secrets) is created."""
    assert await apply_all(kube, documents("cluster")) == [
        "/ConfigMap/gitopsd/gitopsd-config",
        "/Namespace//gitopsd",
        "/Secret/gitopsd/gitopsd-database",
        "/Secret/gitopsd/gitopsd-digest-key",
        "/Service/gitopsd/gitopsd",
        "/ServiceAccount/gitopsd/gitopsd",
        "apps/Deployment/gitopsd/gitopsd",
        "rbac.authorization.k8s.io/ClusterRole//gitopsd",
        "rbac.authorization.k8s.io/ClusterRoleBinding//gitopsd",
    ]


async def test_namespaced_variant_is_accepted(kube: kubeclient.KubeClient) -> None:
    """deploy/base + deploy/namespaced is created once the target namespace exists."""
    await kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": TARGET}})
    assert await apply_all(kube, documents("namespaced")) == [
        "/ConfigMap/gitopsd/gitopsd-config",
        "/Namespace//gitopsd",
        "/Secret/gitopsd/gitopsd-database",
        "/Secret/gitopsd/gitopsd-digest-key",
        "/Service/gitopsd/gitopsd",
        "/ServiceAccount/gitopsd/gitopsd",
        "apps/Deployment/gitopsd/gitopsd",
        f"rbac.authorization.k8s.io/Role/{TARGET}/gitopsd",
        f"rbac.authorization.k8s.io/RoleBinding/{TARGET}/gitopsd",
    ]


def test_deployment_is_hardened_and_probed() -> None:
    """One Recreate replica, restricted security context, probes, resources, the DB URL Secret."""
    deployment = by_kind(documents("cluster"), "Deployment")
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert (spec["replicas"], spec["strategy"], pod["serviceAccountName"]) == (
        1,
        {"type": "Recreate"},
        "gitopsd",
    )
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "runAsGroup": 65532,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    probes = {
        name: (container[name]["httpGet"]["path"], container[name]["httpGet"]["port"])
        for name in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    assert probes == {
        "startupProbe": ("/healthz", "http"),
        "livenessProbe": ("/healthz", "http"),
        "readinessProbe": ("/readyz", "http"),
    }
    assert container["ports"] == [{"name": "http", "containerPort": 8089, "protocol": "TCP"}]
    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "256Mi"},
        "limits": {"memory": "1Gi"},
    }
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}
    assert env == {
        "GITOPSD_CONFIG": "/etc/gitopsd/gitopsd.yaml",
        settings.DATABASE_URL_ENV: {"secretKeyRef": {"name": "gitopsd-database", "key": "url"}},
        "POD_IP": {"fieldRef": {"fieldPath": "status.podIP"}},
    }


@pytest.mark.parametrize("variant", ["cluster", "namespaced"])
def test_config_binds_the_pod_ip_and_matches_the_deployment(variant: str) -> None:
    """gitopsd.yaml is valid, binds ${POD_IP} on the container port, keeps state where mounted."""
    docs = documents(variant)
    text = by_kind(docs, "ConfigMap")["data"]["gitopsd.yaml"]
    config = settings.loads(
        text, filename=f"deploy/{variant}/configmap.yaml", environ={"POD_IP": "10.244.1.7"}
    )
    pod = by_kind(docs, "Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert httpapi.parse_listen(config.http.listen) == (
        "10.244.1.7",
        container["ports"][0]["containerPort"],
    )
    assert (config.state_dir, mounts["state"], f"{mounts['config']}/gitopsd.yaml") == (
        "/var/lib/gitopsd",
        "/var/lib/gitopsd",
        "/etc/gitopsd/gitopsd.yaml",
    )
    (cluster,) = config.clusters
    assert (cluster.name, cluster.in_cluster, cluster.namespaces) == (
        "in-cluster",
        True,
        [TARGET] if variant == "namespaced" else [],
    )


def test_secrets_feed_what_the_deployment_reads() -> None:
    """The database Secret has the key the env refers to; the digest key is 32 bytes, mode 0400."""
    docs = documents("cluster")
    secrets = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Secret"}
    assert list(secrets["gitopsd-database"]["stringData"]) == ["url"]
    key = base64.b64decode(secrets["gitopsd-digest-key"]["data"]["secret-digest.key"])
    assert len(key) == 32
    pod = by_kind(docs, "Deployment")["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if v["name"] == "digest-key")
    assert volume["secret"] == {"secretName": "gitopsd-digest-key", "defaultMode": 0o400}


# -- RBAC covers what gitopsd sends ---------------------------------------------------


def allows(rules: list[dict[str, Any]], group: str, resource: str, verb: str) -> bool:
    """RBAC's rule match for a resource request (resources "*" covers subresources too)."""
    return any(
        {"*", group} & set(r.get("apiGroups", []))
        and {"*", resource} & set(r.get("resources", []))
        and {"*", verb} & set(r.get("verbs", []))
        for r in rules
    )


def resource_of(path: str) -> tuple[str, str, str] | None:
    """(group, resource, namespace) of a resource URL; None for discovery and /version."""
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 3:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 4:
        group, rest = parts[1], parts[3:]
    else:
        return None
    namespace = ""
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    return group, rest[0], namespace


def verbs_sent(emulator: Emulator) -> set[tuple[str, str, str, str]]:
    """(group, resource, namespace, verb) of every resource request; SSA creates also need create."""
    out = set()
    for req in emulator.requests:
        found = resource_of(req.path)
        if found is None:
            continue
        out.add((*found, req.verb))
        if req.verb == "patch" and req.code == 201:
            out.add((*found, "create"))
    return out


async def test_rbac_covers_every_request_of_executor_and_informers(
    kube: kubeclient.KubeClient,
    emulator: Emulator,
    cluster_config: settings.ClusterConfig,
    store: eventstore.EventStore,
) -> None:
    """The ClusterRole allows every request gitopsd makes; the Role every one in its namespace."""
    await kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": TARGET}})
    start = len(emulator.requests)
    # What the executor sends: dry-run, apply (create, then patch), get, delete.
    body = configmap("web", TARGET, labels={"gitopsd.io/app": "web"})
    await kube.apply(body, dry_run=True)
    await kube.apply(body)
    await kube.apply(configmap("web", TARGET, labels={"gitopsd.io/app": "web"}, data={"k": "2"}))
    await kube.get(ids.key_of(body))
    await kube.delete(ids.key_of(body), dry_run=True)
    await kube.delete(ids.key_of(body))
    # What the informers send, cluster-wide and per namespace.
    for namespaces in ([], [settings.Name(TARGET)]):
        scoped = settings.ClusterConfig(
            name=cluster_config.name, kubeconfig=cluster_config.kubeconfig, namespaces=namespaces
        )
        await run_informers_once(scoped, store, kube)
    del emulator.requests[:start]
    sent = verbs_sent(emulator)
    assert {verb for *_, verb in sent} == {"get", "list", "watch", "create", "patch", "delete"}
    cluster_rules = by_kind(documents("cluster"), "ClusterRole")["rules"]
    role_rules = by_kind(documents("namespaced"), "Role")["rules"]
    refused = sorted(s for s in sent if not allows(cluster_rules, s[0], s[1], s[3]))
    assert refused == []
    in_target = [s for s in sent if s[2] == TARGET]
    assert in_target
    assert sorted(s for s in in_target if not allows(role_rules, s[0], s[1], s[3])) == []


async def run_informers_once(
    cluster: settings.ClusterConfig, store: eventstore.EventStore, kube: kubeclient.KubeClient
) -> None:
    """Run informers until ConfigMaps are listed and a change came by watch, then stop them."""
    log_writer = writer.Writer(store)
    found = informers.Informers(
        settings.Config(clusters=[cluster]),
        appender=log_writer,
        blobs=store,
        state=core_state.State(),
        secret_key=b"k" * 32,
        timing=clusterinformer.Timing(probe_interval=60.0),
    )
    tasks = [asyncio.create_task(log_writer.run()), asyncio.create_task(found.run())]
    try:
        assert await found.wait_synced("sim", [("v1", "ConfigMap")], 10) is True
        obj, _ = await kube.apply(configmap("seen", TARGET, labels={"gitopsd.io/app": "web"}))
        async with asyncio.timeout(10):
            await found.wait_caught_up(
                "sim", "v1", "ConfigMap", obj["metadata"]["resourceVersion"], namespace=TARGET
            )
        await kube.delete(ids.key_of(obj))
    finally:
        for task in reversed(tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
