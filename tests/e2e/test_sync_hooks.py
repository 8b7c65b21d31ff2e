"""End to end: hooks named by generateName (Argo CD's sync-waves example) across syncs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from gitfixtures import Upstream
from harness import APP, NAMESPACE, app_config, configmap, manifest, running

from daemon.core import events as ev
from daemon.core import ids
from daemon.runtime import appviews, commands, verify
from kubesim.emulator import Emulator

PRESYNC = f"batch/Job/{NAMESPACE}/upgrade-sql-schema-*"
SYNC_HOOK = f"batch/Job/{NAMESPACE}/maintenance-page-up-*"
POSTSYNC = f"batch/Job/{NAMESPACE}/maintenance-page-down-*"
GENERATED = "[bcdfghjklmnpqrstvwxz2456789]{5}"


def hook_job(prefix: str, image: str = "alpine:3.20", **annotations: str) -> dict[str, Any]:
    """A Job named by generateName, as in argocd-example-apps."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"generateName": prefix, "annotations": annotations},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "run", "image": image}],
                }
            },
            "backoffLimit": 0,
        },
    }


def sync_waves(version: str) -> str:
    """argocd-example-apps sync-waves, with ConfigMaps in place of the workloads."""
    return manifest(
        hook_job("upgrade-sql-schema-", **{"argocd.argoproj.io/hook": "PreSync"}),
        configmap("backend", {"v": version}),
        hook_job(
            "maintenance-page-up-",
            **{"argocd.argoproj.io/hook": "Sync", "argocd.argoproj.io/sync-wave": "1"},
        ),
        configmap("frontend", {"v": version}, annotations={"argocd.argoproj.io/sync-wave": "1"}),
        hook_job(
            "maintenance-page-down-",
            **{
                "argocd.argoproj.io/hook": "PostSync",
                "argocd.argoproj.io/hook-delete-policy": "HookSucceeded",
            },
        ),
    )


def outcomes(events: list[Any]) -> list[tuple[str, ...]]:
    """What a sync did, in order: applies (with the hook) and hook deletions."""
    out: list[tuple[str, ...]] = []
    for e in events:
        if isinstance(e, ev.ObjectApplied):
            out.append(("applied", e.key, e.hook))
        elif isinstance(e, ev.HookDeleted):
            out.append(("deleted", e.key, e.hook, e.delete_policy))
    return out


def instance(events: list[Any], hook: str) -> str:
    """The key of the instance of ``hook`` a sync created."""
    (key,) = [e.key for e in events if isinstance(e, ev.ObjectApplied) and e.hook == hook]
    assert re.fullmatch(re.escape(hook[:-1]) + GENERATED, key), key
    return key


async def test_generate_name_hooks_are_created_fresh_each_sync(
    tmp_path: Path, database_url: str, emulator: Emulator, upstream: Upstream
) -> None:
    """Two syncs of sync-waves: new server-named Jobs each time, policies applied, verify clean."""
    v1 = upstream.commit({"apps/web/all.yaml": sync_waves("1")})
    async with running(
        tmp_path=tmp_path, database_url=database_url, sim=emulator, upstream=upstream
    ) as gitops:
        await gitops.synced(v1)
        first = await gitops.last_sync()
        pre1, up1, down1 = (instance(first, h) for h in (PRESYNC, SYNC_HOOK, POSTSYNC))
        assert outcomes(first) == [
            ("applied", f"/Namespace//{NAMESPACE}", ""),
            ("applied", pre1, PRESYNC),
            ("applied", f"/ConfigMap/{NAMESPACE}/backend", ""),
            ("applied", f"/ConfigMap/{NAMESPACE}/frontend", ""),
            ("applied", up1, SYNC_HOOK),
            ("applied", down1, POSTSYNC),
            ("deleted", down1, POSTSYNC, "HookSucceeded"),
        ]
        # The PreSync Job ran to completion before the first wave was applied.
        done = await gitops.get(pre1)
        assert done is not None
        assert done["status"]["succeeded"] == 1
        assert await gitops.get(down1) is None
        assert gitops.target().hook_instances == {pre1: PRESYNC, up1: SYNC_HOOK}
        assert gitops.target().health is ev.Health.HEALTHY

        v2 = gitops.commit({"apps/web/all.yaml": sync_waves("2")})
        await gitops.synced(v2)
        second = await gitops.last_sync()
        pre2, up2, down2 = (instance(second, h) for h in (PRESYNC, SYNC_HOOK, POSTSYNC))
        assert {pre2, up2, down2}.isdisjoint({pre1, up1, down1})
        assert outcomes(second) == [
            ("deleted", pre1, PRESYNC, "BeforeHookCreation"),
            ("applied", pre2, PRESYNC),
            ("applied", f"/ConfigMap/{NAMESPACE}/backend", ""),
            ("applied", f"/ConfigMap/{NAMESPACE}/frontend", ""),
            ("deleted", up1, SYNC_HOOK, "BeforeHookCreation"),
            ("applied", up2, SYNC_HOOK),
            ("applied", down2, POSTSYNC),
            ("deleted", down2, POSTSYNC, "HookSucceeded"),
        ]
        assert [await gitops.get(k) is None for k in (pre1, up1, down2)] == [True, True, True]
        assert gitops.target().hook_instances == {pre2: PRESYNC, up2: SYNC_HOOK}
        planned = second[0]
        assert isinstance(planned, ev.SyncPlanned)
        assert [s.action for s in planned.steps if s.phase == "Prune"] == []

        # Each create was dry-run first, and none was sent with a name.
        posts = [r for r in emulator.requests if r.method == "POST" and "/jobs" in r.path]
        assert [("dryRun=All" in r.query, r.path) for r in posts] == [
            (dry, f"/apis/batch/v1/namespaces/{NAMESPACE}/jobs")
            for dry in [True, True, True, False, False, False] * 2
        ]

        # Hooks alone never call for a sync: looking again plans nothing.
        syncs = gitops.daemon.reconciler.syncs
        gitops.daemon.reconciler.request(APP)
        await gitops.daemon.reconciler.idle()
        assert gitops.daemon.reconciler.syncs == syncs

        service = commands.Commands(gitops.store, gitops.config)
        history = appviews.format_history(await service.history(APP))
        shown = f"created {ids.display_key(pre2)} (hook Job/{NAMESPACE}/upgrade-sql-schema-*)"
        deleted = f"deleted hook {ids.display_key(pre1)} (BeforeHookCreation)"
        assert [any(line.endswith(text) for line in history) for text in (shown, deleted)] == [
            True,
            True,
        ]
        report = await verify.verify(gitops.store)
        assert (report.plans, report.mismatches) == (2, [])


async def test_failed_hook_is_deleted_by_hook_failed_and_removed_hooks_are_pruned(
    tmp_path: Path, database_url: str, emulator: Emulator, upstream: Upstream
) -> None:
    """A failing PreSync hook with HookFailed is deleted; a hook gone from Git loses its instances."""
    failing = hook_job(
        "check-",
        "busybox:broken",
        **{"gitopsd.io/hook": "PreSync", "gitopsd.io/hook-delete-policy": "HookFailed"},
    )
    upstream.commit({"apps/web/all.yaml": manifest(failing, configmap("c", {"v": "1"}))})
    async with running(
        tmp_path=tmp_path,
        database_url=database_url,
        sim=emulator,
        upstream=upstream,
        apps=[app_config(sync={"create_namespace": True, "retry": {"limit": 0}})],
    ) as gitops:
        await gitops.sync_failed()
        events = await gitops.last_sync()
        check = instance(events, f"batch/Job/{NAMESPACE}/check-*")
        assert outcomes(events)[1:] == [
            ("applied", check, f"batch/Job/{NAMESPACE}/check-*"),
            ("deleted", check, f"batch/Job/{NAMESPACE}/check-*", "HookFailed"),
        ]
        assert await gitops.get(f"/ConfigMap/{NAMESPACE}/c") is None

        # A hook that succeeds with no policy keeps its instance; once Git drops the
        # hook, the instance is pruned like anything else gitopsd created.
        kept = hook_job("seed-", **{"gitopsd.io/hook": "PostSync"})
        v2 = gitops.commit({"apps/web/all.yaml": manifest(kept, configmap("c", {"v": "2"}))})
        await gitops.synced(v2)
        seed = instance(await gitops.last_sync(), f"batch/Job/{NAMESPACE}/seed-*")
        assert await gitops.get(seed) is not None
        v3 = gitops.commit({"apps/web/all.yaml": manifest(configmap("c", {"v": "3"}))})
        await gitops.synced(v3)
        pruned = [e.key for e in await gitops.last_sync() if isinstance(e, ev.ObjectPruned)]
        assert pruned == [seed]
        assert await gitops.get(seed) is None
        assert gitops.target().hook_instances == {}
        report = await verify.verify(gitops.store)
        assert (report.plans, report.mismatches) == (3, [])


async def test_named_hook_deleted_by_its_policy_does_not_call_for_another_sync(
    tmp_path: Path, database_url: str, emulator: Emulator, upstream: Upstream
) -> None:
    """A named PostSync hook deleted after success is not missing drift: no sync follows."""
    smoke = hook_job(
        "unused-",
        **{"gitopsd.io/hook": "PostSync", "gitopsd.io/hook-delete-policy": "HookSucceeded"},
    )
    smoke["metadata"]["name"] = "smoke"
    v1 = upstream.commit({"apps/web/all.yaml": manifest(smoke, configmap("c", {"v": "1"}))})
    async with running(
        tmp_path=tmp_path, database_url=database_url, sim=emulator, upstream=upstream
    ) as gitops:
        await gitops.synced(v1)
        assert outcomes(await gitops.last_sync())[-2:] == [
            ("applied", f"batch/Job/{NAMESPACE}/smoke", ""),
            (
                "deleted",
                f"batch/Job/{NAMESPACE}/smoke",
                f"batch/Job/{NAMESPACE}/smoke",
                "HookSucceeded",
            ),
        ]
        assert await gitops.get(f"batch/Job/{NAMESPACE}/smoke") is None
        syncs = gitops.daemon.reconciler.syncs
        gitops.daemon.reconciler.request(APP)
        await gitops.daemon.reconciler.idle()
        assert (gitops.daemon.reconciler.syncs, gitops.target().health) == (
            syncs,
            ev.Health.HEALTHY,
        )


async def test_a_failed_post_sync_hook_is_retried_and_sync_fail_hooks_run(
    tmp_path: Path, database_url: str, emulator: Emulator, upstream: Upstream
) -> None:
    """Hooks alone are retried while their revision has not synced; SyncFail hooks run each time."""
    post = f"batch/Job/{NAMESPACE}/smoke-*"
    fail = f"batch/Job/{NAMESPACE}/page-oncall-*"
    v1 = upstream.commit(
        {
            "apps/web/all.yaml": manifest(
                configmap("c", {"v": "1"}),
                hook_job("smoke-", "busybox:broken", **{"gitopsd.io/hook": "PostSync"}),
                hook_job("page-oncall-", **{"gitopsd.io/hook": "SyncFail"}),
            )
        }
    )
    retry = {"backoff": "100ms", "max_backoff": "1s", "limit": 1}
    async with running(
        tmp_path=tmp_path,
        database_url=database_url,
        sim=emulator,
        upstream=upstream,
        apps=[app_config(sync={"create_namespace": True, "retry": retry})],
    ) as gitops:
        await gitops.until(
            lambda: APP in gitops.state.apps and gitops.target().failed_syncs == 2,
            "two failed syncs",
        )
        items = [i.event for i in await gitops.events()]
        plans = [e for e in items if isinstance(e, ev.SyncPlanned)]
        assert [(p.revision, p.trigger) for p in plans] == [(v1, "revision"), (v1, "retry")]
        first, second = (
            [e for e in items if getattr(e, "sync_id", None) == p.sync_id] for p in plans
        )
        smoke1, page1 = instance(first, post), instance(first, fail)
        smoke2, page2 = instance(second, post), instance(second, fail)
        assert outcomes(second) == [
            ("deleted", smoke1, post, "BeforeHookCreation"),
            ("applied", smoke2, post),
            ("deleted", page1, fail, "BeforeHookCreation"),
            ("applied", page2, fail),
        ]
        # Retries exhausted: nothing more until a new revision or a request.
        syncs = gitops.daemon.reconciler.syncs
        gitops.daemon.reconciler.request(APP)
        await gitops.daemon.reconciler.idle()
        assert gitops.daemon.reconciler.syncs == syncs
        report = await verify.verify(gitops.store)
        assert (report.plans, report.mismatches) == (2, [])
