"""The verbs: create, get, list, update, patch, delete, deletecollection (§2-§5).

Both the HTTP server and the fake controllers call :class:`Api`, so every write goes
through one path: namespace admission, server-set metadata, strategy, defaulting,
validation, managedFields, no-op detection, ``dryRun``, then one commit to the store.
Each write runs without an ``await``, which makes it atomic on the event loop.
HTTP parsing and response encoding are the server's; algorithms are in ``merging``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from kubesim import (
    applymemo,
    conversion,
    listing,
    merging,
    metadata,
    scale,
    status,
    strategies,
    typerules,
)
from kubesim.catalog import Catalog
from kubesim.resources import ResourceType
from kubesim.status import FieldError, StatusError
from kubesim.store import EventType, Store, storage_key

JSON = dict[str, Any]

GC_ORPHAN = "orphan"
GC_FOREGROUND = "foregroundDeletion"
JOB_ORPHAN_WARNING = (
    "child pods are preserved by default when jobs are deleted; set "
    "propagationPolicy=Background to remove them or set propagationPolicy=Orphan to "
    "suppress this warning"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteOptions:
    """Who writes and how: the resolved field manager, dryRun, fieldValidation, force."""

    manager: str
    explicit_manager: bool = False
    dry_run: bool = False
    field_validation: str = "Warn"
    force: bool = False
    user: str = ""


@dataclass(slots=True)
class Reply:
    """A successful answer: HTTP code, JSON body and any ``Warning`` headers."""

    code: int
    body: JSON
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteOptions:
    """Parsed DeleteOptions (query or body)."""

    propagation: str = ""
    grace_period: int | None = None
    precondition_uid: str = ""
    precondition_rv: str = ""
    orphan_dependents: bool | None = None
    dry_run: bool = False


class Api:
    """The object API over one store and catalog."""

    def __init__(self, *, catalog: Catalog, store: Store, clock: Callable[[], datetime]) -> None:
        self.catalog = catalog
        self.store = store
        self.clock = clock
        self.alloc = strategies.Allocator()
        self.memo = applymemo.ApplyMemo()
        self._second = -1  # the second self._stamp renders (timestamps repeat within one)
        self._stamp = ""

    # Helpers -----------------------------------------------------------------------

    def now(self) -> str:
        """The current time as Kubernetes writes it (to the second)."""
        moment = self.clock()
        second = int(moment.timestamp())
        if second != self._second:
            self._second, self._stamp = second, metadata.timestamp(moment)
        return self._stamp

    def serve(self, rt: ResourceType, obj: JSON) -> JSON:
        """``obj`` as the endpoint's version shows it (CRD versions differ in apiVersion)."""
        if obj.get("apiVersion") == rt.api_version:
            return obj
        return {"kind": obj.get("kind", rt.kind), "apiVersion": rt.api_version} | {
            k: v for k, v in obj.items() if k not in ("kind", "apiVersion")
        }

    def _storage_api_version(self, rt: ResourceType) -> str:
        stored = self.catalog.by_rid(rt.rid)
        return (stored or rt).api_version

    def lookup(self, rt: ResourceType, namespace: str, name: str) -> JSON:
        """The stored object, or 404 NotFound."""
        obj = self.store.get(rt.rid, storage_key(namespace if rt.namespaced else "", name))
        if obj is None:
            raise status.not_found(resource=rt.plural, group=rt.group, name=name)
        return obj

    def _key(self, rt: ResourceType, obj: JSON) -> str:
        meta = obj["metadata"]
        return storage_key(meta.get("namespace", "") if rt.namespaced else "", meta["name"])

    def _invalid(self, rt: ResourceType, name: str, errs: list[FieldError]) -> StatusError:
        return status.invalid(kind=rt.kind, group=rt.group, name=name, errors=errs)

    def _check_namespace(self, rt: ResourceType, namespace: str, name: str) -> None:
        """NamespaceLifecycle admission: the namespace must exist and not be terminating."""
        if not rt.namespaced:
            return
        ns = self.store.get("namespaces", namespace)
        if ns is None:
            raise status.not_found(resource="namespaces", group="", name=namespace)
        if ns["metadata"].get("deletionTimestamp"):
            raise status.forbidden(
                resource=rt.plural,
                group=rt.group,
                name=name,
                why=f"unable to create new content in namespace {namespace} "
                "because it is being terminated",
            )

    def _body_namespace(self, rt: ResourceType, namespace: str, obj: JSON) -> None:
        meta = obj["metadata"]
        if not rt.namespaced:
            meta.pop("namespace", None)
            return
        given = meta.get("namespace") or ""
        if given and namespace and given != namespace:
            raise status.bad_request(
                "the namespace of the provided object does not match the namespace sent "
                "on the request"
            )
        meta["namespace"] = given or namespace

    def _unknown_fields(
        self, rt: ResourceType, obj: JSON, opts: WriteOptions, unknown: list[str] | None
    ) -> tuple[JSON, list[str]]:
        """Drop undeclared fields (decoding already did for built-ins): warn, or 400 if Strict."""
        if unknown is None:
            obj, unknown = merging.drop_unknown_fields(rt, obj)
        if opts.field_validation == "Ignore":
            return obj, []
        if unknown and opts.field_validation == "Strict":
            detail = ", ".join(f'unknown field "{p}"' for p in unknown)
            raise status.bad_request(
                f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
                f"strict decoding error: {detail}"
            )
        return obj, [f'unknown field "{p}"' for p in unknown]

    def _decode(
        self, rt: ResourceType, obj: JSON, *, patched: Any = None, applied: JSON | None = None
    ) -> list[str] | None:
        """The Go round trip of a written object; a body that does not decode is refused.

        As the real handlers word it: 400 for a POST/PUT body, 422 on ``patch`` for a
        JSON/merge/strategic patch whose result does not decode, and for an apply the
        field manager's plain 500 (its conversion of the merged object fails). Returns the
        undeclared fields it dropped (None for custom resources, pruned later).
        """
        try:
            return merging.decode(rt, obj)
        except conversion.ConversionError as exc:
            if applied is not None:
                meta = applied.get("metadata") or {}
                where = f"{meta.get('namespace') or ''}/{meta.get('name') or ''}"
                gvk = f"{rt.group}/{rt.version}, Kind={rt.kind}"
                raise status.internal(
                    f"failed to convert new object ({where}; {gvk}) to proper version: {exc}"
                ) from None
            if patched is not None:
                err = FieldError(
                    type="FieldValueInvalid",
                    field="patch",
                    value=orjson.dumps(patched).decode(),
                    has_value=True,
                    detail=str(exc),
                )
                raise status.invalid(kind="", group="", name="", errors=[err]) from None
            raise status.bad_request(
                f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: {exc}'
            ) from None

    # Create ------------------------------------------------------------------------

    def create(self, rt: ResourceType, namespace: str, body: JSON, opts: WriteOptions) -> Reply:
        """POST: store a new object; 201 with it."""
        obj = normalize_body(rt, body, api_version=self._storage_api_version(rt))
        unknown = self._decode(rt, obj)
        self._body_namespace(rt, namespace, obj)
        meta = obj["metadata"]
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = metadata.generate_name(meta["generateName"])
        return self._create(rt, obj, opts, managed=None, unknown=unknown)

    def _create(
        self,
        rt: ResourceType,
        obj: JSON,
        opts: WriteOptions,
        *,
        managed: list[JSON] | None,
        unknown: list[str] | None,
    ) -> Reply:
        meta = obj["metadata"]
        name = meta.get("name") or ""
        if name:
            self._check_namespace(rt, meta.get("namespace", ""), name)
        metadata.prepare_create(rt, obj, now=self.now())
        obj = merging.prepare_for_create(rt, obj)
        strategies.prepare_create(rt, obj, self.alloc)
        obj = merging.apply_defaults(rt, obj)
        obj, warnings = self._unknown_fields(rt, obj, opts, unknown)
        errs = (
            metadata.validate_meta(rt, obj)
            + typerules.validate(rt, obj)
            + merging.validate(rt, obj)
        )
        if errs:
            raise self._invalid(rt, name, errs)
        if meta.get("resourceVersion"):
            raise status.internal("resourceVersion should not be set on objects to be created")
        key = self._key(rt, obj)
        if self.store.get(rt.rid, key) is not None:
            raise status.already_exists(resource=rt.plural, group=rt.group, name=name)
        if managed is None:
            managed = merging.track_update(
                rt, None, obj, manager=opts.manager, subresource="", now=self.now()
            )
        _set_managed(obj, managed)
        obj = metadata.ordered(obj)
        if opts.dry_run:
            obj["metadata"].pop("resourceVersion", None)
            return Reply(201, self.serve(rt, obj), warnings)
        self.store.commit(type_=EventType.ADDED, rid=rt.rid, key=key, obj=obj, prev=None)
        return Reply(201, self.serve(rt, obj), warnings)

    # Get ---------------------------------------------------------------------------

    def get(self, rt: ResourceType, namespace: str, name: str, subresource: str = "") -> Reply:
        """GET an object (``/status`` shows the whole object, ``/scale`` a Scale)."""
        obj = self.lookup(rt, namespace, name)
        if subresource == "scale":
            return Reply(200, scale.scale_of(rt, obj))
        return Reply(200, self.serve(rt, obj))

    # Update ------------------------------------------------------------------------

    def update(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        *,
        body: JSON,
        opts: WriteOptions,
        subresource: str = "",
    ) -> Reply:
        """PUT: replace an object (or its status / scale / finalizers)."""
        if subresource == "scale":
            return self._update_scale(rt, namespace, name, body, opts)
        new = normalize_body(rt, body, api_version=self._storage_api_version(rt))
        unknown = self._decode(rt, new)
        self._check_name(new, name)
        self._body_namespace(rt, namespace, new)
        old = self.lookup(rt, namespace, name)
        rv = new["metadata"].get("resourceVersion") or ""
        if not rv and not rt.unconditional_update:
            raise self._invalid(
                rt,
                name,
                [
                    FieldError(
                        type="FieldValueInvalid",
                        field="metadata.resourceVersion",
                        value=0,
                        has_value=True,
                        detail="must be specified for an update",
                    )
                ],
            )
        self._preconditions(rt, old, new, put=True)
        return self._finish_update(
            rt, old, new, opts, subresource=subresource, managed=None, unknown=unknown
        )

    def _check_name(self, obj: JSON, name: str) -> None:
        given = obj["metadata"].get("name") or ""
        if given != name:
            raise status.bad_request(
                f"the name of the object ({given}) does not match the name on the URL ({name})"
            )

    def _preconditions(self, rt: ResourceType, old: JSON, new: JSON, *, put: bool) -> None:
        """A body's uid and resourceVersion against the stored object's.

        A PUT turns a uid into a storage precondition, whose failure is a Conflict carrying
        the storage error's text; a patch or apply has no precondition and meets the
        update validation's "field is immutable" (422) instead.
        """
        meta, old_meta = new["metadata"], old["metadata"]
        uid = meta.get("uid")
        if uid and uid != old_meta["uid"]:
            if not put:
                err = FieldError(
                    type="FieldValueInvalid",
                    field="metadata.uid",
                    value=uid,
                    has_value=True,
                    detail="field is immutable",
                )
                raise self._invalid(rt, old_meta["name"], [err])
            key = _etcd_key(rt, old_meta.get("namespace", ""), old_meta["name"])
            raise status.conflict(
                resource=rt.plural,
                group=rt.group,
                name=old_meta["name"],
                why=f"StorageError: invalid object, Code: 4, Key: {key}, ResourceVersion: 0, "
                f"AdditionalErrorMsg: Precondition failed: UID in precondition: {uid}, "
                f"UID in object meta: {old_meta['uid']}",
            )
        rv = meta.get("resourceVersion")
        if rv and rv != old_meta["resourceVersion"]:
            raise status.conflict(resource=rt.plural, group=rt.group, name=old_meta["name"])

    def _finish_update(
        self,
        rt: ResourceType,
        old: JSON,
        new: JSON,
        opts: WriteOptions,
        *,
        subresource: str,
        managed: list[JSON] | None,
        unknown: list[str] | None,
    ) -> Reply:
        """The shared tail of PUT, PATCH and apply on an existing object."""
        name = old["metadata"]["name"]
        metadata.carry_over(old, new)
        strategies.prepare_update(rt, old, new, subresource)
        new = merging.apply_defaults(rt, new)
        new, warnings = self._unknown_fields(rt, new, opts, unknown)
        errs = (
            metadata.validate_meta(rt, new)
            + metadata.validate_meta_update(old, new)
            + typerules.validate(rt, new)
            + merging.validate(rt, new)
            + typerules.validate_update(rt, old, new)
        )
        if errs:
            raise self._invalid(rt, name, errs)
        if subresource not in ("status", "finalize"):
            metadata.bump_generation(rt, old, new)
        if managed is None:
            managed = merging.track_update(
                rt, old, new, manager=opts.manager, subresource=subresource, now=self.now()
            )
        _set_managed(new, managed)
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        new = metadata.ordered(new)
        if same_object(old, new):
            return Reply(200, self.serve(rt, old), warnings)
        if _finalized(rt, old, new):
            return self._remove(rt, new, opts.dry_run, warnings, reply_object=True)
        if opts.dry_run:
            return Reply(200, self.serve(rt, new), warnings)
        self.store.commit(
            type_=EventType.MODIFIED, rid=rt.rid, key=self._key(rt, new), obj=new, prev=old
        )
        return Reply(200, self.serve(rt, new), warnings)

    def _update_scale(
        self, rt: ResourceType, namespace: str, name: str, body: JSON, opts: WriteOptions
    ) -> Reply:
        old = self.lookup(rt, namespace, name)
        meta = body.get("metadata") or {}
        if (
            meta.get("resourceVersion")
            and meta["resourceVersion"] != old["metadata"]["resourceVersion"]
        ):
            raise status.conflict(resource=rt.plural, group=rt.group, name=name)
        replicas = (body.get("spec") or {}).get("replicas", 0)
        new = scale.with_replicas(rt, old, replicas)
        reply = self._finish_update(
            rt, old, new, opts, subresource="scale", managed=None, unknown=[]
        )
        stored = self.lookup(rt, namespace, name) if not opts.dry_run else reply.body
        return Reply(200, scale.scale_of(rt, stored), reply.warnings)

    # Patch -------------------------------------------------------------------------

    def patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        *,
        content_type: str,
        body: Any,
        opts: WriteOptions,
        subresource: str = "",
    ) -> Reply:
        """PATCH with one of the four patch types (``body`` already parsed)."""
        if content_type == "application/apply-patch+yaml":
            return self._apply(rt, namespace, name, config=body, opts=opts, subresource=subresource)
        old = self.lookup(rt, namespace, name)
        current = scale.scale_of(rt, old) if subresource == "scale" else self.serve(rt, old)
        if content_type == "application/json-patch+json":
            patched = merging.json_patch(current, body, field_validation=opts.field_validation)
        elif content_type == "application/merge-patch+json":
            patched = merging.merge_patch(current, body)
        else:
            patched = merging.strategic_merge_patch(rt, current, body)
        if subresource == "scale":
            return self.update(rt, namespace, name, body=patched, opts=opts, subresource="scale")
        new = normalize_body(rt, patched, api_version=self._storage_api_version(rt))
        unknown = self._decode(rt, new, patched=patched)
        self._check_name(new, name)
        self._body_namespace(rt, namespace, new)
        self._preconditions(rt, old, new, put=False)
        return self._finish_update(
            rt, old, new, opts, subresource=subresource, managed=None, unknown=unknown
        )

    def _apply(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        *,
        config: Any,
        opts: WriteOptions,
        subresource: str,
    ) -> Reply:
        if not isinstance(config, dict):
            raise status.bad_request("the apply patch is not a YAML or JSON object")
        given = config.get("apiVersion")
        if given != rt.api_version:
            raise status.bad_request(
                "Incorrect version specified in apply patch. Specified patch version: "
                f"{given or ''}, expected: {rt.api_version}"
            )
        meta = config.get("metadata") or {}
        if meta.get("managedFields") is not None:
            raise status.bad_request("metadata.managedFields must be nil")
        if meta.get("name") not in (None, "", name):
            self._check_name(config, name)
        key = storage_key(namespace if rt.namespaced else "", name)
        old = self.store.get(rt.rid, key)
        fingerprint = self.memo.fingerprint(config)
        if old is not None and self.memo.is_repeat(
            rt, key, live=old, manager=opts.manager, subresource=subresource, config=fingerprint
        ):
            return Reply(200, self.serve(rt, old))  # idempotent: the full path is a no-op
        reply = self._apply_fully(
            rt, namespace, name, old=old, config=config, opts=opts, subresource=subresource
        )
        if not opts.dry_run:
            self.memo.remember(
                rt,
                key,
                stored=self.store.get(rt.rid, key),
                manager=opts.manager,
                subresource=subresource,
                config=fingerprint,
            )
        return reply

    def _apply_fully(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        *,
        old: JSON | None,
        config: JSON,
        opts: WriteOptions,
        subresource: str,
    ) -> Reply:
        live = None if old is None else self.serve(rt, old)
        if old is None and subresource:
            raise status.not_found(resource=rt.plural, group=rt.group, name=name)
        merged = merging.server_side_apply(
            rt,
            live,
            config,
            manager=opts.manager,
            force=opts.force,
            subresource=subresource,
            now=self.now(),
        )
        new = normalize_body(rt, merged, api_version=self._storage_api_version(rt))
        unknown = self._decode(rt, new, applied=config)
        new["metadata"]["name"] = name
        self._body_namespace(rt, namespace, new)
        managed = list(new["metadata"].get("managedFields") or [])
        if old is None:
            new["metadata"].pop("resourceVersion", None)
            return self._create(rt, new, opts, managed=managed, unknown=unknown)
        self._preconditions(rt, old, new, put=False)
        return self._finish_update(
            rt, old, new, opts, subresource=subresource, managed=managed, unknown=unknown
        )

    # Delete ------------------------------------------------------------------------

    def delete(self, rt: ResourceType, namespace: str, name: str, options: DeleteOptions) -> Reply:
        """DELETE: remove now, or mark for deletion while finalizers remain (§5)."""
        old = self.lookup(rt, namespace, name)
        meta = old["metadata"]
        # rest.BeforeDelete checks the preconditions first; its Conflict names the Kind
        # (not the resource) as the "resource" (k8s.io/apiserver registry/rest/delete.go).
        if options.precondition_uid and options.precondition_uid != meta["uid"]:
            raise status.conflict(
                resource=rt.kind,
                group=rt.group,
                name=name,
                why=f"the UID in the precondition ({options.precondition_uid}) does not match "
                f"the UID in record ({meta['uid']}). The object might have been deleted and "
                "then recreated",
            )
        if options.precondition_rv and options.precondition_rv != meta["resourceVersion"]:
            raise status.conflict(
                resource=rt.kind,
                group=rt.group,
                name=name,
                why="the ResourceVersion in the precondition "
                f"({options.precondition_rv}) does not match the ResourceVersion in record "
                f"({meta['resourceVersion']}). The object might have been modified",
            )
        warnings: list[str] = []
        policy = options.propagation
        if not policy and options.orphan_dependents is not None:
            policy = "Orphan" if options.orphan_dependents else "Background"
        if not policy and rt.orphan_by_default:
            policy = "Orphan"
            warnings.append(JOB_ORPHAN_WARNING)
        code = 202 if options.orphan_dependents is False else 200
        if meta.get("deletionTimestamp"):
            return Reply(code, self.serve(rt, old), warnings)
        fins = list(meta.get("finalizers") or [])
        if policy == "Orphan" and GC_ORPHAN not in fins:
            fins.append(GC_ORPHAN)
        elif policy == "Foreground" and GC_FOREGROUND not in fins:
            fins.append(GC_FOREGROUND)
        pending = bool(fins) or (rt.rid == "namespaces")
        if not pending:
            return self._remove(rt, old, options.dry_run, warnings, reply_object=False)
        new = metadata.clone(old)
        new_meta = new["metadata"]
        new_meta["deletionTimestamp"] = self.now()
        new_meta["deletionGracePeriodSeconds"] = 0
        if fins:
            new_meta["finalizers"] = fins
        if "generation" in new_meta and new_meta["generation"] > 0:
            new_meta["generation"] += 1
        if rt.rid == "namespaces":
            new.setdefault("status", {})["phase"] = "Terminating"
        new = metadata.ordered(new)
        if not options.dry_run:
            self.store.commit(
                type_=EventType.MODIFIED, rid=rt.rid, key=self._key(rt, new), obj=new, prev=old
            )
        return Reply(code if code == 202 else 200, self.serve(rt, new), warnings)

    def _remove(
        self,
        rt: ResourceType,
        last: JSON,
        dry_run: bool,
        warnings: list[str],
        *,
        reply_object: bool,
    ) -> Reply:
        meta = last["metadata"]
        key = self._key(rt, last)
        old = self.store.get(rt.rid, key)
        final = metadata.ordered(metadata.clone(last))
        if not dry_run:
            self.store.commit(type_=EventType.DELETED, rid=rt.rid, key=key, obj=final, prev=old)
            self.memo.forget(rt.rid, key)
        if reply_object or rt.return_deleted_object:
            return Reply(200, self.serve(rt, final), warnings)
        body = status.success(name=meta["name"], group=rt.group, kind=rt.plural, uid=meta["uid"])
        return Reply(200, body, warnings)

    def delete_collection(
        self, rt: ResourceType, flt: listing.Filter, options: DeleteOptions
    ) -> Reply:
        """DELETE on a collection: delete every match; 200 with the list of them."""
        page = listing.list_page(self.store, flt, at=None, limit=0, continue_token="")
        deleted: list[JSON] = []
        warnings: list[str] = []
        for obj in page.items:
            meta = obj["metadata"]
            try:
                reply = self.delete(rt, meta.get("namespace", ""), meta["name"], options)
            except StatusError as exc:
                if exc.code == 404:
                    continue
                raise
            warnings = reply.warnings
            deleted.append(reply.body if reply.body.get("kind") != "Status" else obj)
        done = listing.Page(items=deleted, rv=self.store.rv)
        return Reply(200, listing.list_body(rt, done, lambda o: self.serve(rt, o)), warnings)


def normalize_body(rt: ResourceType, body: Any, *, api_version: str) -> JSON:
    """A deep copy of a request body with kind, apiVersion and a metadata map in place."""
    if not isinstance(body, dict):
        raise status.bad_request(f"the body of the request is not a {rt.kind} object")
    given = body.get("apiVersion")
    if given and given != rt.api_version:
        raise status.bad_request(
            f"the API version in the data ({given}) does not match the expected API "
            f"version ({rt.api_version})"
        )
    kind = body.get("kind")
    if kind and kind != rt.kind:
        raise status.bad_request(
            f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})"
        )
    obj = metadata.clone(body)
    obj["kind"] = rt.kind
    obj["apiVersion"] = api_version
    meta = obj.get("metadata")
    if meta is None:
        obj["metadata"] = {}
    elif not isinstance(meta, dict):
        raise status.bad_request("metadata must be an object")
    return obj


# Built-in resources whose etcd prefix is not their plural (kube-apiserver's storage).
_ETCD_PREFIX = {"services": "services/specs", "ingresses.networking.k8s.io": "ingress"}


def _etcd_key(rt: ResourceType, namespace: str, name: str) -> str:
    """The object's etcd key, as storage errors print it."""
    prefix = _ETCD_PREFIX.get(rt.rid, rt.plural)
    if rt.custom or rt.group == "apiextensions.k8s.io":
        prefix = f"{rt.group}/{rt.plural}"
    parts = [prefix, namespace, name] if namespace else [prefix, name]
    return "/registry/" + "/".join(parts)


def _finalized(rt: ResourceType, old: JSON, new: JSON) -> bool:
    """Whether an update to a deleting object removed its last finalizer (delete it now)."""
    if not old["metadata"].get("deletionTimestamp") or new["metadata"].get("finalizers"):
        return False
    return rt.rid != "namespaces" or not (new.get("spec") or {}).get("finalizers")


def _set_managed(obj: JSON, managed: list[JSON]) -> None:
    if managed:
        obj["metadata"]["managedFields"] = managed
    else:
        obj["metadata"].pop("managedFields", None)


def _without_times(obj: JSON) -> JSON:
    meta = obj["metadata"]
    managed = meta.get("managedFields")
    if not managed:
        return obj
    stripped = [{k: v for k, v in m.items() if k != "time"} for m in managed]
    return {**obj, "metadata": {**meta, "managedFields": stripped}}


def same_object(old: JSON, new: JSON) -> bool:
    """Whether a write changes nothing but managedFields timestamps (a no-op write)."""
    return _without_times(old) == _without_times(new)
