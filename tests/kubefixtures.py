"""Fixtures for code that talks to clusters: a running emulator and a gitopsd KubeClient.

Registered as a plugin by tests/conftest.py. ``emulator`` is the Kubernetes API
emulator with fast controllers on 127.0.0.1 (the test fails if it caught internal
errors); ``kube`` is ``kubeclient.connect`` on its kubeconfig, over real HTTP through
kubernetes_asyncio. Backoffs and rate-limit waits go through ``sleeps``, which records
each wait and returns at once, so tests assert on the waits, never on wall time.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest

from daemon import settings
from daemon.shell import kubeclient
from kubesim.controllers.base import Knobs
from kubesim.emulator import Emulator, run_emulator

FAST_KNOBS = Knobs(step=0.02, establish=0.02, progress_deadline=0.3, job_duration=0.05)


class Sleeps:
    """An injected ``sleep``: records every wait and only yields to the loop."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        """Record the wait; yield once."""
        self.waits.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    """A running emulator with fast controllers; fails the test on its internal errors."""
    async with run_emulator(knobs=dataclasses.replace(FAST_KNOBS, paused=set())) as sim:
        yield sim
        assert sim.internal_errors() == []


@pytest.fixture
def sleeps() -> Sleeps:
    """The recording sleep handed to clients under test."""
    return Sleeps()


@pytest.fixture
def cluster_config(emulator: Emulator) -> settings.ClusterConfig:
    """The emulator as a gitopsd cluster entry (kubeconfig, default rate limit)."""
    return settings.ClusterConfig(
        name=settings.Name("sim"), kubeconfig=str(emulator.kubeconfig_path), timeout=5.0
    )


@pytest.fixture
async def kube(
    cluster_config: settings.ClusterConfig, sleeps: Sleeps
) -> AsyncIterator[kubeclient.KubeClient]:
    """A KubeClient on the emulator whose backoffs go through ``sleeps``."""
    client = await kubeclient.connect(cluster_config, sleep=sleeps)
    async with client:
        yield client


def configmap(
    name: str,
    namespace: str = "default",
    *,
    labels: dict[str, str] | None = None,
    data: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A small ConfigMap body."""
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = dict(labels)
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data or {"k": name}}


def widget_crd() -> dict[str, Any]:
    """A namespaced CRD for widgets.example.com/v1 that keeps unknown fields."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com", "labels": {"gitopsd.io/app": "demo"}},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                    "subresources": {"status": {}},
                }
            ],
        },
    }
