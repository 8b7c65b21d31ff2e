"""Rendered manifests before they are stored: Secret values replaced by keyed digests.

DESIGN.md §2: a Secret's ``data`` and ``stringData`` values never enter the log, the
blobs or the logs. ``redact`` replaces each value by ``hmac-sha256:<hex>``, an HMAC of
the secret's bytes (``data`` is base64-decoded first, ``stringData`` taken as UTF-8),
so the same secret gives the same digest in both fields and a changed value changes
the digest, while nobody without the per-installation key can test guesses against
it. Keeping the key (``state_dir/secret-digest.key``) is the shell's job.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Any

DIGEST_PREFIX = "hmac-sha256:"
SECRET_FIELDS = ("data", "stringData")


def is_secret(obj: dict[str, Any]) -> bool:
    """True for a core ``v1`` Secret."""
    return obj.get("kind") == "Secret" and obj.get("apiVersion") == "v1"


def value_digest(value: bytes, *, key: bytes) -> str:
    """The keyed digest that stands in for one secret value."""
    return DIGEST_PREFIX + hmac.new(key, value, hashlib.sha256).hexdigest()


def redact(obj: dict[str, Any], *, key: bytes) -> dict[str, Any]:
    """``obj`` with every Secret value replaced by its keyed digest (a new dict; others as is).

    A value that is already a digest is left alone, so redacting twice changes nothing.
    A ``data`` value that is not valid base64 is digested as written.
    """
    if not is_secret(obj):
        return obj
    out = dict(obj)
    for field in SECRET_FIELDS:
        values = obj.get(field)
        if not isinstance(values, dict):
            continue
        out[field] = {name: _digest_field(field, value, key=key) for name, value in values.items()}
    return out


def _digest_field(field: str, value: Any, *, key: bytes) -> Any:
    if not isinstance(value, str):
        return value if value is None else value_digest(str(value).encode(), key=key)
    if value.startswith(DIGEST_PREFIX):
        return value
    if field == "data":
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raw = value.encode()
        return value_digest(raw, key=key)
    return value_digest(value.encode(), key=key)


def is_redacted(obj: dict[str, Any]) -> bool:
    """True when no Secret value of ``obj`` is left in clear."""
    if not is_secret(obj):
        return True
    for field in SECRET_FIELDS:
        values = obj.get(field)
        if isinstance(values, dict) and any(
            isinstance(v, str) and not v.startswith(DIGEST_PREFIX) for v in values.values()
        ):
            return False
    return True


def string_data_as_data(obj: dict[str, Any]) -> dict[str, Any]:
    """A Secret with its ``stringData`` moved into ``data`` (base64), as the server stores it.

    gitopsd applies Secrets in this form (as Flux does): server-side apply records
    ownership of the fields *sent*, and a key dropped from an applied ``stringData``
    would otherwise never be removed from the Secret (kubernetes#108008).
    """
    if not is_secret(obj) or not isinstance(obj.get("stringData"), dict):
        return obj
    out = {k: v for k, v in obj.items() if k != "stringData"}
    data = dict(obj.get("data") or {})
    for name, value in obj["stringData"].items():
        data[name] = base64.b64encode(str(value).encode()).decode()
    out["data"] = data
    return out
