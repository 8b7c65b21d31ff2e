"""Fixtures for the emulator's conformance suite: a running emulator and clients for it.

Tests talk to the emulator only through kubernetes_asyncio: the typed API (``core``,
``apps``...), the DynamicClient (``dyn``, with a per-test discovery cache file), and
``raw`` for requests the client cannot express (it uses the same ApiClient's aiohttp
session and bearer token, and returns status, headers and body untouched).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from kubernetes_asyncio import client, config
from kubernetes_asyncio.dynamic import DynamicClient
from simclient import Raw

from kubesim.controllers.base import Knobs
from kubesim.emulator import Emulator, run_emulator

FAST = Knobs(step=0.02, establish=0.02, progress_deadline=0.3, job_duration=0.05)


@pytest.fixture
async def sim() -> AsyncIterator[Emulator]:
    """A running emulator with fast controllers; fails the test on internal errors."""
    async with run_emulator(knobs=dataclasses.replace(FAST, paused=set())) as emulator:
        yield emulator
        assert emulator.internal_errors() == []


@pytest.fixture
async def api_client(sim: Emulator) -> AsyncIterator[client.ApiClient]:
    """A kubernetes_asyncio ApiClient configured from the emulator's kubeconfig."""
    cfg = client.Configuration()
    await config.load_kube_config(config_file=str(sim.kubeconfig_path), client_configuration=cfg)
    async with client.ApiClient(cfg) as api:
        yield api


@pytest.fixture
def core(api_client: client.ApiClient) -> client.CoreV1Api:
    """The typed core/v1 API."""
    return client.CoreV1Api(api_client)


@pytest.fixture
def apps(api_client: client.ApiClient) -> client.AppsV1Api:
    """The typed apps/v1 API."""
    return client.AppsV1Api(api_client)


@pytest.fixture
async def dyn(api_client: client.ApiClient, tmp_path: Path) -> DynamicClient:
    """A DynamicClient with its discovery cache in this test's temporary directory."""
    return await DynamicClient(api_client, cache_file=str(tmp_path / "discovery.json"))


@pytest.fixture
def raw(api_client: client.ApiClient) -> Raw:
    """Raw HTTP through kubernetes_asyncio's session."""
    return Raw(api_client)
