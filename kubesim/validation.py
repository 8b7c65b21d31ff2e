"""Field validation of workload specs, worded as kube-apiserver words it (KUBE_API.md §2.3).

The job: the checks GitOps manifests trip over most, with apimachinery's field-error
wording, returned as ``status.FieldError`` values the server turns into a 422 with causes:
a workload's selector must match its pod template's labels, pods need containers with a
name (an RFC 1123 label, unique) and an image, a Deployment's pods must restart Always,
replica counts must not be negative. Pure functions; ``validate`` runs on the defaulted
object.

Left to neighbours: metadata and name rules (``metadata``), immutability on update and
type-specific strategy checks (``strategies``), everything not listed here (a real server
validates far more; this is the subset that tests and the demo meet).
"""

from __future__ import annotations

import re
from typing import Any

from kubesim.status import FieldError

JSON = dict[str, Any]

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
    "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
_WORKLOADS = {
    ("apps", "Deployment"),
    ("apps", "ReplicaSet"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
}


def validate(obj: JSON, *, group: str, kind: str) -> list[FieldError]:
    """The field errors of a (defaulted) object; empty when these checks pass."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return []
    if (group, kind) in _WORKLOADS:
        return _workload(spec, kind=kind)
    if (group, kind) == ("batch", "Job"):
        return _pod_template(spec.get("template"), "spec.template", restart=("OnFailure", "Never"))
    if (group, kind) == ("batch", "CronJob"):
        job = spec.get("jobTemplate")
        job_spec = job.get("spec") if isinstance(job, dict) else None
        template = job_spec.get("template") if isinstance(job_spec, dict) else None
        return _pod_template(
            template, "spec.jobTemplate.spec.template", restart=("OnFailure", "Never")
        )
    if (group, kind) == ("", "Pod"):
        return _pod_spec(spec, "spec")
    return []


def _workload(spec: JSON, *, kind: str) -> list[FieldError]:
    errors: list[FieldError] = []
    replicas = spec.get("replicas")
    if isinstance(replicas, int) and not isinstance(replicas, bool) and replicas < 0:
        errors.append(
            FieldError(
                type="FieldValueInvalid",
                field="spec.replicas",
                value=replicas,
                has_value=True,
                detail="must be greater than or equal to 0",
            )
        )
    selector = spec.get("selector")
    if selector is None:
        errors.append(FieldError(type="FieldValueRequired", field="spec.selector"))
    template = spec.get("template")
    if isinstance(selector, dict) and isinstance(template, dict):
        meta = template.get("metadata")
        labels = meta.get("labels") if isinstance(meta, dict) else None
        if _is_non_empty(selector) and not selector_matches(selector, labels or {}):
            errors.append(
                FieldError(
                    type="FieldValueInvalid",
                    field="spec.template.metadata.labels",
                    detail=f"{_go_string_map(labels)}: `selector` does not match template `labels`",
                )
            )
    restart = (
        ("Always",) if kind in ("Deployment", "ReplicaSet", "DaemonSet", "StatefulSet") else ()
    )
    errors += _pod_template(template, "spec.template", restart=restart)
    return errors


def _is_non_empty(selector: JSON) -> bool:
    return bool(selector.get("matchLabels")) or bool(selector.get("matchExpressions"))


def selector_matches(selector: JSON, labels: dict[str, Any]) -> bool:
    """Whether a LabelSelector (matchLabels and matchExpressions) selects ``labels``."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for requirement in selector.get("matchExpressions") or []:
        if not isinstance(requirement, dict):
            return False
        key, operator = str(requirement.get("key")), requirement.get("operator")
        values = requirement.get("values") or []
        present = key in labels
        value = labels.get(key)
        if operator == "In" and not (present and value in values):
            return False
        if operator == "NotIn" and present and value in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def _go_string_map(labels: Any) -> str:
    """Go's %#v of a map[string]string (keys sorted, values quoted)."""
    if not isinstance(labels, dict):
        return "map[string]string(nil)"
    items = ", ".join(f"{_quote(k)}:{_quote(str(v))}" for k, v in sorted(labels.items()))
    return "map[string]string{" + items + "}"


def _quote(text: str) -> str:
    from kubesim import fieldpath  # noqa: PLC0415 - only on an error path

    return fieldpath._go_quote(text)  # noqa: SLF001 - one quoting routine for the package


def _pod_template(template: Any, path: str, *, restart: tuple[str, ...]) -> list[FieldError]:
    if not isinstance(template, dict):
        return []
    spec = template.get("spec")
    if not isinstance(spec, dict):
        return [FieldError(type="FieldValueRequired", field=f"{path}.spec.containers")]
    errors = _pod_spec(spec, f"{path}.spec")
    policy = spec.get("restartPolicy")
    if restart and isinstance(policy, str) and policy not in restart:
        supported = ", ".join(_quote(r) for r in restart)
        errors.append(
            FieldError(
                type="FieldValueNotSupported",
                field=f"{path}.spec.restartPolicy",
                value=policy,
                has_value=True,
                detail=f"supported values: {supported}",
            )
        )
    return errors


def _pod_spec(spec: JSON, path: str) -> list[FieldError]:
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        return [FieldError(type="FieldValueRequired", field=f"{path}.containers")]
    errors: list[FieldError] = []
    seen: set[str] = set()
    for key in ("initContainers", "containers"):
        for index, container in enumerate(spec.get(key) or []):
            if isinstance(container, dict):
                errors += _container(container, f"{path}.{key}[{index}]", seen)
    return errors


def _container(container: JSON, path: str, seen: set[str]) -> list[FieldError]:
    errors: list[FieldError] = []
    name = container.get("name")
    if not name:
        errors.append(FieldError(type="FieldValueRequired", field=f"{path}.name"))
    elif isinstance(name, str):
        if len(name) > 63 or not _DNS_LABEL.fullmatch(name):
            detail = (
                _LABEL_MSG
                if _DNS_LABEL.fullmatch(name) is None
                else "must be no more than 63 characters"
            )
            errors.append(
                FieldError(
                    type="FieldValueInvalid",
                    field=f"{path}.name",
                    value=name,
                    has_value=True,
                    detail=detail,
                )
            )
        elif name in seen:
            errors.append(
                FieldError(
                    type="FieldValueDuplicate", field=f"{path}.name", value=name, has_value=True
                )
            )
        seen.add(name)
    if not container.get("image"):
        errors.append(FieldError(type="FieldValueRequired", field=f"{path}.image"))
    return errors
