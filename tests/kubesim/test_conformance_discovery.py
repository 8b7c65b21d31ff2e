"""Discovery documents (KUBE_API.md §1) as kubernetes_asyncio reads them."""

from __future__ import annotations

from kubernetes_asyncio import client
from kubernetes_asyncio.dynamic import DynamicClient
from simclient import Raw

from kubesim.emulator import Emulator

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

LISTED = [
    ("v1", "Namespace"),
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "Service"),
    ("v1", "ServiceAccount"),
    ("v1", "Pod"),
    ("v1", "PersistentVolumeClaim"),
    ("v1", "Event"),
    ("v1", "ResourceQuota"),
    ("v1", "LimitRange"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
    ("apps/v1", "ReplicaSet"),
    ("batch/v1", "Job"),
    ("batch/v1", "CronJob"),
    ("networking.k8s.io/v1", "Ingress"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("policy/v1", "PodDisruptionBudget"),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
]


async def test_version_document(raw: Raw) -> None:
    """GET /version answers the version object of §1.1 with exact JSON content type."""
    resp = await raw("GET", "/version")
    assert (resp.status, resp.headers["Content-Type"]) == (200, "application/json")
    body = resp.json()
    assert body == {
        "major": "1",
        "minor": "35",
        "emulationMajor": "1",
        "emulationMinor": "35",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "34",
        "gitVersion": "v1.35.0",
        "gitCommit": body["gitCommit"],
        "gitTreeState": "clean",
        "buildDate": "2025-12-17T00:00:00Z",
        "goVersion": "go1.25.5",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


async def test_core_api_versions(raw: Raw, sim: Emulator) -> None:
    """GET /api is an APIVersions without apiVersion, naming the server's address."""
    resp = await raw("GET", "/api")
    assert resp.json() == {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{sim.port}"}
        ],
    }


async def test_group_list_preferred_equals_a_version_entry(raw: Raw) -> None:
    """/apis lists every group; preferredVersion equals one versions[] entry field for field."""
    body = (await raw("GET", "/apis")).json()
    assert (body["kind"], body["apiVersion"]) == ("APIGroupList", "v1")
    names = [g["name"] for g in body["groups"]]
    assert names == [
        "apps",
        "autoscaling",
        "batch",
        "networking.k8s.io",
        "policy",
        "rbac.authorization.k8s.io",
        "apiextensions.k8s.io",
    ]
    apps = body["groups"][0]
    assert apps == {
        "name": "apps",
        "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
        "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"},
    }
    assert all(g["preferredVersion"] in g["versions"] for g in body["groups"])


async def test_group_document(raw: Raw) -> None:
    """/apis/apps is an APIGroup with apiVersion v1."""
    assert (await raw("GET", "/apis/apps")).json() == {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": "apps",
        "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
        "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"},
    }


async def test_apps_resource_list(raw: Raw) -> None:
    """/apis/apps/v1 lists deployments with scale (autoscaling/v1 Scale) and status."""
    body = (await raw("GET", "/apis/apps/v1")).json()
    assert (body["kind"], body["apiVersion"], body["groupVersion"]) == (
        "APIResourceList",
        "v1",
        "apps/v1",
    )
    deploy = [r for r in body["resources"] if r["name"].startswith("deployments")]
    assert deploy == [
        {
            "name": "deployments",
            "singularName": "deployment",
            "namespaced": True,
            "kind": "Deployment",
            "verbs": ALL_VERBS,
            "shortNames": ["deploy"],
            "categories": ["all"],
        },
        {
            "name": "deployments/scale",
            "singularName": "",
            "namespaced": True,
            "group": "autoscaling",
            "version": "v1",
            "kind": "Scale",
            "verbs": ["get", "patch", "update"],
        },
        {
            "name": "deployments/status",
            "singularName": "",
            "namespaced": True,
            "kind": "Deployment",
            "verbs": ["get", "patch", "update"],
        },
    ]


async def test_core_resource_list(raw: Raw) -> None:
    """/api/v1 has no apiVersion; namespaces carry finalize and status subresources."""
    body = (await raw("GET", "/api/v1")).json()
    assert "apiVersion" not in body
    assert (body["kind"], body["groupVersion"]) == ("APIResourceList", "v1")
    by_name = {r["name"]: r for r in body["resources"]}
    assert by_name["configmaps"] == {
        "name": "configmaps",
        "singularName": "configmap",
        "namespaced": True,
        "kind": "ConfigMap",
        "verbs": ALL_VERBS,
        "shortNames": ["cm"],
    }
    assert [by_name[n] for n in ("namespaces", "namespaces/finalize", "namespaces/status")] == [
        {
            "name": "namespaces",
            "singularName": "namespace",
            "namespaced": False,
            "kind": "Namespace",
            "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
            "shortNames": ["ns"],
        },
        {
            "name": "namespaces/finalize",
            "singularName": "",
            "namespaced": False,
            "kind": "Namespace",
            "verbs": ["update"],
        },
        {
            "name": "namespaces/status",
            "singularName": "",
            "namespaced": False,
            "kind": "Namespace",
            "verbs": ["get", "patch", "update"],
        },
    ]


async def test_unknown_urls_are_plain_text_404(raw: Raw) -> None:
    """Unknown group, version or resource answers a plain-text 404, never a Status."""
    for path in (
        "/apis/nope.example.com",
        "/apis/apps/v9",
        "/api/v1/widgets",
        "/apis/apps/v1/nope",
    ):
        resp = await raw("GET", path)
        assert (resp.status, resp.headers["Content-Type"], resp.body) == (
            404,
            "text/plain; charset=utf-8",
            b"404 page not found\n",
        ), path


async def test_dynamic_client_finds_every_listed_resource(dyn: DynamicClient) -> None:
    """The DynamicClient discovers every resource issue 3 lists, with its scope."""
    found = {}
    for api_version, kind in LISTED:
        res = await dyn.resources.get(api_version=api_version, kind=kind)
        found[(api_version, kind)] = res.namespaced
    cluster = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}
    assert found == {(av, k): k not in cluster for av, k in LISTED}


async def test_core_api_versions_through_typed_client(api_client: client.ApiClient) -> None:
    """The typed CoreApi reads /api into V1APIVersions."""
    versions = await client.CoreApi(api_client).get_api_versions()
    assert versions.versions == ["v1"]
