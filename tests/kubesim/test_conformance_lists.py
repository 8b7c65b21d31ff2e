"""Selectors and pagination (KUBE_API.md §2.4)."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from kubernetes_asyncio import client
from simclient import Raw

from kubesim.emulator import Emulator

CMS = "/api/v1/namespaces/default/configmaps"


def cm(
    name: str, labels: dict[str, str] | None = None, namespace: str | None = None
) -> dict[str, Any]:
    """A ConfigMap manifest."""
    meta: dict[str, Any] = {"name": name}
    if labels is not None:
        meta["labels"] = labels
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {}}


async def names(raw: Raw, query: str, path: str = CMS) -> list[str]:
    """Names a list with ``query`` returns (fails on a non-200)."""
    resp = await raw("GET", f"{path}?{query}")
    assert resp.status == 200, resp.body
    return [i["metadata"]["name"] for i in resp.json()["items"]]


async def seed(raw: Raw) -> None:
    """Five ConfigMaps with assorted labels."""
    for name, labels in [
        ("a", {"app": "web", "tier": "front"}),
        ("b", {"app": "web", "tier": "back"}),
        ("c", {"app": "db"}),
        ("d", {}),
        ("e", {"app": "cache", "tier": "back"}),
    ]:
        await raw("POST", CMS, body=cm(name, labels))


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=web", ["a", "b"]),
        ("app==web", ["a", "b"]),
        ("app!=web", ["c", "d", "e"]),
        ("app in (web,db)", ["a", "b", "c"]),
        ("app notin (web)", ["c", "d", "e"]),
        ("tier", ["a", "b", "e"]),
        ("!tier", ["c", "d"]),
        ("app=web,tier=back", ["b"]),
        ("", ["a", "b", "c", "d", "e"]),
    ],
)
async def test_label_selector(raw: Raw, selector: str, expected: list[str]) -> None:
    """Label selector operators; != and notin also match objects without the key."""
    await seed(raw)
    assert await names(raw, f"labelSelector={quote(selector)}") == expected


async def test_bad_label_selector_is_400(raw: Raw) -> None:
    """A label selector that does not parse is 400 BadRequest."""
    resp = await raw("GET", f"{CMS}?labelSelector=app%20in%20web")
    assert (resp.status, resp.json()["reason"], resp.json()["message"]) == (
        400,
        "BadRequest",
        "unable to parse requirement: found 'web' expected: '('",
    )


async def test_field_selectors(raw: Raw) -> None:
    """metadata.name and metadata.namespace select; = == != and comma are supported."""
    await seed(raw)
    await raw("POST", "/api/v1/namespaces/kube-system/configmaps", body=cm("a"))
    assert await names(raw, "fieldSelector=metadata.name%3Da") == ["a"]
    assert await names(raw, "fieldSelector=metadata.name!%3Da,metadata.name!%3Db") == [
        "c",
        "d",
        "e",
    ]
    everywhere = (await raw("GET", "/api/v1/configmaps?fieldSelector=metadata.name%3D%3Da")).json()
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in everywhere["items"]] == [
        ("default", "a"),
        ("kube-system", "a"),
    ]
    assert await names(
        raw, "fieldSelector=metadata.namespace%3Dkube-system", "/api/v1/configmaps"
    ) == ["a"]


async def test_unsupported_field_label_is_400(raw: Raw) -> None:
    """A field the type cannot select on is 400 field label not supported."""
    resp = await raw("GET", f"{CMS}?fieldSelector=spec.foo%3Dx")
    assert (resp.status, resp.json()["message"]) == (400, "field label not supported: spec.foo")
    resp = await raw("GET", "/api/v1/namespaces?fieldSelector=metadata.namespace%3Dx")
    assert (resp.status, resp.json()["message"]) == (
        400,
        "field label not supported: metadata.namespace",
    )


async def test_pod_field_selector(raw: Raw) -> None:
    """Pods select on status.phase (a type-specific field label)."""
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
    await raw("POST", "/api/v1/namespaces/default/pods", body=pod)
    assert await names(
        raw, "fieldSelector=status.phase%3DPending", "/api/v1/namespaces/default/pods"
    ) == ["p"]


async def test_pagination_sorted_by_key_with_remaining_count(raw: Raw) -> None:
    """Limit pages in namespace/name order; remainingItemCount without selectors; empty continue ends."""
    for name in ["c", "a", "e", "b", "d"]:
        await raw("POST", CMS, body=cm(name))
    first = (await raw("GET", f"{CMS}?limit=2")).json()
    second = (await raw("GET", f"{CMS}?limit=2&continue={first['metadata']['continue']}")).json()
    third = (await raw("GET", f"{CMS}?limit=2&continue={second['metadata']['continue']}")).json()
    pages = [[i["metadata"]["name"] for i in page["items"]] for page in (first, second, third)]
    assert pages == [["a", "b"], ["c", "d"], ["e"]]
    assert [p["metadata"].get("remainingItemCount") for p in (first, second, third)] == [3, 1, None]
    assert "continue" not in third["metadata"]


async def test_continue_token_shape(raw: Raw) -> None:
    """The token is base64url of {"v","rv","start"} with the next key and a NUL."""
    for name in ["a", "b"]:
        await raw("POST", CMS, body=cm(name))
    first = (await raw("GET", f"{CMS}?limit=1")).json()
    token = first["metadata"]["continue"]
    decoded = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    assert decoded == {
        "v": "meta.k8s.io/v1",
        "rv": int(first["metadata"]["resourceVersion"]),
        "start": "default/a\x00",
    }


async def test_pages_are_a_consistent_snapshot(raw: Raw, sim: Emulator) -> None:
    """Writes between pages do not show: every page is at the first page's RV."""
    for name in ["a", "b", "c"]:
        await raw("POST", CMS, body=cm(name))
    first = (await raw("GET", f"{CMS}?limit=1")).json()
    await raw("DELETE", f"{CMS}/b")
    await raw("POST", CMS, body=cm("bb"))
    await raw(
        "PATCH",
        f"{CMS}/c",
        body={"data": {"new": "1"}},
        content_type="application/merge-patch+json",
    )
    rest = (await raw("GET", f"{CMS}?continue={first['metadata']['continue']}")).json()
    # An empty data map is omitted (omitempty), so the old b and c have no data at all.
    assert [(i["metadata"]["name"], i.get("data")) for i in rest["items"]] == [
        ("b", None),
        ("c", None),
    ]
    assert rest["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    assert int(first["metadata"]["resourceVersion"]) < sim.resource_version


async def test_expired_continue_is_410(raw: Raw, sim: Emulator) -> None:
    """A continue token older than the retained history is 410 Expired."""
    for name in ["a", "b"]:
        await raw("POST", CMS, body=cm(name))
    first = (await raw("GET", f"{CMS}?limit=1")).json()
    await raw("POST", CMS, body=cm("c"))
    sim.compact()
    resp = await raw("GET", f"{CMS}?limit=1&continue={first['metadata']['continue']}")
    assert (resp.status, resp.json()) == (
        410,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "The provided continue parameter is too old to display a consistent list result. "
            "You can start a new list without the continue parameter.",
            "reason": "Expired",
            "code": 410,
        },
    )


async def test_bad_continue_is_400(raw: Raw) -> None:
    """A token that does not decode is 400 invalid continue token."""
    resp = await raw("GET", f"{CMS}?continue=notatoken")
    assert (
        resp.status,
        resp.json()["reason"],
        resp.json()["message"].startswith("invalid continue token"),
    ) == (
        400,
        "BadRequest",
        True,
    )


async def test_list_at_exact_rv(raw: Raw, sim: Emulator) -> None:
    """resourceVersionMatch=Exact lists the state at that revision."""
    await raw("POST", CMS, body=cm("a"))
    mark = sim.resource_version
    await raw("POST", CMS, body=cm("b"))
    body = (await raw("GET", f"{CMS}?resourceVersion={mark}&resourceVersionMatch=Exact")).json()
    assert (
        [i["metadata"]["name"] for i in body["items"]],
        body["metadata"]["resourceVersion"],
    ) == (["a"], str(mark))


async def test_typed_client_paginates(core: client.CoreV1Api, raw: Raw) -> None:
    """The typed client follows _continue until it is empty."""
    for i in range(7):
        await raw("POST", CMS, body=cm(f"n{i}"))
    seen, token = [], None
    while True:
        page = await core.list_namespaced_config_map("default", limit=3, _continue=token)
        seen += [i.metadata.name for i in page.items]
        token = page.metadata._continue
        if not token:
            break
    assert seen == [f"n{i}" for i in range(7)]


async def test_deletecollection_with_selector(raw: Raw) -> None:
    """DELETE on a collection removes the matches and answers their list."""
    await seed(raw)
    resp = await raw("DELETE", f"{CMS}?labelSelector=app%3Dweb")
    assert (
        resp.status,
        resp.json()["kind"],
        [i["metadata"]["name"] for i in resp.json()["items"]],
    ) == (
        200,
        "ConfigMapList",
        ["a", "b"],
    )
    assert await names(raw, "") == ["c", "d", "e"]
