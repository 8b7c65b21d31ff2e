"""Repeated server-side applies answered without re-running the merge.

A GitOps agent re-applies the same configuration over and over, and almost every time
nothing changes. Server-side apply is idempotent: applying configuration C as manager M
to the object that M's last apply of C produced yields that object again (same fields,
same managedFields, same time, no write). So ``ApplyMemo`` remembers, per object, the
last successful apply (manager, subresource, the configuration's bytes, and the
resourceVersion it left) and ``api`` answers an identical apply to an object still at
that resourceVersion with the stored object, exactly as the full path would. Any write
to the object changes its resourceVersion and so invalidates the entry; a CRD change
replaces the resource descriptor, which is part of the entry too.

Pure bookkeeping: what an apply means is ``apply``'s and ``api``'s business.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from kubesim.resources import ResourceType


@dataclass(frozen=True, slots=True)
class _Entry:
    rt: ResourceType
    manager: str
    subresource: str
    config: bytes
    resource_version: str


class ApplyMemo:
    """The last successful apply to each object."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], _Entry] = {}

    @staticmethod
    def fingerprint(config: Any) -> bytes | None:
        """The configuration's bytes (None when it holds something JSON cannot)."""
        try:
            return orjson.dumps(config)
        except TypeError:
            return None

    def is_repeat(
        self,
        rt: ResourceType,
        key: str,
        *,
        live: dict[str, Any],
        manager: str,
        subresource: str,
        config: bytes | None,
    ) -> bool:
        """Whether this apply repeats the one that left ``live`` as it is."""
        entry = self._entries.get((rt.rid, key))
        return (
            entry is not None
            and config is not None
            and entry.rt is rt
            and entry.config == config
            and entry.manager == manager
            and entry.subresource == subresource
            and entry.resource_version == live["metadata"]["resourceVersion"]
        )

    def remember(
        self,
        rt: ResourceType,
        key: str,
        *,
        stored: Any,
        manager: str,
        subresource: str,
        config: bytes | None,
    ) -> None:
        """Record a successful (stored, not dry-run) apply that left ``stored``."""
        if config is None or stored is None:
            self._entries.pop((rt.rid, key), None)
            return
        version = stored["metadata"]["resourceVersion"]
        self._entries[(rt.rid, key)] = _Entry(rt, manager, subresource, config, version)

    def forget(self, rid: str, key: str) -> None:
        """Drop what is known about an object that is gone."""
        self._entries.pop((rid, key), None)
