"""A fleet: several emulators in one process, separate servers and stores, one kubeconfig."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
import yaml
from conftest import FAST
from kubernetes_asyncio import client, config
from test_sim_cli import KUBESIM

from kubesim import fleet as fleet_mod
from kubesim.fleet import Fleet, run_fleet


async def api_for(fleet: Fleet, context: str) -> client.ApiClient:
    """An ApiClient for one context of the fleet's kubeconfig."""
    cfg = client.Configuration()
    await config.load_kube_config(
        config_file=str(fleet.kubeconfig_path), context=context, client_configuration=cfg
    )
    return client.ApiClient(cfg)


async def config_map_names(api: client.ApiClient) -> list[str]:
    """The ConfigMaps in ``default``."""
    found = await client.CoreV1Api(api).list_namespaced_config_map("default")
    return [c.metadata.name for c in found.items]


def test_default_names_pad_and_refuse_zero() -> None:
    """Names are zero-padded to sort in order; a fleet of none is refused, naming the count."""
    assert (fleet_mod.default_names(3), fleet_mod.default_names(100)[-1]) == (
        ["sim-01", "sim-02", "sim-03"],
        "sim-100",
    )
    with pytest.raises(ValueError, match="at least one cluster, not 0"):
        fleet_mod.default_names(0)


async def test_fleet_clusters_are_separate_servers_with_separate_objects() -> None:
    """Each context reaches its own server URL; an object created in one is absent elsewhere."""
    names = ["eu-1", "eu-2", "us-1"]
    async with run_fleet(names, tokens={"t": "admin"}, knobs=FAST) as fleet:
        doc = yaml.safe_load(fleet.kubeconfig_path.read_text())
        servers = {c["name"]: c["cluster"]["server"] for c in doc["clusters"]}
        for name in names:
            async with await api_for(fleet, name) as api:
                await client.CoreV1Api(api).create_namespaced_config_map(
                    "default", {"metadata": {"name": f"only-{name}"}}
                )
        seen = {}
        for name in names:
            async with await api_for(fleet, name) as api:
                seen[name] = await config_map_names(api)
        errors = fleet.internal_errors()
        mode = fleet.kubeconfig_path.stat().st_mode & 0o777
    assert (len(set(servers.values())), servers, seen, errors) == (
        3,
        {n: fleet[n].url for n in names},
        {n: [f"only-{n}"] for n in names},
        {},
    )
    assert [c["name"] for c in doc["contexts"]] == names
    assert doc["current-context"] == "eu-1"
    assert mode == 0o600


async def test_stopped_cluster_refuses_connections_while_others_serve() -> None:
    """stop(name) closes that cluster's server only: its port refuses, the others answer."""
    async with run_fleet(2, tokens={}, knobs=FAST) as fleet:
        gone, kept = fleet["sim-01"], fleet["sim-02"]
        await fleet.stop("sim-01")
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.ClientConnectionError):
                await session.get(f"{gone.url}/version")
            async with session.get(f"{kept.url}/version") as resp:
                status = resp.status
        running_now = (fleet.is_running("sim-01"), fleet.is_running("sim-02"))
        await fleet.stop("sim-01")  # a second stop does nothing
    assert (status, running_now) == (200, (False, True))


async def test_unknown_cluster_and_repeated_names_are_refused() -> None:
    """A name not in the fleet raises KeyError listing the clusters; repeated names ValueError."""
    with pytest.raises(ValueError, match="cluster names repeat: a, a"):
        async with run_fleet(["a", "a"]):
            pass
    async with run_fleet(["a", "b"], knobs=FAST) as fleet:
        with pytest.raises(KeyError, match=r"no cluster 'c' in this fleet \(clusters: a, b\)"):
            await fleet.stop("c")


async def test_twenty_clusters_start_and_settle_together() -> None:
    """Twenty emulators start in one process; each has its own store seeded with 4 namespaces."""
    knobs = dataclasses.replace(FAST, paused=set())
    async with run_fleet(20, knobs=knobs) as fleet:
        await fleet.idle()
        ports = {sim.port for sim in fleet}
        revisions = {sim.resource_version for sim in fleet}
        count = len(fleet.names)
    assert (count, len(ports), len(revisions)) == (20, 20, 1)


async def test_cli_clusters_writes_one_kubeconfig_with_a_context_per_cluster(
    tmp_path: Path,
) -> None:
    """``--clusters 3``: one ready line with the 3 URLs, one kubeconfig context per cluster."""
    kc = tmp_path / "kc"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *KUBESIM,
        *("--kubeconfig", str(kc), "--token", "t1", "--clusters", "3"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode().split()
        doc = yaml.safe_load(kc.read_text())
        servers = [c["cluster"]["server"] for c in doc["clusters"]]
        answers = {}
        for name in ("sim-01", "sim-02", "sim-03"):
            cfg = client.Configuration()
            await config.load_kube_config(
                config_file=str(kc), context=name, client_configuration=cfg
            )
            async with client.ApiClient(cfg) as api:
                namespaces = await client.CoreV1Api(api).list_namespace()
            answers[name] = (cfg.host, len(namespaces.items))
    finally:
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 30)
    assert (line, code, len(set(servers))) == (["ready", *servers], 0, 3)
    assert answers == {
        "sim-01": (servers[0], 4),
        "sim-02": (servers[1], 4),
        "sim-03": (servers[2], 4),
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--clusters", "0"), "error: --clusters 0: at least 1\n"),
        (
            ("--clusters", "2", "--state", "s.json"),
            "error: --state keeps one cluster's objects: it cannot be used with --clusters\n",
        ),
    ],
    ids=["zero", "with-state"],
)
def test_cli_bad_clusters_exit_2_naming_it(args: tuple[str, ...], message: str) -> None:
    """A fleet of no clusters, or one with --state, exits 2 with one line naming the option."""
    result = subprocess.run(
        [sys.executable, *KUBESIM, *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert (result.returncode, result.stdout, result.stderr) == (2, "", message)
