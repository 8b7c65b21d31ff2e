"""End to end: a Helm chart app is rendered by Helm, synced with its hooks in phase order, Healthy."""

from __future__ import annotations

from pathlib import Path

from gitfixtures import Upstream
from harness import NAMESPACE, app_config, running
from helmcharts import web_chart

from daemon.core import events as ev
from kubesim.emulator import Emulator


async def test_helm_chart_syncs_with_hooks_in_phase_order(
    tmp_path: Path, database_url: str, emulator: Emulator, upstream: Upstream
) -> None:
    """CRDs first, the pre-install hook, the chart's objects, then the post-install hook.

    The pre-delete hook and the test Pod are never applied; objects the templates left
    without a namespace land in the destination namespace; the app turns Healthy.
    """
    v1 = upstream.commit(web_chart("apps/web"))
    app = app_config(render={"helm": {"values_files": ["values-prod.yaml"]}})
    async with running(
        tmp_path=tmp_path, database_url=database_url, sim=emulator, upstream=upstream, apps=[app]
    ) as gitops:
        await gitops.synced(v1)
        recorded = [r.event for r in await gitops.events()]
        rendered = [e for e in recorded if isinstance(e, ev.DesiredStateRendered)]
        assert [e.renderer for e in rendered] == ["helm"]
        applied = [e.key for e in await gitops.last_sync() if isinstance(e, ev.ObjectApplied)]
        assert applied == [
            f"/Namespace//{NAMESPACE}",
            "apiextensions.k8s.io/CustomResourceDefinition//widgets.example.org",
            f"batch/Job/{NAMESPACE}/web-web-migrate",
            f"/ConfigMap/{NAMESPACE}/web-cache",
            f"/ConfigMap/{NAMESPACE}/web-db",
            f"apps/Deployment/{NAMESPACE}/web-web",
            f"batch/Job/{NAMESPACE}/web-web-smoke",
        ]
        # The pre-install Job had completed before the chart's objects were applied.
        patches = [r for r in emulator.requests if r.method == "PATCH" and "dryRun" not in r.query]
        names = [r.path.rsplit("/", 1)[-1] for r in patches]
        assert names.index("web-web-migrate") < names.index("web-db")
        deployment = await gitops.get(f"apps/Deployment/{NAMESPACE}/web-web")
        assert deployment is not None
        assert (deployment["spec"]["replicas"], gitops.target().health) == (3, ev.Health.HEALTHY)
        assert await gitops.get(f"batch/Job/{NAMESPACE}/web-web-goodbye") is None
        assert await gitops.get(f"/Pod/{NAMESPACE}/web-web-test") is None
