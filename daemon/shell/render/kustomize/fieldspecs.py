r"""Field specs: which fields of which kinds a kustomize transformer touches, and the walk.

A field spec is a gvk selector, a ``/``-separated path (``\\/`` escapes a slash inside
a key, ``name[]`` marks a list) and whether missing fields are created. The walk
descends maps by key and lists element by element (a path never names list
indexes), creates missing maps on the way when asked to, and hands the final field to
a setter as ``(parent, key)``.

The default tables are kustomize's built-in configuration (the Kubernetes fields
kustomize knows hold labels, selectors, names, references...), restated here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any, Literal, NamedTuple

from daemon.shell.render.kustomize.ids import Gvk
from daemon.shell.render.result import RenderError

Setter = Callable[[dict[str, Any], str], None]
CreateKind = Literal["map", "scalar"] | None


class FieldSpec(NamedTuple):
    """Where a transformer writes: a gvk selector, a path, create-if-missing."""

    gvk: Gvk
    path: str
    create: bool = False

    def segments(self) -> list[str]:
        """The path split at unescaped ``/``."""
        return split_path(self.path)


def spec(
    path: str, kind: str = "", *, group: str = "", version: str = "", create: bool = False
) -> FieldSpec:
    """Shorthand constructor used by the tables."""
    return FieldSpec(Gvk(group, version, kind), path, create)


def split_path(path: str) -> list[str]:
    r"""Split at ``/`` except where escaped as ``\/``."""
    out: list[str] = []
    current: list[str] = []
    index = 0
    while index < len(path):
        char = path[index]
        if char == "\\" and path[index + 1 : index + 2] == "/":
            current.append("/")
            index += 2
            continue
        if char == "/":
            out.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    out.append("".join(current))
    return out


def is_match(fs: FieldSpec, gvk: Gvk) -> bool:
    """True when the field spec applies to an object of ``gvk``."""
    return gvk.is_selected_by(fs.gvk)


def apply(body: dict[str, Any], fs: FieldSpec, setter: Setter, *, create_kind: CreateKind) -> None:
    """Walk ``fs`` in ``body`` and call ``setter`` on each field it reaches."""
    segments = fs.segments()
    if not segments or segments == [""]:
        return
    _walk(body, segments, 0, fs=fs, setter=setter, create_kind=create_kind)


def _walk(
    node: Any,
    segments: list[str],
    index: int,
    *,
    fs: FieldSpec,
    setter: Setter,
    create_kind: CreateKind,
) -> None:
    if node is None:
        return
    if isinstance(node, list):
        for element in node:
            _walk(element, segments, index, fs=fs, setter=setter, create_kind=create_kind)
        return
    if not isinstance(node, dict):
        raise RenderError(
            f"field spec {fs.path!r}: expected a map or a list before {segments[index]!r}, "
            f"found {type(node).__name__}"
        )
    raw = segments[index]
    name = raw.removesuffix("[]")
    is_list = name != raw
    if not name:
        raise RenderError(f"field spec {fs.path!r} has an empty field name")
    last = index == len(segments) - 1
    creating = fs.create and create_kind is not None and not is_list
    if name not in node:
        if not creating:
            return
        node[name] = _empty(create_kind) if last else {}
    elif node[name] is None:
        # kustomize turns an explicit null into the kind it would create.
        if is_list:
            node[name] = []
        elif creating:
            node[name] = _empty(create_kind) if last else {}
    if last:
        setter(node, name)
        return
    _walk(node[name], segments, index + 1, fs=fs, setter=setter, create_kind=create_kind)


def _empty(kind: CreateKind) -> Any:
    return {} if kind == "map" else ""


def merge_one(specs: list[FieldSpec], new: FieldSpec) -> list[FieldSpec]:
    """``specs`` plus ``new`` unless an equivalent one is there (a create clash is an error)."""
    for existing in specs:
        if existing.gvk.is_selected_by(new.gvk) and existing.path == new.path:
            if existing.create != new.create:
                raise RenderError(
                    f"conflicting fieldspecs for {new.path!r} (create true and false)"
                )
            return specs
    return [*specs, new]


def merge_all(specs: list[FieldSpec], new: Iterable[FieldSpec]) -> list[FieldSpec]:
    """``merge_one`` for each of ``new`` in turn."""
    out = list(specs)
    for item in new:
        out = merge_one(out, item)
    return out


@dataclasses.dataclass(frozen=True, slots=True)
class NameReference:
    """Objects of ``gvk`` may be named by the ``referrers`` fields of other objects."""

    gvk: Gvk
    referrers: tuple[FieldSpec, ...]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TransformerConfig:
    """The field specs in force for one accumulation (kustomize's defaults here).

    ``labels`` holds specs a ``configurations`` file adds for every ``labels`` entry;
    ``var_reference`` the fields ``vars`` are substituted in (``configs`` fills it).
    """

    name_prefix: tuple[FieldSpec, ...]
    name_suffix: tuple[FieldSpec, ...]
    namespace: tuple[FieldSpec, ...]
    common_labels: tuple[FieldSpec, ...]
    template_labels: tuple[FieldSpec, ...]
    volume_claim_template_labels: tuple[FieldSpec, ...]
    common_annotations: tuple[FieldSpec, ...]
    images: tuple[FieldSpec, ...]
    replicas: tuple[FieldSpec, ...]
    name_reference: tuple[NameReference, ...]
    labels: tuple[FieldSpec, ...] = ()
    var_reference: tuple[FieldSpec, ...] = ()


_POD_TEMPLATE_OWNERS = ("Deployment", "ReplicaSet", "DaemonSet", "StatefulSet", "Job")


def _metadata_labels() -> list[FieldSpec]:
    return [
        spec("metadata/labels", create=True),
        spec("spec/template/metadata/labels", "ReplicationController", version="v1", create=True),
        spec("spec/template/metadata/labels", "Deployment", create=True),
        spec("spec/template/metadata/labels", "ReplicaSet", create=True),
        spec("spec/template/metadata/labels", "DaemonSet", create=True),
        spec("spec/template/metadata/labels", "StatefulSet", group="apps", create=True),
        spec("spec/template/metadata/labels", "Job", group="batch", create=True),
        spec("spec/jobTemplate/metadata/labels", "CronJob", group="batch", create=True),
        spec(
            "spec/jobTemplate/spec/template/metadata/labels", "CronJob", group="batch", create=True
        ),
    ]


def _volume_claim_labels() -> list[FieldSpec]:
    return [
        spec(
            "spec/volumeClaimTemplates[]/metadata/labels", "StatefulSet", group="apps", create=True
        )
    ]


def _affinity_selectors(kind: str) -> list[FieldSpec]:
    base = "spec/template/spec/affinity"
    paths = [
        f"{base}/podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm",
        f"{base}/podAffinity/requiredDuringSchedulingIgnoredDuringExecution",
        f"{base}/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm",
        f"{base}/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution",
    ]
    return [
        *(spec(f"{p}/labelSelector/matchLabels", kind, group="apps") for p in paths),
        spec(
            "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels",
            kind,
            group="apps",
        ),
    ]


def _common_labels() -> list[FieldSpec]:
    return [
        spec("spec/selector", "Service", version="v1", create=True),
        spec("spec/selector", "ReplicationController", version="v1", create=True),
        spec("spec/selector/matchLabels", "Deployment", create=True),
        *_affinity_selectors("Deployment"),
        spec("spec/selector/matchLabels", "ReplicaSet", create=True),
        spec("spec/selector/matchLabels", "DaemonSet", create=True),
        spec("spec/selector/matchLabels", "StatefulSet", group="apps", create=True),
        *_affinity_selectors("StatefulSet"),
        spec("spec/selector/matchLabels", "Job", group="batch"),
        spec("spec/jobTemplate/spec/selector/matchLabels", "CronJob", group="batch"),
        spec("spec/selector/matchLabels", "PodDisruptionBudget", group="policy"),
        spec("spec/podSelector/matchLabels", "NetworkPolicy", group="networking.k8s.io"),
        spec(
            "spec/ingress/from/podSelector/matchLabels", "NetworkPolicy", group="networking.k8s.io"
        ),
        spec("spec/egress/to/podSelector/matchLabels", "NetworkPolicy", group="networking.k8s.io"),
        *_metadata_labels(),
        *_volume_claim_labels(),
    ]


def _common_annotations() -> list[FieldSpec]:
    return [
        spec("metadata/annotations", create=True),
        spec(
            "spec/template/metadata/annotations", "ReplicationController", version="v1", create=True
        ),
        spec("spec/template/metadata/annotations", "Deployment", create=True),
        spec("spec/template/metadata/annotations", "ReplicaSet", create=True),
        spec("spec/template/metadata/annotations", "DaemonSet", create=True),
        spec("spec/template/metadata/annotations", "StatefulSet", create=True),
        spec("spec/template/metadata/annotations", "Job", group="batch", create=True),
        spec("spec/jobTemplate/metadata/annotations", "CronJob", group="batch", create=True),
        spec(
            "spec/jobTemplate/spec/template/metadata/annotations",
            "CronJob",
            group="batch",
            create=True,
        ),
    ]


def _images() -> list[FieldSpec]:
    return [
        spec(f"{prefix}{field}", create=True)
        for prefix in ("spec/", "spec/template/spec/")
        for field in ("containers[]/image", "initContainers[]/image", "volumes[]/image/reference")
    ]


def _pod_paths(pod_refs: list[str]) -> list[FieldSpec]:
    """The same pod-spec reference fields on v1 Pods, PodTemplates and the workload kinds."""
    out = [spec(f"spec/{p}", "Pod", version="v1") for p in pod_refs]
    out += [spec(f"template/spec/{p}", "PodTemplate") for p in pod_refs]
    for kind in _POD_TEMPLATE_OWNERS:
        out += [spec(f"spec/template/spec/{p}", kind) for p in pod_refs]
    out += [spec(f"spec/jobTemplate/spec/template/spec/{p}", "CronJob") for p in pod_refs]
    return out


def _config_map_referrers() -> tuple[FieldSpec, ...]:
    refs = [
        "volumes/configMap/name",
        "containers/env/valueFrom/configMapKeyRef/name",
        "initContainers/env/valueFrom/configMapKeyRef/name",
        "containers/envFrom/configMapRef/name",
        "initContainers/envFrom/configMapRef/name",
        "volumes/projected/sources/configMap/name",
    ]
    return (
        *_pod_paths(refs),
        spec("spec/configSource/configMap", "Node"),
        spec("rules/resourceNames", "Role"),
        spec("rules/resourceNames", "ClusterRole"),
        spec(
            "metadata/annotations/nginx.ingress.kubernetes.io\\/fastcgi-params-configmap", "Ingress"
        ),
    )


def _secret_referrers() -> tuple[FieldSpec, ...]:
    refs = [
        "volumes/secret/secretName",
        "containers/env/valueFrom/secretKeyRef/name",
        "initContainers/env/valueFrom/secretKeyRef/name",
        "containers/envFrom/secretRef/name",
        "initContainers/envFrom/secretRef/name",
        "imagePullSecrets/name",
        "volumes/projected/sources/secret/name",
    ]
    return (
        *_pod_paths(refs),
        spec("spec/tls/secretName", "Ingress"),
        spec("metadata/annotations/ingress.kubernetes.io\\/auth-secret", "Ingress"),
        spec("metadata/annotations/nginx.ingress.kubernetes.io\\/auth-secret", "Ingress"),
        spec("metadata/annotations/nginx.ingress.kubernetes.io\\/auth-tls-secret", "Ingress"),
        spec("imagePullSecrets/name", "ServiceAccount"),
        *(
            spec(f"parameters/{p}", "StorageClass")
            for p in ("secretName", "adminSecretName", "userSecretName", "secretRef")
        ),
        spec("rules/resourceNames", "Role"),
        spec("rules/resourceNames", "ClusterRole"),
        spec(
            "spec/template/spec/containers/env/valueFrom/secretKeyRef/name",
            "Service",
            group="serving.knative.dev",
            version="v1",
        ),
        spec("spec/azureFile/secretName", "PersistentVolume"),
    )


def _pod_field_referrers(field: str) -> tuple[FieldSpec, ...]:
    """A pod-spec field on Pods and on the kinds holding pod templates (no PodTemplate)."""
    kinds = ("StatefulSet", "Deployment", "ReplicationController", "Job", "DaemonSet")
    return (
        spec(f"spec/{field}", "Pod"),
        *(spec(f"spec/template/spec/{field}", kind) for kind in kinds),
        spec(f"spec/jobTemplate/spec/template/spec/{field}", "CronJob"),
    )


def _name_references() -> tuple[NameReference, ...]:
    rbac = "rbac.authorization.k8s.io"
    admission = "admissionregistration.k8s.io"
    scale = (spec("spec/scaleTargetRef/name", "HorizontalPodAutoscaler"),)
    return (
        *(
            NameReference(Gvk(kind=kind), scale)
            for kind in ("Deployment", "ReplicationController", "ReplicaSet", "StatefulSet")
        ),
        NameReference(Gvk(version="v1", kind="ConfigMap"), _config_map_referrers()),
        NameReference(Gvk(version="v1", kind="Secret"), _secret_referrers()),
        NameReference(
            Gvk(version="v1", kind="Service"),
            (
                spec("spec/serviceName", "StatefulSet", group="apps"),
                spec("spec/rules/http/paths/backend/serviceName", "Ingress"),
                spec("spec/backend/serviceName", "Ingress"),
                spec("spec/rules/http/paths/backend/service/name", "Ingress"),
                spec("spec/defaultBackend/service/name", "Ingress"),
                spec("spec/service/name", "APIService", group="apiregistration.k8s.io"),
                spec(
                    "webhooks/clientConfig/service",
                    "ValidatingWebhookConfiguration",
                    group=admission,
                ),
                spec(
                    "webhooks/clientConfig/service", "MutatingWebhookConfiguration", group=admission
                ),
            ),
        ),
        NameReference(
            Gvk(group=rbac, kind="Role"), (spec("roleRef/name", "RoleBinding", group=rbac),)
        ),
        NameReference(
            Gvk(group=rbac, kind="ClusterRole"),
            (
                spec("roleRef/name", "RoleBinding", group=rbac),
                spec("roleRef/name", "ClusterRoleBinding", group=rbac),
            ),
        ),
        NameReference(
            Gvk(version="v1", kind="ServiceAccount"),
            (
                spec("subjects", "RoleBinding", group=rbac),
                spec("subjects", "ClusterRoleBinding", group=rbac),
                *_pod_field_referrers("serviceAccountName"),
            ),
        ),
        NameReference(
            Gvk(version="v1", kind="PersistentVolumeClaim"),
            _pod_field_referrers("volumes/persistentVolumeClaim/claimName"),
        ),
        NameReference(
            Gvk(version="v1", kind="PersistentVolume"),
            (
                spec("spec/volumeName", "PersistentVolumeClaim"),
                spec("rules/resourceNames", "ClusterRole"),
            ),
        ),
        NameReference(
            Gvk(group="storage.k8s.io", version="v1", kind="StorageClass"),
            (
                spec("spec/storageClassName", "PersistentVolume"),
                spec("spec/storageClassName", "PersistentVolumeClaim"),
                spec("spec/volumeClaimTemplates/spec/storageClassName", "StatefulSet"),
            ),
        ),
        NameReference(
            Gvk(group="scheduling.k8s.io", version="v1", kind="PriorityClass"),
            _pod_field_referrers("priorityClassName"),
        ),
        # kustomize writes this group as "networking.k8s.io/v1", so it never matches.
        NameReference(
            Gvk(group="networking.k8s.io/v1", version="v1", kind="IngressClass"),
            (spec("spec/ingressClassName", "Ingress"),),
        ),
        NameReference(
            Gvk(group=admission, kind="ValidatingAdmissionPolicy"),
            (spec("spec/policyName", "ValidatingAdmissionPolicyBinding", group=admission),),
        ),
    )


def default_config() -> TransformerConfig:
    """Kustomize's built-in field specs."""
    return TransformerConfig(
        name_prefix=(spec("metadata/name"),),
        name_suffix=(spec("metadata/name"),),
        namespace=(
            spec("metadata/name", "Namespace", create=True),
            spec(
                "spec/service/namespace", "APIService", group="apiregistration.k8s.io", create=True
            ),
            spec(
                "spec/conversion/webhook/clientConfig/service/namespace",
                "CustomResourceDefinition",
                group="apiextensions.k8s.io",
            ),
        ),
        common_labels=tuple(_common_labels()),
        template_labels=tuple(_metadata_labels()),
        volume_claim_template_labels=tuple(_volume_claim_labels()),
        common_annotations=tuple(_common_annotations()),
        images=tuple(_images()),
        replicas=tuple(
            spec("spec/replicas", kind, create=True)
            for kind in ("Deployment", "ReplicationController", "ReplicaSet", "StatefulSet")
        ),
        name_reference=_name_references(),
    )


DEFAULT = default_config()
