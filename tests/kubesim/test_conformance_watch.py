"""resourceVersion and watch (KUBE_API.md §3): event stream, start positions, 410, bookmarks."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from kubernetes_asyncio import client, watch
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.dynamic import DynamicClient
from simclient import Raw, read_lines

from kubesim.emulator import Emulator

CMS = "/api/v1/namespaces/default/configmaps"
MERGE = "application/merge-patch+json"


def cm(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """A ConfigMap manifest."""
    meta: dict[str, Any] = {"name": name}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": "v"}}


async def test_watch_from_now_replays_state_then_changes(raw: Raw, core: client.CoreV1Api) -> None:
    """RV unset: synthetic ADDED for existing objects, then MODIFIED and DELETED in order."""
    a = await core.create_namespaced_config_map("default", cm("a"))
    w = watch.Watch()
    events: list[tuple[str, str, str]] = []
    async with w:
        stream = w.stream(core.list_namespaced_config_map, "default")
        first = await anext(stream)
        events.append(
            (
                first["type"],
                first["object"].metadata.name,
                first["object"].metadata.resource_version,
            )
        )
        await raw("PATCH", f"{CMS}/a", body={"data": {"k": "2"}}, content_type=MERGE)
        modified = await anext(stream)
        await core.delete_namespaced_config_map("a", "default")
        deleted = await anext(stream)
        events.extend(
            (e["type"], e["object"].metadata.name, e["object"].metadata.resource_version)
            for e in (modified, deleted)
        )
    rv = int(a.metadata.resource_version)
    assert events == [
        ("ADDED", "a", str(rv)),
        ("MODIFIED", "a", str(rv + 1)),
        ("DELETED", "a", str(rv + 2)),
    ]


async def test_watch_events_carry_kind_and_last_state(raw: Raw, sim: Emulator) -> None:
    """Watch objects carry kind/apiVersion; DELETED carries the last state at the deletion RV."""
    await raw("POST", CMS, body=cm("a"))
    start = sim.resource_version
    await raw("DELETE", f"{CMS}/a")
    [event] = await read_lines(raw, f"{CMS}?watch=true&resourceVersion={start}", 1)
    assert (event["type"], event["object"]["kind"], event["object"]["apiVersion"]) == (
        "DELETED",
        "ConfigMap",
        "v1",
    )
    assert (event["object"]["data"], event["object"]["metadata"]["resourceVersion"]) == (
        {"k": "v"},
        str(start + 1),
    )


async def test_watch_resume_from_rv_sends_later_changes(raw: Raw, sim: Emulator) -> None:
    """RV=N: exactly the changes with RV > N, in order."""
    await raw("POST", CMS, body=cm("a"))
    mark = sim.resource_version
    await raw("POST", CMS, body=cm("b"))
    await raw("POST", "/api/v1/namespaces/kube-system/configmaps", body=cm("elsewhere"))
    await raw("PATCH", f"{CMS}/a", body={"data": {"x": "1"}}, content_type=MERGE)
    events = await read_lines(raw, f"{CMS}?watch=1&resourceVersion={mark}", 2)
    assert [
        (e["type"], e["object"]["metadata"]["name"], e["object"]["metadata"]["resourceVersion"])
        for e in events
    ] == [
        ("ADDED", "b", str(mark + 1)),
        ("MODIFIED", "a", str(mark + 3)),
    ]


async def test_selector_transitions(raw: Raw, sim: Emulator) -> None:
    """Entering a selector is ADDED; leaving it is DELETED with the previous content at the new RV."""
    await raw("POST", CMS, body=cm("a"))
    mark = sim.resource_version
    await raw("PATCH", f"{CMS}/a", body={"metadata": {"labels": {"team": "x"}}}, content_type=MERGE)
    await raw("PATCH", f"{CMS}/a", body={"data": {"k": "2"}}, content_type=MERGE)
    await raw("PATCH", f"{CMS}/a", body={"metadata": {"labels": {"team": "y"}}}, content_type=MERGE)
    events = await read_lines(
        raw, f"{CMS}?watch=1&labelSelector=team%3Dx&resourceVersion={mark}", 3
    )
    summary = [
        (
            e["type"],
            e["object"]["metadata"]["resourceVersion"],
            e["object"]["metadata"]["labels"],
            e["object"]["data"],
        )
        for e in events
    ]
    assert summary == [
        ("ADDED", str(mark + 1), {"team": "x"}, {"k": "v"}),
        ("MODIFIED", str(mark + 2), {"team": "x"}, {"k": "2"}),
        ("DELETED", str(mark + 3), {"team": "x"}, {"k": "2"}),
    ]


async def test_update_that_deletes_reaches_selected_watchers(raw: Raw, sim: Emulator) -> None:
    """A label-selected watcher gets DELETED when an update drops the label and the finalizer."""
    held = cm("held", {"team": "x"})
    held["metadata"]["finalizers"] = ["example.com/hold"]
    await raw("POST", CMS, body=held)
    await raw("DELETE", f"{CMS}/held")
    mark = sim.resource_version
    await raw(
        "PATCH",
        f"{CMS}/held",
        body={"metadata": {"labels": None, "finalizers": None}},
        content_type=MERGE,
    )
    (event,) = await read_lines(
        raw, f"{CMS}?watch=1&labelSelector=team%3Dx&resourceVersion={mark}", 1
    )
    meta = event["object"]["metadata"]
    assert (event["type"], meta["resourceVersion"], meta["labels"], meta["finalizers"]) == (
        "DELETED",
        str(mark + 1),
        {"team": "x"},
        ["example.com/hold"],
    )


async def test_too_old_rv_is_error_event_in_200_stream(raw: Raw, sim: Emulator) -> None:
    """After compaction a resume gets one ERROR (410 Expired) event inside a 200 stream (§9)."""
    for name in ("a", "b", "c"):
        await raw("POST", CMS, body=cm(name))
    sim.compact()
    resp = await raw("GET", f"{CMS}?watch=True&resourceVersion=5")
    assert (resp.status, resp.headers["Content-Type"], resp.lines) == (
        200,
        "application/json",
        [
            {
                "type": "ERROR",
                "object": {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Failure",
                    "message": f"too old resource version: 5 ({sim.resource_version})",
                    "reason": "Expired",
                    "code": 410,
                },
            }
        ],
    )


async def test_typed_watch_raises_410_after_one_retry(
    raw: Raw, core: client.CoreV1Api, sim: Emulator
) -> None:
    """kubernetes_asyncio retries a 410 once, then raises ApiException(410) to the caller."""
    await raw("POST", CMS, body=cm("a"))
    sim.compact()
    with pytest.raises(ApiException) as info:
        await drain(core, resource_version="1")
    assert (info.value.status, info.value.reason) == (
        410,
        f"Expired: too old resource version: 1 ({sim.resource_version})",
    )


async def drain(core: client.CoreV1Api, **kwargs: Any) -> None:
    """Read a typed watch of default's ConfigMaps to its end."""
    w = watch.Watch()
    async with w:
        async for _ in w.stream(core.list_namespaced_config_map, "default", **kwargs):
            pass


async def test_bookmarks_and_initial_events_end(raw: Raw, sim: Emulator) -> None:
    """With allowWatchBookmarks, the initial ADDED events end with the initial-events-end BOOKMARK."""
    await raw("POST", CMS, body=cm("a"))
    events = await read_lines(raw, f"{CMS}?watch=1&allowWatchBookmarks=true", 2)
    assert events[1] == {
        "type": "BOOKMARK",
        "object": {
            "kind": "ConfigMap",
            "apiVersion": "v1",
            "metadata": {
                "resourceVersion": str(sim.resource_version),
                "annotations": {"k8s.io/initial-events-end": "true"},
            },
        },
    }
    assert events[0]["type"] == "ADDED"


async def test_periodic_bookmark(raw: Raw, sim: Emulator) -> None:
    """A watch with bookmarks gets a BOOKMARK shell carrying the current revision."""
    sim.hub.bookmark_interval = 0.05
    rv = sim.resource_version
    [event] = await read_lines(raw, f"{CMS}?watch=1&allowWatchBookmarks=1&resourceVersion={rv}", 1)
    assert event == {
        "type": "BOOKMARK",
        "object": {
            "kind": "ConfigMap",
            "apiVersion": "v1",
            "metadata": {"resourceVersion": str(rv)},
        },
    }


async def test_timeout_seconds_ends_stream_cleanly(raw: Raw, core: client.CoreV1Api) -> None:
    """TimeoutSeconds ends the stream with no final event; the typed watch then stops."""
    await core.create_namespaced_config_map("default", cm("a"))
    w = watch.Watch()
    async with w:
        seen = [
            e["type"]
            async for e in w.stream(core.list_namespaced_config_map, "default", timeout_seconds=1)
        ]
    assert seen == ["ADDED"]


async def test_send_initial_events_requires_not_older_than(raw: Raw) -> None:
    """SendInitialEvents without resourceVersionMatch=NotOlderThan is 422; on a list it is forbidden."""
    resp = await raw("GET", f"{CMS}?watch=1&sendInitialEvents=true")
    assert (resp.status, resp.json()["message"]) == (
        422,
        'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan',
    )
    resp = await raw(
        "GET", f"{CMS}?sendInitialEvents=true&resourceVersionMatch=NotOlderThan&resourceVersion=0"
    )
    assert (resp.status, resp.json()["message"]) == (
        422,
        'ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list',
    )


async def test_rv_too_large_on_list_is_504(raw: Raw, sim: Emulator) -> None:
    """A list at an RV the server has not reached is 504 Timeout with ResourceVersionTooLarge."""
    future = sim.resource_version + 100
    resp = await raw("GET", f"{CMS}?resourceVersion={future}")
    assert (resp.status, resp.json()) == (
        504,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": f"Timeout: Too large resource version: {future}, current: {sim.resource_version}",
            "reason": "Timeout",
            "details": {
                "causes": [
                    {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
                ],
                "retryAfterSeconds": 1,
            },
            "code": 504,
        },
    )


async def test_many_watchers_see_the_same_events(raw: Raw, sim: Emulator) -> None:
    """Fifty concurrent watchers each receive every event, in the same order."""
    start = sim.resource_version
    readers = [
        asyncio.create_task(read_lines(raw, f"{CMS}?watch=1&resourceVersion={start}", 20))
        for _ in range(50)
    ]
    for i in range(20):
        await raw("POST", CMS, body=cm(f"c{i:02d}"))
    results = await asyncio.gather(*readers)
    expected = [("ADDED", f"c{i:02d}") for i in range(20)]
    assert [[(e["type"], e["object"]["metadata"]["name"]) for e in r] for r in results] == [
        expected
    ] * 50


async def test_dropped_watch_resumes_without_loss(
    raw: Raw, core: client.CoreV1Api, sim: Emulator
) -> None:
    """A watch dropped by the server (clean end) is resumed by the client from its last RV."""
    w = watch.Watch()
    async with w:
        stream = w.stream(core.list_namespaced_config_map, "default")
        await core.create_namespaced_config_map("default", cm("a"))
        first = await anext(stream)
        sim.drop_watches()
        await core.create_namespaced_config_map("default", cm("b"))
        second = await anext(stream)
    assert [(e["type"], e["object"].metadata.name) for e in (first, second)] == [
        ("ADDED", "a"),
        ("ADDED", "b"),
    ]
    watches = [r for r in sim.requests if r.verb == "watch"]
    assert (
        len(watches) == 2
        and f"resourceVersion={first['object'].metadata.resource_version}" in watches[1].query
    )


async def test_dynamic_client_watch_resumes_after_410_by_relisting(
    dyn: DynamicClient, sim: Emulator
) -> None:
    """DynamicClient watch from a compacted RV raises 410; re-list and watch from the list's RV."""
    api = await dyn.resources.get(api_version="v1", kind="ConfigMap")
    await dyn.create(api, body=cm("a"), namespace="default")
    sim.compact()
    with pytest.raises(ApiException) as info:
        async for _ in dyn.watch(api, namespace="default", resource_version=1):
            pass
    listed = await dyn.get(api, namespace="default")
    rv = listed.metadata.resourceVersion
    w = watch.Watch()
    events = []
    async with w:
        agen = dyn.watch(api, namespace="default", resource_version=int(rv), watcher=w)
        await dyn.create(api, body=cm("b"), namespace="default")
        events.append(await anext(agen))
    assert info.value.status == 410
    assert [(e["type"], e["object"].metadata.name) for e in events] == [("ADDED", "b")]


async def test_noop_patch_emits_no_event(raw: Raw, sim: Emulator) -> None:
    """A patch that changes nothing keeps the RV and emits nothing to watchers."""
    await raw("POST", CMS, body=cm("a"))
    mark = sim.resource_version
    same = await raw("PATCH", f"{CMS}/a", body={"data": {"k": "v"}}, content_type=MERGE)
    await raw("POST", CMS, body=cm("b"))
    events = await read_lines(raw, f"{CMS}?watch=1&resourceVersion={mark}", 1)
    assert (
        same.json()["metadata"]["resourceVersion"],
        [(e["type"], e["object"]["metadata"]["name"]) for e in events],
    ) == (
        str(mark),
        [("ADDED", "b")],
    )


async def test_watch_single_object_by_name(dyn: DynamicClient) -> None:
    """The DynamicClient watches one object through fieldSelector=metadata.name."""
    api = await dyn.resources.get(api_version="v1", kind="ConfigMap")
    await dyn.create(api, body=cm("a"), namespace="default")
    await dyn.create(api, body=cm("b"), namespace="default")
    w = watch.Watch()
    async with w:
        agen = dyn.watch(api, namespace="default", name="b", watcher=w)
        first = await anext(agen)
    assert (first["type"], first["object"].metadata.name) == ("ADDED", "b")


async def test_get_at_future_rv_is_504(raw: Raw, sim: Emulator) -> None:
    """A GET asking for a revision the server has not reached is 504 ResourceVersionTooLarge."""
    await raw("POST", CMS, body=cm("a"))
    resp = await raw("GET", f"{CMS}/a?resourceVersion={sim.resource_version + 5}")
    assert (resp.status, resp.json()["details"]["causes"][0]["reason"]) == (
        504,
        "ResourceVersionTooLarge",
    )


async def test_bookmark_before_timeout(raw: Raw, sim: Emulator) -> None:
    """With bookmarks and timeoutSeconds, one BOOKMARK comes 2 s before the clean end."""
    rv = sim.resource_version
    resp = await raw(
        "GET", f"{CMS}?watch=1&allowWatchBookmarks=true&timeoutSeconds=3&resourceVersion={rv}"
    )
    assert (resp.status, resp.lines) == (
        200,
        [
            {
                "type": "BOOKMARK",
                "object": {
                    "kind": "ConfigMap",
                    "apiVersion": "v1",
                    "metadata": {"resourceVersion": str(rv)},
                },
            }
        ],
    )
