"""The cluster client resolves the environment's proxy once and never reads netrc per request."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from daemon import settings
from daemon.shell import kubeclient
from kubesim.emulator import Emulator


@pytest.fixture
async def proxy() -> AsyncIterator[tuple[str, list[str]]]:
    """A stand-in HTTP proxy on loopback: records each request target, answers a fixed version."""
    seen: list[str] = []

    async def handle(request: web.BaseRequest) -> web.Response:
        seen.append(str(request.url))
        return web.json_response({"gitVersion": "via-proxy"})

    runner = web.ServerRunner(web.Server(handle), handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


def _cluster(emulator: Emulator) -> settings.ClusterConfig:
    return settings.ClusterConfig(
        name=settings.Name("sim"), kubeconfig=str(emulator.kubeconfig_path), timeout=5.0
    )


async def test_requests_go_through_the_proxy_the_environment_names(
    emulator: Emulator, proxy: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP_PROXY set when the client is made: requests go to the proxy, not the server."""
    url, seen = proxy
    monkeypatch.setenv("HTTP_PROXY", url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    async with await kubeclient.connect(_cluster(emulator)) as kube:
        version = await kube.server_version()
        session = (await kube.api_client()).rest_client.pool_manager
        assert session.trust_env is False
    assert (version, seen) == (
        {"gitVersion": "via-proxy"},
        [f"http://127.0.0.1:{emulator.port}/version"],
    )


async def test_no_proxy_for_the_server_goes_direct(
    emulator: Emulator, proxy: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """NO_PROXY naming the server's host: requests go straight to the server."""
    url, seen = proxy
    monkeypatch.setenv("HTTP_PROXY", url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    async with await kubeclient.connect(_cluster(emulator)) as kube:
        version = await kube.server_version()
    assert (version["gitVersion"] != "via-proxy", seen) == (True, [])
