"""Server-owned object metadata: names, uids, timestamps, generation, key order (§2.2).

Pure helpers that the write path (``api``) calls: prepare a created object, carry the
server-owned fields over an update, bump ``generation`` by the type's rule, validate
ObjectMeta (name, namespace, labels, annotations, finalizers) into field errors, and put
keys in Go field order. No storage and no I/O here.
"""

from __future__ import annotations

import functools
import random
import re
import secrets
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import orjson

from kubesim.resources import Generation, ResourceType
from kubesim.status import FieldError

JSON = dict[str, Any]
T = TypeVar("T")

_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
    "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
    "an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
_QUALIFIED_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
    "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
    "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
_PREFIX_MSG = "prefix part " + _SUBDOMAIN_MSG

# Server-owned metadata an update cannot change (carried over from the stored object).
_CARRIED = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds")
_META_ORDER = (
    "name",
    "generateName",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
)


def clone(value: T) -> T:
    """A deep copy of JSON data (an orjson round trip is several times faster than deepcopy)."""
    return cast("T", orjson.loads(orjson.dumps(value)))


def timestamp(moment: datetime | None = None) -> str:
    """RFC 3339 UTC to the second, as Kubernetes writes times."""
    return (moment or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


def generate_name(prefix: str) -> str:
    """``generateName`` + 5 random characters from the apiserver's alphabet."""
    return prefix + "".join(secrets.choice(_GENERATE_ALPHABET) for _ in range(5))


# A private generator (seeded from os.urandom): a test reseeding ``random`` cannot make
# uids repeat.
_RNG = random.Random()  # noqa: S311 - uids must be unique, not secret
_UUID_CLEAR = ~((0xF << 76) | (0x3 << 62))
_UUID_SET = (0x4 << 76) | (0x2 << 62)  # version 4, RFC 4122 variant


def new_uid() -> str:
    """A fresh UUID v4 for ``metadata.uid`` (and Audit-Id headers).

    Uids must be unique, not secret, so the fast generator serves (uuid.uuid4 reads
    os.urandom, a system call per object).
    """
    value = (_RNG.getrandbits(128) & _UUID_CLEAR) | _UUID_SET
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def ordered(obj: JSON) -> JSON:
    """``obj`` with keys in Go field order: kind, apiVersion, metadata, spec, ..., status."""
    out: JSON = {}
    for key in ("kind", "apiVersion", "metadata"):
        if key in obj:
            out[key] = obj[key]
    for key, value in obj.items():
        if key not in out and key != "status":
            out[key] = value
    if "status" in obj:
        out["status"] = obj["status"]
    meta = out.get("metadata")
    if isinstance(meta, dict):
        meta.setdefault("resourceVersion", "")
        out["metadata"] = {k: meta[k] for k in _META_ORDER if k in meta} | {
            k: v for k, v in meta.items() if k not in _META_ORDER
        }
    return out


def prepare_create(rt: ResourceType, obj: JSON, *, now: str) -> None:
    """Set what the server owns on a new object (in place): uid, times, generation."""
    meta = obj["metadata"]
    for key in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
        meta.pop(key, None)
    meta.pop("selfLink", None)
    meta.pop("generation", None)
    meta["uid"] = new_uid()
    meta["creationTimestamp"] = now
    if rt.generation is not Generation.NONE:
        meta["generation"] = 1


def carry_over(old: JSON, new: JSON) -> None:
    """Copy server-owned metadata of the stored object onto an update (in place)."""
    meta, old_meta = new["metadata"], old["metadata"]
    meta.pop("selfLink", None)
    for key in _CARRIED:
        if key in old_meta:
            meta[key] = old_meta[key]
        elif key != "deletionTimestamp":
            meta.pop(key, None)
        # A deletionTimestamp the object did not have stays, so validation rejects it
        # (rest.BeforeUpdate only ever restores an existing one).
    if "generation" in old_meta:
        meta["generation"] = old_meta["generation"]
    else:
        meta.pop("generation", None)


def bump_generation(rt: ResourceType, old: JSON, new: JSON) -> None:
    """Advance ``metadata.generation`` when the type's rule says the change counts."""
    meta = new["metadata"]
    if "generation" not in meta:
        return
    if rt.generation is Generation.SPEC:
        changed = old.get("spec") != new.get("spec")
    elif rt.generation is Generation.SPEC_OR_ANNOTATIONS:
        changed = old.get("spec") != new.get("spec") or (
            old["metadata"].get("annotations") != meta.get("annotations")
        )
    elif rt.generation is Generation.NON_METADATA:
        skip = {"metadata", "status"} if rt.status else {"metadata"}
        changed = {k: v for k, v in old.items() if k not in skip} != {
            k: v for k, v in new.items() if k not in skip
        }
    else:
        changed = False
    if changed:
        meta["generation"] = int(meta["generation"]) + 1


def validate_name(rt: ResourceType, name: str) -> list[FieldError]:
    """The type's name rule (DNS subdomain, label, DNS-1035 label, path segment)."""
    path = "metadata.name"
    if rt.rid == "namespaces":
        return _check(path, name, _DNS_LABEL, _LABEL_MSG, 63)
    if rt.rid == "services":
        return _check(path, name, _DNS1035, _DNS1035_MSG, 63)
    if rt.group == "rbac.authorization.k8s.io":
        return _path_segment(path, name)
    if rt.rid == "customresourcedefinitions.apiextensions.k8s.io":
        return []  # checked against spec.names by the CRD validation
    return _check(path, name, _DNS_SUBDOMAIN, _SUBDOMAIN_MSG, 253)


def _check(
    path: str, value: str, pattern: re.Pattern[str], msg: str, limit: int
) -> list[FieldError]:
    errs: list[FieldError] = []
    if len(value) > limit:
        errs.append(
            FieldError(
                type="FieldValueInvalid",
                field=path,
                value=value,
                has_value=True,
                detail=f"must be no more than {limit} characters",
            )
        )
    if not pattern.match(value):
        errs.append(
            FieldError(
                type="FieldValueInvalid", field=path, value=value, has_value=True, detail=msg
            )
        )
    return errs


def _path_segment(path: str, name: str) -> list[FieldError]:
    detail = ""
    if name in (".", ".."):
        detail = f"may not be '{name}'"
    elif "/" in name or "%" in name:
        bad = "/" if "/" in name else "%"
        detail = f"may not contain '{bad}'"
    if not detail:
        return []
    return [
        FieldError(type="FieldValueInvalid", field=path, value=name, has_value=True, detail=detail)
    ]


def validate_meta(rt: ResourceType, obj: JSON) -> list[FieldError]:
    """ObjectMeta validation on create and update: name, labels, annotations, finalizers."""
    meta = obj["metadata"]
    errs: list[FieldError] = []
    name = meta.get("name") or ""
    if not name:
        errs.append(
            FieldError(
                type="FieldValueRequired",
                field="metadata.name",
                detail="name or generateName is required",
            )
        )
    else:
        errs += validate_name(rt, name)
    errs += _validate_labels(meta.get("labels") or {})
    errs += _validate_annotations(meta.get("annotations") or {})
    errs += _validate_finalizers(meta.get("finalizers") or [])
    return errs


@functools.lru_cache(maxsize=4096)
def _qualified_name_errors(key: str) -> tuple[str, ...]:
    prefix, slash, name = key.rpartition("/")
    out = []
    if slash and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        out.append(_PREFIX_MSG)
    if not name:
        out.append("name part must be non-empty")
    else:
        if len(name) > 63:
            out.append("name part must be no more than 63 characters")
        if not _QUALIFIED_NAME.match(name):
            out.append(_QUALIFIED_MSG)
    return tuple(out)


def _validate_labels(labels: JSON) -> list[FieldError]:
    errs: list[FieldError] = []
    for key, raw in labels.items():
        errs.extend(
            FieldError(
                type="FieldValueInvalid",
                field="metadata.labels",
                value=key,
                has_value=True,
                detail=msg,
            )
            for msg in _qualified_name_errors(key)
        )
        value = raw if isinstance(raw, str) else str(raw)
        if value and (len(value) > 63 or not _QUALIFIED_NAME.match(value)):
            detail = _LABEL_VALUE_MSG if len(value) <= 63 else "must be no more than 63 characters"
            errs.append(
                FieldError(
                    type="FieldValueInvalid",
                    field="metadata.labels",
                    value=value,
                    has_value=True,
                    detail=detail,
                )
            )
    return errs


def _validate_annotations(annotations: JSON) -> list[FieldError]:
    errs: list[FieldError] = []
    total = 0
    for key, value in annotations.items():
        total += len(key) + len(str(value))
        errs.extend(
            FieldError(
                type="FieldValueInvalid",
                field="metadata.annotations",
                value=key,
                has_value=True,
                detail=msg,
            )
            for msg in _qualified_name_errors(key.lower())
        )
    if total > 256 * 1024:
        errs.append(
            FieldError(
                type="FieldValueTooLong",
                field="metadata.annotations",
                detail="must have at most 262144 bytes",
            )
        )
    return errs


def _validate_finalizers(finalizers: list[Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    for fin in finalizers:
        errs.extend(
            FieldError(
                type="FieldValueInvalid",
                field="metadata.finalizers",
                value=fin,
                has_value=True,
                detail=msg,
            )
            for msg in _qualified_name_errors(str(fin))
        )
    if "orphan" in finalizers and "foregroundDeletion" in finalizers:
        errs.append(
            FieldError(
                type="FieldValueInvalid",
                field="metadata.finalizers",
                value=finalizers,
                has_value=True,
                detail="finalizer orphan and foregroundDeletion cannot be both set",
            )
        )
    return errs


def validate_meta_update(old: JSON, new: JSON) -> list[FieldError]:
    """Update-only rules: deletionTimestamp is immutable; no new finalizers while deleting."""
    old_meta, meta = old["metadata"], new["metadata"]
    if not old_meta.get("deletionTimestamp"):
        if meta.get("deletionTimestamp"):
            return [
                FieldError(
                    type="FieldValueInvalid",
                    field="metadata.deletionTimestamp",
                    value=meta["deletionTimestamp"],
                    has_value=True,
                    detail="field is immutable",
                )
            ]
        return []
    extra = sorted(set(meta.get("finalizers") or []) - set(old_meta.get("finalizers") or []))
    if not extra:
        return []
    rendered = "[]string{" + ", ".join(f'"{f}"' for f in extra) + "}"
    return [
        FieldError(
            type="FieldValueForbidden",
            field="metadata.finalizers",
            detail="no new finalizers can be added if the object is being deleted, "
            f"found new finalizers {rendered}",
        )
    ]
