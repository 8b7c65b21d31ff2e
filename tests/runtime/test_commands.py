"""The command service against the real event store: per-target events, validation, races."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable

import pytest

from daemon import errors, settings
from daemon.core import events as ev
from daemon.core import state as core_state
from daemon.runtime import commands, statekeeper
from daemon.shell import eventstore

CONFIG = """
clusters:
  - {name: east, kubeconfig: /etc/gitopsd/east.kubeconfig}
  - {name: west, kubeconfig: /etc/gitopsd/west.kubeconfig}
  - {name: lab, kubeconfig: /etc/gitopsd/lab.kubeconfig}
sources:
  - {name: infra, url: https://git.example.com/infra.git, branch: main}
apps:
  - name: web
    source: infra
    path: apps/web
    destination: {cluster: east, namespace: "web-{{cluster}}"}
  - name: api
    source: infra
    path: apps/api
    destination: {cluster: lab, namespace: api}
"""
SHA1 = "1" * 40
SHA2 = "2" * 40


def config() -> settings.Config:
    """Two apps: web on east and west, api on lab."""
    # The loader's cross-checks accept a single `cluster` only so far (on this branch):
    # the list is set after loading.
    loaded = settings.loads(CONFIG, filename="gitopsd.yaml")
    web, api = loaded.apps
    both = dataclasses.replace(
        web.destination, cluster=None, clusters=[settings.Name("east"), settings.Name("west")]
    )
    web = dataclasses.replace(web, destination=both)
    return dataclasses.replace(loaded, apps=[web, api])


def commit(sha: str) -> ev.CommitRecorded:
    return ev.CommitRecorded(
        source="infra",
        sha=sha,
        parents=(),
        author="a",
        author_email="a@example.com",
        authored_at="2026-01-01T00:00:00+00:00",
        committer="a",
        committer_email="a@example.com",
        committed_at="2026-01-01T00:00:00+00:00",
        subject="change",
    )


async def recorded(store: eventstore.EventStore, app: str = "web") -> list[tuple[object, ...]]:
    """(position, event, actor) of every event in the app's stream."""
    return [(i.position, i.event, i.meta.actor) for i in await store.read_stream(f"app/{app}")]


def racing(
    store: eventstore.EventStore, meddle: Callable[[], Awaitable[object]], *, times: int
) -> commands.StateLoader:
    """A state loader that lets ``meddle`` write after each of its first ``times`` reads."""
    calls = 0

    async def load() -> core_state.State:
        nonlocal calls
        state = await statekeeper.StateKeeper(store).load()
        calls += 1
        if calls <= times:
            await meddle()
        return state

    return load


async def test_sync_records_one_request_per_selected_target_in_one_append(
    store: eventstore.EventStore,
) -> None:
    """`sync --cluster west` records west's request; without clusters, one per target at once."""
    service = commands.Commands(store, config())
    one = await service.sync("web", ["west"], actor="cli:ann", reason="release")
    every = await service.sync("web", None, actor="cli:ann")
    assert (one, every) == (
        commands.Outcome(app="web", actor="cli:ann", clusters=("west",), positions=(1,)),
        commands.Outcome(app="web", actor="cli:ann", clusters=("east", "west"), positions=(2, 3)),
    )
    assert await recorded(store) == [
        (1, ev.SyncRequested(app="web", target="west", reason="release"), "cli:ann"),
        (2, ev.SyncRequested(app="web", target="east", reason="manual sync"), "cli:ann"),
        (3, ev.SyncRequested(app="web", target="west", reason="manual sync"), "cli:ann"),
    ]
    versions = [i.version for i in await store.read_stream("app/web")]
    assert versions == [1, 2, 3]


async def test_unknown_app_or_cluster_is_refused_with_the_valid_names(
    store: eventstore.EventStore,
) -> None:
    """An unknown app lists the apps; a cluster that is not a target lists the app's targets."""
    service = commands.Commands(store, config())
    with pytest.raises(errors.NotFoundError) as app_error:
        await service.unpin("shop", None, actor="cli:ann")
    with pytest.raises(errors.NotFoundError) as cluster_error:
        await service.suspend("web", ["east", "lab", "mars"], actor="cli:ann")
    assert (str(app_error.value), str(cluster_error.value)) == (
        "unknown app 'shop' (configured apps: api, web)",
        "app 'web' has no target 'lab', 'mars' (its targets: east, west)",
    )
    assert await store.last_position() == 0


async def test_rollback_pins_the_selected_targets_to_the_full_sha(
    store: eventstore.EventStore,
) -> None:
    """A unique prefix pins each selected target once; a target already pinned so is left alone."""
    await store.append("source/infra", 0, [commit(SHA1), commit(SHA2)])
    service = commands.Commands(store, config())
    first = await service.rollback("web", "1111", ["east"], actor="cli:ann", reason="bad")
    both = await service.rollback("web", "11111", None, actor="cli:bob", reason="bad")
    assert (first, both) == (
        commands.Outcome(
            app="web", actor="cli:ann", clusters=("east",), positions=(3,), revision=SHA1
        ),
        commands.Outcome(
            app="web",
            actor="cli:bob",
            clusters=("west",),
            unchanged=("east",),
            positions=(4,),
            revision=SHA1,
        ),
    )
    pinned = ev.AppPinned(app="web", target="east", revision=SHA1, reason="bad")
    assert await recorded(store) == [
        (3, pinned, "cli:ann"),
        (4, dataclasses.replace(pinned, target="west"), "cli:bob"),
    ]


async def test_unpin_lifts_only_pinned_targets(store: eventstore.EventStore) -> None:
    """Unpin records AppUnpinned for pinned targets and reports the others as not pinned."""
    await store.append("app/web", 0, [ev.AppPinned(app="web", target="west", revision=SHA1)])
    service = commands.Commands(store, config())
    outcome = await service.unpin("web", None, actor="cli:ann", reason="fixed")
    again = await service.unpin("web", None, actor="cli:ann")
    assert (outcome, again) == (
        commands.Outcome(
            app="web", actor="cli:ann", clusters=("west",), unchanged=("east",), positions=(2,)
        ),
        commands.Outcome(app="web", actor="cli:ann", clusters=(), unchanged=("east", "west")),
    )
    assert (await recorded(store))[1:] == [
        (2, ev.AppUnpinned(app="web", target="west", reason="fixed"), "cli:ann")
    ]


async def test_an_unpin_between_read_and_append_is_seen_and_not_repeated(
    store: eventstore.EventStore,
) -> None:
    """A pin lifted by someone else after the read makes the append clash; the re-read skips it."""
    await store.append("app/web", 0, [ev.AppPinned(app="web", target="east", revision=SHA1)])
    other = commands.Commands(store, config())
    late = commands.Commands(
        store,
        config(),
        load_state=racing(
            store, lambda: other.unpin("web", ["east"], actor="cli:bob", reason="first"), times=1
        ),
    )
    outcome = await late.unpin("web", ["east"], actor="cli:ann", reason="second")
    assert outcome == commands.Outcome(app="web", actor="cli:ann", clusters=(), unchanged=("east",))
    assert (await recorded(store))[1:] == [
        (2, ev.AppUnpinned(app="web", target="east", reason="first"), "cli:bob")
    ]


async def test_two_concurrent_unpins_record_one(store: eventstore.EventStore) -> None:
    """Two unpins of the same pin at once: one records AppUnpinned, the other finds nothing pinned."""
    await store.append("app/web", 0, [ev.AppPinned(app="web", target="east", revision=SHA1)])
    service = commands.Commands(store, config())
    outcomes = await asyncio.gather(
        service.unpin("web", ["east"], actor="cli:ann"),
        service.unpin("web", ["east"], actor="cli:bob"),
    )
    assert sorted(o.clusters for o in outcomes) == [(), ("east",)]
    unpins = [e for _, e, _ in await recorded(store) if isinstance(e, ev.AppUnpinned)]
    assert unpins == [ev.AppUnpinned(app="web", target="east")]


async def test_an_app_that_keeps_changing_is_reported_as_a_conflict(
    store: eventstore.EventStore,
) -> None:
    """When every attempt loses the race, nothing is recorded and the error says so."""
    health = ev.HealthChanged(app="web", target="east", health=ev.Health.HEALTHY)
    service = commands.Commands(
        store,
        config(),
        load_state=racing(
            store, lambda: store.append("app/web", None, [health]), times=commands.ATTEMPTS
        ),
    )
    with pytest.raises(errors.ConflictError) as info:
        await service.suspend("web", None, actor="cli:ann")
    assert str(info.value) == (
        "app 'web' kept changing while this request was decided (3 attempts; last: stream "
        "'app/web': expected version 2, but it is at version 3); nothing was recorded: look "
        "at `gitopsd status` and try again"
    )
    assert [e for _, e, _ in await recorded(store)] == [health] * 3


async def test_suspend_and_resume_per_target(store: eventstore.EventStore) -> None:
    """Suspend and resume act on targets not already so; sync leaves suspended targets out."""
    service = commands.Commands(store, config())
    suspended = await service.suspend("web", ["east"], actor="cli:ann", reason="incident")
    synced = await service.sync("web", None, actor="cli:ann")
    with pytest.raises(errors.ConflictError) as info:
        await service.sync("web", ["east"], actor="cli:ann")
    resumed = await service.resume("web", None, actor="cli:ann")
    assert (suspended, synced, resumed) == (
        commands.Outcome(app="web", actor="cli:ann", clusters=("east",), positions=(1,)),
        commands.Outcome(
            app="web", actor="cli:ann", clusters=("west",), unchanged=("east",), positions=(2,)
        ),
        commands.Outcome(
            app="web", actor="cli:ann", clusters=("east",), unchanged=("west",), positions=(3,)
        ),
    )
    assert str(info.value) == (
        "app 'web' is suspended on east: nothing is synced there until `gitopsd resume web`"
    )
    assert [e for _, e, _ in await recorded(store)] == [
        ev.AppSuspended(app="web", target="east", reason="incident"),
        ev.SyncRequested(app="web", target="west", reason="manual sync"),
        ev.AppResumed(app="web", target="east"),
    ]


async def test_status_has_a_row_per_app_and_target(store: eventstore.EventStore) -> None:
    """Status folds the log into one row per target: revision, sync, health, pin, suspension."""
    steps = (ev.PlanStep(key="/ConfigMap/web-east/settings", action=ev.StepAction.CREATE),)
    await store.append(
        "app/web",
        0,
        [
            ev.DesiredStateRendered(app="web", revision=SHA2, objects={steps[0].key: "d1"}),
            ev.SyncPlanned(
                app="web",
                target="east",
                sync_id="web-1",
                revision=SHA2,
                trigger="revision",
                state_position=1,
                steps=steps,
            ),
            ev.ObjectApplied(
                app="web",
                target="east",
                sync_id="web-1",
                key=steps[0].key,
                created=True,
                resource_version="7",
                digest="d1",
            ),
            ev.SyncFinished(
                app="web",
                target="east",
                sync_id="web-1",
                revision=SHA2,
                result=ev.SyncResult.SUCCEEDED,
            ),
            ev.HealthChanged(app="web", target="east", health=ev.Health.HEALTHY),
            ev.AppPinned(app="web", target="west", revision=SHA1, until_newer_commit=True),
            ev.AppSuspended(app="web", target="west"),
        ],
    )
    (finished,) = [i for i in await store.read_stream("app/web") if i.position == 4]
    rows = await commands.Commands(store, config()).status()
    empty = commands.StatusRow(
        app="web",
        cluster="east",
        namespace="web-east",
        revision=None,
        applied=None,
        sync="Unknown",
        health="Unknown",
        health_message="",
        pinned=None,
        pin_until_newer_commit=False,
        suspended=False,
        last_sync=None,
        last_sync_at=None,
        last_sync_message="",
        failed_syncs=0,
        render_error=None,
        objects=0,
    )
    assert rows == [
        dataclasses.replace(
            empty,
            revision=SHA2,
            applied=SHA2,
            sync="Synced",
            health="Healthy",
            last_sync="Succeeded",
            last_sync_at=finished.recorded_at.isoformat(),
            objects=1,
        ),
        dataclasses.replace(
            empty,
            cluster="west",
            namespace="web-west",
            revision=SHA1,
            sync="OutOfSync",
            pinned=SHA1,
            pin_until_newer_commit=True,
            suspended=True,
        ),
        dataclasses.replace(empty, app="api", cluster="lab", namespace="api"),
    ]


async def test_history_names_each_events_target_and_filters_by_cluster(
    store: eventstore.EventStore,
) -> None:
    """History gives each event its target ("" for renders); --cluster keeps the app's own too."""
    await store.append(
        "app/web",
        0,
        [
            ev.DesiredStateRendered(app="web", revision=SHA2, objects={}),
            ev.AppPinned(app="web", target="west", revision=SHA1),
            ev.AppSuspended(app="web", target="east"),
        ],
        meta=ev.EventMeta(actor="cli:ann"),
    )
    service = commands.Commands(store, config())
    every = await service.history("web")
    east = await service.history("web", ["east"])
    assert [(h.position, h.target, type(h.event).__name__, h.actor) for h in every] == [
        (1, "", "DesiredStateRendered", "cli:ann"),
        (2, "west", "AppPinned", "cli:ann"),
        (3, "east", "AppSuspended", "cli:ann"),
    ]
    assert [(h.position, h.target) for h in east] == [(1, ""), (3, "east")]
    with pytest.raises(errors.NotFoundError) as info:
        await service.history("web", ["mars"])
    assert str(info.value) == (
        "unknown cluster 'mars' (configured clusters: east, lab, west; targets of 'web': "
        "east, west)"
    )
