"""Logging: JSON lines with bound context variables; tests assert on captured fields."""

from __future__ import annotations

import asyncio
import io
import logging

import orjson
import pytest
import structlog

from daemon import logs


def test_json_lines_carry_context_variables() -> None:
    """A log line is one JSON object with level, timestamp, event and the bound app/revision/sync_id."""
    out = io.StringIO()
    logs.configure(level="info", stream=out, json=True)
    try:
        with logs.bound(app="web", revision="abc123", sync_id="s-1"):
            logs.get("reconciler").info("sync.planned", steps=3)
        logs.get("reconciler").debug("sync.hidden")
        logging.getLogger("asyncio").warning("stdlib says %s", "hi")
    finally:
        structlog.reset_defaults()
    lines = [orjson.loads(line) for line in out.getvalue().splitlines()]
    first = lines[0]
    assert {
        k: first[k] for k in ("event", "level", "app", "revision", "sync_id", "steps", "component")
    } == {
        "event": "sync.planned",
        "level": "info",
        "app": "web",
        "revision": "abc123",
        "sync_id": "s-1",
        "steps": 3,
        "component": "reconciler",
    }
    assert first["timestamp"].endswith("Z")
    assert len(lines) == 2
    assert (lines[1]["event"], lines[1]["level"]) == ("stdlib says hi", "warning")


def test_capture_logs_sees_fields(captured_logs: list[structlog.typing.EventDict]) -> None:
    """Structlog's capture lets tests assert on structured fields."""
    logs.get("poller").warning("source.failed", source="infra", error="timeout")
    assert captured_logs == [
        {
            "component": "poller",
            "source": "infra",
            "error": "timeout",
            "event": "source.failed",
            "log_level": "warning",
        }
    ]


def test_console_lines_carry_context_variables() -> None:
    """The console rendering (a TTY) shows the bound fields too, stdlib lines included."""
    out = io.StringIO()
    logs.configure(level="info", stream=out, json=False)
    try:
        with logs.bound(app="web", target="prod-eu", revision="abc123", sync_id="s-1"):
            logs.get("executor").info("sync.step", key="/ConfigMap/default/a")
            logging.getLogger("asyncio").warning("stdlib says hi")
    finally:
        structlog.reset_defaults()
    first, second = out.getvalue().splitlines()
    fields = {"app=web", "target=prod-eu", "revision=abc123", "sync_id=s-1"}
    assert (fields - set(first.split()), "sync.step" in first) == (set(), True)
    assert (fields - set(second.split()), "stdlib says hi" in second) == (set(), True)


async def test_bound_fields_follow_awaits_and_child_tasks_and_are_restored(
    captured_logs: list[structlog.typing.EventDict],
) -> None:
    """Inside ``bound`` every line carries the fields, after an await and in a child task; after it none does."""
    log = logs.get("t")

    async def child() -> None:
        await asyncio.sleep(0)
        log.info("in.child")

    with logs.bound(app="web", target="prod", revision="r1", sync_id="s-1"):
        log.info("in.block")
        await asyncio.sleep(0)
        log.info("after.await")
        task = asyncio.create_task(child())
    # The block is left before the child logs: its copy of the context stays bound.
    await task
    log.info("after.block")
    context = {"app": "web", "target": "prod", "revision": "r1", "sync_id": "s-1"}
    assert captured_logs == [
        {"component": "t", "event": "in.block", "log_level": "info", **context},
        {"component": "t", "event": "after.await", "log_level": "info", **context},
        {"component": "t", "event": "in.child", "log_level": "info", **context},
        {"component": "t", "event": "after.block", "log_level": "info"},
    ]


async def test_child_task_binding_does_not_leak_into_parent(
    captured_logs: list[structlog.typing.EventDict],
) -> None:
    """A field a child task binds stays in the child: the parent's lines never carry it."""
    log = logs.get("t")

    async def child() -> None:
        with logs.bound(key="/ConfigMap/default/a"):
            log.info("in.child")
            await asyncio.sleep(0)

    with logs.bound(app="web"):
        task = asyncio.create_task(child())
        await asyncio.sleep(0)
        log.info("in.parent")
        await task
    assert captured_logs == [
        {
            "component": "t",
            "event": "in.child",
            "log_level": "info",
            "app": "web",
            "key": "/ConfigMap/default/a",
        },
        {"component": "t", "event": "in.parent", "log_level": "info", "app": "web"},
    ]


def test_nested_bound_restores_outer_values_and_skips_none(
    captured_logs: list[structlog.typing.EventDict],
) -> None:
    """An inner ``bound`` overrides for its block only; None leaves a field as it was."""
    log = logs.get("t")
    with logs.bound(app="web", revision="r1"):
        with logs.bound(revision="r2", sync_id=None):
            log.info("inner")
        log.info("outer")
    assert captured_logs == [
        {"component": "t", "event": "inner", "log_level": "info", "app": "web", "revision": "r2"},
        {"component": "t", "event": "outer", "log_level": "info", "app": "web", "revision": "r1"},
    ]


def test_bound_restores_when_the_block_raises(
    captured_logs: list[structlog.typing.EventDict],
) -> None:
    """An exception leaving the block still unbinds its fields; an explicit field wins over a bound one."""
    log = logs.get("t")

    def fail() -> None:
        with logs.bound(app="web"):
            log.info("inside", app="other")
            raise RuntimeError

    with pytest.raises(RuntimeError):
        fail()
    log.info("outside")
    assert captured_logs == [
        {"component": "t", "event": "inside", "log_level": "info", "app": "other"},
        {"component": "t", "event": "outside", "log_level": "info"},
    ]
