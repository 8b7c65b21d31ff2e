"""End to end: Secrets, immutable fields and deletions held by finalizers."""

from __future__ import annotations

import base64
from pathlib import Path

from gitfixtures import Upstream
from harness import NAMESPACE, app_config, configmap, manifest, running
from kubernetes_asyncio import client

from daemon.core import events as ev
from daemon.core.events import StepAction
from kubesim.emulator import Emulator


def secret(name: str, **data: str) -> dict[str, object]:
    """A Secret manifest with stringData."""
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": data}


async def test_secrets_are_applied_with_their_values_but_never_logged(
    tmp_path: Path, database_url: str, emulator: Emulator, upstream: Upstream
) -> None:
    """The cluster gets the real Secret value; the log and blobs only ever hold digests."""
    v1 = upstream.commit(
        {"apps/web/s.yaml": manifest(secret("db", password="hunter2-s3cret", user="app"))}
    )
    async with running(
        tmp_path=tmp_path, database_url=database_url, sim=emulator, upstream=upstream
    ) as gitops:
        await gitops.synced(v1)
        live = await gitops.get(f"/Secret/{NAMESPACE}/db")
        assert live is not None
        stored = (
            live.get("data", {}).get("password")
            or base64.b64encode(live.get("stringData", {}).get("password", "").encode()).decode()
        )
        assert base64.b64decode(stored) == b"hunter2-s3cret"
        async with gitops.store.pool.acquire() as conn:
            events = await conn.fetchval(
                "SELECT string_agg(data::text || meta::text, '') FROM events"
            )
            blobs = await conn.fetchval("SELECT string_agg(body::text, '') FROM blobs")
        for text in (events, blobs):
            assert "hunter2" not in text
            assert base64.b64encode(b"hunter2-s3cret").decode() not in text
        # A second look finds it in sync (digest against digest): no endless resync.
        v2 = gitops.commit({"apps/web/cm.yaml": manifest(configmap("other", {"a": "1"}))})
        await gitops.synced(v2)
        steps = {s.key: s.action for s in (await gitops.last_sync())[0].steps}
        assert steps[f"/Secret/{NAMESPACE}/db"] is StepAction.UNCHANGED
        # A key removed in Git is removed from the Secret (gitopsd applies it as data).
        v3 = gitops.commit({"apps/web/s.yaml": manifest(secret("db", password="hunter2-s3cret"))})
        await gitops.synced(v3)
        live = await gitops.get(f"/Secret/{NAMESPACE}/db")
        assert live is not None
        assert sorted(live["data"]) == ["password"]


async def test_immutable_fields_recreate_only_when_allowed(
    tmp_path: Path, database_url: str, emulator: Emulator, upstream: Upstream
) -> None:
    """Changing an immutable ConfigMap fails with a hint; with allow_recreate it is recreated."""
    v1 = upstream.commit(
        {"apps/web/cm.yaml": manifest({**configmap("frozen", {"v": "1"}), "immutable": True})}
    )
    strict = app_config(sync={"create_namespace": True, "retry": {"limit": 0}})
    async with running(
        tmp_path=tmp_path, database_url=database_url, sim=emulator, upstream=upstream, apps=[strict]
    ) as gitops:
        await gitops.synced(v1)
        uid = (await gitops.get(f"/ConfigMap/{NAMESPACE}/frozen") or {})["metadata"]["uid"]
        gitops.commit(
            {"apps/web/cm.yaml": manifest({**configmap("frozen", {"v": "2"}), "immutable": True})}
        )
        await gitops.until(
            lambda: gitops.target().last_sync_result is ev.SyncResult.FAILED, "a failed sync"
        )
        finished = (await gitops.last_sync())[-1]
        assert isinstance(finished, ev.SyncFinished)
        assert "field is immutable" in finished.message
        assert finished.message.endswith(
            " (set sync.allow_recreate to let gitopsd delete and recreate it); nothing was changed"
        )
    recreate = app_config(sync={"create_namespace": True, "allow_recreate": True})
    async with running(
        tmp_path=tmp_path,
        database_url=database_url,
        sim=emulator,
        upstream=upstream,
        apps=[recreate],
    ) as gitops:
        head = str(upstream.repo.head.target)
        await gitops.synced(head)
        live = await gitops.get(f"/ConfigMap/{NAMESPACE}/frozen")
        assert live is not None
        assert live["data"] == {"v": "2"}
        assert live["metadata"]["uid"] != uid


async def test_a_deletion_held_by_finalizers_stays_in_the_inventory(
    tmp_path: Path, database_url: str, emulator: Emulator, upstream: Upstream
) -> None:
    """Pruning an object with a finalizer is not recorded until it is really gone."""
    held = configmap("held", {"v": "1"}, finalizers=["example.com/hold"])
    v1 = upstream.commit({"apps/web/cm.yaml": manifest(held)})
    async with running(
        tmp_path=tmp_path, database_url=database_url, sim=emulator, upstream=upstream
    ) as gitops:
        await gitops.synced(v1)
        key = f"/ConfigMap/{NAMESPACE}/held"
        v2 = gitops.commit(
            {"apps/web/cm.yaml": None, "apps/web/other.yaml": manifest(configmap("x", {}))}
        )
        await gitops.synced(v2)
        assert key in gitops.target().inventory
        assert not any(isinstance(e, ev.ObjectPruned) for e in await gitops.last_sync())
        live = await gitops.get(key)
        assert live is not None
        assert live["metadata"].get("deletionTimestamp")
        # The finalizer's owner lets go: the object disappears and the prune is confirmed.
        kube = gitops.daemon.informers.client("sim")  # type: ignore[union-attr]
        # The finalizer's controller removes it with a strategic merge patch (as kubectl
        # patch or a controller would), leaving the rest alone.
        api = client.CoreV1Api(await kube.api_client())
        await api.patch_namespaced_config_map("held", NAMESPACE, {"metadata": {"finalizers": None}})
        await gitops.until(lambda: key not in gitops.target().inventory, "the prune confirmed")
        pruned = [e for e in (await gitops.events()) if isinstance(e.event, ev.ObjectPruned)]
        assert [(p.event.key, p.event.already_gone) for p in pruned] == [(key, True)]
        # No sync loop while the deletion was pending: v1, v2, and the confirming prune.
        syncs = [e.event for e in await gitops.events() if isinstance(e.event, ev.SyncPlanned)]
        assert [s.trigger for s in syncs] == ["revision", "revision", "self-heal"]
