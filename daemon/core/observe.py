"""What an informer records about a live object, decided purely.

A watched object becomes an ``ObjectObserved`` event plus a stored body. The body is
the object as the API served it, minus ``metadata.resourceVersion`` (it changes on
every write and the event carries it), with Secret values replaced by keyed digests
(``manifests.redact``) and, on Secrets, kubectl's last-applied annotation digested
too (it holds the whole Secret in clear). Everything else stays: ``status`` (health
reads it), ``generation``, and ``managedFields`` with their field sets and times
(drift names the manager that owns a changed field, and when it took it).

An observation is recorded only when it tells the log something new: a key the log
does not know, or a known key whose resourceVersion or body changed. After a (re)list
the keys of the listed scope that the log knows but the list lacks are DELETED, so a
restart records the differences, not everything again.

The informer (runtime) decides when to list and watch; this module only compares.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from daemon.core import codec, ids, manifests
from daemon.core import events as ev
from daemon.core.state import LiveObject

TRACKING_LABEL = "gitopsd.io/app"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


@dataclasses.dataclass(frozen=True, slots=True)
class Seen:
    """What the log (or the informer's queue) last said about a key."""

    uid: str
    resource_version: str
    digest: str
    app: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Observation:
    """An event to record and the body its digest names (None for DELETED)."""

    event: ev.ObjectObserved
    body: bytes | None


@dataclasses.dataclass(frozen=True, slots=True)
class Scope:
    """The objects one list or watch covers: a kind, in one namespace or in all ("")."""

    group: str
    kind: str
    namespace: str = ""

    def covers(self, key: str) -> bool:
        """Whether an object key falls in this scope."""
        parts = ids.parse_key(key)
        if (parts.group, parts.kind) != (self.group, self.kind):
            return False
        return not self.namespace or parts.namespace == self.namespace


def seen_from_state(objects: Mapping[str, LiveObject]) -> dict[str, Seen]:
    """The informer's starting view: what the folded log knows per key."""
    return {
        key: Seen(obj.uid, obj.resource_version, obj.digest, obj.app)
        for key, obj in objects.items()
    }


def stored_body(obj: Mapping[str, Any], *, secret_key: bytes) -> tuple[bytes, str]:
    """Canonical JSON of the body to store, and its sha256 digest."""
    body = dict(obj)
    meta = dict(body.get("metadata") or {})
    meta.pop("resourceVersion", None)
    if manifests.is_secret(body):
        annotations = meta.get("annotations")
        if isinstance(annotations, dict) and LAST_APPLIED in annotations:
            value = str(annotations[LAST_APPLIED]).encode()
            annotations = {
                **annotations,
                LAST_APPLIED: manifests.value_digest(value, key=secret_key),
            }
            meta["annotations"] = annotations
    body["metadata"] = meta
    data = codec.dumps(manifests.redact(body, key=secret_key))
    return data, hashlib.sha256(data).hexdigest()


def managers_of(obj: Mapping[str, Any]) -> tuple[ev.FieldManager, ...]:
    """The object's field managers: operation, time, subresource (field sets stay in the body)."""
    entries = (obj.get("metadata") or {}).get("managedFields") or []
    return tuple(
        ev.FieldManager(
            manager=str(m.get("manager", "")),
            operation=str(m.get("operation", "")),
            time=m.get("time"),
            subresource=str(m.get("subresource", "")),
        )
        for m in entries
        if isinstance(m, dict)
    )


def app_of(obj: Mapping[str, Any]) -> str | None:
    """The app named by the tracking label, if any."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    app = labels.get(TRACKING_LABEL)
    return str(app) if app else None


def observe(
    cluster: str, obj: Mapping[str, Any], *, known: Seen | None, secret_key: bytes
) -> list[Observation]:
    """What an object seen alive records: nothing, ADDED/MODIFIED, or DELETED+ADDED (new uid)."""
    meta = obj.get("metadata") or {}
    uid, version = str(meta.get("uid", "")), str(meta.get("resourceVersion", ""))
    body, digest = stored_body(obj, secret_key=secret_key)
    if (
        known is not None
        and known.uid == uid
        and (known.resource_version, known.digest)
        == (
            version,
            digest,
        )
    ):
        return []
    key = ids.key_of(dict(obj))
    out: list[Observation] = []
    if known is not None and known.uid != uid:
        # Deleted and recreated while nobody watched: say so rather than "modified".
        out.append(deleted(cluster, key, known=known, resource_version=version))
        known = None
    change = ev.Change.ADDED if known is None else ev.Change.MODIFIED
    event = ev.ObjectObserved(
        cluster=cluster,
        change=change,
        key=key,
        uid=uid,
        resource_version=version,
        digest=digest,
        app=app_of(obj),
        managers=managers_of(obj),
    )
    out.append(Observation(event, body))
    return out


def deleted(cluster: str, key: str, *, known: Seen, resource_version: str) -> Observation:
    """A known object is gone (or stopped carrying the tracking label)."""
    event = ev.ObjectObserved(
        cluster=cluster,
        change=ev.Change.DELETED,
        key=key,
        uid=known.uid,
        resource_version=resource_version,
        app=known.app,
    )
    return Observation(event, None)


def relist(
    cluster: str,
    items: Iterable[Mapping[str, Any]],
    *,
    scope: Scope,
    known: Mapping[str, Seen],
    resource_version: str,
    secret_key: bytes,
) -> list[Observation]:
    """The differences between a fresh list of ``scope`` and what the log knows.

    Listed objects in list order (new or changed only), then a DELETED, in key order,
    for every known key of the scope that the list no longer has.
    """
    out: list[Observation] = []
    listed: set[str] = set()
    for obj in items:
        key = ids.key_of(dict(obj))
        listed.add(key)
        out.extend(observe(cluster, obj, known=known.get(key), secret_key=secret_key))
    gone = sorted(k for k in known if k not in listed and scope.covers(k))
    out.extend(deleted(cluster, k, known=known[k], resource_version=resource_version) for k in gone)
    return out


def remember(view: dict[str, Seen], observation: Observation) -> None:
    """Update the informer's view with an observation it is about to record."""
    event = observation.event
    if event.change is ev.Change.DELETED or event.digest is None:
        view.pop(event.key, None)
        return
    view[event.key] = Seen(event.uid, event.resource_version, event.digest, event.app)
