"""The fold keeps what the poller and renderer resume from: stream version, head, render inputs."""

from __future__ import annotations

import datetime as dt

from daemon.core import events as ev
from daemon.core import fold

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def _rec(position: int, stream: str, version: int, event: ev.AnyEvent) -> ev.Recorded:
    return ev.Recorded(
        position=position,
        stream=stream,
        version=version,
        recorded_at=T0,
        event=event,
        meta=ev.EventMeta(),
    )


def test_fold_tracks_source_version_head_and_failure() -> None:
    """Each source event moves the stream version; the head follows RevisionObserved."""
    state = fold.replay(
        [
            _rec(1, "source/s", 1, ev.RevisionObserved(source="s", ref="branch:main", sha="a")),
            _rec(2, "app/x", 1, ev.AppUnpinned(app="x", target="c1")),
            _rec(
                3, "source/s", 2, ev.SourceFailed(source="s", error_class="GitError", message="m")
            ),
            _rec(
                4,
                "source/s",
                3,
                ev.HistoryRewritten(
                    source="s", ref="branch:main", old_head="a", new_head="b", dropped=("a",)
                ),
            ),
        ]
    )
    src = state.sources["s"]
    assert (src.version, src.head, src.failing, src.head_position) == (3, "b", "GitError: m", 4)


def test_fold_tracks_render_attempts() -> None:
    """A render records its revision, inputs and config digest; a failure forgets the inputs."""
    rendered = ev.DesiredStateRendered(
        app="x",
        revision="r1",
        objects={"/v1/ConfigMap/ns/c": "d"},
        renderer="plain",
        inputs=("apps/x",),
        config="cfg1",
    )
    state = fold.replay([_rec(1, "app/x", 1, rendered)])
    first = (
        state.apps["x"].render_revision,
        state.apps["x"].render_inputs,
        state.apps["x"].render_config,
    )
    failed = ev.RenderFailed(
        app="x", revision="r2", error="a.yaml:3: bad", file="a.yaml", line=3, config="cfg2"
    )
    fold.evolve(state, _rec(2, "app/x", 2, failed))
    app = state.apps["x"]
    assert (
        first,
        (app.render_revision, app.render_inputs, app.render_config, app.render_error, app.revision),
    ) == (
        ("r1", ["apps/x"], "cfg1"),
        ("r2", None, "cfg2", "a.yaml:3: bad", "r1"),
    )
