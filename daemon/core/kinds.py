"""The built-in Kubernetes kinds gitopsd knows without asking a cluster, in one place.

* ``BUILTIN_GROUPS``: the API groups Kubernetes serves itself; every other group is a
  custom resource's (its scope comes from its CRD, its health from kstatus).
* ``CLUSTER_SCOPED``: the built-in kinds (``group/Kind``) that are cluster-scoped; every
  other kind of a built-in group is namespaced.
* ``KIND_ORDER``: Helm's install order (gitops-engine's too); unknown kinds go after it.
* ``STAGE_ZERO``: kinds applied before anything else (Namespaces and CRDs).

The emulator (kubesim) keeps its own tables: it stands alone and never imports daemon.
"""

from __future__ import annotations

from typing import Final

NAMESPACE: Final = "Namespace"
CRD: Final = "CustomResourceDefinition"
CRD_GROUP: Final = "apiextensions.k8s.io"
CRD_GROUP_KIND: Final = (CRD_GROUP, CRD)
"""(group, kind) of a CustomResourceDefinition."""

STAGE_ZERO: Final = frozenset({NAMESPACE, CRD})

BUILTIN_GROUPS: Final = frozenset(
    {
        "",
        "admissionregistration.k8s.io",
        "apiextensions.k8s.io",
        "apiregistration.k8s.io",
        "apps",
        "authentication.k8s.io",
        "authorization.k8s.io",
        "autoscaling",
        "batch",
        "certificates.k8s.io",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "events.k8s.io",
        "extensions",
        "flowcontrol.apiserver.k8s.io",
        "internal.apiserver.k8s.io",
        "networking.k8s.io",
        "node.k8s.io",
        "policy",
        "rbac.authorization.k8s.io",
        "resource.k8s.io",
        "scheduling.k8s.io",
        "storage.k8s.io",
        "storagemigration.k8s.io",
    }
)

CLUSTER_SCOPED: Final = frozenset(
    {
        "/Namespace",
        "/Node",
        "/PersistentVolume",
        "/ComponentStatus",
        "storage.k8s.io/StorageClass",
        "storage.k8s.io/CSIDriver",
        "storage.k8s.io/CSINode",
        "storage.k8s.io/VolumeAttachment",
        "storage.k8s.io/VolumeAttributesClass",
        "rbac.authorization.k8s.io/ClusterRole",
        "rbac.authorization.k8s.io/ClusterRoleBinding",
        "apiextensions.k8s.io/CustomResourceDefinition",
        "apiregistration.k8s.io/APIService",
        "admissionregistration.k8s.io/ValidatingWebhookConfiguration",
        "admissionregistration.k8s.io/MutatingWebhookConfiguration",
        "admissionregistration.k8s.io/ValidatingAdmissionPolicy",
        "admissionregistration.k8s.io/ValidatingAdmissionPolicyBinding",
        "admissionregistration.k8s.io/MutatingAdmissionPolicy",
        "admissionregistration.k8s.io/MutatingAdmissionPolicyBinding",
        "authentication.k8s.io/TokenReview",
        "authentication.k8s.io/SelfSubjectReview",
        "authorization.k8s.io/SubjectAccessReview",
        "authorization.k8s.io/SelfSubjectAccessReview",
        "authorization.k8s.io/SelfSubjectRulesReview",
        "scheduling.k8s.io/PriorityClass",
        "networking.k8s.io/IngressClass",
        "networking.k8s.io/IPAddress",
        "networking.k8s.io/ServiceCIDR",
        "node.k8s.io/RuntimeClass",
        "flowcontrol.apiserver.k8s.io/FlowSchema",
        "flowcontrol.apiserver.k8s.io/PriorityLevelConfiguration",
        "certificates.k8s.io/CertificateSigningRequest",
        "certificates.k8s.io/ClusterTrustBundle",
        "internal.apiserver.k8s.io/StorageVersion",
        "resource.k8s.io/DeviceClass",
        "resource.k8s.io/ResourceSlice",
        "storagemigration.k8s.io/StorageVersionMigration",
    }
)

KIND_ORDER: Final[dict[str, int]] = {
    kind: i
    for i, kind in enumerate(
        [
            "Namespace",
            "NetworkPolicy",
            "ResourceQuota",
            "LimitRange",
            "PodSecurityPolicy",
            "PodDisruptionBudget",
            "ServiceAccount",
            "Secret",
            "SecretList",
            "ConfigMap",
            "StorageClass",
            "PersistentVolume",
            "PersistentVolumeClaim",
            "CustomResourceDefinition",
            "ClusterRole",
            "ClusterRoleList",
            "ClusterRoleBinding",
            "ClusterRoleBindingList",
            "Role",
            "RoleList",
            "RoleBinding",
            "RoleBindingList",
            "Service",
            "DaemonSet",
            "Pod",
            "ReplicationController",
            "ReplicaSet",
            "Deployment",
            "HorizontalPodAutoscaler",
            "StatefulSet",
            "Job",
            "CronJob",
            "IngressClass",
            "Ingress",
            "APIService",
        ]
    )
}
