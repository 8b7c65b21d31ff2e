"""Type-specific validation that GitOps syncs run into, worded as kube-apiserver words it.

On every write (``validate``): CRD names, Secret and ConfigMap keys, the keys each Secret
type requires (``ValidateSecret``/``ValidateConfigMap`` in ``pkg/apis/core/validation``).
On update (``validate_update``): what may not change once created, the classic reasons a
sync needs delete-and-recreate: workload and Job selectors, a Job's template, a
StatefulSet's spec beyond the mutable fields, a claim's spec beyond its size, a binding's
roleRef, a Service's clusterIP, a Secret's type, and the data of an ``immutable`` Secret
or ConfigMap. Values print as Go prints them in these errors (``%#v`` of the internal
type for a LabelSelector or RoleRef). Pure functions over decoded objects; ``api`` turns
the field errors into the 422.

Not reproduced: the ``cmp.Diff`` a real server appends to the claim message, size limits,
and the rest of the real validation (``validation`` covers workload specs).
"""

from __future__ import annotations

import re
from typing import Any

from kubesim import fieldpath
from kubesim.resources import ResourceType
from kubesim.status import FieldError, GoSyntax

JSON = dict[str, Any]
_go_quote = fieldpath._go_quote  # noqa: SLF001 - one strconv.Quote for the package

_IMMUTABLE = "field is immutable"
_IMMUTABLE_SET = "field is immutable when `immutable` is set"
_KEY = re.compile(r"[-._a-zA-Z0-9]+")
_KEY_MSG = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "
    "'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
    "'[-._a-zA-Z0-9]+')"
)
# Secret types and the data keys each requires (all of them, or, for basic-auth, either).
_REQUIRED_KEYS = {
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
}
_STS_MUTABLE = (
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "revisionHistoryLimit",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
)
_STS_FORBIDDEN = (
    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
    "'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and "
    "'minReadySeconds' are forbidden"
)
_PVC_FORBIDDEN = (
    "spec is immutable after creation except resources.requests and "
    "volumeAttributesClassName for bound claims"
)


def validate(rt: ResourceType, obj: JSON) -> list[FieldError]:
    """Checks of one written object that the generic validation does not make."""
    if rt.rid == "customresourcedefinitions.apiextensions.k8s.io":
        return _crd_name(obj)
    if rt.rid == "secrets":
        return _secret(obj)
    if rt.rid == "configmaps":
        return _config_map(obj)
    return []


def validate_update(rt: ResourceType, old: JSON, new: JSON) -> list[FieldError]:
    """What an update may not change (old and new both decoded and defaulted)."""
    errs = _spec_update(rt, old.get("spec") or {}, new.get("spec") or {})
    if rt.rid == "persistentvolumeclaims" and _claim_changed(old, new):
        errs.append(_forbidden("spec", _PVC_FORBIDDEN))
    is_binding = rt.group == "rbac.authorization.k8s.io" and rt.kind.endswith("Binding")
    if is_binding and old.get("roleRef") != new.get("roleRef"):
        errs.append(
            FieldError(
                type="FieldValueInvalid",
                field="roleRef",
                value=_role_ref_syntax(new.get("roleRef")),
                has_value=True,
                detail="cannot change roleRef",
            )
        )
    if rt.rid == "secrets" and old.get("type") != new.get("type"):
        errs.append(_immutable("type", new.get("type")))
    if rt.rid in ("configmaps", "secrets") and old.get("immutable"):
        errs.extend(_immutable_data(rt, old, new))
    return errs


def _spec_update(rt: ResourceType, old_spec: JSON, spec: JSON) -> list[FieldError]:
    """Workload, Job and Service specs: selectors, templates, clusterIP."""
    errs: list[FieldError] = []
    if rt.rid == "statefulsets.apps":
        if _without(old_spec, _STS_MUTABLE) != _without(spec, _STS_MUTABLE):
            errs.append(_forbidden("spec", _STS_FORBIDDEN))
    elif (rt.group == "apps" or rt.rid == "jobs.batch") and old_spec.get("selector") != spec.get(
        "selector"
    ):
        errs.append(_immutable("spec.selector", selector_syntax(spec.get("selector"))))
    if rt.rid == "jobs.batch" and old_spec.get("template") != spec.get("template"):
        errs.append(_immutable("spec.template", spec.get("template")))
    if rt.rid == "services" and old_spec.get("clusterIP") != spec.get("clusterIP"):
        errs.append(_immutable("spec.clusterIPs[0]", spec.get("clusterIP")))
    return errs


def _forbidden(path: str, detail: str) -> FieldError:
    return FieldError(type="FieldValueForbidden", field=path, detail=detail)


def _immutable(path: str, value: Any) -> FieldError:
    return FieldError(
        type="FieldValueInvalid", field=path, value=value, has_value=True, detail=_IMMUTABLE
    )


def _without(spec: JSON, keys: tuple[str, ...]) -> JSON:
    return {k: v for k, v in spec.items() if k not in keys}


def _claim_changed(old: JSON, new: JSON) -> bool:
    """ValidatePersistentVolumeClaimUpdate: the spec beyond what may change differs."""
    old_spec, spec = dict(old.get("spec") or {}), dict(new.get("spec") or {})
    if not old_spec.get("volumeName"):  # binding sets it, once
        old_spec.pop("volumeName", None)
        spec.pop("volumeName", None)
    for side in (old_spec, spec):
        side.pop("volumeAttributesClassName", None)
    if (new.get("status") or {}).get("phase") == "Bound":
        # A bound claim may be resized: requests.storage may move (up, on a real server).
        for side in (old_spec, spec):
            resources = dict(side.get("resources") or {})
            requests = dict(resources.get("requests") or {})
            requests.pop("storage", None)
            resources["requests"] = requests
            side["resources"] = resources
    return old_spec != spec


def _immutable_data(rt: ResourceType, old: JSON, new: JSON) -> list[FieldError]:
    errs: list[FieldError] = []
    if not new.get("immutable"):
        errs.append(
            FieldError(type="FieldValueForbidden", field="immutable", detail=_IMMUTABLE_SET)
        )
    keys = ("data", "binaryData") if rt.rid == "configmaps" else ("data",)
    errs.extend(
        FieldError(type="FieldValueForbidden", field=key, detail=_IMMUTABLE_SET)
        for key in keys
        if old.get(key) != new.get(key)
    )
    return errs


# ---------------------------------------------------------------- object content


def _crd_name(obj: JSON) -> list[FieldError]:
    spec = obj.get("spec") or {}
    names = spec.get("names") or {}
    want = f"{names.get('plural', '')}.{spec.get('group', '')}"
    if obj["metadata"].get("name") == want:
        return []
    return [
        FieldError(
            type="FieldValueInvalid",
            field="metadata.name",
            value=obj["metadata"].get("name", ""),
            has_value=True,
            detail='must be spec.names.plural+"."+spec.group',
        )
    ]


def _key_errors(section: str, keys: Any) -> list[FieldError]:
    """IsConfigMapKey for every key of a data map (``data[key]: Invalid value: ...``)."""
    errs: list[FieldError] = []
    for key in keys:
        details = []
        if len(key) > 253:
            details.append("must be no more than 253 characters")
        if not _KEY.fullmatch(key):
            details.append(_KEY_MSG)
        if key in (".", ".."):
            details.append(f"must not be '{key}'")
        elif key.startswith(".."):
            details.append("must not start with '..'")
        errs.extend(
            FieldError(
                type="FieldValueInvalid",
                field=f"{section}[{key}]",
                value=key,
                has_value=True,
                detail=detail,
            )
            for detail in details
        )
    return errs


def _secret(obj: JSON) -> list[FieldError]:
    """ValidateSecret: key names, and the keys the Secret's type requires."""
    data = obj.get("data") or {}
    errs = _key_errors("data", data)
    kind = obj.get("type") or "Opaque"
    if kind == "kubernetes.io/service-account-token":
        name = (obj["metadata"].get("annotations") or {}).get("kubernetes.io/service-account.name")
        if not name:
            errs.append(
                FieldError(
                    type="FieldValueRequired",
                    field="metadata.annotations[kubernetes.io/service-account.name]",
                )
            )
    elif kind == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            errs.extend(
                FieldError(type="FieldValueRequired", field=f"data[{key}]")
                for key in ("username", "password")
            )
    elif kind == "kubernetes.io/ssh-auth":
        if not data.get("ssh-privatekey"):
            errs.append(FieldError(type="FieldValueRequired", field="data[ssh-privatekey]"))
    elif kind in _REQUIRED_KEYS:
        errs.extend(
            FieldError(type="FieldValueRequired", field=f"data[{key}]")
            for key in _REQUIRED_KEYS[kind]
            if key not in data
        )
    return errs


def _config_map(obj: JSON) -> list[FieldError]:
    """ValidateConfigMap: key names; a key may not be in both data and binaryData."""
    data, binary = obj.get("data") or {}, obj.get("binaryData") or {}
    errs = _key_errors("data", data) + _key_errors("binaryData", binary)
    errs.extend(
        FieldError(
            type="FieldValueInvalid",
            field=f"binaryData[{key}]",
            value=key,
            has_value=True,
            detail="duplicate of key present in data",
        )
        for key in binary
        if key in data
    )
    return errs


# ---------------------------------------------------------------- Go value syntax


def selector_syntax(selector: Any) -> Any:
    """A LabelSelector as Go's ``%#v`` prints it in an Invalid error (``v1.LabelSelector{...}``)."""
    if not isinstance(selector, dict):
        return selector
    labels = selector.get("matchLabels")
    if isinstance(labels, dict):
        pairs = ", ".join(f"{_go_quote(k)}:{_go_quote(str(labels[k]))}" for k in sorted(labels))
        match_labels = f"map[string]string{{{pairs}}}"
    else:
        match_labels = "map[string]string(nil)"
    expressions = selector.get("matchExpressions")
    if isinstance(expressions, list):
        items = ", ".join(_requirement(e) for e in expressions if isinstance(e, dict))
        match_expressions = f"[]v1.LabelSelectorRequirement{{{items}}}"
    else:
        match_expressions = "[]v1.LabelSelectorRequirement(nil)"
    return GoSyntax(
        f"v1.LabelSelector{{MatchLabels:{match_labels}, MatchExpressions:{match_expressions}}}"
    )


def _requirement(req: JSON) -> str:
    values = req.get("values")
    if isinstance(values, list):
        listed = "[]string{" + ", ".join(_go_quote(str(v)) for v in values) + "}"
    else:
        listed = "[]string(nil)"
    key, op = _go_quote(str(req.get("key", ""))), _go_quote(str(req.get("operator", "")))
    return f"v1.LabelSelectorRequirement{{Key:{key}, Operator:{op}, Values:{listed}}}"


def _role_ref_syntax(ref: Any) -> Any:
    if not isinstance(ref, dict):
        return ref
    parts = ", ".join(
        f"{name}:{_go_quote(str(ref.get(key, '')))}"
        for name, key in (("APIGroup", "apiGroup"), ("Kind", "kind"), ("Name", "name"))
    )
    return GoSyntax(f"rbac.RoleRef{{{parts}}}")
