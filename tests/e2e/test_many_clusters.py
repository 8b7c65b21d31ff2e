"""End to end over many clusters: a fleet of 20 emulators, labelled, one daemon."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from gitfixtures import Upstream
from harness import app_config, configmap, manifest, running
from kubefixtures import FAST_KNOBS

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
        await asyncio.gather(*(gitops.synced(v1, app=a["name"]) for a in apps))
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
            gitops.sync_failed(lost_app), *(gitops.synced(v2, app=a) for a in others)
        )
        live = {
            a["name"]: await gitops.get(
                f"/ConfigMap/team-{a['name'][-2:]}/settings", cluster=a["destination"]["cluster"]
            )
            for a in apps
            if a["name"] != lost_app
        }
        lost_state = gitops.app(lost_app)
        unreachable = sorted(n for n, c in gitops.state.clusters.items() if c.unreachable)

    assert configured == LABELS
    assert holders == {f"app-{i:02d}": [clusters[i]] for i in range(APPS)}
    assert {name: body["data"] for name, body in live.items() if body is not None} == {
        name: {"version": "2"} for name in others
    }
    assert (lost_state.last_synced_revision, unreachable) == (v1, [lost])
