"""API discovery for one cluster: which resource serves a kind, and is it namespaced.

Read from ``/api/v1``, ``/apis`` and ``/apis/{group}/{version}`` and cached per
group-version. A kind missing from the cache refetches its group-version, so a CRD
that became Established since the last look is found on first use; ``forget`` drops
a group-version whose URLs started answering the plain-text 404 (its CRD is gone).
kubernetes_asyncio's DynamicClient keeps this cache in a shared temp file keyed by
host (KUBE_API.md §1.2); this one lives in memory, per client.

The HTTP requests are the client's (``kubeclient`` passes its rate-limited, retrying
``get_json``); this module only reads the documents.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple
from urllib.parse import quote

from daemon.shell import kubeerrors

GetJson = Callable[[str], Awaitable[Any]]
"""GET a path and decode its JSON body; raises ``kubeerrors.KubeError``."""


class Resource(NamedTuple):
    """A served resource type, as discovery describes it."""

    group: str
    version: str
    plural: str
    namespaced: bool
    kind: str

    @property
    def api_version(self) -> str:
        """``group/version``, or ``v1`` for the core group."""
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, *, namespace: str = "", name: str = "") -> str:
        """The URL path of the collection (``namespace`` "" means all) or of one object."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        return f"{base}/{quote(name, safe='')}" if name else base


class Discovery:
    """Cached discovery documents of one cluster."""

    def __init__(self, get_json: GetJson) -> None:
        """Discover through ``get_json``."""
        self._get_json = get_json
        self._group_versions: dict[str, list[str]] | None = None
        self._resources: dict[str, dict[str, Resource]] = {}
        self._lock = asyncio.Lock()
        self.fetches = 0
        """Group-version documents fetched so far (tests read it)."""

    async def resource_for(self, api_version: str, kind: str) -> Resource:
        """The resource serving ``kind`` at ``api_version``; ``NoKindMatchError`` if none."""
        found = self._resources.get(api_version, {}).get(kind)
        if found is not None:
            return found
        async with self._lock:
            found = self._resources.get(api_version, {}).get(kind)
            if found is None:
                self._resources[api_version] = await self._fetch_resources(api_version)
                found = self._resources[api_version].get(kind)
        if found is None:
            raise kubeerrors.NoKindMatchError(api_version, kind)
        return found

    async def resource_for_group_kind(self, group: str, kind: str) -> Resource:
        """The resource serving ``kind`` in ``group``, preferred version first."""
        if not group:
            return await self.resource_for("v1", kind)
        versions = (self._group_versions or {}).get(group)
        if versions is None:
            async with self._lock:
                self._group_versions = await self._fetch_groups()
            versions = self._group_versions.get(group)
        last = kubeerrors.NoKindMatchError(f"{group}/*", kind)
        for version in versions or ():
            try:
                return await self.resource_for(f"{group}/{version}", kind)
            except kubeerrors.NoKindMatchError as exc:
                last = exc
        raise last

    def forget(self, api_version: str) -> None:
        """Drop what is cached about ``api_version`` and the group list."""
        self._resources.pop(api_version, None)
        self._group_versions = None

    async def _fetch_resources(self, api_version: str) -> dict[str, Resource]:
        group, _, version = api_version.rpartition("/")
        path = f"/apis/{api_version}" if group else f"/api/{version}"
        self.fetches += 1
        try:
            doc = await self._get_json(path)
        except kubeerrors.ApiError as exc:
            if exc.code == 404:
                return {}
            raise
        out: dict[str, Resource] = {}
        for item in doc.get("resources") or []:
            name = str(item.get("name", ""))
            if not name or "/" in name or not item.get("kind"):
                continue  # subresources (deployments/status) are not kinds of their own
            res = Resource(group, version, name, bool(item.get("namespaced")), str(item["kind"]))
            out.setdefault(res.kind, res)
        return out

    async def _fetch_groups(self) -> dict[str, list[str]]:
        doc = await self._get_json("/apis")
        out: dict[str, list[str]] = {}
        for group in doc.get("groups") or []:
            preferred = (group.get("preferredVersion") or {}).get("version")
            versions = [str(v.get("version")) for v in group.get("versions") or []]
            if preferred in versions:
                versions.remove(preferred)
                versions.insert(0, preferred)
            out[str(group.get("name"))] = versions
        return out
