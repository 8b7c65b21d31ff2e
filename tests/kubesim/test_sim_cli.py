"""``python -m kubesim`` / ``gitopsd sim``: one ready line, tokens, faults from flags, state kept."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

from kubesim import cli as sim_cli

GITOPSD_SIM = ("-m", "daemon", "sim")
KUBESIM = ("-m", "kubesim")
# The interpreter as it is when the optional extra is not installed: `import uvloop` fails.
KUBESIM_WITHOUT_UVLOOP = (
    "-c",
    (
        "import runpy, sys; sys.modules['uvloop'] = None; "
        "runpy.run_module('kubesim', run_name='__main__', alter_sys=True)"
    ),
)


@asynccontextmanager
async def running(
    *args: str, command: tuple[str, ...] = GITOPSD_SIM
) -> AsyncIterator[tuple[str, asyncio.subprocess.Process]]:
    """Start the emulator's COMMAND with ARGS and yield its URL once it printed the ready line."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *command,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        assert line.startswith("ready http://127.0.0.1:"), line
        yield line.split()[1], proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 30)


async def core_api(kubeconfig: Path) -> client.ApiClient:
    """An ApiClient from the written kubeconfig."""
    cfg = client.Configuration()
    await config.load_kube_config(config_file=str(kubeconfig), client_configuration=cfg)
    return client.ApiClient(cfg)


async def test_cli_serves_until_sigterm_and_keeps_state(tmp_path: Path) -> None:
    """The command prints exactly one ready line, serves the kubeconfig's token, saves --state."""
    kc, state = tmp_path / "kc", tmp_path / "state.json"
    async with running("--kubeconfig", str(kc), "--token", "alice=t1", "--state", str(state)) as (
        url,
        proc,
    ):
        async with await core_api(kc) as api:
            await client.CoreV1Api(api).create_namespaced_config_map(
                "default", {"metadata": {"name": "kept"}}
            )
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        assert proc.stdout is not None
        assert await proc.stdout.read() == b""
    assert url.startswith("http://127.0.0.1:")
    async with (
        running("--kubeconfig", str(kc), "--token", "alice=t1", "--state", str(state)),
        await core_api(kc) as api,
    ):
        names = [
            c.metadata.name
            for c in (await client.CoreV1Api(api).list_namespaced_config_map("default")).items
        ]
    assert names == ["kept"]


async def test_cli_faults_from_flags(tmp_path: Path) -> None:
    """--fault arms an error from the command line; a wrong token is 401."""
    kc = tmp_path / "kc"
    async with (
        running("--kubeconfig", str(kc), "--fault", "503:verb=list,times=1"),
        await core_api(kc) as api,
    ):
        core = client.CoreV1Api(api)
        with pytest.raises(ApiException) as first:
            await core.list_namespace()
        assert len((await core.list_namespace()).items) == 4
        api.configuration.api_key["BearerToken"] = "Bearer wrong"
        with pytest.raises(ApiException) as denied:
            await core.list_namespace()
    assert (first.value.status, denied.value.status) == (503, 401)


def test_fault_spec_parsing() -> None:
    """Fault specs parse into rules; bad ones are usage errors."""
    rule = sim_cli.parse_fault("429:apf,verb=patch,path=/deployments,times=always,retry-after=4")
    assert (rule.code, rule.apf, rule.verb, rule.path, rule.times, rule.retry_after) == (
        429,
        True,
        "patch",
        "/deployments",
        -1,
        4,
    )
    for bad in ("418", "500:colour=red", "503:times=x"):
        with pytest.raises(sim_cli.UsageError):
            sim_cli.parse_fault(bad)


@pytest.mark.parametrize("command", [KUBESIM, KUBESIM_WITHOUT_UVLOOP], ids=["uvloop", "no-uvloop"])
async def test_python_m_kubesim_serves_with_and_without_uvloop(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    """``python -m kubesim`` serves the kubeconfig's token and exits 0 on SIGTERM, uvloop or not."""
    kc = tmp_path / "kc"
    async with (
        running("--kubeconfig", str(kc), "--token", "t1", command=command) as (_, proc),
        await core_api(kc) as api,
    ):
        namespaces = await client.CoreV1Api(api).list_namespace()
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    assert sorted(ns.metadata.name for ns in namespaces.items) == [
        "default",
        "kube-node-lease",
        "kube-public",
        "kube-system",
    ]


@pytest.mark.parametrize("command", [KUBESIM, GITOPSD_SIM], ids=["kubesim", "gitopsd-sim"])
def test_bad_fault_exits_2_naming_it(command: tuple[str, ...]) -> None:
    """Both command lines reject a bad --fault with exit code 2 and one line naming it."""
    result = subprocess.run(
        [sys.executable, *command, "--fault", "418"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (
        2,
        "",
        "error: --fault '418': the code must be 429, 500, 503 or 504\n",
    )
