"""Assembling and running one emulator: ``async with run_emulator(...) as sim``.

Wires catalog, store, API, watch hub, faults, controllers and the aiohttp server on
127.0.0.1, seeds the namespaces a cluster starts with, writes the kubeconfig, loads and
saves the state file, and exposes the test hooks (faults, controller knobs, request
log, ``compact()``, ``drop_watches()``, a settable clock). The CLI (``kubesim.cli``)
and gitopsd's tests and demo use this; nothing else starts servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from kubesim import api as api_mod
from kubesim import auth, statefile, watch
from kubesim.catalog import Catalog
from kubesim.controllers import base, registry
from kubesim.faults import Faults
from kubesim.server import Frontend, LoggedRequest
from kubesim.store import Store

INITIAL_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")


@dataclass(kw_only=True)
class Emulator:
    """A running emulator and its test handles."""

    url: str
    port: int
    kubeconfig_path: Path
    tokens: dict[str, str]
    faults: Faults
    knobs: base.Knobs
    api: api_mod.Api
    hub: watch.Hub
    controllers: base.Manager
    frontend: Frontend
    frozen: list[datetime | None] = field(default_factory=lambda: [None])

    @property
    def token(self) -> str:
        """The first configured bearer token ("" when auth is off)."""
        return next(iter(self.tokens), "")

    @property
    def requests(self) -> list[LoggedRequest]:
        """Every request served so far, oldest first."""
        return self.frontend.requests

    @property
    def store(self) -> Store:
        """The object store (read it; write through ``api``)."""
        return self.api.store

    @property
    def resource_version(self) -> int:
        """The current global revision."""
        return self.api.store.rv

    def compact(self, keep: int = 0) -> None:
        """Forget history: watch resumes and continue tokens older than now get 410."""
        self.api.store.compact(keep=keep)

    def drop_watches(self, *, abort: bool = False) -> None:
        """End every open watch (cleanly, or by cutting the connection)."""
        self.hub.drop_all(abort=abort)

    def freeze_time(self, moment: datetime | None) -> None:
        """Stamp timestamps with ``moment`` (None: the real clock again)."""
        self.frozen[0] = moment

    async def idle(self, timeout: float = 30.0) -> None:
        """Wait until the fake controllers have nothing left to do."""
        await self.controllers.idle(timeout)

    def internal_errors(self) -> list[BaseException]:
        """Exceptions the emulator caught in handlers or controllers (tests assert none)."""
        return [*self.frontend.errors, *self.controllers.errors]


@contextlib.asynccontextmanager
async def run_emulator(
    *,
    port: int = 0,
    tokens: Mapping[str, str] | None = None,
    kubeconfig: Path | None = None,
    state: Path | None = None,
    knobs: base.Knobs | None = None,
    history: int = 100_000,
    controllers: bool = True,
) -> AsyncIterator[Emulator]:
    """Serve an emulator on 127.0.0.1 (``port`` 0: any free port) for the block's duration.

    ``tokens`` maps bearer token to user: None makes one random token for ``admin``; an
    empty mapping turns authentication off. ``kubeconfig`` is where the kubeconfig goes
    (default: a temporary file). ``state`` loads objects at start and saves them at exit.
    """
    token_map = auth.default_tokens() if tokens is None else dict(tokens)
    knob_set = knobs or base.Knobs()
    store = Store(history=history)
    catalog = Catalog()
    frozen: list[datetime | None] = [None]

    def clock() -> datetime:
        return frozen[0] or datetime.now(UTC)

    api = api_mod.Api(catalog=catalog, store=store, clock=clock)
    if state is not None and await asyncio.to_thread(state.exists):
        await asyncio.to_thread(statefile.load, api, state)
    _seed(api)
    hub = watch.Hub(store)
    fault_set = Faults()
    address = ["127.0.0.1:0"]
    frontend = Frontend(
        api=api, hub=hub, faults=fault_set, tokens=token_map, server_address=lambda: address[0]
    )
    manager = base.Manager(api, knob_set)
    registry.install(manager)
    # The low-level server: the front end routes Kubernetes URLs itself, so aiohttp's
    # application and router would only add per-request cost.
    server = web.Server(frontend.handle, access_log=None)
    runner = web.ServerRunner(server, handle_signals=False, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=1024)
    await site.start()
    bound = _bound_port(runner)
    address[0] = f"127.0.0.1:{bound}"
    url = f"http://127.0.0.1:{bound}"
    with contextlib.ExitStack() as stack:
        if kubeconfig is None:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="gitopsd-sim-"))
            kubeconfig = Path(tmp) / "kubeconfig"
        auth.write_kubeconfig(kubeconfig, url, token_map)
        task = asyncio.create_task(manager.run(), name="sim-controllers") if controllers else None
        sim = Emulator(
            url=url,
            port=bound,
            kubeconfig_path=kubeconfig,
            tokens=token_map,
            faults=fault_set,
            knobs=knob_set,
            api=api,
            hub=hub,
            controllers=manager,
            frontend=frontend,
            frozen=frozen,
        )
        try:
            yield sim
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            frontend.shutting_down = True  # requests still arriving get 503 + Retry-After: 1
            hub.drop_all()
            await runner.cleanup()
            if state is not None:
                await asyncio.to_thread(statefile.save, api, state)


def _bound_port(runner: web.BaseRunner) -> int:
    for server in runner.sites:
        sock = server._server.sockets[0] if server._server else None  # type: ignore[attr-defined]  # noqa: SLF001
        if sock is not None:
            return int(sock.getsockname()[1])
    raise RuntimeError("the emulator's listening socket is not bound")


def _seed(api: api_mod.Api) -> None:
    """Create the namespaces every cluster starts with (skipped when loaded from state)."""
    rt = api.catalog.find("", "v1", "namespaces")
    assert rt is not None
    opts = api_mod.WriteOptions(manager="kube-apiserver", user="system:apiserver")
    for name in INITIAL_NAMESPACES:
        if api.store.get(rt.rid, name) is None:
            api.create(rt, "", {"metadata": {"name": name}}, opts)
