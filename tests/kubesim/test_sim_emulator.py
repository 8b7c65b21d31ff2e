"""The emulator's Python handle: state file, frozen clock, request log, knobs."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException
from test_conformance_delete import widget_crd

from kubesim.emulator import Emulator, run_emulator


async def api_for(sim: Emulator) -> client.ApiClient:
    """An ApiClient for ``sim``."""
    cfg = client.Configuration()
    await config.load_kube_config(config_file=str(sim.kubeconfig_path), client_configuration=cfg)
    return client.ApiClient(cfg)


async def test_state_survives_restart_with_crds(tmp_path: Path) -> None:
    """Objects, the revision and established CRDs come back from --state; old RVs get 410."""
    state = tmp_path / "state.json"
    async with run_emulator(state=state) as sim:
        async with await api_for(sim) as api:
            await client.CoreV1Api(api).create_namespaced_config_map(
                "default", {"metadata": {"name": "kept"}}
            )
            ext = client.ApiextensionsV1Api(api)
            await ext.create_custom_resource_definition(widget_crd())
            await sim.idle()
            await client.CustomObjectsApi(api).create_namespaced_custom_object(
                "example.com",
                "v1",
                "default",
                "widgets",
                {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}},
            )
        rv = sim.resource_version
    async with run_emulator(state=state) as sim, await api_for(sim) as api:
        names = [
            c.metadata.name
            for c in (await client.CoreV1Api(api).list_namespaced_config_map("default")).items
        ]
        widget = await client.CustomObjectsApi(api).get_namespaced_custom_object(
            "example.com", "v1", "default", "widgets", "w"
        )
        assert (names, widget["metadata"]["name"], sim.resource_version) == (["kept"], "w", rv)
        with pytest.raises(ApiException) as info:
            await client.CoreV1Api(api).list_namespaced_config_map(
                "default", resource_version="1", resource_version_match="Exact"
            )
    assert (info.value.status, json.loads(info.value.body)["message"]) == (
        410,
        "The resourceVersion for the provided list is too old.",
    )


async def test_frozen_clock_stamps_objects() -> None:
    """freeze_time() sets creationTimestamp and managedFields times."""
    async with run_emulator() as sim, await api_for(sim) as api:
        sim.freeze_time(datetime(2026, 1, 1, tzinfo=UTC))
        made = await client.CoreV1Api(api).create_namespaced_config_map(
            "default", {"metadata": {"name": "c"}, "data": {"k": "v"}}
        )
    assert (
        made.metadata.creation_timestamp.isoformat(),
        made.metadata.managed_fields[0].time.isoformat(),
    ) == (
        "2026-01-01T00:00:00+00:00",
        "2026-01-01T00:00:00+00:00",
    )


async def test_request_log_records_actor_and_code() -> None:
    """Every request is logged with its verb, user, User-Agent and answer code."""
    async with run_emulator(tokens={"t": "alice"}) as sim, await api_for(sim) as api:
        core = client.CoreV1Api(api)
        await core.create_namespaced_config_map("default", {"metadata": {"name": "c"}})
        with contextlib.suppress(ApiException):
            await core.read_namespaced_config_map("missing", "default")
    assert [
        (r.method, r.path, r.verb, r.user, r.code, r.user_agent.split("/")[0]) for r in sim.requests
    ] == [
        (
            "POST",
            "/api/v1/namespaces/default/configmaps",
            "create",
            "alice",
            201,
            "OpenAPI-Generator",
        ),
        (
            "GET",
            "/api/v1/namespaces/default/configmaps/missing",
            "get",
            "alice",
            404,
            "OpenAPI-Generator",
        ),
    ]
