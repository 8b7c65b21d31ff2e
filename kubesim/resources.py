"""Resource descriptors: what the emulator serves and how each type behaves.

One :class:`ResourceType` per served resource (KUBE_API.md §8.2): names for discovery,
scope, verbs, subresources, the generation rule, update/patch/delete quirks and the
extra field selectors. :func:`builtins` lists the built-in types; CRDs add descriptors at
run time through :func:`from_crd`. The registry of what is served right now, the
discovery documents and the URL lookup live in ``catalog``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

JSON = dict[str, Any]

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
CR_VERBS = ("delete", "deletecollection", "get", "list", "patch", "create", "update", "watch")
SUB_VERBS = ("get", "patch", "update")


class Generation(StrEnum):
    """When ``metadata.generation`` moves (KUBE_API.md §2.2)."""

    NONE = "none"  # never set (ConfigMap, Secret, Service, ...)
    SPEC = "spec"  # +1 when spec changes
    SPEC_OR_ANNOTATIONS = "spec-or-annotations"  # Deployment
    NON_METADATA = "non-metadata"  # custom resources: anything outside metadata (and status)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScalePaths:
    """Where a resource keeps what ``/scale`` shows (CRDs declare these)."""

    spec_replicas: str = ".spec.replicas"
    status_replicas: str = ".status.replicas"
    label_selector: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ResourceType:
    """One served resource and its behaviour."""

    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    verbs: tuple[str, ...] = ALL_VERBS
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    status: bool = False
    scale: ScalePaths | None = None
    extra_subresources: tuple[tuple[str, str, tuple[str, ...]], ...] = ()  # (name, kind, verbs)
    generation: Generation = Generation.NONE
    unconditional_update: bool = True
    strategic_merge: bool = True
    return_deleted_object: bool = False
    orphan_by_default: bool = False
    selectable_fields: tuple[str, ...] = ()
    custom: bool = False
    schema: JSON | None = None  # a CRD version's openAPIV3Schema
    preserve_unknown: bool = False

    @property
    def api_version(self) -> str:
        """``apps/v1``, or ``v1`` for the core group."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        """The kind of a list of these objects."""
        return f"{self.kind}List"

    @property
    def rid(self) -> str:
        """The storage id of the resource: ``plural.group`` (version-independent)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified(self) -> str:
        """``deployments.apps`` / ``configmaps``: how errors name the resource."""
        return self.rid

    @property
    def qualified_kind(self) -> str:
        """``Deployment.apps`` / ``ConfigMap``: how Invalid errors name the kind."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    def has_subresource(self, name: str) -> bool:
        """Whether ``{plural}/{name}`` is served."""
        if name == "status":
            return self.status
        if name == "scale":
            return self.scale is not None
        return any(sub == name for sub, _, _ in self.extra_subresources)


def _t(
    group: str,
    plural: str,
    kind: str,
    *,
    namespaced: bool = True,
    version: str = "v1",
    **kwargs: Any,
) -> ResourceType:
    singular = kwargs.pop("singular", kind.lower())
    return ResourceType(
        group=group,
        version=version,
        plural=plural,
        singular=singular,
        kind=kind,
        namespaced=namespaced,
        **kwargs,
    )


_POD_FIELDS = (
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
)
_EVENT_FIELDS = (
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
)
_NS_FINALIZE = (("finalize", "Namespace", ("update",)),)
_SCALE = ScalePaths()


def builtins() -> list[ResourceType]:
    """Every built-in type the emulator serves (issue 3's list)."""
    spec = Generation.SPEC
    return [
        # core/v1
        _t("", "configmaps", "ConfigMap", short_names=("cm",)),
        _t("", "events", "Event", short_names=("ev",), selectable_fields=_EVENT_FIELDS),
        _t("", "limitranges", "LimitRange", short_names=("limits",)),
        _t(
            "",
            "namespaces",
            "Namespace",
            namespaced=False,
            verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
            short_names=("ns",),
            status=True,
            extra_subresources=_NS_FINALIZE,
            selectable_fields=("status.phase",),
        ),
        _t(
            "",
            "persistentvolumeclaims",
            "PersistentVolumeClaim",
            short_names=("pvc",),
            status=True,
        ),
        _t(
            "",
            "pods",
            "Pod",
            short_names=("po",),
            categories=("all",),
            status=True,
            generation=spec,
            return_deleted_object=True,
            selectable_fields=_POD_FIELDS,
        ),
        _t("", "resourcequotas", "ResourceQuota", short_names=("quota",), status=True),
        _t("", "secrets", "Secret", selectable_fields=("type",)),
        _t(
            "",
            "serviceaccounts",
            "ServiceAccount",
            short_names=("sa",),
            return_deleted_object=True,
        ),
        _t(
            "",
            "services",
            "Service",
            short_names=("svc",),
            categories=("all",),
            status=True,
            selectable_fields=("spec.clusterIP", "spec.type"),
        ),
        # apps/v1
        _t(
            "apps",
            "daemonsets",
            "DaemonSet",
            short_names=("ds",),
            categories=("all",),
            status=True,
            generation=spec,
        ),
        _t(
            "apps",
            "deployments",
            "Deployment",
            short_names=("deploy",),
            categories=("all",),
            status=True,
            scale=_SCALE,
            generation=Generation.SPEC_OR_ANNOTATIONS,
        ),
        _t(
            "apps",
            "replicasets",
            "ReplicaSet",
            short_names=("rs",),
            categories=("all",),
            status=True,
            scale=_SCALE,
            generation=spec,
            selectable_fields=("status.replicas",),
        ),
        _t(
            "apps",
            "statefulsets",
            "StatefulSet",
            short_names=("sts",),
            categories=("all",),
            status=True,
            scale=_SCALE,
            generation=spec,
        ),
        # batch/v1
        _t(
            "batch",
            "cronjobs",
            "CronJob",
            short_names=("cj",),
            categories=("all",),
            status=True,
            generation=spec,
        ),
        _t(
            "batch",
            "jobs",
            "Job",
            categories=("all",),
            status=True,
            generation=spec,
            orphan_by_default=True,
            selectable_fields=("status.successful",),
        ),
        # networking.k8s.io/v1
        _t(
            "networking.k8s.io",
            "ingresses",
            "Ingress",
            short_names=("ing",),
            status=True,
            generation=spec,
        ),
        _t(
            "networking.k8s.io",
            "networkpolicies",
            "NetworkPolicy",
            short_names=("netpol",),
            generation=spec,
            singular="networkpolicy",
        ),
        # rbac.authorization.k8s.io/v1
        _t(
            "rbac.authorization.k8s.io",
            "clusterrolebindings",
            "ClusterRoleBinding",
            namespaced=False,
        ),
        _t("rbac.authorization.k8s.io", "clusterroles", "ClusterRole", namespaced=False),
        _t("rbac.authorization.k8s.io", "rolebindings", "RoleBinding"),
        _t("rbac.authorization.k8s.io", "roles", "Role"),
        # autoscaling/v2
        _t(
            "autoscaling",
            "horizontalpodautoscalers",
            "HorizontalPodAutoscaler",
            version="v2",
            short_names=("hpa",),
            categories=("all",),
            status=True,
            generation=spec,
        ),
        # policy/v1
        _t(
            "policy",
            "poddisruptionbudgets",
            "PodDisruptionBudget",
            short_names=("pdb",),
            status=True,
            generation=spec,
        ),
        # apiextensions.k8s.io/v1
        _t(
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            "CustomResourceDefinition",
            namespaced=False,
            short_names=("crd", "crds"),
            categories=("api-extensions",),
            status=True,
            generation=spec,
            singular="customresourcedefinition",
        ),
    ]


# The order /apis lists the built-in groups in (a real server's order, trimmed).
GROUP_ORDER = (
    "apps",
    "autoscaling",
    "batch",
    "networking.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "apiextensions.k8s.io",
)


def from_crd(crd: JSON) -> list[ResourceType]:
    """One descriptor per served version of an (established) CRD."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    out = []
    for ver in spec.get("versions") or []:
        if not ver.get("served", False):
            continue
        subs = ver.get("subresources") or {}
        scale = subs.get("scale")
        schema = (ver.get("schema") or {}).get("openAPIV3Schema")
        out.append(
            ResourceType(
                group=spec.get("group", ""),
                version=ver.get("name", ""),
                plural=names.get("plural", ""),
                singular=names.get("singular") or names.get("kind", "").lower(),
                kind=names.get("kind", ""),
                namespaced=spec.get("scope") == "Namespaced",
                verbs=CR_VERBS,
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                status="status" in subs,
                scale=None
                if scale is None
                else ScalePaths(
                    spec_replicas=scale.get("specReplicasPath", ".spec.replicas"),
                    status_replicas=scale.get("statusReplicasPath", ".status.replicas"),
                    label_selector=scale.get("labelSelectorPath", ""),
                ),
                generation=Generation.NON_METADATA,
                unconditional_update=False,
                strategic_merge=False,
                custom=True,
                selectable_fields=tuple(
                    f["jsonPath"].lstrip(".") for f in ver.get("selectableFields") or []
                ),
                schema=schema,
                preserve_unknown=bool((schema or {}).get("x-kubernetes-preserve-unknown-fields")),
            )
        )
    return out


def storage_version(crd: JSON) -> str:
    """The CRD version marked ``storage: true``; objects are kept in that version."""
    versions = (crd.get("spec") or {}).get("versions") or []
    for ver in versions:
        if ver.get("storage"):
            return str(ver.get("name", ""))
    return str(versions[0].get("name", "")) if versions else ""
