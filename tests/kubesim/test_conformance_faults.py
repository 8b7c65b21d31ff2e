"""Faults and actors (KUBE_API.md §7, issue 3 items 8-9): injected errors, 429s, auth."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from kubernetes_asyncio import client, config, watch
from kubernetes_asyncio.client.exceptions import ApiException
from simclient import Raw

from kubesim.emulator import Emulator, run_emulator

CMS = "/api/v1/namespaces/default/configmaps"


async def test_apf_429_is_plain_text_with_retry_after(
    core: client.CoreV1Api, sim: Emulator
) -> None:
    """An APF rejection: 429, Retry-After, text/plain body; ApiException.reason is the HTTP phrase."""
    sim.faults.inject(429, apf=True, retry_after=3, verb="list")
    with pytest.raises(ApiException) as info:
        await core.list_namespaced_config_map("default")
    exc = info.value
    assert (
        exc.status,
        exc.reason,
        exc.body,
        exc.headers["Retry-After"],
        exc.headers["Content-Type"],
    ) == (
        429,
        "Too Many Requests",
        "Too many requests, please try again later.\n",
        "3",
        "text/plain; charset=utf-8",
    )
    assert len((await core.list_namespaced_config_map("default")).items) == 0


async def test_status_429_is_json(raw: Raw, sim: Emulator) -> None:
    """A Status 429 carries reason TooManyRequests and retryAfterSeconds."""
    sim.faults.inject(429, retry_after=2, path="/configmaps$", message="slow down")
    resp = await raw("GET", CMS)
    assert (resp.status, resp.headers["Retry-After"], resp.json()) == (
        429,
        "2",
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "slow down",
            "reason": "TooManyRequests",
            "details": {"retryAfterSeconds": 2},
            "code": 429,
        },
    )


@pytest.mark.parametrize(
    ("code", "reason"), [(500, "InternalError"), (503, "ServiceUnavailable"), (504, "Timeout")]
)
async def test_injected_errors_fire_n_times(
    raw: Raw, sim: Emulator, code: int, reason: str
) -> None:
    """An injected error answers matching requests a fixed number of times, then stops."""
    rule = sim.faults.inject(code, verb="create", times=2)
    body = {"metadata": {"name": "c"}}
    answers = [(await raw("POST", CMS, body=body)).status for _ in range(3)]
    other = await raw("GET", CMS)
    assert (answers, rule.fired, other.status) == ([code, code, 201], 2, 200)
    assert sim.requests[0].code == code


async def test_injected_error_body(raw: Raw, sim: Emulator) -> None:
    """A 503 fault is a ServiceUnavailable Status with Retry-After."""
    sim.faults.inject(503, path="/api/v1/namespaces/default/configmaps", retry_after=1)
    resp = await raw("GET", CMS)
    assert (
        resp.status,
        resp.headers["Retry-After"],
        resp.json()["reason"],
        resp.headers["Content-Type"],
    ) == (
        503,
        "1",
        "ServiceUnavailable",
        "application/json",
    )


async def test_rate_limit(raw: Raw, sim: Emulator) -> None:
    """Past the request rate limit the server answers APF 429s."""
    sim.faults.set_rate_limit(0.001, burst=3)
    codes = [(await raw("GET", CMS)).status for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]


async def test_aborted_watch_is_resumed_by_the_client(
    core: client.CoreV1Api, sim: Emulator
) -> None:
    """A watch whose connection is cut raises in the client (the caller re-watches)."""
    with pytest.raises(aiohttp.ClientPayloadError):
        await watch_through_abort(core, sim)


async def watch_through_abort(core: client.CoreV1Api, sim: Emulator) -> None:
    """Read one event, cut every watch connection, then read on."""
    w = watch.Watch()
    async with w:
        stream = w.stream(core.list_namespaced_config_map, "default")
        await core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
        await anext(stream)
        sim.drop_watches(abort=True)
        await anext(stream)


async def test_bad_token_is_401(raw: Raw) -> None:
    """A wrong bearer token is 401 Unauthorized as a Status."""
    resp = await raw("GET", CMS, headers={"Authorization": "Bearer nope"})
    assert (resp.status, resp.json()) == (
        401,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "Unauthorized",
            "reason": "Unauthorized",
            "code": 401,
        },
    )


async def test_tokens_map_to_users(tmp_path: Path) -> None:
    """Each configured token acts as its user; the kubeconfig holds a context per token."""
    async with run_emulator(
        tokens={"t-alice": "alice", "t-bob": "bob"}, kubeconfig=tmp_path / "kc"
    ) as sim:
        loaded = []
        for ctx in ("alice@gitopsd-sim", "bob@gitopsd-sim"):
            cfg = client.Configuration()
            await config.load_kube_config(
                config_file=str(tmp_path / "kc"), context=ctx, client_configuration=cfg
            )
            async with client.ApiClient(cfg) as api:
                await client.CoreV1Api(api).list_namespace()
            loaded.append(cfg.host)
        assert [r.user for r in sim.requests] == ["alice", "bob"]
        assert loaded == [sim.url, sim.url]


async def test_shutting_down_is_503(raw: Raw, sim: Emulator) -> None:
    """While shutting down the server answers 503 Status JSON with Retry-After: 1."""
    sim.frontend.shutting_down = True
    resp = await raw("GET", CMS)
    sim.frontend.shutting_down = False
    assert (resp.status, resp.headers["Retry-After"], resp.json()) == (
        503,
        "1",
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "apiserver is shutting down",
            "reason": "ServiceUnavailable",
            "code": 503,
        },
    )
