"""The daemon's HTTP server (aiohttp, embedded with ``AppRunner`` in the daemon's loop).

It serves ``GET /healthz`` (the process answers), ``GET /readyz`` (200 when the daemon
says it is ready, else 503 with its reason and a status word: ``not ready``, or
``standby`` for a daemon waiting for the database's lock; the runtime decides what ready
means), ``GET /metrics`` (Prometheus, from the folded state) and the webhooks
``POST /hooks/{github,gitlab,generic}``; later parts add ``/api`` and ``/ui``
with ``Server.add_routes`` before ``run``, and reach shared resources through typed
``web.AppKey`` entries (``HOOKS``, ``PROBES``). It binds the configured ``http.listen``
address, loopback by default.

Webhooks: the body is read up to ``core.webhooks.MAX_BODY`` (1 MiB; more is 413),
authenticated by ``core.webhooks.decide`` against the sources' secrets in constant time
(401 and no poll when nothing verifies), then parsed (an authentic body that is not a
JSON object is 400 and no poll), and a push asks the poller for an immediate, debounced
poll of the sources it concerns (202). Unknown events are
answered 202 and ignored. Deciding is the core's job; polling is the poller's.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Iterable, Sequence

import orjson
from aiohttp import web
from prometheus_client import CollectorRegistry

from daemon import logs
from daemon.core import webhooks
from daemon.shell import metrics

log = logs.get("http")

Trigger = Callable[[Sequence[str]], Sequence[str]]


@dataclasses.dataclass(frozen=True, slots=True)
class Hooks:
    """What the webhook handlers need: the sources and a way to ask for a poll."""

    sources: Sequence[webhooks.HookSource]
    trigger: Trigger


HOOKS = web.AppKey("hooks", Hooks)

Readiness = Callable[[], Awaitable[tuple[bool, str]]]
"""Answers /readyz: (ready, why not)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Probes:
    """What /readyz and /metrics read."""

    ready: Readiness
    metrics: CollectorRegistry
    unready: str = "not ready"
    """The ``status`` /readyz reports with its 503 (a standby says ``standby``)."""


PROBES = web.AppKey("probes", Probes)


def parse_listen(listen: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` too) of ``http.listen``; a bare ``:port`` means loopback."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"http.listen {listen!r}: write host:port, e.g. 127.0.0.1:8089")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


class Server:
    """An aiohttp application served on one address until cancelled."""

    def __init__(self, listen: str) -> None:
        """Serve on ``listen`` (``host:port``); only ``/healthz`` until more is added."""
        self.host, self.port = parse_listen(listen)
        self.app = web.Application(client_max_size=webhooks.MAX_BODY)
        self.app.router.add_get("/healthz", _healthz)
        self.bound: tuple[str, int] | None = None
        self.started = asyncio.Event()

    def enable_hooks(self, hooks: Hooks) -> None:
        """Serve ``POST /hooks/{github,gitlab,generic}`` for ``hooks.sources`` (before ``run``)."""
        self.app[HOOKS] = hooks
        for dialect in webhooks.Dialect:
            self.app.router.add_post(f"/hooks/{dialect.value}", _hook_handler(dialect))

    def enable_probes(self, probes: Probes) -> None:
        """Serve ``GET /readyz`` and ``GET /metrics`` (before ``run``)."""
        self.app[PROBES] = probes
        self.app.router.add_get("/readyz", _readyz)
        self.app.router.add_get("/metrics", _metrics)

    def add_routes(self, routes: Iterable[web.AbstractRouteDef]) -> None:
        """Add routes (before ``run``)."""
        self.app.router.add_routes(routes)

    async def run(self) -> None:
        """Listen, serve until cancelled, then close every connection."""
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
            await site.start()
            address = runner.addresses[0]
            self.bound = (str(address[0]), int(address[1]))
            log.info("http.listening", host=self.bound[0], port=self.bound[1])
            self.started.set()
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()


async def _healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _readyz(request: web.Request) -> web.Response:
    probes = request.app[PROBES]
    ready, why = await probes.ready()
    if ready:
        return _reply(200, {"status": "ready"})
    return _reply(503, {"status": probes.unready, "reason": why})


async def _metrics(request: web.Request) -> web.Response:
    body = metrics.render(request.app[PROBES].metrics)
    return web.Response(body=body, headers={"Content-Type": metrics.CONTENT_TYPE})


def _reply(status: int, doc: dict[str, object]) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(doc), content_type="application/json")


async def _read_limited(request: web.Request, limit: int) -> bytes | None:
    """The body, or None when it is longer than ``limit`` bytes."""
    if request.content_length is not None and request.content_length > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(64 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _hook_handler(dialect: webhooks.Dialect) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        hooks = request.app[HOOKS]
        body = await _read_limited(request, webhooks.MAX_BODY)
        if body is None:
            return _reply(413, {"error": f"body over {webhooks.MAX_BODY} bytes"})
        decision = webhooks.decide(
            dialect,
            headers=request.headers,
            body=body,
            named=request.query.getall("source", []),
            configured=hooks.sources,
        )
        match decision.verdict:
            case webhooks.Verdict.UNAUTHORIZED:
                log.warning("hook.unauthorized", dialect=dialect.value, remote=request.remote)
                return _reply(
                    401, {"error": "no configured source accepts this signature or token"}
                )
            case webhooks.Verdict.MALFORMED:
                log.warning("hook.malformed", dialect=dialect.value, problem=decision.detail)
                return _reply(400, {"error": decision.detail})
            case webhooks.Verdict.PING:
                return _reply(200, {"pong": list(decision.sources)})
            case webhooks.Verdict.IGNORE:
                return _reply(202, {"ignored": decision.event})
            case webhooks.Verdict.POLL:
                polled = list(hooks.trigger(decision.sources))
                log.info("hook.push", dialect=dialect.value, sources=polled)
                return _reply(202, {"polling": polled})

    return handle
