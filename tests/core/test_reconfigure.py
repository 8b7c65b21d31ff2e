"""targets.reconfigure: the target changes recorded with an app's (re)configured policy."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from daemon.core import events as ev
from daemon.core import fold, targets
from daemon.core.state import AppState

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
KEY = "/ConfigMap/web/cfg"


def policy(clusters: dict[str, str], *, prune: bool = True) -> dict[str, Any]:
    return {"prune": prune, "auto": True, "targets": clusters}


def folded(*events: ev.AnyEvent) -> AppState:
    state = fold.replay(
        ev.Recorded(i, "app/web", i, T0, e, ev.EventMeta()) for i, e in enumerate(events, start=1)
    )
    return state.apps["web"]


def configured(clusters: dict[str, str], *, applied_on: tuple[str, ...] = ()) -> AppState:
    """App web recorded with ``clusters``, having applied one object on ``applied_on``."""
    events: list[ev.AnyEvent] = [
        ev.TargetAdded(app="web", target=c, namespace=ns, state_position=0)
        for c, ns in sorted(clusters.items())
    ]
    events.append(ev.AppConfigured(app="web", digest="old", policy=policy(clusters)))
    events += [
        ev.ObjectApplied(
            app="web",
            target=c,
            sync_id="s",
            key=KEY,
            created=True,
            resource_version="1",
            digest="d",
        )
        for c in applied_on
    ]
    return folded(*events)


def test_new_app_adds_every_target_then_records_the_policy() -> None:
    """An app never recorded gets a TargetAdded per cluster (sorted), then its AppConfigured."""
    wanted = policy({"prod": "web", "dev": "web-dev"})
    assert targets.reconfigure(None, name="web", policy=wanted, digest="new", position=7) == [
        ev.TargetAdded(app="web", target="dev", namespace="web-dev", state_position=7),
        ev.TargetAdded(app="web", target="prod", namespace="web", state_position=7),
        ev.AppConfigured(app="web", digest="new", policy=wanted),
    ]


def test_unchanged_digest_records_nothing() -> None:
    """The same policy digest as recorded gives no events, even with other targets wanted."""
    app = configured({"dev": "web"})
    assert targets.reconfigure(app, name="web", policy=policy({}), digest="old", position=9) == []


def test_namespace_change_records_only_the_policy() -> None:
    """A target kept with another namespace is no target change: AppConfigured alone."""
    app = configured({"dev": "web"})
    wanted = policy({"dev": "web-2"})
    assert targets.reconfigure(app, name="web", policy=wanted, digest="new", position=9) == [
        ev.AppConfigured(app="web", digest="new", policy=wanted)
    ]


@pytest.mark.parametrize(
    ("applied_on", "prune", "expected_prune", "objects"),
    [
        pytest.param(("dev",), True, True, 1, id="objects-prune"),
        pytest.param(("dev",), False, False, 1, id="objects-no-prune"),
        pytest.param((), True, False, 0, id="empty-prune"),
        pytest.param((), False, False, 0, id="empty-no-prune"),
    ],
)
def test_leaving_cluster_is_removed_first(
    applied_on: tuple[str, ...], prune: bool, expected_prune: bool, objects: int
) -> None:
    """TargetRemoved precedes TargetAdded; it prunes only when the app does and has objects there."""
    app = configured({"dev": "web"}, applied_on=applied_on)
    wanted = policy({"prod": "web"}, prune=prune)
    assert targets.reconfigure(app, name="web", policy=wanted, digest="new", position=9) == [
        ev.TargetRemoved(
            app="web", target="dev", prune=expected_prune, state_position=9, objects=objects
        ),
        ev.TargetAdded(app="web", target="prod", namespace="web", state_position=9),
        ev.AppConfigured(app="web", digest="new", policy=wanted),
    ]


def test_legacy_app_upgrades_with_its_single_cluster() -> None:
    """An app recorded before targets keeps its one cluster as its target: AppConfigured alone."""
    app = folded(
        ev.AppConfigured(
            app="web",
            digest="legacy",
            policy={"cluster": "prod", "namespace": "web", "prune": True},
        ),
        ev.ObjectApplied(
            app="web",
            target="",
            sync_id="s",
            key=KEY,
            created=True,
            resource_version="1",
            digest="d",
        ),
    )
    wanted = policy({"prod": "web"})
    events = targets.reconfigure(app, name="web", policy=wanted, digest="new", position=3)
    assert (list(app.targets), events) == (
        ["prod"],
        [ev.AppConfigured(app="web", digest="new", policy=wanted)],
    )


def test_cluster_returning_while_its_prune_is_pending_is_added_again() -> None:
    """A removed target still pruning that is selected again is re-added, so it stops pruning."""
    app = configured({"dev": "web"}, applied_on=("dev",))
    leave = targets.reconfigure(app, name="web", policy=policy({}), digest="gone", position=3)
    state_events: list[ev.AnyEvent] = [
        ev.TargetAdded(app="web", target="dev", namespace="web", state_position=0),
        ev.AppConfigured(app="web", digest="old", policy=policy({"dev": "web"})),
        ev.ObjectApplied(
            app="web",
            target="dev",
            sync_id="s",
            key=KEY,
            created=True,
            resource_version="1",
            digest="d",
        ),
        *leave,  # type: ignore[list-item]
    ]
    app = folded(*state_events)
    removed = app.targets["dev"].removed
    back = policy({"dev": "web"})
    events = targets.reconfigure(app, name="web", policy=back, digest="back", position=5)
    after = folded(*state_events, *events)  # type: ignore[arg-type]
    assert (removed, events, after.targets["dev"].removed, after.targets["dev"].inventory) == (
        True,
        [
            ev.TargetAdded(app="web", target="dev", namespace="web", state_position=5),
            ev.AppConfigured(app="web", digest="back", policy=back),
        ],
        False,
        {KEY: "d"},
    )
