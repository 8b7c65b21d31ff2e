"""Object lifecycle controllers: garbage collector, namespace finalizer, CRD establishment.

* ``garbagecollector`` (KUBE_API.md §5): keeps a uid index and an owner -> dependents
  index from the change log; deletes dependents whose owners are all gone, drops dangling
  references, runs Foreground (delete dependents, then drop ``foregroundDeletion``) and
  Orphan (strip references, then drop ``orphan``).
* ``namespace``: empties a terminating namespace, then clears ``spec.finalizers``
  through ``/finalize`` so the API removes it.
* ``crd``: sets NamesAccepted/Established and serves the CRD's resources; on deletion
  removes every custom resource of it, then its cleanup finalizer, and stops serving.
"""

from __future__ import annotations

from typing import Any

from kubesim import api as api_mod
from kubesim.controllers.base import Manager, copy_obj
from kubesim.resources import ResourceType
from kubesim.status import StatusError
from kubesim.store import Change, EventType

JSON = dict[str, Any]
CRD_RID = "customresourcedefinitions.apiextensions.k8s.io"
CRD_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
Loc = tuple[str, str]  # (rid, storage key)


def _remove_finalizer(mgr: Manager, rt: ResourceType, obj: JSON, finalizer: str) -> None:
    new = copy_obj(obj)
    fins = [f for f in new["metadata"].get("finalizers") or [] if f != finalizer]
    if fins:
        new["metadata"]["finalizers"] = fins
    else:
        new["metadata"].pop("finalizers", None)
    meta = obj["metadata"]
    mgr.api.update(rt, meta.get("namespace", ""), meta["name"], body=new, opts=mgr.options())


def _delete(mgr: Manager, rt: ResourceType, obj: JSON, policy: str = "Background") -> None:
    meta = obj["metadata"]
    try:
        mgr.api.delete(
            rt,
            meta.get("namespace", ""),
            meta["name"],
            api_mod.DeleteOptions(propagation=policy, precondition_uid=meta["uid"]),
        )
    except StatusError as exc:
        if exc.code not in (404, 409):
            raise


class GarbageCollector:
    """Owner references and the orphan / foregroundDeletion finalizers."""

    name = "garbagecollector"

    def __init__(self, mgr: Manager) -> None:
        self.mgr = mgr
        self.uids: dict[str, Loc] = {}
        self.dependents: dict[str, set[Loc]] = {}
        self.refs: dict[Loc, set[str]] = {}

    def observe(self, change: Change) -> list[tuple[float, str]]:
        """Index the change; schedule owners and dependents it affects."""
        loc = (change.rid, change.key)
        obj = change.obj
        meta = obj["metadata"]
        out: list[tuple[float, str]] = []
        # An owner waiting for its dependents (foreground) re-checks when one changes.
        out += [(0.0, _k(owner)) for owner in self._owner_locs(meta)]
        if change.type is EventType.DELETED:
            self.uids.pop(meta["uid"], None)
            self._index_refs(loc, [])
            out += [(0.0, _k(dep)) for dep in self.dependents.get(meta["uid"], ())]
            return out
        self.uids[meta["uid"]] = loc
        refs = [r.get("uid", "") for r in meta.get("ownerReferences") or []]
        self._index_refs(loc, refs)
        if refs:
            out.append((0.0, _k(loc)))
        fins = meta.get("finalizers") or []
        if meta.get("deletionTimestamp") and ("orphan" in fins or "foregroundDeletion" in fins):
            out.append((0.0, _k(loc)))
            out += [(0.0, _k(dep)) for dep in self.dependents.get(meta["uid"], ())]
        return out

    def _owner_locs(self, meta: JSON) -> list[Loc]:
        out = []
        for ref in meta.get("ownerReferences") or []:
            loc = self.uids.get(ref.get("uid", ""))
            if loc is not None:
                out.append(loc)
        return out

    def _index_refs(self, loc: Loc, refs: list[str]) -> None:
        for uid in self.refs.pop(loc, set()):
            deps = self.dependents.get(uid)
            if deps is not None:
                deps.discard(loc)
                if not deps:
                    del self.dependents[uid]
        if refs:
            self.refs[loc] = set(refs)
            for uid in refs:
                self.dependents.setdefault(uid, set()).add(loc)

    def sync(self, key: str) -> float | None:
        """Process one object as an owner (finalizers) and as a dependent (references)."""
        rid, _, skey = key.partition("|")
        obj = self.mgr.api.store.get(rid, skey)
        if obj is None:
            return None
        rt = self.mgr.api.catalog.by_rid(rid)
        if rt is None:
            return None
        again = self._as_owner(rt, obj)
        obj = self.mgr.api.store.get(rid, skey)
        if obj is not None and obj["metadata"].get("ownerReferences"):
            self._as_dependent(rt, obj)
        return again

    def _as_owner(self, rt: ResourceType, obj: JSON) -> float | None:
        meta = obj["metadata"]
        fins = meta.get("finalizers") or []
        if not meta.get("deletionTimestamp"):
            return None
        deps = self._live_dependents(meta["uid"])
        if "orphan" in fins:
            for drt, dep in deps:
                self._strip_ref(drt, dep, meta["uid"])
            _remove_finalizer(self.mgr, rt, obj, "orphan")
            return None
        if "foregroundDeletion" in fins:
            for drt, dep in deps:
                if not dep["metadata"].get("deletionTimestamp"):
                    _delete(self.mgr, drt, dep, "Foreground")
            blocking = [
                dep
                for _, dep in self._live_dependents(meta["uid"])
                if any(
                    r.get("uid") == meta["uid"] and r.get("blockOwnerDeletion")
                    for r in dep["metadata"].get("ownerReferences") or []
                )
            ]
            if blocking:
                return None  # re-checked when a dependent changes (see observe)
            current = self.mgr.api.store.get(rt.rid, _key_of(rt, obj))
            if current is not None:
                _remove_finalizer(self.mgr, rt, current, "foregroundDeletion")
        return None

    def _live_dependents(self, uid: str) -> list[tuple[ResourceType, JSON]]:
        out = []
        for rid, key in sorted(self.dependents.get(uid, ())):
            dep = self.mgr.api.store.get(rid, key)
            drt = self.mgr.api.catalog.by_rid(rid)
            if dep is not None and drt is not None:
                out.append((drt, dep))
        return out

    def _strip_ref(self, rt: ResourceType, dep: JSON, uid: str) -> None:
        new = copy_obj(dep)
        refs = [r for r in new["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
        if refs:
            new["metadata"]["ownerReferences"] = refs
        else:
            new["metadata"].pop("ownerReferences", None)
        meta = dep["metadata"]
        self.mgr.api.update(
            rt, meta.get("namespace", ""), meta["name"], body=new, opts=self.mgr.options()
        )

    def _owner_present(self, dependent: JSON, ref: JSON) -> bool:
        loc = self.uids.get(ref.get("uid", ""))
        if loc is None:
            return False
        owner = self.mgr.api.store.get(*loc)
        if owner is None or owner["metadata"].get("name") != ref.get("name"):
            return False
        dep_ns = dependent["metadata"].get("namespace", "")
        owner_ns = owner["metadata"].get("namespace", "")
        return not owner_ns or owner_ns == dep_ns

    def _as_dependent(self, rt: ResourceType, obj: JSON) -> None:
        refs = obj["metadata"].get("ownerReferences") or []
        present = [r for r in refs if self._owner_present(obj, r)]
        if len(present) == len(refs):
            return
        if not present:
            _delete(self.mgr, rt, obj)
            return
        new = copy_obj(obj)
        new["metadata"]["ownerReferences"] = present
        meta = obj["metadata"]
        self.mgr.api.update(
            rt, meta.get("namespace", ""), meta["name"], body=new, opts=self.mgr.options()
        )


def _k(loc: Loc) -> str:
    return f"{loc[0]}|{loc[1]}"


def _key_of(rt: ResourceType, obj: JSON) -> str:
    meta = obj["metadata"]
    ns = meta.get("namespace", "") if rt.namespaced else ""
    return f"{ns}/{meta['name']}" if ns else meta["name"]


class NamespaceController:
    """Empties terminating namespaces and finalizes them."""

    name = "namespace"

    def __init__(self, mgr: Manager) -> None:
        self.mgr = mgr

    def observe(self, change: Change) -> list[tuple[float, str]]:
        """A terminating namespace, or a change inside one, needs a sync."""
        if change.rid == "namespaces":
            if change.type is not EventType.DELETED and change.obj["metadata"].get(
                "deletionTimestamp"
            ):
                return [(0.0, change.obj["metadata"]["name"])]
            return []
        ns = change.obj["metadata"].get("namespace")
        if ns and change.type is EventType.DELETED:
            owner = self.mgr.api.store.get("namespaces", ns)
            if owner is not None and owner["metadata"].get("deletionTimestamp"):
                return [(0.0, ns)]
        return []

    def sync(self, key: str) -> float | None:
        """Delete what is left in the namespace; finalize it once empty."""
        ns_obj = self.mgr.api.store.get("namespaces", key)
        if ns_obj is None or not ns_obj["metadata"].get("deletionTimestamp"):
            return None
        prefix = key + "/"
        store = self.mgr.api.store
        for rid in store.resource_ids():
            rt = self.mgr.api.catalog.by_rid(rid)
            if rt is None or not rt.namespaced:
                continue
            for obj in [o for k, o in store.items(rid).items() if k.startswith(prefix)]:
                if not obj["metadata"].get("deletionTimestamp"):
                    _delete(self.mgr, rt, obj)
        if any(k.startswith(prefix) for rid in store.resource_ids() for k in store.items(rid)):
            return None  # re-synced when something in the namespace is deleted
        rt = self.mgr.api.catalog.find("", "v1", "namespaces")
        assert rt is not None
        new = copy_obj(ns_obj)
        new.setdefault("spec", {})["finalizers"] = []
        self.mgr.api.update(rt, "", key, body=new, opts=self.mgr.options(), subresource="finalize")
        return None


class CRDController:
    """Establishes CRDs and cleans up after deleted ones."""

    name = "crd"

    def __init__(self, mgr: Manager) -> None:
        self.mgr = mgr
        self.deleting: dict[str, str] = {}  # custom resource id -> CRD name being deleted

    def observe(self, change: Change) -> list[tuple[float, str]]:
        """New or changed CRDs get established; deleting ones get cleaned up."""
        if change.rid != CRD_RID:
            crd = self.deleting.get(change.rid)
            return [(0.0, crd)] if crd and change.type is EventType.DELETED else []
        name = change.obj["metadata"]["name"]
        if change.type is EventType.DELETED:
            self.mgr.api.catalog.unserve_crd(name)
            return []
        if change.obj["metadata"].get("deletionTimestamp"):
            return [(0.0, name)]
        if (
            change.prev is None
            or change.prev.get("spec") != change.obj.get("spec")
            or not _established(change.obj)
        ):
            return [(self.mgr.knobs.establish, name)]
        return []

    def sync(self, key: str) -> float | None:
        """Establish the CRD, or remove its custom resources and finalizer."""
        api = self.mgr.api
        crd = api.store.get(CRD_RID, key)
        if crd is None:
            api.catalog.unserve_crd(key)
            return None
        rt = api.catalog.find("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        assert rt is not None
        if crd["metadata"].get("deletionTimestamp"):
            return self._clean_up(rt, crd)
        new = copy_obj(crd)
        new["status"] = _established_status(crd, api.now())
        reply = api.update(rt, "", key, body=new, opts=self.mgr.options(), subresource="status")
        api.catalog.serve_crd(reply.body)
        return None

    def _clean_up(self, rt: ResourceType, crd: JSON) -> float | None:
        """The apiextensions finalizer: Terminating, delete every instance, then let go.

        As the real one: the condition turns True/InstanceDeletionInProgress first, and
        one last ``/status`` write sets False/InstanceDeletionCompleted and drops the
        cleanup finalizer, which deletes the CRD.
        """
        api = self.mgr.api
        if CRD_FINALIZER not in (crd["metadata"].get("finalizers") or []):
            return None
        spec = crd.get("spec") or {}
        plural, group = (spec.get("names") or {}).get("plural", ""), spec.get("group", "")
        rid = f"{plural}.{group}"
        self.deleting[rid] = crd["metadata"]["name"]
        if not _has_condition(crd, "Terminating", "True"):
            progress = _terminating("True", "InstanceDeletionInProgress", api.now())
            crd = self._write_status(rt, crd, progress, drop_finalizer=False)
        cr_rt = api.catalog.by_rid(rid)
        items = list(api.store.items(rid).values())
        if items and cr_rt is not None:
            for obj in items:
                if not obj["metadata"].get("deletionTimestamp"):
                    _delete(self.mgr, cr_rt, obj)
            if api.store.items(rid):
                return None  # re-synced as each custom resource goes
        self.deleting.pop(rid, None)
        done = _terminating("False", "InstanceDeletionCompleted", api.now())
        self._write_status(rt, crd, done, drop_finalizer=True)
        return None

    def _write_status(
        self, rt: ResourceType, crd: JSON, condition: JSON, *, drop_finalizer: bool
    ) -> JSON:
        new = copy_obj(crd)
        status = new.setdefault("status", {})
        others = [c for c in status.get("conditions") or [] if c.get("type") != "Terminating"]
        status["conditions"] = [*others, condition]
        if drop_finalizer:
            fins = [f for f in new["metadata"].get("finalizers") or [] if f != CRD_FINALIZER]
            new["metadata"]["finalizers"] = fins
        name = crd["metadata"]["name"]
        reply = self.mgr.api.update(
            rt, "", name, body=new, opts=self.mgr.options(), subresource="status"
        )
        return reply.body


def _established(crd: JSON) -> bool:
    return _has_condition(crd, "Established", "True")


def _has_condition(crd: JSON, type_: str, status: str) -> bool:
    return any(
        c.get("type") == type_ and c.get("status") == status
        for c in (crd.get("status") or {}).get("conditions") or []
    )


def _terminating(status: str, reason: str, now: str) -> JSON:
    messages = {
        "InstanceDeletionInProgress": "CustomResource deletion is in progress",
        "InstanceDeletionCompleted": "removed all instances",
    }
    return {
        "type": "Terminating",
        "status": status,
        "lastTransitionTime": now,
        "reason": reason,
        "message": messages[reason],
    }


def _established_status(crd: JSON, now: str) -> JSON:
    spec = crd.get("spec") or {}
    names = dict(spec.get("names") or {})
    names.setdefault("singular", names.get("kind", "").lower())
    names.setdefault("listKind", names.get("kind", "") + "List")
    status = dict(crd.get("status") or {})
    status["acceptedNames"] = names
    previous = {c.get("type"): c for c in status.get("conditions") or []}

    def condition(type_: str, reason: str, message: str) -> JSON:
        old = previous.get(type_)
        when = old["lastTransitionTime"] if old and old.get("status") == "True" else now
        return {
            "type": type_,
            "status": "True",
            "lastTransitionTime": when,
            "reason": reason,
            "message": message,
        }

    status["conditions"] = [
        condition("NamesAccepted", "NoConflicts", "no conflicts found"),
        condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
    ]
    stored = list(status.get("storedVersions") or [])
    for ver in spec.get("versions") or []:
        if ver.get("storage") and ver.get("name") not in stored:
            stored.append(ver["name"])
    status["storedVersions"] = stored
    return status
