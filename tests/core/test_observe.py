"""What an informer records: stored bodies, dedupe, recreation, relist differences."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import orjson

from daemon.core import codec, observe
from daemon.core import events as ev

KEY = b"k" * 32


def cm(
    name: str, *, uid: str = "u1", rv: str = "10", data: str = "x", ns: str = "default"
) -> dict[str, Any]:
    """A live ConfigMap as the API serves it."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": uid,
            "resourceVersion": rv,
            "labels": {"gitopsd.io/app": "demo"},
            "managedFields": [
                {
                    "manager": "gitopsd",
                    "operation": "Apply",
                    "apiVersion": "v1",
                    "time": "2026-01-01T00:00:00Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:data": {"f:k": {}}},
                },
                {
                    "manager": "kubectl-edit",
                    "operation": "Update",
                    "apiVersion": "v1",
                    "time": "2026-01-02T00:00:00Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:data": {"f:j": {}}},
                    "subresource": "",
                },
            ],
        },
        "data": {"k": data},
    }


def seen(obj: dict[str, Any]) -> observe.Seen:
    """What the log would know after recording ``obj``."""
    _, digest = observe.stored_body(obj, secret_key=KEY)
    meta = obj["metadata"]
    return observe.Seen(meta["uid"], meta["resourceVersion"], digest, "demo")


def summary(found: list[observe.Observation]) -> list[tuple[str, str, str, str]]:
    """(change, key, uid, resourceVersion) per observation."""
    return [
        (o.event.change.value, o.event.key, o.event.uid, o.event.resource_version) for o in found
    ]


def test_stored_body_drops_only_the_resource_version() -> None:
    """The stored body is the served object without metadata.resourceVersion, canonical JSON."""
    obj = cm("a")
    body, digest = observe.stored_body(obj, secret_key=KEY)
    expected = cm("a")
    del expected["metadata"]["resourceVersion"]
    assert (body, digest) == (
        codec.dumps(expected),
        hashlib.sha256(codec.dumps(expected)).hexdigest(),
    )
    assert obj == cm("a")  # the input is not changed


def test_secret_values_and_last_applied_are_digested() -> None:
    """Secret data and kubectl's last-applied annotation (a full copy) become keyed digests."""
    last = '{"data":{"p":"aHVudGVyMg=="},"kind":"Secret"}'
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "s",
            "namespace": "default",
            "resourceVersion": "3",
            "annotations": {observe.LAST_APPLIED: last, "team": "a"},
        },
        "data": {"p": "aHVudGVyMg=="},
    }
    body, _ = observe.stored_body(secret, secret_key=KEY)
    mac = "hmac-sha256:" + hmac.new(KEY, b"hunter2", hashlib.sha256).hexdigest()
    annotation = "hmac-sha256:" + hmac.new(KEY, last.encode(), hashlib.sha256).hexdigest()
    assert orjson.loads(body) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "s",
            "namespace": "default",
            "annotations": {observe.LAST_APPLIED: annotation, "team": "a"},
        },
        "data": {"p": mac},
    }


def test_observe_new_changed_and_unchanged() -> None:
    """Unknown keys are ADDED, changed ones MODIFIED, an identical RV and body nothing."""
    first = observe.observe("c", cm("a"), known=None, secret_key=KEY)
    assert summary(first) == [("ADDED", "/ConfigMap/default/a", "u1", "10")]
    event = first[0].event
    assert (event.app, event.managers) == (
        "demo",
        (
            ev.FieldManager(manager="gitopsd", operation="Apply", time="2026-01-01T00:00:00Z"),
            ev.FieldManager(
                manager="kubectl-edit", operation="Update", time="2026-01-02T00:00:00Z"
            ),
        ),
    )
    assert observe.observe("c", cm("a"), known=seen(cm("a")), secret_key=KEY) == []
    changed = observe.observe("c", cm("a", rv="11", data="y"), known=seen(cm("a")), secret_key=KEY)
    assert summary(changed) == [("MODIFIED", "/ConfigMap/default/a", "u1", "11")]


def test_a_new_uid_is_a_deletion_then_an_addition() -> None:
    """An object recreated while unobserved records DELETED (old uid) then ADDED (new uid)."""
    found = observe.observe("c", cm("a", uid="u2", rv="20"), known=seen(cm("a")), secret_key=KEY)
    assert summary(found) == [
        ("DELETED", "/ConfigMap/default/a", "u1", "20"),
        ("ADDED", "/ConfigMap/default/a", "u2", "20"),
    ]


def test_relist_records_differences_in_scope_only() -> None:
    """A relist records changed and new objects, then DELETED for known keys of its scope only."""
    known = {
        "/ConfigMap/default/a": seen(cm("a")),
        "/ConfigMap/default/b": seen(cm("b", uid="ub")),
        "/ConfigMap/other/c": seen(cm("c", uid="uc", ns="other")),
        "apps/Deployment/default/d": observe.Seen("ud", "5", "digest", "demo"),
    }
    listed = [cm("a"), cm("e", uid="ue", rv="30")]
    found = observe.relist(
        "c",
        listed,
        scope=observe.Scope("", "ConfigMap", "default"),
        known=known,
        resource_version="31",
        secret_key=KEY,
    )
    assert summary(found) == [
        ("ADDED", "/ConfigMap/default/e", "ue", "30"),
        ("DELETED", "/ConfigMap/default/b", "ub", "31"),
    ]


def test_remember_follows_what_is_recorded() -> None:
    """The informer's view takes each recorded observation: set on ADDED/MODIFIED, gone on DELETED."""
    view: dict[str, observe.Seen] = {}
    for item in observe.observe("c", cm("a"), known=None, secret_key=KEY):
        observe.remember(view, item)
    assert view == {"/ConfigMap/default/a": seen(cm("a"))}
    observe.remember(
        view,
        observe.deleted("c", "/ConfigMap/default/a", known=seen(cm("a")), resource_version="12"),
    )
    assert view == {}
