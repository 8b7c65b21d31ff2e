"""End to end: commits in Git become objects in the (emulated) cluster, step by step."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import aiohttp
import orjson
import yaml
from gitfixtures import Upstream
from harness import NAMESPACE, app_config, configmap, deployment, manifest, running

from daemon.core import events as ev
from daemon.core.events import StepAction
from kubesim.emulator import Emulator


async def test_create_update_unchanged_prune(
    tmp_path: Path, database_url: str, emulator: Emulator, upstream: Upstream
) -> None:
    """v1 creates; v2 updates one object, leaves one unchanged and prunes the removed one."""
    v1 = upstream.commit(
        {
            "apps/web/cm.yaml": manifest(configmap("settings", {"color": "blue"})),
            "apps/web/old.yaml": manifest(configmap("legacy", {"x": "1"})),
            "apps/web/deploy.yaml": manifest(deployment("web", "nginx:1.27")),
        },
        message="v1",
    )
    async with running(
        tmp_path=tmp_path, database_url=database_url, sim=emulator, upstream=upstream
    ) as gitops:
        await gitops.synced(v1)
        first = await gitops.last_sync()
        planned = first[0]
        assert isinstance(planned, ev.SyncPlanned)
        assert [(s.key, s.action) for s in planned.steps] == [
            (f"/Namespace//{NAMESPACE}", StepAction.CREATE),
            (f"/ConfigMap/{NAMESPACE}/legacy", StepAction.CREATE),
            (f"/ConfigMap/{NAMESPACE}/settings", StepAction.CREATE),
            (f"apps/Deployment/{NAMESPACE}/web", StepAction.CREATE),
        ]
        assert isinstance(first[-1], ev.SyncFinished)
        assert first[-1].result is ev.SyncResult.SUCCEEDED
        live = await gitops.get(f"/ConfigMap/{NAMESPACE}/settings")
        assert live is not None
        assert live["data"] == {"color": "blue"}
        assert live["metadata"]["labels"] == {"gitopsd.io/app": "web"}

        v2 = gitops.commit(
            {
                "apps/web/cm.yaml": manifest(configmap("settings", {"color": "green"})),
                "apps/web/old.yaml": None,
            },
            message="v2",
        )
        await gitops.synced(v2)
        second = await gitops.last_sync()
        planned = second[0]
        assert isinstance(planned, ev.SyncPlanned)
        assert [(s.key, s.action, s.reason) for s in planned.steps] == [
            (f"/Namespace//{NAMESPACE}", StepAction.UNCHANGED, "in sync"),
            (
                f"/ConfigMap/{NAMESPACE}/settings",
                StepAction.UPDATE,
                ".data.color: 'blue' -> 'green'",
            ),
            (f"apps/Deployment/{NAMESPACE}/web", StepAction.UNCHANGED, "in sync"),
            (f"/ConfigMap/{NAMESPACE}/legacy", StepAction.PRUNE, "no longer in Git"),
        ]
        outcomes = [type(e).__name__ for e in second]
        assert outcomes == ["SyncPlanned", "ObjectApplied", "ObjectPruned", "SyncFinished"]
        assert await gitops.get(f"/ConfigMap/{NAMESPACE}/legacy") is None
        assert sorted(gitops.target().inventory) == [
            f"/ConfigMap/{NAMESPACE}/settings",
            f"/Namespace//{NAMESPACE}",
            f"apps/Deployment/{NAMESPACE}/web",
        ]


async def test_probes_and_metrics(
    tmp_path: Path, database_url: str, emulator: Emulator, upstream: Upstream
) -> None:
    """/healthz and /readyz answer 200 once started; /metrics reports the app from the log."""
    v1 = upstream.commit({"apps/web/cm.yaml": manifest(configmap("settings", {"a": "1"}))})
    async with running(
        tmp_path=tmp_path, database_url=database_url, sim=emulator, upstream=upstream
    ) as gitops:
        await gitops.synced(v1)
        bound = gitops.daemon.http.bound
        assert bound is not None
        base = f"http://{bound[0]}:{bound[1]}"
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/healthz") as resp:
                assert (resp.status, await resp.json()) == (200, {"status": "ok"})
            async with session.get(f"{base}/readyz") as resp:
                assert (resp.status, await resp.json()) == (200, {"status": "ready"})
            async with session.get(f"{base}/metrics") as resp:
                assert resp.status == 200
                text = await resp.text()
        lines = set(text.splitlines())
        assert 'gitopsd_app_health{app="web",health="Healthy",target="sim"} 1.0' in lines
        assert 'gitopsd_app_synced{app="web",target="sim"} 1.0' in lines
        assert 'gitopsd_app_objects{app="web",target="sim"} 2.0' in lines
        assert 'gitopsd_source_commits_total{source="repo"} 1.0' in lines


async def test_status_and_history_commands(
    tmp_path: Path, database_url: str, emulator: Emulator, upstream: Upstream
) -> None:
    """`gitopsd status --json` and `gitopsd history` read the app's state from the log."""
    v1 = upstream.commit({"apps/web/cm.yaml": manifest(configmap("settings", {"a": "1"}))})
    async with running(
        tmp_path=tmp_path, database_url=database_url, sim=emulator, upstream=upstream
    ) as gitops:
        await gitops.synced(v1)
        path = tmp_path / "gitopsd.yaml"
        path.write_text(
            yaml.safe_dump(
                {
                    "state_dir": str(tmp_path / "cli-state"),
                    "clusters": [{"name": "sim", "kubeconfig": str(emulator.kubeconfig_path)}],
                    "sources": [{"name": "repo", "url": upstream.url}],
                    "apps": [app_config()],
                }
            )
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("GITOPSD_")}
        env["GITOPSD_DATABASE_URL"] = database_url

        async def gitopsd(*args: str) -> str:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "daemon",
                "--config",
                str(path),
                *args,
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await proc.communicate()
            assert proc.returncode == 0, err.decode()
            return out.decode()

        (row,) = orjson.loads(await gitopsd("status", "--json"))
        assert {
            k: row[k]
            for k in (
                "app",
                "cluster",
                "revision",
                "applied",
                "sync",
                "health",
                "last_sync",
                "objects",
            )
        } == {
            "app": "web",
            "cluster": "sim",
            "revision": v1,
            "applied": v1,
            "sync": "Synced",
            "health": "Healthy",
            "last_sync": "Succeeded",
            "objects": 2,
        }
        table = (await gitopsd("status")).splitlines()
        assert table[0].split() == [
            "APP", "CLUSTER", "NAMESPACE", "REVISION", "APPLIED", "SYNC", "HEALTH", "PINNED",
            "SUSPENDED", "LAST", "SYNC",
        ]  # fmt: skip
        assert table[1].split()[:10] == [
            "web", "sim", NAMESPACE, v1[:8], v1[:8], "Synced", "Healthy", "-", "-", "Succeeded"
        ]  # fmt: skip
        history = await gitopsd("history", "web")
        assert f"rendered {v1[:8]}: 1 objects (plain)" in history
        assert f"  created ConfigMap/{NAMESPACE}/settings" in history
