"""Identifiers: object keys, stream names and their human forms.

An object key is ``group/kind/namespace/name`` (empty group for the core API group,
empty namespace for cluster-scoped objects). People read it as ``Kind/namespace/name``.

A manifest with ``metadata.generateName`` and no name (a hook created anew each sync,
the API server choosing its name) is keyed by the prefix and ``GENERATED``, e.g.
``batch/Job/web/migrate-*``: ``*`` is in no name the server generates, so the key stays
stable across syncs and never collides with one of the hook's instances.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple, NewType

ObjectKey = NewType("ObjectKey", str)
StreamName = NewType("StreamName", str)
Digest = NewType("Digest", str)

GENERATED = "*"
"""Ends the name part of the key of a manifest that has only ``metadata.generateName``."""

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class KeyParts(NamedTuple):
    """The four parts of an object key."""

    group: str
    kind: str
    namespace: str
    name: str


def object_key(*, group: str, kind: str, namespace: str, name: str) -> ObjectKey:
    """Build the canonical key of an object."""
    return ObjectKey(f"{group}/{kind}/{namespace}/{name}")


def key_of(obj: Mapping[str, Any]) -> ObjectKey:
    """Key of a Kubernetes object body (apiVersion, kind, metadata.namespace, metadata.name).

    Without a name, a ``metadata.generateName`` gives the prefix followed by ``GENERATED``.
    """
    api_version = str(obj.get("apiVersion", ""))
    group = api_version.rpartition("/")[0]
    metadata = obj.get("metadata")
    meta = metadata if isinstance(metadata, dict) else {}
    name = str(meta.get("name") or "")
    prefix = meta.get("generateName")
    if not name and isinstance(prefix, str) and prefix:
        name = prefix + GENERATED
    return object_key(
        group=group,
        kind=str(obj.get("kind", "")),
        namespace=str(meta.get("namespace") or ""),
        name=name,
    )


def is_generated(key: str) -> bool:
    """True for the key of a manifest named by ``generateName`` (see the module docstring)."""
    return key.endswith(GENERATED)


def with_name(key: str, name: str) -> ObjectKey:
    """The key of the object ``name`` of the same group, kind and namespace as ``key``."""
    parts = parse_key(key)
    return object_key(group=parts.group, kind=parts.kind, namespace=parts.namespace, name=name)


def parse_key(key: str) -> KeyParts:
    """Split a key into its parts; a malformed key is a programming error."""
    parts = key.split("/")
    if len(parts) != 4:
        raise ValueError(f"malformed object key {key!r}: want group/kind/namespace/name")
    return KeyParts(*parts)


def display_key(key: str) -> str:
    """The form people read: ``Kind/namespace/name`` or ``Kind/name`` when cluster-scoped."""
    parts = parse_key(key)
    if parts.namespace:
        return f"{parts.kind}/{parts.namespace}/{parts.name}"
    return f"{parts.kind}/{parts.name}"


def is_dns1123_label(name: str) -> bool:
    """True for a valid DNS-1123 label: lowercase alphanumerics and '-', at most 63 chars."""
    return len(name) <= 63 and _DNS1123_LABEL.match(name) is not None


def source_stream(name: str) -> StreamName:
    """Stream of a Git source."""
    return StreamName(f"source/{name}")


def app_stream(name: str) -> StreamName:
    """Stream of an application."""
    return StreamName(f"app/{name}")


def cluster_stream(name: str) -> StreamName:
    """Stream of a cluster."""
    return StreamName(f"cluster/{name}")


def rollout_stream(app: str) -> StreamName:
    """Stream of an app's progressive rollout."""
    return StreamName(f"rollout/{app}")
