"""What the emulator serves right now, and the discovery documents that say so (§1).

The catalog holds the built-in descriptors plus one set per *established* CRD; it
answers URL lookups (group, version, plural) and kind lookups (for ownerReferences),
and renders ``/api``, ``/api/v1``, ``/apis``, ``/apis/{g}`` and ``/apis/{g}/{v}``.
Descriptors themselves are defined in ``resources``; CRD establishment is a controller's
job (``controllers``), which calls :meth:`Catalog.serve_crd` / :meth:`Catalog.unserve_crd`.
"""

from __future__ import annotations

import re
from typing import Any

from kubesim import resources
from kubesim.resources import ResourceType

JSON = dict[str, Any]

VERSION_INFO: JSON = {
    "major": "1",
    "minor": "35",
    "emulationMajor": "1",
    "emulationMinor": "35",
    "minCompatibilityMajor": "1",
    "minCompatibilityMinor": "34",
    "gitVersion": "v1.35.0",
    "gitCommit": "66452049f3d692768c39c797b21b793dce80314e",
    "gitTreeState": "clean",
    "buildDate": "2025-12-17T00:00:00Z",
    "goVersion": "go1.25.5",
    "compiler": "gc",
    "platform": "linux/amd64",
}

_KUBE_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Sort key putting versions in Kubernetes order: v2, v1, v1beta2, v1beta1, v1alpha1, foo."""
    m = _KUBE_VERSION.match(version)
    if m is None:
        return (3, 0, 0, version)
    major = int(m.group(1))
    stage = {None: 0, "beta": 1, "alpha": 2}[m.group(2)]
    minor = int(m.group(3) or 0)
    return (stage, -major, -minor, version)


class Catalog:
    """Served resource types, by URL and by kind."""

    def __init__(self) -> None:
        self._builtin = resources.builtins()
        self._crds: dict[str, list[ResourceType]] = {}  # CRD name -> its served versions
        self._crd_storage: dict[str, str] = {}  # rid -> storage version
        self._rebuild()

    def _rebuild(self) -> None:
        self._by_url: dict[tuple[str, str, str], ResourceType] = {}
        self._by_kind: dict[tuple[str, str], ResourceType] = {}
        for rt in self.all_types():
            self._by_url[(rt.group, rt.version, rt.plural)] = rt
            self._by_kind.setdefault((rt.group, rt.kind), rt)

    def all_types(self) -> list[ResourceType]:
        """Every served (group, version, resource)."""
        out = list(self._builtin)
        for types in self._crds.values():
            out.extend(types)
        return out

    def find(self, group: str, version: str, plural: str) -> ResourceType | None:
        """The type served at ``/apis/{group}/{version}/{plural}``, if any."""
        return self._by_url.get((group, version, plural))

    def by_kind(self, group: str, kind: str) -> ResourceType | None:
        """A served type for (group, kind), whatever the version."""
        return self._by_kind.get((group, kind))

    def by_rid(self, rid: str) -> ResourceType | None:
        """The storage-version type of a resource id (``deployments.apps``)."""
        storage = self._crd_storage.get(rid)
        for rt in self.all_types():
            if rt.rid == rid and (storage is None or rt.version == storage):
                return rt
        return None

    def serve_crd(self, crd: JSON) -> None:
        """Start serving an established CRD's versions."""
        name = crd["metadata"]["name"]
        types = resources.from_crd(crd)
        self._crds[name] = types
        if types:
            self._crd_storage[types[0].rid] = resources.storage_version(crd)
        self._rebuild()

    def unserve_crd(self, name: str) -> None:
        """Stop serving a CRD (it was deleted)."""
        types = self._crds.pop(name, [])
        for rt in types:
            self._crd_storage.pop(rt.rid, None)
        self._rebuild()

    def serves_crd(self, name: str) -> bool:
        """Whether a CRD of this name is currently served."""
        return name in self._crds

    # Discovery documents -------------------------------------------------------------

    def groups(self) -> list[tuple[str, list[str]]]:
        """(group, versions in preference order) for every named group, in /apis order."""
        found: dict[str, set[str]] = {}
        for rt in self.all_types():
            if rt.group:
                found.setdefault(rt.group, set()).add(rt.version)
        builtin = [g for g in resources.GROUP_ORDER if g in found]
        custom = sorted(g for g in found if g not in resources.GROUP_ORDER)
        return [(g, sorted(found[g], key=version_priority)) for g in builtin + custom]

    def group_doc(self, group: str) -> JSON | None:
        """``/apis/{group}``: an APIGroup, or None if the group is not served."""
        for name, versions in self.groups():
            if name == group:
                return {"kind": "APIGroup", "apiVersion": "v1", **_group_body(name, versions)}
        return None

    def group_list_doc(self) -> JSON:
        """``/apis``: the APIGroupList."""
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [_group_body(name, versions) for name, versions in self.groups()],
        }

    def resource_list_doc(self, group: str, version: str) -> JSON | None:
        """``/api/v1`` or ``/apis/{g}/{v}``: the APIResourceList, or None if not served."""
        types = sorted(
            (rt for rt in self.all_types() if rt.group == group and rt.version == version),
            key=lambda rt: rt.plural,
        )
        if not types:
            return None
        out: JSON = {"kind": "APIResourceList"}
        if group:
            out["apiVersion"] = "v1"
        out["groupVersion"] = f"{group}/{version}" if group else version
        out["resources"] = [entry for rt in types for entry in _resource_entries(rt)]
        return out


def api_versions_doc(server_address: str) -> JSON:
    """``/api``: the legacy core group's APIVersions (no apiVersion key)."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _group_body(name: str, versions: list[str]) -> JSON:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": dict(entries[0])}


def _resource_entries(rt: ResourceType) -> list[JSON]:
    main: JSON = {
        "name": rt.plural,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        main["shortNames"] = list(rt.short_names)
    if rt.categories:
        main["categories"] = list(rt.categories)
    subs: list[JSON] = []
    for name, kind, verbs in rt.extra_subresources:
        subs.append(_sub(rt, name, kind, verbs))
    if rt.scale is not None:
        scale = _sub(rt, "scale", "Scale", resources.SUB_VERBS)
        scale = {**scale, "group": "autoscaling", "version": "v1"}
        scale["kind"] = "Scale"
        scale["verbs"] = list(resources.SUB_VERBS)
        subs.append(_reorder_scale(scale))
    if rt.status:
        subs.append(_sub(rt, "status", rt.kind, resources.SUB_VERBS))
    subs.sort(key=lambda e: e["name"])
    return [main, *subs]


def _sub(rt: ResourceType, name: str, kind: str, verbs: tuple[str, ...]) -> JSON:
    return {
        "name": f"{rt.plural}/{name}",
        "singularName": "",
        "namespaced": rt.namespaced,
        "kind": kind,
        "verbs": list(verbs),
    }


def _reorder_scale(entry: JSON) -> JSON:
    # Go field order of APIResource: name, singularName, namespaced, group, version, kind, verbs.
    order = ("name", "singularName", "namespaced", "group", "version", "kind", "verbs")
    return {k: entry[k] for k in order}
