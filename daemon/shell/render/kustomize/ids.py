"""Resource identities as kustomize sees them: group/version/kind, name, namespace.

kustomize compares identities by *effective* namespace: an empty namespace and
``default`` are the same for namespaced kinds, and every cluster-scoped kind lives in
one pseudo-namespace. What is cluster-scoped is decided by the fixed table below (the
exact apiVersion/kind pairs of kustomize's built-in Kubernetes v1.21 schema); every
other kind, custom resources included, counts as namespaced, as in kustomize.
"""

from __future__ import annotations

from typing import Any, NamedTuple

NOT_NAMESPACEABLE = "_non_namespaceable_"
DEFAULT_NAMESPACE = "default"

CLUSTER_SCOPED = frozenset(
    {
        ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"),
        ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"),
        ("admissionregistration.k8s.io/v1beta1", "MutatingWebhookConfiguration"),
        ("admissionregistration.k8s.io/v1beta1", "ValidatingWebhookConfiguration"),
        ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy"),
        ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding"),
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
        ("apiextensions.k8s.io/v1beta1", "CustomResourceDefinition"),
        ("apiregistration.k8s.io/v1", "APIService"),
        ("apiregistration.k8s.io/v1beta1", "APIService"),
        ("certificates.k8s.io/v1", "CertificateSigningRequest"),
        ("certificates.k8s.io/v1beta1", "CertificateSigningRequest"),
        ("flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema"),
        ("flowcontrol.apiserver.k8s.io/v1beta1", "PriorityLevelConfiguration"),
        ("networking.k8s.io/v1", "IngressClass"),
        ("networking.k8s.io/v1beta1", "IngressClass"),
        ("node.k8s.io/v1", "RuntimeClass"),
        ("node.k8s.io/v1beta1", "RuntimeClass"),
        ("policy/v1beta1", "PodSecurityPolicy"),
        ("rbac.authorization.k8s.io/v1", "ClusterRole"),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
        ("rbac.authorization.k8s.io/v1beta1", "ClusterRole"),
        ("rbac.authorization.k8s.io/v1beta1", "ClusterRoleBinding"),
        ("scheduling.k8s.io/v1", "PriorityClass"),
        ("scheduling.k8s.io/v1beta1", "PriorityClass"),
        ("storage.k8s.io/v1", "CSIDriver"),
        ("storage.k8s.io/v1", "CSINode"),
        ("storage.k8s.io/v1", "StorageClass"),
        ("storage.k8s.io/v1", "VolumeAttachment"),
        ("storage.k8s.io/v1beta1", "CSIDriver"),
        ("storage.k8s.io/v1beta1", "CSINode"),
        ("storage.k8s.io/v1beta1", "StorageClass"),
        ("storage.k8s.io/v1beta1", "VolumeAttachment"),
        ("v1", "ComponentStatus"),
        ("v1", "Namespace"),
        ("v1", "Node"),
        ("v1", "NodeProxyOptions"),
        ("v1", "PersistentVolume"),
    }
)


class Gvk(NamedTuple):
    """Group, version, kind; empty strings act as wildcards when used as a selector."""

    group: str = ""
    version: str = ""
    kind: str = ""

    @property
    def api_version(self) -> str:
        """``group/version``, or ``version`` for the core group."""
        return f"{self.group}/{self.version}" if self.group else self.version

    def is_cluster_scoped(self) -> bool:
        """True when kustomize knows this exact apiVersion/kind to be cluster-scoped."""
        return (self.api_version, self.kind) in CLUSTER_SCOPED

    def is_selected_by(self, selector: Gvk) -> bool:
        """True when every non-empty field of ``selector`` equals this one's."""
        return (
            (not selector.group or selector.group == self.group)
            and (not selector.version or selector.version == self.version)
            and (not selector.kind or selector.kind == self.kind)
        )

    def display(self) -> str:
        """``Kind.version.group`` as kustomize prints it."""
        return ".".join(
            (self.kind or "[noKind]", self.version or "[noVer]", self.group or "[noGrp]")
        )


def split_api_version(api_version: str) -> tuple[str, str]:
    """``(group, version)`` of an apiVersion (split at the first ``/``)."""
    group, slash, version = api_version.partition("/")
    return (group, version) if slash else ("", api_version)


def gvk_of(body: dict[str, Any]) -> Gvk:
    """The Gvk of an object body (missing fields are empty)."""
    api_version = body.get("apiVersion")
    kind = body.get("kind")
    group, version = split_api_version(api_version if isinstance(api_version, str) else "")
    return Gvk(group, version, kind if isinstance(kind, str) else "")


class ResId(NamedTuple):
    """A resource identity. ``cluster`` says whether namespaces are ignored for it."""

    gvk: Gvk
    name: str
    namespace: str
    cluster: bool = False

    def effective_namespace(self) -> str:
        """The namespace used in comparisons (see the module docstring)."""
        if self.cluster:
            return NOT_NAMESPACEABLE
        if self.namespace in ("", DEFAULT_NAMESPACE):
            return DEFAULT_NAMESPACE
        return self.namespace

    def equals(self, other: ResId) -> bool:
        """Same gvk, name and effective namespace."""
        return (
            self.name == other.name
            and self.gvk == other.gvk
            and self.effective_namespace() == other.effective_namespace()
        )

    def gvkn_equals(self, other: ResId) -> bool:
        """Same gvk and name, whatever the namespace."""
        return self.name == other.name and self.gvk == other.gvk

    def display(self) -> str:
        """``Kind.version.group/name.namespace`` as kustomize prints ids in errors."""
        return f"{self.gvk.display()}/{self.name or '[noName]'}.{self.namespace or '[noNs]'}"


def current_id(body: dict[str, Any]) -> ResId:
    """The id of an object body as it is now."""
    gvk = gvk_of(body)
    metadata = body.get("metadata")
    meta = metadata if isinstance(metadata, dict) else {}
    name = meta.get("name")
    namespace = meta.get("namespace")
    return ResId(
        gvk,
        name if isinstance(name, str) else "",
        namespace if isinstance(namespace, str) else "",
        gvk.is_cluster_scoped(),
    )


def legacy_sort_key(rid: ResId, type_orders: dict[str, int]) -> tuple[Any, ...]:
    """Sort key of kustomize's legacy output order (kind priority, then gvk, then ns/name).

    Kinds listed first/last get negative/positive ranks; all others rank 0 and sort by
    ``group_version_kind`` with ``~G``/``~V``/``~K`` for empty parts; ties sort by
    namespace (``~X`` when empty) and name. (A quirk for two Namespace kinds of
    different groups is ignored: only the core Namespace is real.)
    """
    gvk = rid.gvk
    gvk_string = "_".join((gvk.group or "~G", gvk.version or "~V", gvk.kind or "~K"))
    # One joined string, as kustomize compares it: "a|x" sorts after "a-b|x".
    return (type_orders.get(gvk.kind, 0), gvk_string, f"{rid.namespace or '~X'}|{rid.name or '~N'}")
