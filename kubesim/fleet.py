"""Many emulated clusters in one process: ``async with run_fleet(names) as fleet``.

Each cluster is a whole emulator of its own (``emulator.run_emulator``): its own HTTP
server on 127.0.0.1 and port, its own store, revisions, CRDs and fake controllers. So
to a client each is a separate API server URL, as separate clusters are, and nothing
one cluster does shows in another. They share the process and its event loop, which is
what makes a fleet cheap: an idle emulator waits on an event and costs no CPU, and
starting one takes milliseconds, not a process start-up.

The fleet writes one kubeconfig with a cluster, and a context of the same name, per
emulator (the bearer tokens are the same on every cluster), so a client picks a
cluster by context. ``stop(name)`` closes one cluster's server for good, as when a
cluster becomes unreachable: connections to its port are refused from then on.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from kubesim import auth, emulator
from kubesim.controllers import base

DEFAULT_PREFIX = "sim-"


def default_names(count: int, prefix: str = DEFAULT_PREFIX) -> list[str]:
    """``count`` cluster names, ``sim-01`` ... (zero-padded so that they sort in order)."""
    if count < 1:
        raise ValueError(f"a fleet needs at least one cluster, not {count}")
    width = max(2, len(str(count)))
    return [f"{prefix}{i:0{width}d}" for i in range(1, count + 1)]


@dataclass(kw_only=True)
class Fleet:
    """Running emulators by cluster name, and the kubeconfig that names them all."""

    kubeconfig_path: Path
    tokens: dict[str, str]
    emulators: dict[str, emulator.Emulator]
    _stacks: dict[str, contextlib.AsyncExitStack]

    @property
    def names(self) -> list[str]:
        """The cluster names, in the order they were given."""
        return list(self.emulators)

    def __getitem__(self, name: str) -> emulator.Emulator:
        """The emulator of cluster ``name`` (also once stopped, to read its store)."""
        found = self.emulators.get(name)
        if found is None:
            raise KeyError(f"no cluster {name!r} in this fleet (clusters: {', '.join(self.names)})")
        return found

    def __iter__(self) -> Iterator[emulator.Emulator]:
        """The emulators, in name order as given."""
        return iter(self.emulators.values())

    def is_running(self, name: str) -> bool:
        """Whether cluster ``name`` still serves."""
        return name in self._stacks

    async def stop(self, name: str) -> None:
        """Close cluster ``name``'s server (its watches end, new connections are refused)."""
        self[name]  # the KeyError naming the clusters
        stack = self._stacks.pop(name, None)
        if stack is not None:
            await stack.aclose()

    async def idle(self, timeout: float = 30.0) -> None:
        """Wait until every running cluster's fake controllers have nothing left to do."""
        await asyncio.gather(*(self[n].idle(timeout) for n in self._stacks))

    def internal_errors(self) -> dict[str, list[BaseException]]:
        """Per cluster with any, the exceptions it caught (tests assert none: ``{}``)."""
        return {
            sim_name: errors
            for sim_name, sim in self.emulators.items()
            if (errors := sim.internal_errors())
        }


@contextlib.asynccontextmanager
async def run_fleet(
    names: Iterable[str] | int,
    *,
    tokens: Mapping[str, str] | None = None,
    kubeconfig: Path | None = None,
    knobs: base.Knobs | None = None,
    history: int = 100_000,
    controllers: bool = True,
    port: int = 0,
) -> AsyncIterator[Fleet]:
    """Serve one emulator per name (an int: that many, ``sim-01``...) for the block's duration.

    ``tokens`` as for ``run_emulator`` (None: one random ``admin`` token), the same on
    every cluster. ``kubeconfig`` is where the fleet's kubeconfig goes (default: a
    temporary file). ``port`` 0 takes any free ports; otherwise cluster i (from 0)
    serves on ``port + i``.
    """
    cluster_names = default_names(names) if isinstance(names, int) else list(names)
    if not cluster_names:
        raise ValueError("a fleet needs at least one cluster name")
    if len(set(cluster_names)) != len(cluster_names):
        raise ValueError(f"cluster names repeat: {', '.join(cluster_names)}")
    token_map = auth.default_tokens() if tokens is None else dict(tokens)
    with contextlib.ExitStack() as files:
        folder = Path(files.enter_context(tempfile.TemporaryDirectory(prefix="kubesim-fleet-")))
        stacks: dict[str, contextlib.AsyncExitStack] = {}
        emulators: dict[str, emulator.Emulator] = {}
        try:
            for i, name in enumerate(cluster_names):
                stack = contextlib.AsyncExitStack()
                stacks[name] = stack
                emulators[name] = await stack.enter_async_context(
                    emulator.run_emulator(
                        port=port + i if port else 0,
                        tokens=token_map,
                        kubeconfig=folder / f"{name}.kubeconfig",
                        knobs=knobs,
                        history=history,
                        controllers=controllers,
                    )
                )
            path = kubeconfig or folder / "kubeconfig"
            write_kubeconfig(path, {n: e.url for n, e in emulators.items()}, token_map)
            fleet = Fleet(
                kubeconfig_path=path, tokens=token_map, emulators=emulators, _stacks=stacks
            )
            yield fleet
        finally:
            # Stopped in reverse, concurrently: each waits up to its shutdown timeout.
            await asyncio.gather(*(s.aclose() for s in reversed(stacks.values())))


def kubeconfig(urls: Mapping[str, str], tokens: Mapping[str, str]) -> str:
    """A kubeconfig with one cluster per name and one context per cluster and token.

    The context named like the cluster uses the first token's user; further tokens get
    contexts ``USER@CLUSTER``. The first cluster's context is current.
    """
    users = [{"name": user, "user": {"token": token}} for token, user in tokens.items()]
    if not users:
        users = [{"name": "anonymous", "user": {}}]
    contexts = []
    for name in urls:
        for i, user in enumerate(u["name"] for u in users):
            contexts.append(
                {
                    "name": name if i == 0 else f"{user}@{name}",
                    "context": {"cluster": name, "user": user, "namespace": "default"},
                }
            )
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": url}} for name, url in urls.items()],
        "users": users,
        "contexts": contexts,
        "current-context": next(iter(urls)),
        "preferences": {},
    }
    return yaml.safe_dump(doc, sort_keys=False)


def write_kubeconfig(path: Path, urls: Mapping[str, str], tokens: Mapping[str, str]) -> None:
    """Write the fleet's kubeconfig (mode 0600: it holds tokens)."""
    auth.write_text_private(path, kubeconfig(urls, tokens))
