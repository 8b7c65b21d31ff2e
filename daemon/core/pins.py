"""When a pin lifts: a decision over the folded state, recorded as ``AppUnpinned``.

A rollback may pin a target "until a newer commit": it lifts when a revision newer than
the pin is rendered for the app. The fold does not lift it by itself (it did before
targets; those old pins still lift that way, see ``fold``): this module decides it, and
the runtime records the decision with the position of the state it read, so it survives
a restart and ``gitopsd verify`` replays it.
"""

from __future__ import annotations

from daemon.core import events as ev
from daemon.core.state import AppState, TargetState


def lift(app: AppState, target: TargetState, *, position: int) -> ev.AppUnpinned | None:
    """The unpin due for ``target`` in the state at ``position``, or None."""
    if target.pinned is None or not target.pin_until_newer or target.pin_legacy:
        return None
    if app.revision is None or app.revision == target.pinned:
        return None
    if app.revision_position <= target.pin_position:
        return None  # the head was rendered before the pin: not newer than it
    return ev.AppUnpinned(
        app=app.name,
        target=target.name,
        reason=f"{ev.AppUnpinned.NEWER_COMMIT} {app.revision[:12]}",
        state_position=position,
    )
