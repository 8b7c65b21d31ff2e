"""Secret redaction: values replaced by keyed digests before anything is stored."""

from __future__ import annotations

import base64
import hashlib
import hmac

from daemon.core import manifests

KEY = b"k" * 32


def _digest(raw: bytes) -> str:
    return "hmac-sha256:" + hmac.new(KEY, raw, hashlib.sha256).hexdigest()


def test_secret_data_and_string_data_are_replaced_by_keyed_digests() -> None:
    """Data (decoded) and stringData values become HMACs of the secret bytes; the rest stays."""
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "prod"},
        "type": "Opaque",
        "data": {"password": base64.b64encode(b"hunter2").decode(), "bad": "not base64!"},
        "stringData": {"user": "admin", "same": "hunter2"},
    }
    assert manifests.redact(secret, key=KEY) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "prod"},
        "type": "Opaque",
        "data": {"password": _digest(b"hunter2"), "bad": _digest(b"not base64!")},
        "stringData": {"user": _digest(b"admin"), "same": _digest(b"hunter2")},
    }


def test_redaction_is_idempotent_and_leaves_other_kinds_alone() -> None:
    """Redacting twice equals once; a ConfigMap's data is not touched."""
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "stringData": {"a": "b"},
    }
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
        "data": {"a": "b"},
    }
    once = manifests.redact(secret, key=KEY)
    assert (manifests.redact(once, key=KEY), manifests.redact(config, key=KEY)) == (once, config)
    assert (manifests.is_redacted(secret), manifests.is_redacted(once)) == (False, True)


def test_digest_depends_on_the_key() -> None:
    """Another installation's key gives another digest (guesses cannot be checked offline)."""
    assert manifests.value_digest(b"x", key=KEY) != manifests.value_digest(b"x", key=b"j" * 32)


def test_string_data_moves_into_data_as_base64() -> None:
    """A Secret's stringData is merged into data (base64, stringData winning), as the server does."""
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "data": {"a": "b2xk", "keep": "eA=="},
        "stringData": {"a": "new", "b": "två"},
    }
    assert manifests.string_data_as_data(secret) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "data": {"a": "bmV3", "keep": "eA==", "b": "dHbDpQ=="},
    }
    config = {"apiVersion": "v1", "kind": "ConfigMap", "stringData": {"a": "b"}}
    assert manifests.string_data_as_data(config) is config
