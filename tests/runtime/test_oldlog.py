"""The event log recorded by gitopsd at 8652aec (tests/fixtures/oldlog) still replays.

These assertions say what that gitopsd believed its log meant; a change to the event
model or the fold may change the shape of the state, but must keep these meanings.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import oldlog

from daemon.core import events as ev
from daemon.core import fold
from daemon.core import state as core_state
from daemon.runtime import statekeeper, verify
from daemon.shell import eventstore

C1 = "3f842c86afa035933443494d9a28aed8921d43c1"
C2 = "52fbccabf43a136884be26ea3d2cbad19116d247"
C3 = "1f8b851e335b653bec492362a13dad021d4062fe"  # not YAML
C4 = "860e991a27206a25ca293a1a9b894ad10ec3f507"  # changes an immutable ConfigMap
C5 = "9824d469061829065d4b2115899ae33267f090a0"
C6 = "85d7c88815a00b7bfc28c7158fee492a2d373f57"
C7 = "dd783e4961cbd684cf8f4555af523cd489ad113b"  # dropped by the force-push
A8 = "68f4b2ce99f4ffc67a7566ce745970c266d0bb8c"  # api only; dropped by the force-push
C9 = "9c28ec4b08df5b7e66f04e9265f0cb02e915aabf"
C10 = "3aceb96be7ff3dd4dea9630cf1f86c5dbca912f9"
HOOK = "batch/Job/shop/migrate-849tc"
RENDER_ERROR = "apps/web/all.yaml:2: invalid YAML: did not find expected ',' or ']'"
UNREACHABLE = "ServiceUnavailable (503): injected fault: service unavailable"

FIXTURE_TYPES = {
    ("AppConfigured", 1): 2,
    ("AppPinned", 1): 2,
    ("AppUnpinned", 1): 1,
    ("ClusterReachable", 1): 1,
    ("ClusterUnreachable", 1): 1,
    ("CommitRecorded", 1): 10,
    ("DesiredStateRendered", 1): 12,
    ("HealthChanged", 1): 8,
    ("HistoryRewritten", 1): 1,
    ("HookDeleted", 1): 18,
    ("ObjectApplied", 2): 37,
    ("ObjectObserved", 1): 98,
    ("ObjectPruned", 1): 1,
    ("RenderFailed", 1): 1,
    ("RevisionObserved", 1): 10,
    ("SourceFailed", 1): 1,
    ("SourceRecovered", 1): 1,
    ("StepFailed", 1): 1,
    ("SyncFinished", 1): 13,
    ("SyncPlanned", 1): 13,
    ("SyncRequested", 1): 2,
    ("WatchRestarted", 1): 3,
}


def app_summary(app: core_state.AppState) -> dict[str, Any]:
    """The parts of an app's state that carry meaning across event-model changes.

    The log predates targets: its app events name none, and fold into the one target
    of the cluster the app's policy named, ``sim``.
    """
    assert sorted(app.targets) == ["sim"]
    target = app.targets["sim"]
    return {
        "revision": app.revision,
        "pinned": target.pinned,
        "pin_until_newer": target.pin_until_newer,
        "render_error": app.render_error,
        "render_revision": app.render_revision,
        "desired": sorted(app.desired),
        "inventory": sorted(target.inventory),
        "hook_instances": target.hook_instances,
        "syncing": target.sync is not None,
        "last_sync_result": target.last_sync_result,
        "last_synced_revision": target.last_synced_revision,
        "failed_syncs": target.failed_syncs,
        "health": target.health,
    }


async def recorded(store: eventstore.EventStore) -> list[ev.Recorded]:
    """Every event of the loaded fixture, decoded by today's codec."""
    return [item async for item in store.read_all()]


def folded_to(items: list[ev.Recorded], position: int) -> core_state.State:
    """The state folded from the start up to and including ``position``."""
    return fold.replay(i for i in items if i.position <= position)


async def test_the_fixture_is_stored_as_recorded(store: eventstore.EventStore) -> None:
    """The loaded rows are the fixture's: positions 1..237, its types and schema versions."""
    assert await oldlog.load(store) == 237
    rows = await store.pool.fetch(
        "SELECT position, type, schema_version FROM events ORDER BY position"
    )
    assert [r[0] for r in rows] == list(range(1, 238))
    assert Counter((r[1], r[2]) for r in rows) == FIXTURE_TYPES
    assert Counter((r["type"], r["schema_version"]) for r in oldlog.rows()) == FIXTURE_TYPES
    stored = await store.pool.fetch(
        "SELECT position, stream, version, type, schema_version, recorded_at, data, meta"
        " FROM events ORDER BY position"
    )
    assert [
        {
            "position": r[0],
            "stream": r[1],
            "version": r[2],
            "type": r[3],
            "schema_version": r[4],
            "recorded_at": r[5].isoformat(),
            "data": eventstore.json_value(r[6]),
            "meta": eventstore.json_value(r[7]),
        }
        for r in stored
    ] == oldlog.rows()
    blobs = oldlog.blobs()
    assert await store.get_blobs(sorted(blobs)) == blobs


async def test_the_old_log_folds_to_what_it_meant(store: eventstore.EventStore) -> None:
    """Folded through the state keeper, the old log gives each app and the cluster their state."""
    await oldlog.load(store)
    state = await statekeeper.StateKeeper(store).load()
    assert (state.position, state.events) == (237, 237)
    assert app_summary(state.apps["web"]) == {
        "revision": C10,
        "pinned": None,
        "pin_until_newer": False,
        "render_error": None,
        "render_revision": C10,
        "desired": [
            "/ConfigMap//extra",
            "/ConfigMap//frozen",
            "/ConfigMap//settings",
            "batch/Job//migrate-*",
            "batch/Job//notify-*",
        ],
        "inventory": [
            "/ConfigMap/shop/extra",
            "/ConfigMap/shop/frozen",
            "/ConfigMap/shop/settings",
            "/Namespace//shop",
            HOOK,
        ],
        "hook_instances": {HOOK: "batch/Job/shop/migrate-*"},
        "syncing": False,
        "last_sync_result": ev.SyncResult.SUCCEEDED,
        "last_synced_revision": C10,
        "failed_syncs": 0,
        "health": ev.Health.HEALTHY,
    }
    assert app_summary(state.apps["api"]) == {
        "revision": A8,
        "pinned": None,
        "pin_until_newer": False,
        "render_error": None,
        "render_revision": A8,
        "desired": ["/ConfigMap//api-config", "apps/Deployment//api"],
        "inventory": ["/ConfigMap/api/api-config", "/Namespace//api", "apps/Deployment/api/api"],
        "hook_instances": {},
        "syncing": False,
        "last_sync_result": ev.SyncResult.SUCCEEDED,
        "last_synced_revision": A8,
        "failed_syncs": 0,
        "health": ev.Health.HEALTHY,
    }
    assert (
        state.apps["web"].targets["sim"].last_sync_id,
        state.apps["api"].targets["sim"].last_sync_id,
    ) == (
        "web-218",
        "api-169",
    )
    (cluster,) = state.clusters.values()
    assert (cluster.name, sorted(cluster.objects), cluster.unreachable) == (
        "sim",
        [
            "/ConfigMap/api/api-config",
            "/ConfigMap/shop/extra",
            "/ConfigMap/shop/frozen",
            "/ConfigMap/shop/settings",
            "/Namespace//api",
            "/Namespace//shop",
            "apps/Deployment/api/api",
            HOOK,
        ],
        None,
    )
    assert {k: o.app for k, o in cluster.objects.items()} == {
        "/ConfigMap/api/api-config": "api",
        "/ConfigMap/shop/extra": "web",
        "/ConfigMap/shop/frozen": "web",
        "/ConfigMap/shop/settings": "web",
        "/Namespace//api": "api",
        "/Namespace//shop": "web",
        "apps/Deployment/api/api": "api",
        HOOK: "web",
    }
    assert state.sources == {
        "repo": core_state.SourceState(
            name="repo",
            ref="refs/heads/main",
            head=C10,
            commits=10,
            failing=None,
            head_position=209,
            version=23,
        )
    }


async def test_the_old_log_means_the_same_along_the_way(store: eventstore.EventStore) -> None:
    """Folded part-way: the failed render and sync, both pins and how each was lifted, outages."""
    await oldlog.load(store)
    items = await recorded(store)

    def web(position: int) -> dict[str, Any]:
        app = folded_to(items, position).apps["web"]
        summary = app_summary(app)
        return {k: summary[k] for k in ("revision", "pinned", "pin_until_newer")} | {
            "render": (app.render_revision, app.render_error),
            "last": (
                summary["last_sync_result"],
                summary["last_synced_revision"],
                summary["failed_syncs"],
            ),
        }

    ok = ev.SyncResult.SUCCEEDED
    # 65: c3 does not render; the app stays on c2.
    assert web(65) == {
        "revision": C2,
        "pinned": None,
        "pin_until_newer": False,
        "render": (C3, RENDER_ERROR),
        "last": (ok, C2, 0),
    }
    # 71: c4's sync fails on the immutable ConfigMap (retry limit 0: one failure).
    assert web(71) == {
        "revision": C4,
        "pinned": None,
        "pin_until_newer": False,
        "render": (C4, None),
        "last": (ev.SyncResult.FAILED, C2, 1),
    }
    # 108: rolled back to c2 "until a newer commit", and synced there.
    assert web(108) == {
        "revision": C5,
        "pinned": C2,
        "pin_until_newer": True,
        "render": (C5, None),
        "last": (ok, C2, 0),
    }
    # 111: c6 is rendered: that lifts the pin, with no event of its own.
    assert web(111) == {
        "revision": C6,
        "pinned": None,
        "pin_until_newer": False,
        "render": (C6, None),
        "last": (ok, C2, 0),
    }
    # 148: pinned to c5 for good; c7 is rendered but the app stays on c5.
    assert web(148) == {
        "revision": C7,
        "pinned": C5,
        "pin_until_newer": False,
        "render": (C7, None),
        "last": (ok, C5, 0),
    }
    # 149: unpinned by hand.
    assert web(149)["pinned"] is None
    # 217: the c10 sync interrupted by a stop is closed as Aborted (not a failure).
    assert web(217) == {
        "revision": C10,
        "pinned": None,
        "pin_until_newer": False,
        "render": (C10, None),
        "last": (ev.SyncResult.ABORTED, C9, 0),
    }
    outages = [
        (folded_to(items, p).clusters["sim"].unreachable, folded_to(items, p).sources["repo"])
        for p in (177, 182, 186, 187)
    ]
    assert [(down, source.failing is not None) for down, source in outages] == [
        (UNREACHABLE, False),
        (None, False),
        (None, True),
        (None, False),
    ]
    assert outages[2][1].failing == (
        "RemoteError: fetch from file:///tmp/gitopsd-oldlog-ix59m7sw/upstream/repo.git failed:"
        " failed to resolve path '/tmp/gitopsd-oldlog-ix59m7sw/upstream/repo.git':"
        " No such file or directory"
    )
    rewritten = items[187].event
    assert rewritten == ev.HistoryRewritten(
        source="repo", ref="refs/heads/main", old_head=A8, new_head=C9, dropped=(A8, C7)
    )


async def test_every_recorded_plan_of_the_old_log_replays(store: eventstore.EventStore) -> None:
    """`gitopsd verify` recomputes all 13 plans of the old log identically."""
    await oldlog.load(store)
    report = await verify.verify(store)
    assert (report.events, report.plans, report.mismatches) == (237, 13, [])
