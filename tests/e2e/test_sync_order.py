"""End to end: waves and hooks run in order; dry-run failures and restrictions stop a sync."""

from __future__ import annotations

from pathlib import Path

from gitfixtures import Upstream
from harness import NAMESPACE, app_config, configmap, deployment, manifest, running

from daemon.core import events as ev
from daemon.core.events import StepAction
from kubesim.emulator import Emulator


def job(name: str, **annotations: str) -> dict[str, object]:
    """A Job that the emulator completes quickly."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "run", "image": "busybox:1.36"}],
                }
            }
        },
    }


async def test_waves_and_hooks_apply_in_order(
    tmp_path: Path, database_url: str, emulator: Emulator, upstream: Upstream
) -> None:
    """PreSync hook, waves -1/0/2, then PostSync: applied in that order, each after the last is healthy."""
    v1 = upstream.commit(
        {
            "apps/web/all.yaml": manifest(
                job("migrate", **{"argocd.argoproj.io/hook": "PreSync"}),
                configmap("late", {"a": "1"}, annotations={"gitopsd.io/sync-wave": "2"}),
                configmap("first", {"a": "1"}, annotations={"argocd.argoproj.io/sync-wave": "-1"}),
                configmap("middle", {"a": "1"}),
                job("smoke", **{"gitopsd.io/hook": "PostSync"}),
            )
        }
    )
    async with running(
        tmp_path=tmp_path, database_url=database_url, sim=emulator, upstream=upstream
    ) as gitops:
        await gitops.synced(v1)
        applied = [e.key for e in await gitops.last_sync() if isinstance(e, ev.ObjectApplied)]
        assert applied == [
            f"/Namespace//{NAMESPACE}",
            f"batch/Job/{NAMESPACE}/migrate",
            f"/ConfigMap/{NAMESPACE}/first",
            f"/ConfigMap/{NAMESPACE}/middle",
            f"/ConfigMap/{NAMESPACE}/late",
            f"batch/Job/{NAMESPACE}/smoke",
        ]
        # The PreSync Job had completed before the first wave was applied.
        requests = [r for r in emulator.requests if r.method == "PATCH" and "dryRun" not in r.query]
        paths = [r.path.rsplit("/", 1)[-1] for r in requests]
        assert paths.index("first") > paths.index("migrate")


async def test_dry_run_failure_changes_nothing(
    tmp_path: Path, database_url: str, emulator: Emulator, upstream: Upstream
) -> None:
    """One invalid object fails the server-side dry-run: nothing is applied, the object is named."""
    bad = deployment("web", "nginx:1.27")
    bad["spec"]["replicas"] = -1  # valid YAML, refused by the API server's validation
    v1 = upstream.commit({"apps/web/all.yaml": manifest(configmap("good", {"a": "1"}), bad)})
    async with running(
        tmp_path=tmp_path,
        database_url=database_url,
        sim=emulator,
        upstream=upstream,
        apps=[app_config(sync={"create_namespace": True, "retry": {"limit": 0}})],
    ) as gitops:
        await gitops.sync_failed()
        events = await gitops.last_sync()
        assert [type(e).__name__ for e in events] == [
            "SyncPlanned",
            "ObjectApplied",
            "StepFailed",
            "SyncFinished",
        ]
        # Stage 0 (the destination Namespace) goes first; nothing after the dry-run.
        applied = events[1]
        assert isinstance(applied, ev.ObjectApplied)
        assert applied.key == f"/Namespace//{NAMESPACE}"
        failed = events[2]
        assert isinstance(failed, ev.StepFailed)
        assert (failed.key, failed.stage, failed.code, failed.reason) == (
            f"apps/Deployment/{NAMESPACE}/web",
            "dry-run",
            422,
            "Invalid",
        )
        finished = events[-1]
        assert isinstance(finished, ev.SyncFinished)
        assert finished.message.startswith(
            f"Deployment/{NAMESPACE}/web dry-run failed: Invalid (422): "
            'Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1'
        )
        assert finished.message.endswith("nothing was changed")
        assert await gitops.get(f"/ConfigMap/{NAMESPACE}/good") is None
        assert gitops.target().last_synced_revision is None
        del v1


async def test_restrictions_refuse_before_anything_is_applied(
    tmp_path: Path, database_url: str, emulator: Emulator, upstream: Upstream
) -> None:
    """A kind the app may not deploy and a foreign namespace are refused; nothing is applied."""
    upstream.commit(
        {
            "apps/web/all.yaml": manifest(
                configmap("ok", {"a": "1"}),
                configmap("elsewhere", {"a": "1"}, namespace="kube-system"),
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": "s"},
                    "stringData": {"k": "v"},
                },
            )
        }
    )
    restricted = app_config(
        restrictions={"namespaces": [NAMESPACE], "denied_kinds": ["Secret"]},
        sync={"create_namespace": True, "retry": {"limit": 0}},
    )
    async with running(
        tmp_path=tmp_path,
        database_url=database_url,
        sim=emulator,
        upstream=upstream,
        apps=[restricted],
    ) as gitops:
        await gitops.sync_failed()
        events = await gitops.last_sync()
        planned = events[0]
        assert isinstance(planned, ev.SyncPlanned)
        refused = {(s.key, s.reason) for s in planned.steps if s.action is StepAction.REFUSED}
        assert refused == {
            (
                "/ConfigMap/kube-system/elsewhere",
                f"namespace 'kube-system' is not allowed for this app (allowed: {NAMESPACE})",
            ),
            (f"/Secret/{NAMESPACE}/s", "kind Secret is denied for this app"),
        }
        assert [type(e).__name__ for e in events] == [
            "SyncPlanned",
            "StepFailed",
            "StepFailed",
            "SyncFinished",
        ]
        assert {e.stage for e in events[1:3] if isinstance(e, ev.StepFailed)} == {"policy"}
        assert await gitops.get(f"/ConfigMap/{NAMESPACE}/ok") is None
        assert await gitops.get(f"/Namespace//{NAMESPACE}") is None
