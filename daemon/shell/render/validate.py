"""Checks every rendered object passes before it is recorded, whatever the renderer.

An object needs a string ``apiVersion`` (``v1`` or ``group/version``), a ``kind``, and
``metadata.name`` valid for its kind: a DNS-1123 label for Namespaces and Services, a
path segment for RBAC kinds, a DNS-1123 subdomain otherwise (what the API server asks;
custom resources included). A hook (``gitopsd.io/hook`` or ``argocd.argoproj.io/hook``,
as ``core.ordering`` reads them) may have ``metadata.generateName`` instead, a prefix
the server completes; any other object needs its name. ``metadata.namespace``, when
given, is a DNS-1123 label. Two objects with one key (group/kind/namespace/name, the
``generateName`` prefix standing for the name) are refused naming both origins.
Schema validation of the rest is the API server's job (server-side dry-run).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from daemon.core import ids, ordering
from daemon.shell.render.result import RenderError, Sourced

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_VERSION = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[a-z0-9]+$")
_KIND = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_LABEL_KINDS = frozenset({("", "Namespace"), ("", "Service")})
_PATH_SEGMENT_KINDS = frozenset(
    ("rbac.authorization.k8s.io", kind)
    for kind in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
)


def validate(objects: list[Sourced]) -> None:
    """Raise ``RenderError`` for the first invalid object or duplicate key."""
    seen: dict[str, Sourced] = {}
    for item in objects:
        check(item)
        key = ids.key_of(item.body)
        first = seen.get(key)
        if first is not None:
            raise RenderError(
                f"duplicate object {ids.display_key(key)}: also defined in {where(first)}",
                file=item.file,
                line=item.line,
            )
        seen[key] = item


def where(item: Sourced) -> str:
    """``FILE:LINE`` (or ``FILE``) of an object's origin."""
    return f"{item.file}:{item.line}" if item.line is not None else item.file


def check(item: Sourced) -> None:
    """Raise ``RenderError`` when one object lacks or misspells what every object needs."""
    body = item.body

    def fail(message: str) -> RenderError:
        return RenderError(message, file=item.file, line=item.line)

    api_version = body.get("apiVersion")
    kind = body.get("kind")
    if not isinstance(api_version, str) or not api_version:
        raise fail("object has no apiVersion")
    if not _VERSION.match(api_version):
        raise fail(f"invalid apiVersion {api_version!r}")
    if not isinstance(kind, str) or not kind:
        raise fail("object has no kind")
    if not _KIND.match(kind):
        raise fail(f"invalid kind {kind!r}")
    metadata = body.get("metadata")
    if not isinstance(metadata, dict):
        raise fail(f"{kind} has no metadata")
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        name = _generated_name(body, kind, fail)
    else:
        problem = name_problem(api_version.rpartition("/")[0], kind, name)
        if problem:
            raise fail(f"{kind} name {name!r} is invalid: {problem}")
    namespace = metadata.get("namespace")
    if namespace is not None and (
        not isinstance(namespace, str) or not ids.is_dns1123_label(namespace)
    ):
        raise fail(f"{kind} {name!r} has an invalid metadata.namespace {namespace!r}")
    labels = metadata.get("labels")
    if labels is not None and not _is_string_map(labels):
        raise fail(f"{kind} {name!r}: metadata.labels values must be strings")
    annotations = metadata.get("annotations")
    if annotations is not None and not _is_string_map(annotations):
        raise fail(f"{kind} {name!r}: metadata.annotations values must be strings")


def _generated_name(body: dict[str, Any], kind: str, fail: Callable[[str], RenderError]) -> str:
    """How an unnamed object reads in messages (``prefix*``); raises unless it may be unnamed."""
    prefix = body["metadata"].get("generateName")
    if not isinstance(prefix, str) or not prefix:
        raise fail(f"{kind} has no metadata.name")
    try:
        is_hook = ordering.placement(body).is_hook
    except ordering.AnnotationError as exc:
        raise fail(f"{kind} {prefix + ids.GENERATED!r}: {exc}") from None
    if not is_hook:
        raise fail(
            f"{kind} has no metadata.name: metadata.generateName ({prefix!r}) is only allowed "
            "on hooks (annotation argocd.argoproj.io/hook or gitopsd.io/hook: PreSync, Sync, "
            "PostSync or SyncFail); give it a metadata.name"
        )
    # The server validates the prefix as a name, a trailing '-' allowed (apimachinery's
    # ValidateObjectMeta with prefix=true masks it).
    masked = prefix[:-1] + "a" if prefix.endswith("-") else prefix
    problem = name_problem(str(body["apiVersion"]).rpartition("/")[0], kind, masked)
    if problem:
        raise fail(f"{kind} generateName {prefix!r} is invalid: {problem}")
    return prefix + ids.GENERATED


def _is_string_map(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


def name_problem(group: str, kind: str, name: str) -> str | None:
    """Why ``name`` is not acceptable for ``group``/``kind``, or None."""
    if (group, kind) in _LABEL_KINDS:
        if not ids.is_dns1123_label(name):
            return "must be a DNS-1123 label (lowercase letters, digits, '-', at most 63)"
        return None
    if (group, kind) in _PATH_SEGMENT_KINDS:
        if name in {".", ".."} or "/" in name or "%" in name:
            return "may not be '.' or '..' nor contain '/' or '%'"
        return None
    if len(name) > 253 or not _SUBDOMAIN.match(name):
        return "must be a DNS-1123 subdomain (lowercase letters, digits, '-', '.', at most 253)"
    return None
