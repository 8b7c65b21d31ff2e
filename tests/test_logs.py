"""Logging: JSON lines with bound context variables; tests assert on captured fields."""

from __future__ import annotations

import io
import logging

import orjson
import structlog

from daemon import logs


def test_json_lines_carry_context_variables() -> None:
    """A log line is one JSON object with level, timestamp, event and the bound app/revision/sync_id."""
    out = io.StringIO()
    logs.configure(level="info", stream=out, json=True)
    try:
        with structlog.contextvars.bound_contextvars(app="web", revision="abc123", sync_id="s-1"):
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
