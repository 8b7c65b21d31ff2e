"""pins.lift: a pin "until a newer commit" lifts once a newer revision is rendered."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from daemon.core import codec, fold, pins
from daemon.core import events as ev
from daemon.core.state import AppState, State

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
R1 = "1111111111111111111111111111111111111111"
R2 = "2222222222222222222222222222222222222222"
POLICY = {"targets": {"c1": "web", "c2": "web"}}


def rendered(revision: str) -> ev.DesiredStateRendered:
    return ev.DesiredStateRendered(app="web", revision=revision, objects={"/ConfigMap//c": "d"})


def pinned(revision: str, *, until_newer: bool = True, target: str = "c1") -> ev.AppPinned:
    return ev.AppPinned(app="web", target=target, revision=revision, until_newer_commit=until_newer)


def folded(*events: ev.AnyEvent) -> State:
    head: list[ev.AnyEvent] = [
        ev.AppConfigured(app="web", digest="p", policy=POLICY),
        ev.TargetAdded(app="web", target="c1", namespace="web", state_position=0),
        ev.TargetAdded(app="web", target="c2", namespace="web", state_position=0),
    ]
    return fold.replay(
        ev.Recorded(
            position=i,
            stream="app/web",
            version=i,
            recorded_at=T0,
            event=e,
            meta=ev.EventMeta(),
        )
        for i, e in enumerate([*head, *events], start=1)
    )


def lift(state: State, target: str = "c1") -> ev.AppUnpinned | None:
    app = state.apps["web"]
    return pins.lift(app, app.targets[target], position=state.position)


def test_until_newer_pin_lifts_on_a_newer_render() -> None:
    """A newer render than the pin gives the whole AppUnpinned, naming the head and position."""
    state = folded(rendered(R1), pinned(R1), rendered(R2))
    assert lift(state) == ev.AppUnpinned(
        app="web", target="c1", reason="newer commit 222222222222", state_position=6
    )


def test_the_fold_keeps_a_new_pin_until_the_unpin_is_recorded() -> None:
    """A pin that names its target stays after a newer render; the recorded AppUnpinned lifts it."""
    state = folded(rendered(R1), pinned(R1), rendered(R2))
    before = state.apps["web"].targets["c1"].pinned
    unpin = lift(state)
    assert unpin is not None
    state = fold.replay(
        [ev.Recorded(7, "app/web", 7, T0, unpin, ev.EventMeta())],
        state,
    )
    assert (before, state.apps["web"].targets["c1"].pinned, lift(state)) == (R1, None, None)


@pytest.mark.parametrize(
    "events",
    [
        pytest.param((rendered(R1), pinned(R1, until_newer=False), rendered(R2)), id="plain-pin"),
        pytest.param((rendered(R1), pinned(R1)), id="head-is-the-pin"),
        pytest.param((rendered(R2), pinned(R1)), id="head-rendered-before-pin"),
        pytest.param((rendered(R1), pinned(R1), rendered(R1)), id="pin-rendered-again"),
        pytest.param((pinned(R1),), id="nothing-rendered"),
        pytest.param((rendered(R1), rendered(R2)), id="not-pinned"),
        pytest.param((rendered(R1), pinned(R1, target="c2"), rendered(R2)), id="other-target"),
    ],
)
def test_no_lift(events: tuple[ev.AnyEvent, ...]) -> None:
    """No unpin for a plain pin, a head that is the pin or older, or an unpinned target."""
    assert lift(folded(*events)) is None


def test_legacy_pin_is_not_lifted_by_a_decision() -> None:
    """A pin recorded before targets is the fold's to lift, never pins.lift's."""
    state = folded(rendered(R1), pinned(R1), rendered(R2))
    app = state.apps["web"]
    legacy = dataclasses.replace(app.targets["c1"], pin_legacy=True)
    assert pins.lift(app, legacy, position=state.position) is None


def test_legacy_pin_is_lifted_by_the_fold() -> None:
    """An AppPinned v1 (no target) on an app of one cluster lifts with the next newer render."""
    policy = {"cluster": "c1", "namespace": "web"}
    old = codec.decode(
        "AppPinned",
        1,
        b'{"app": "web", "revision": "' + R1.encode() + b'", "until_newer_commit": true}',
    )
    state = fold.replay(
        ev.Recorded(i, "app/web", i, T0, e, ev.EventMeta())
        for i, e in enumerate(
            [ev.AppConfigured(app="web", digest="p", policy=policy), rendered(R1), old],
            start=1,
        )
    )
    target = state.apps["web"].targets["c1"]
    pinned_before = (target.pinned, target.pin_legacy, lift(state))
    fold.evolve(state, ev.Recorded(4, "app/web", 4, T0, rendered(R2), ev.EventMeta()))
    assert (pinned_before, target.pinned, target.pin_legacy, state.apps["web"].pinned_renders) == (
        (R1, True, None),
        None,
        False,
        {},
    )


def test_lift_reason_is_short_for_short_revisions() -> None:
    """The reason carries at most 12 characters of the head's revision."""
    app = AppState(name="web", revision="abc", revision_position=3)
    target = app.target("c1")
    target.pinned, target.pin_until_newer, target.pin_position = "old", True, 2
    assert pins.lift(app, target, position=9) == ev.AppUnpinned(
        app="web", target="c1", reason="newer commit abc", state_position=9
    )
