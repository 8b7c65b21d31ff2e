"""What may not change once created, and what a Secret or ConfigMap must hold (422 Invalid).

Expected messages follow kube-apiserver: ``ValidateStatefulSetUpdate``,
``ValidatePersistentVolumeClaimUpdate`` (less the ``cmp.Diff`` it appends),
``ValidateRoleBindingUpdate``, the apps/v1 strategies' selector immutability (the value
printed with Go's ``%#v``: the well-known ``v1.LabelSelector{...}`` text),
``ValidateSecret``/``ValidateSecretUpdate`` and ``ValidateConfigMap``.
"""

from __future__ import annotations

from typing import Any

from simclient import Raw

from kubesim.emulator import Emulator

NS = "/api/v1/namespaces/default"
STS_FORBIDDEN = (
    "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', "
    "'template', 'updateStrategy', 'revisionHistoryLimit', "
    "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
)
PVC_FORBIDDEN = (
    "Forbidden: spec is immutable after creation except resources.requests and "
    "volumeAttributesClassName for bound claims"
)
APPS = "/apis/apps/v1/namespaces/default"


def invalid(kind: str, name: str, *errors: tuple[str, str, str]) -> dict[str, Any]:
    """The 422 Status for ``errors`` given as (field, cause reason, cause message)."""
    texts = [f"{f}: {m}" for f, _, m in errors]
    message = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    group = kind.partition(".")[2]
    details: dict[str, Any] = {"name": name}
    if group:
        details["group"] = group
    details["kind"] = kind.partition(".")[0]
    details["causes"] = [{"reason": r, "message": m, "field": f} for f, r, m in errors]
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f'{kind} "{name}" is invalid: {message}',
        "reason": "Invalid",
        "details": details,
        "code": 422,
    }


async def apply(raw: Raw, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    """Server-side apply as gitopsd (manager gitopsd, force)."""
    resp = await raw(
        "PATCH",
        f"{path}?fieldManager=gitopsd&force=true",
        body=body,
        content_type="application/apply-patch+yaml",
    )
    return resp.status, resp.json()


def stateful_set(storage: str, replicas: int = 1) -> dict[str, Any]:
    """A StatefulSet with one volume claim template."""
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": {
            "replicas": replicas,
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {"containers": [{"name": "db", "image": "postgres:16"}]},
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": storage}},
                    },
                }
            ],
        },
    }


async def test_stateful_set_claim_templates_are_immutable(raw: Raw, sim: Emulator) -> None:
    """A StatefulSet may change replicas; a new volumeClaimTemplates size is 422 Forbidden."""
    sim.knobs.paused.add("statefulset")
    path = f"{APPS}/statefulsets/db"
    await apply(raw, path, stateful_set("1Gi"))
    scaled = await apply(raw, path, stateful_set("1Gi", replicas=3))
    refused = await apply(raw, path, stateful_set("2Gi", replicas=3))
    assert (scaled[0], refused) == (
        200,
        (
            422,
            invalid(
                "StatefulSet.apps",
                "db",
                (
                    "spec",
                    "FieldValueForbidden",
                    STS_FORBIDDEN,
                ),
            ),
        ),
    )


async def test_deployment_selector_is_immutable_with_gos_text(raw: Raw) -> None:
    """A new Deployment selector is 422 with the value printed as v1.LabelSelector{...}."""
    path = f"{APPS}/deployments/web"

    def web(app: str) -> dict[str, Any]:
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {
                "selector": {"matchLabels": {"app": app, "tier": "front"}},
                "template": {
                    "metadata": {"labels": {"app": app, "tier": "front"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
                },
            },
        }

    await apply(raw, path, web("web"))
    refused = await apply(raw, path, web("web2"))
    value = (
        'v1.LabelSelector{MatchLabels:map[string]string{"app":"web2", "tier":"front"}, '
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}"
    )
    assert refused == (
        422,
        invalid(
            "Deployment.apps",
            "web",
            (
                "spec.selector",
                "FieldValueInvalid",
                f"Invalid value: {value}: field is immutable",
            ),
        ),
    )


async def test_claim_spec_is_immutable_but_a_bound_claim_grows(raw: Raw, sim: Emulator) -> None:
    """A bound claim may ask for more storage; another storage class is 422 Forbidden."""

    def claim(storage: str, storage_class: str = "standard") -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": storage_class,
                "resources": {"requests": {"storage": storage}},
            },
        }

    path = f"{NS}/persistentvolumeclaims/data"
    await apply(raw, path, claim("1Gi"))
    await sim.idle()
    grown = await apply(raw, path, claim("2Gi"))
    refused = await apply(raw, path, claim("2Gi", "fast"))
    assert (grown[0], grown[1]["spec"]["resources"], refused) == (
        200,
        {"requests": {"storage": "2Gi"}},
        (
            422,
            invalid(
                "PersistentVolumeClaim",
                "data",
                (
                    "spec",
                    "FieldValueForbidden",
                    PVC_FORBIDDEN,
                ),
            ),
        ),
    )


async def test_role_binding_role_ref_cannot_change(raw: Raw) -> None:
    """RoleRef of a RoleBinding is fixed: 422 naming the new rbac.RoleRef{...}."""
    path = "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings/read"

    def binding(role: str) -> dict[str, Any]:
        return {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "read"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": role,
            },
            "subjects": [{"kind": "ServiceAccount", "name": "app", "namespace": "default"}],
        }

    await apply(raw, path, binding("view"))
    refused = await apply(raw, path, binding("edit"))
    value = 'rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"ClusterRole", Name:"edit"}'
    assert refused == (
        422,
        invalid(
            "RoleBinding.rbac.authorization.k8s.io",
            "read",
            ("roleRef", "FieldValueInvalid", f"Invalid value: {value}: cannot change roleRef"),
        ),
    )


async def test_secret_content_rules(raw: Raw) -> None:
    """A TLS Secret needs tls.crt and tls.key; data keys are config keys; type is immutable."""
    no_keys = await raw(
        "POST",
        f"{NS}/secrets",
        body={"metadata": {"name": "tls"}, "type": "kubernetes.io/tls", "stringData": {"a": "b"}},
    )
    bad_key = await raw(
        "POST", f"{NS}/secrets", body={"metadata": {"name": "s"}, "stringData": {"a/b": "x"}}
    )
    await raw("POST", f"{NS}/secrets", body={"metadata": {"name": "ok"}, "data": {"k": "dg=="}})
    retyped = await raw(
        "PATCH",
        f"{NS}/secrets/ok",
        body={"type": "kubernetes.io/basic-auth", "stringData": {"username": "u"}},
        content_type="application/merge-patch+json",
    )
    key_msg = (
        'Invalid value: "a/b": a valid config key must consist of alphanumeric characters, '
        "'-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for "
        "validation is '[-._a-zA-Z0-9]+')"
    )
    assert [(r.status, r.json()) for r in (no_keys, bad_key, retyped)] == [
        (
            422,
            invalid(
                "Secret",
                "tls",
                ("data[tls.crt]", "FieldValueRequired", "Required value"),
                ("data[tls.key]", "FieldValueRequired", "Required value"),
            ),
        ),
        (422, invalid("Secret", "s", ("data[a/b]", "FieldValueInvalid", key_msg))),
        (
            422,
            invalid(
                "Secret",
                "ok",
                (
                    "type",
                    "FieldValueInvalid",
                    'Invalid value: "kubernetes.io/basic-auth": field is immutable',
                ),
            ),
        ),
    ]


async def test_immutable_config_map_rules(raw: Raw) -> None:
    """An immutable ConfigMap keeps its data and its immutable flag; keys appear once."""
    await raw(
        "POST",
        f"{NS}/configmaps",
        body={"metadata": {"name": "frozen"}, "data": {"a": "1"}, "immutable": True},
    )
    changed = await raw(
        "PATCH",
        f"{NS}/configmaps/frozen",
        body={"data": {"a": "2"}, "immutable": None},
        content_type="application/merge-patch+json",
    )
    duplicate = await raw(
        "POST",
        f"{NS}/configmaps",
        body={"metadata": {"name": "dup"}, "data": {"a": "1"}, "binaryData": {"a": "MQ=="}},
    )
    frozen = "Forbidden: field is immutable when `immutable` is set"
    assert [(r.status, r.json()) for r in (changed, duplicate)] == [
        (
            422,
            invalid(
                "ConfigMap",
                "frozen",
                ("immutable", "FieldValueForbidden", frozen),
                ("data", "FieldValueForbidden", frozen),
            ),
        ),
        (
            422,
            invalid(
                "ConfigMap",
                "dup",
                (
                    "binaryData[a]",
                    "FieldValueInvalid",
                    'Invalid value: "a": duplicate of key present in data',
                ),
            ),
        ),
    ]
