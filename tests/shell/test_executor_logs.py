"""The executor's log lines: one ``sync.step`` per step, each carrying the sync's context.

Driven against the emulator through a real ``KubeClient``; the recorder keeps the events
in a list and every wave is reported healthy at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog
from kubefixtures import configmap

from daemon.core import events as ev
from daemon.core import ids
from daemon.core.events import PlanStep, StepAction
from daemon.core.plan import Plan
from daemon.shell import executor, kubeclient

CONTEXT = {"app": "web", "target": "sim", "revision": "rev-1", "sync_id": "s-1"}


class Recorded(list[ev.EventBase]):
    """The events the executor recorded, in order."""

    async def __call__(self, events: Sequence[ev.EventBase]) -> None:
        """Keep ``events``."""
        self.extend(events)


async def healthy(keys: Sequence[str], timeout: float) -> tuple[bool, str]:
    """Every wave is healthy at once."""
    return True, ""


def sync_of(steps: list[PlanStep], bodies: dict[str, Any], uids: dict[str, str]) -> executor.Sync:
    """A sync of app ``web`` at ``rev-1`` to the cluster ``sim``."""
    return executor.Sync(
        app="web",
        sync_id="s-1",
        revision="rev-1",
        plan=Plan(steps=tuple(steps)),
        bodies=bodies,
        live_uids=uids,
        allow_recreate=False,
        health_timeout=5.0,
        target="sim",
    )


async def test_each_step_logs_one_line_with_app_target_revision_and_sync_id(
    kube: kubeclient.KubeClient, captured_logs: list[structlog.typing.EventDict]
) -> None:
    """A create, an unchanged object and a prune each log one ``sync.step`` line carrying the sync's context."""
    new, same, old = configmap("new"), configmap("same"), configmap("old")
    await kube.apply(same)
    live_old, _ = await kube.apply(old)
    keys = [ids.key_of(b) for b in (new, same, old)]
    steps = [
        PlanStep(key=keys[0], action=StepAction.CREATE, digest="d-new"),
        PlanStep(key=keys[1], action=StepAction.UNCHANGED, digest="d-same"),
        PlanStep(key=keys[2], action=StepAction.PRUNE, phase="Prune"),
    ]
    sync = sync_of(
        steps,
        {keys[0]: new, keys[1]: same},
        {keys[2]: str(live_old["metadata"]["uid"])},
    )
    recorded = Recorded()
    run = executor.Executor(kube, record=recorded, wait_healthy=healthy)
    finished = await run.run(sync)
    assert finished.result is ev.SyncResult.SUCCEEDED
    step_lines = [e for e in captured_logs if e["event"] == "sync.step"]
    line = {"component": "executor", "event": "sync.step", **CONTEXT}
    assert step_lines == [
        {**line, "log_level": "info", "key": keys[0], "action": "create", "outcome": "created"},
        {
            **line,
            "log_level": "debug",
            "key": keys[1],
            "action": "unchanged",
            "outcome": "unchanged",
        },
        {**line, "log_level": "info", "key": keys[2], "action": "prune", "outcome": "deleted"},
    ]
    executor_lines = [e for e in captured_logs if e.get("component") == "executor"]
    assert [{k: e.get(k) for k in CONTEXT} for e in executor_lines] == [CONTEXT] * len(
        executor_lines
    )


async def test_a_failed_step_logs_a_warning_and_the_context_is_left_after_the_run(
    kube: kubeclient.KubeClient, captured_logs: list[structlog.typing.EventDict]
) -> None:
    """A dry-run failure logs ``sync.step`` failed with the API's answer; lines after the run carry no sync context."""
    bad = configmap("Not_A_Name")
    key = ids.key_of(bad)
    sync = sync_of([PlanStep(key=key, action=StepAction.CREATE, digest="d")], {key: bad}, {})
    recorded = Recorded()
    run = executor.Executor(kube, record=recorded, wait_healthy=healthy)
    finished = await run.run(sync)
    structlog.get_logger().info("after.run")
    failed = next(e for e in recorded if isinstance(e, ev.StepFailed))
    assert (finished.result, failed.stage) == (ev.SyncResult.FAILED, "dry-run")
    assert [e for e in captured_logs if e["event"] in ("sync.step", "after.run")] == [
        {
            "component": "executor",
            "event": "sync.step",
            "log_level": "warning",
            **CONTEXT,
            "key": key,
            "action": "create",
            "outcome": "failed",
            "stage": "dry-run",
            "error": f"{failed.reason} ({failed.code}): {failed.message}",
        },
        {"event": "after.run", "log_level": "info"},
    ]
