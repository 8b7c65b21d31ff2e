"""End to end over many clusters: a fleet of 20 emulators, labelled, one daemon."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from gitfixtures import Upstream
from harness import GitOps, app_config, configmap, manifest, running
from kubefixtures import FAST_KNOBS

from daemon.core import events as ev
from daemon.runtime import verify
from kubesim.fleet import Fleet, run_fleet

REGIONS = ("eu", "us", "ap", "sa", "af")
TIERS = ("prod", "staging")
PROFILES = ("a", "b")
# 20 clusters: every region x tier x profile, named like "eu-prod-a".
LABELS = {
    f"{region}-{tier}-{profile}": {"region": region, "tier": tier, "profile": profile}
    for region, tier, profile in itertools.product(REGIONS, TIERS, PROFILES)
}
APPS = 12


@pytest.fixture
async def fleet() -> AsyncIterator[Fleet]:
    """20 emulated clusters in this process; fails the test on their internal errors."""
    async with run_fleet(LABELS, knobs=dataclasses.replace(FAST_KNOBS, paused=set())) as sims:
        yield sims
        assert sims.internal_errors() == {}


def app_files(version: str) -> dict[str, str | None]:
    """One ConfigMap per app, carrying ``version``."""
    return {
        f"apps/app-{i:02d}/cm.yaml": manifest(configmap("settings", {"version": version}))
        for i in range(APPS)
    }


async def test_apps_on_their_own_clusters_converge_and_one_lost_cluster_fails_only_its_app(
    tmp_path: Path, database_url: str, fleet: Fleet, upstream: Upstream
) -> None:
    """12 apps on 12 of 20 labelled clusters sync; a stopped cluster fails only its app's sync."""
    clusters = list(LABELS)[:APPS]
    apps = [
        app_config(
            name=f"app-{i:02d}",
            path=f"apps/app-{i:02d}",
            destination={"cluster": cluster, "namespace": f"team-{i:02d}"},
        )
        for i, cluster in enumerate(clusters)
    ]
    v1 = upstream.commit(app_files("1"), message="v1")
    async with running(
        tmp_path=tmp_path,
        database_url=database_url,
        upstream=upstream,
        apps=apps,
        fleet=fleet,
        labels=LABELS,
    ) as gitops:
        await asyncio.gather(
            *(gitops.synced(v1, app=a["name"], cluster=a["destination"]["cluster"]) for a in apps)
        )
        configured = {str(c.name): dict(c.labels) for c in gitops.config.clusters}
        # Each app's objects are on its own cluster only (separate stores).
        holders = {
            f"app-{i:02d}": [
                name
                for name in LABELS
                if await gitops.get(f"/ConfigMap/team-{i:02d}/settings", cluster=name) is not None
            ]
            for i in range(APPS)
        }

        lost, lost_app = clusters[3], "app-03"
        await fleet.stop(lost)
        v2 = gitops.commit(app_files("2"), message="v2")
        others = [a["name"] for a in apps if a["name"] != lost_app]
        await asyncio.gather(
            gitops.sync_failed(lost_app, cluster=lost),
            *(
                gitops.synced(v2, app=a["name"], cluster=a["destination"]["cluster"])
                for a in apps
                if a["name"] != lost_app
            ),
        )
        live = {
            a["name"]: await gitops.get(
                f"/ConfigMap/team-{a['name'][-2:]}/settings", cluster=a["destination"]["cluster"]
            )
            for a in apps
            if a["name"] != lost_app
        }
        lost_state = gitops.target(lost_app, lost)
        unreachable = sorted(n for n, c in gitops.state.clusters.items() if c.unreachable)

    assert configured == LABELS
    assert holders == {f"app-{i:02d}": [clusters[i]] for i in range(APPS)}
    assert {name: body["data"] for name, body in live.items() if body is not None} == {
        name: {"version": "2"} for name in others
    }
    assert (lost_state.last_synced_revision, unreachable) == (v1, [lost])


SELECTED = [name for name, labels in LABELS.items() if labels["region"] in ("eu", "us", "ap")]
SHOP = {
    "name": "shop",
    "path": "apps/shop",
    "destination": {
        "selector": {
            "matchExpressions": [{"key": "region", "operator": "In", "values": ["eu", "us", "ap"]}]
        },
        "namespace": "shop-{{labels.region}}",
    },
}


def shop_files(version: str) -> dict[str, str | None]:
    """The shop app's one ConfigMap, carrying ``version``."""
    return {"apps/shop/cm.yaml": manifest(configmap("settings", {"version": version}))}


async def _live_versions(gitops: GitOps, names: list[str]) -> dict[str, str | None]:
    """The ``version`` of shop's ConfigMap on each cluster (None: absent)."""
    out: dict[str, str | None] = {}
    for name in names:
        region = {str(c.name): c.labels for c in gitops.config.clusters}[name]["region"]
        body = await gitops.get(f"/ConfigMap/shop-{region}/settings", cluster=name)
        out[name] = None if body is None else body["data"]["version"]
    return out


async def test_one_app_selects_12_of_20_clusters_a_lost_one_fails_alone_and_relabels_move_it(
    tmp_path: Path, database_url: str, fleet: Fleet, upstream: Upstream
) -> None:
    """A selector deploys one app to 12 clusters; a lost cluster fails alone; relabels move it."""
    v1 = upstream.commit(shop_files("1"), message="v1")
    start = {
        "tmp_path": tmp_path,
        "database_url": database_url,
        "upstream": upstream,
        "apps": [app_config(**SHOP)],
        "fleet": fleet,
    }
    async with running(**start, labels=LABELS) as gitops:
        await asyncio.gather(*(gitops.synced(v1, app="shop", cluster=c) for c in SELECTED))
        targets = {c: t.namespace for c, t in gitops.app("shop").targets.items()}
        first = await _live_versions(gitops, list(LABELS))

        lost = "ap-prod-a"
        await fleet.stop(lost)
        v2 = gitops.commit(shop_files("2"), message="v2")
        reached = [c for c in SELECTED if c != lost]
        await asyncio.gather(
            gitops.sync_failed("shop", cluster=lost),
            *(gitops.synced(v2, app="shop", cluster=c) for c in reached),
        )
        second = await _live_versions(gitops, reached)
        lost_target = gitops.target("shop", lost)
        lost_state = (lost_target.last_synced_revision, lost_target.last_sync_result)

    assert targets == {c: f"shop-{LABELS[c]['region']}" for c in SELECTED}
    assert first == {c: ("1" if c in SELECTED else None) for c in LABELS}
    assert second == dict.fromkeys(reached, "2")
    assert lost_state == (v1, ev.SyncResult.FAILED)

    # eu-prod-a leaves the selection (relabelled), sa-prod-a joins it as region eu.
    relabelled = {
        **LABELS,
        "eu-prod-a": {**LABELS["eu-prod-a"], "region": "xx"},
        "sa-prod-a": {**LABELS["sa-prod-a"], "region": "eu"},
    }
    async with running(**start, labels=relabelled) as gitops:
        await gitops.synced(v2, app="shop", cluster="sa-prod-a")
        await gitops.until(
            lambda: "eu-prod-a" not in gitops.app("shop").targets, "eu-prod-a pruned and removed"
        )
        left = await gitops.get("/ConfigMap/shop-eu/settings", cluster="eu-prod-a")
        joined = await _live_versions(gitops, ["sa-prod-a"])
        changes = [
            (type(i.event).__name__, i.event.target)
            for i in await gitops.events("shop")
            if isinstance(i.event, ev.TargetAdded | ev.TargetRemoved)
        ]
        after = sorted(gitops.app("shop").targets)
        report = await verify.verify(gitops.store)

    assert left is None
    assert joined == {"sa-prod-a": "2"}
    assert changes[-2:] == [("TargetRemoved", "eu-prod-a"), ("TargetAdded", "sa-prod-a")]
    assert sorted(c for kind, c in changes[:-2] if kind == "TargetAdded") == sorted(SELECTED)
    assert after == sorted({*SELECTED, "sa-prod-a"} - {"eu-prod-a"})
    assert report.mismatches == []
    assert report.checked[verify.TARGET_CHANGES] == len(SELECTED) + 2
