"""Scalar fields that Go drops from an object when they hold their zero value.

A field declared ``json:"x,omitempty"`` with a non-pointer ``bool``, integer or string
type (or a named string/integer type) vanishes from the JSON a real server returns when
it is ``false``, ``0`` or ``""``: ``paused: false`` on a Deployment, ``readOnly: false``
on a volume mount, ``initialDelaySeconds: 0`` on a probe come back absent. Pointer
fields (``*bool``, ``*int32``: ``replicas``, ``suspend``, ``automountServiceAccountToken``)
keep their zero, and the OpenAPI schema cannot tell the two apart, so this table lists
the value-typed ones by OpenAPI definition name.

Data, not code: derived from kubernetes/api@10b39a39bc (the snapshot KUBE_API.md cites)
``{core,apps,batch,networking,rbac,policy}/v1`` and ``autoscaling/v2`` ``types.go``, every
struct's fields as above, with the fields of anonymously embedded structs folded into
the struct that embeds them, restricted to definitions kubernetes-validate's schemas know.
``conversion`` applies it while decoding.
"""

from __future__ import annotations

OMIT_ZERO: dict[str, frozenset[str]] = {
    "io.k8s.api.apps.v1.DaemonSetCondition": frozenset({"message", "reason"}),
    "io.k8s.api.apps.v1.DaemonSetSpec": frozenset({"minReadySeconds"}),
    "io.k8s.api.apps.v1.DaemonSetStatus": frozenset(
        {"numberAvailable", "numberUnavailable", "observedGeneration", "updatedNumberScheduled"}
    ),
    "io.k8s.api.apps.v1.DaemonSetUpdateStrategy": frozenset({"type"}),
    "io.k8s.api.apps.v1.DeploymentCondition": frozenset({"message", "reason"}),
    "io.k8s.api.apps.v1.DeploymentSpec": frozenset({"minReadySeconds", "paused"}),
    "io.k8s.api.apps.v1.DeploymentStatus": frozenset(
        {
            "availableReplicas",
            "observedGeneration",
            "readyReplicas",
            "replicas",
            "unavailableReplicas",
            "updatedReplicas",
        }
    ),
    "io.k8s.api.apps.v1.DeploymentStrategy": frozenset({"type"}),
    "io.k8s.api.apps.v1.ReplicaSetCondition": frozenset({"message", "reason"}),
    "io.k8s.api.apps.v1.ReplicaSetSpec": frozenset({"minReadySeconds"}),
    "io.k8s.api.apps.v1.ReplicaSetStatus": frozenset(
        {"availableReplicas", "fullyLabeledReplicas", "observedGeneration", "readyReplicas"}
    ),
    "io.k8s.api.apps.v1.StatefulSetCondition": frozenset({"message", "reason"}),
    "io.k8s.api.apps.v1.StatefulSetPersistentVolumeClaimRetentionPolicy": frozenset(
        {"whenDeleted", "whenScaled"}
    ),
    "io.k8s.api.apps.v1.StatefulSetSpec": frozenset({"minReadySeconds", "podManagementPolicy"}),
    "io.k8s.api.apps.v1.StatefulSetStatus": frozenset(
        {
            "currentReplicas",
            "currentRevision",
            "observedGeneration",
            "readyReplicas",
            "updateRevision",
            "updatedReplicas",
        }
    ),
    "io.k8s.api.apps.v1.StatefulSetUpdateStrategy": frozenset({"type"}),
    "io.k8s.api.autoscaling.v2.CrossVersionObjectReference": frozenset({"apiVersion"}),
    "io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerCondition": frozenset({"message", "reason"}),
    "io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerStatus": frozenset({"currentReplicas"}),
    "io.k8s.api.batch.v1.CronJobSpec": frozenset({"concurrencyPolicy"}),
    "io.k8s.api.batch.v1.JobCondition": frozenset({"message", "reason"}),
    "io.k8s.api.batch.v1.JobStatus": frozenset(
        {"active", "completedIndexes", "failed", "succeeded"}
    ),
    "io.k8s.api.core.v1.AWSElasticBlockStoreVolumeSource": frozenset(
        {"fsType", "partition", "readOnly"}
    ),
    "io.k8s.api.core.v1.AzureFilePersistentVolumeSource": frozenset({"readOnly"}),
    "io.k8s.api.core.v1.AzureFileVolumeSource": frozenset({"readOnly"}),
    "io.k8s.api.core.v1.CSIPersistentVolumeSource": frozenset({"fsType", "readOnly"}),
    "io.k8s.api.core.v1.CephFSPersistentVolumeSource": frozenset(
        {"path", "readOnly", "secretFile", "user"}
    ),
    "io.k8s.api.core.v1.CephFSVolumeSource": frozenset({"path", "readOnly", "secretFile", "user"}),
    "io.k8s.api.core.v1.CinderPersistentVolumeSource": frozenset({"fsType", "readOnly"}),
    "io.k8s.api.core.v1.CinderVolumeSource": frozenset({"fsType", "readOnly"}),
    "io.k8s.api.core.v1.ComponentCondition": frozenset({"error", "message"}),
    "io.k8s.api.core.v1.ConfigMapEnvSource": frozenset({"name"}),
    "io.k8s.api.core.v1.ConfigMapKeySelector": frozenset({"name"}),
    "io.k8s.api.core.v1.ConfigMapNodeConfigSource": frozenset({"resourceVersion"}),
    "io.k8s.api.core.v1.ConfigMapProjection": frozenset({"name"}),
    "io.k8s.api.core.v1.ConfigMapVolumeSource": frozenset({"name"}),
    "io.k8s.api.core.v1.Container": frozenset(
        {
            "image",
            "imagePullPolicy",
            "stdin",
            "stdinOnce",
            "terminationMessagePath",
            "terminationMessagePolicy",
            "tty",
            "workingDir",
        }
    ),
    "io.k8s.api.core.v1.ContainerImage": frozenset({"sizeBytes"}),
    "io.k8s.api.core.v1.ContainerPort": frozenset({"hostIP", "hostPort", "name", "protocol"}),
    "io.k8s.api.core.v1.ContainerRestartRule": frozenset({"action"}),
    "io.k8s.api.core.v1.ContainerRestartRuleOnExitCodes": frozenset({"operator"}),
    "io.k8s.api.core.v1.ContainerStateTerminated": frozenset(
        {"containerID", "message", "reason", "signal"}
    ),
    "io.k8s.api.core.v1.ContainerStateWaiting": frozenset({"message", "reason"}),
    "io.k8s.api.core.v1.ContainerStatus": frozenset({"containerID"}),
    "io.k8s.api.core.v1.EmptyDirVolumeSource": frozenset({"medium"}),
    "io.k8s.api.core.v1.EndpointAddress": frozenset({"hostname"}),
    "io.k8s.api.core.v1.EndpointPort": frozenset({"name", "protocol"}),
    "io.k8s.api.core.v1.EnvFromSource": frozenset({"prefix"}),
    "io.k8s.api.core.v1.EnvVar": frozenset({"value"}),
    "io.k8s.api.core.v1.EphemeralContainer": frozenset(
        {
            "image",
            "imagePullPolicy",
            "stdin",
            "stdinOnce",
            "targetContainerName",
            "terminationMessagePath",
            "terminationMessagePolicy",
            "tty",
            "workingDir",
        }
    ),
    "io.k8s.api.core.v1.Event": frozenset({"action", "count", "message", "reason", "type"}),
    "io.k8s.api.core.v1.EventSeries": frozenset({"count"}),
    "io.k8s.api.core.v1.EventSource": frozenset({"component", "host"}),
    "io.k8s.api.core.v1.FCVolumeSource": frozenset({"fsType", "readOnly"}),
    "io.k8s.api.core.v1.FlexPersistentVolumeSource": frozenset({"fsType", "readOnly"}),
    "io.k8s.api.core.v1.FlexVolumeSource": frozenset({"fsType", "readOnly"}),
    "io.k8s.api.core.v1.FlockerVolumeSource": frozenset({"datasetName", "datasetUUID"}),
    "io.k8s.api.core.v1.GCEPersistentDiskVolumeSource": frozenset(
        {"fsType", "partition", "readOnly"}
    ),
    "io.k8s.api.core.v1.GitRepoVolumeSource": frozenset({"directory", "revision"}),
    "io.k8s.api.core.v1.GlusterfsPersistentVolumeSource": frozenset({"readOnly"}),
    "io.k8s.api.core.v1.GlusterfsVolumeSource": frozenset({"readOnly"}),
    "io.k8s.api.core.v1.HTTPGetAction": frozenset({"host", "path", "scheme"}),
    "io.k8s.api.core.v1.ISCSIPersistentVolumeSource": frozenset(
        {"chapAuthDiscovery", "chapAuthSession", "fsType", "iscsiInterface", "readOnly"}
    ),
    "io.k8s.api.core.v1.ISCSIVolumeSource": frozenset(
        {"chapAuthDiscovery", "chapAuthSession", "fsType", "iscsiInterface", "readOnly"}
    ),
    "io.k8s.api.core.v1.ImageVolumeSource": frozenset({"pullPolicy", "reference"}),
    "io.k8s.api.core.v1.LoadBalancerIngress": frozenset({"hostname", "ip"}),
    "io.k8s.api.core.v1.LocalObjectReference": frozenset({"name"}),
    "io.k8s.api.core.v1.ModifyVolumeStatus": frozenset({"targetVolumeAttributesClassName"}),
    "io.k8s.api.core.v1.NFSVolumeSource": frozenset({"readOnly"}),
    "io.k8s.api.core.v1.NamespaceCondition": frozenset({"message", "reason"}),
    "io.k8s.api.core.v1.NamespaceStatus": frozenset({"phase"}),
    "io.k8s.api.core.v1.NodeCondition": frozenset({"message", "reason"}),
    "io.k8s.api.core.v1.NodeConfigStatus": frozenset({"error"}),
    "io.k8s.api.core.v1.NodeSpec": frozenset(
        {"externalID", "podCIDR", "providerID", "unschedulable"}
    ),
    "io.k8s.api.core.v1.NodeStatus": frozenset({"phase"}),
    "io.k8s.api.core.v1.ObjectFieldSelector": frozenset({"apiVersion"}),
    "io.k8s.api.core.v1.ObjectReference": frozenset(
        {"apiVersion", "fieldPath", "kind", "name", "namespace", "resourceVersion"}
    ),
    "io.k8s.api.core.v1.PersistentVolumeClaimCondition": frozenset({"message", "reason"}),
    "io.k8s.api.core.v1.PersistentVolumeClaimSpec": frozenset({"volumeName"}),
    "io.k8s.api.core.v1.PersistentVolumeClaimStatus": frozenset({"phase"}),
    "io.k8s.api.core.v1.PersistentVolumeClaimVolumeSource": frozenset({"readOnly"}),
    "io.k8s.api.core.v1.PersistentVolumeSpec": frozenset(
        {"persistentVolumeReclaimPolicy", "storageClassName"}
    ),
    "io.k8s.api.core.v1.PersistentVolumeStatus": frozenset({"message", "phase", "reason"}),
    "io.k8s.api.core.v1.PhotonPersistentDiskVolumeSource": frozenset({"fsType"}),
    "io.k8s.api.core.v1.PodCertificateProjection": frozenset(
        {"certificateChainPath", "credentialBundlePath", "keyPath", "keyType", "signerName"}
    ),
    "io.k8s.api.core.v1.PodCondition": frozenset({"message", "observedGeneration", "reason"}),
    "io.k8s.api.core.v1.PodDNSConfigOption": frozenset({"name"}),
    "io.k8s.api.core.v1.PodSpec": frozenset(
        {
            "dnsPolicy",
            "hostIPC",
            "hostNetwork",
            "hostPID",
            "hostname",
            "nodeName",
            "priorityClassName",
            "restartPolicy",
            "schedulerName",
            "serviceAccount",
            "serviceAccountName",
            "subdomain",
        }
    ),
    "io.k8s.api.core.v1.PodStatus": frozenset(
        {
            "hostIP",
            "message",
            "nominatedNodeName",
            "observedGeneration",
            "phase",
            "podIP",
            "qosClass",
            "reason",
            "resize",
        }
    ),
    "io.k8s.api.core.v1.PortworxVolumeSource": frozenset({"fsType", "readOnly"}),
    "io.k8s.api.core.v1.Probe": frozenset(
        {
            "failureThreshold",
            "initialDelaySeconds",
            "periodSeconds",
            "successThreshold",
            "timeoutSeconds",
        }
    ),
    "io.k8s.api.core.v1.QuobyteVolumeSource": frozenset({"group", "readOnly", "tenant", "user"}),
    "io.k8s.api.core.v1.RBDPersistentVolumeSource": frozenset(
        {"fsType", "keyring", "pool", "readOnly", "user"}
    ),
    "io.k8s.api.core.v1.RBDVolumeSource": frozenset(
        {"fsType", "keyring", "pool", "readOnly", "user"}
    ),
    "io.k8s.api.core.v1.ReplicationControllerCondition": frozenset({"message", "reason"}),
    "io.k8s.api.core.v1.ReplicationControllerSpec": frozenset({"minReadySeconds"}),
    "io.k8s.api.core.v1.ReplicationControllerStatus": frozenset(
        {"availableReplicas", "fullyLabeledReplicas", "observedGeneration", "readyReplicas"}
    ),
    "io.k8s.api.core.v1.ResourceClaim": frozenset({"request"}),
    "io.k8s.api.core.v1.ResourceFieldSelector": frozenset({"containerName"}),
    "io.k8s.api.core.v1.ResourceHealth": frozenset({"health"}),
    "io.k8s.api.core.v1.SELinuxOptions": frozenset({"level", "role", "type", "user"}),
    "io.k8s.api.core.v1.ScaleIOPersistentVolumeSource": frozenset(
        {
            "fsType",
            "protectionDomain",
            "readOnly",
            "sslEnabled",
            "storageMode",
            "storagePool",
            "volumeName",
        }
    ),
    "io.k8s.api.core.v1.ScaleIOVolumeSource": frozenset(
        {
            "fsType",
            "protectionDomain",
            "readOnly",
            "sslEnabled",
            "storageMode",
            "storagePool",
            "volumeName",
        }
    ),
    "io.k8s.api.core.v1.Secret": frozenset({"type"}),
    "io.k8s.api.core.v1.SecretEnvSource": frozenset({"name"}),
    "io.k8s.api.core.v1.SecretKeySelector": frozenset({"name"}),
    "io.k8s.api.core.v1.SecretProjection": frozenset({"name"}),
    "io.k8s.api.core.v1.SecretReference": frozenset({"name", "namespace"}),
    "io.k8s.api.core.v1.SecretVolumeSource": frozenset({"secretName"}),
    "io.k8s.api.core.v1.ServiceAccountTokenProjection": frozenset({"audience"}),
    "io.k8s.api.core.v1.ServicePort": frozenset({"name", "nodePort", "protocol"}),
    "io.k8s.api.core.v1.ServiceSpec": frozenset(
        {
            "clusterIP",
            "externalName",
            "externalTrafficPolicy",
            "healthCheckNodePort",
            "loadBalancerIP",
            "publishNotReadyAddresses",
            "sessionAffinity",
            "type",
        }
    ),
    "io.k8s.api.core.v1.StorageOSPersistentVolumeSource": frozenset(
        {"fsType", "readOnly", "volumeName", "volumeNamespace"}
    ),
    "io.k8s.api.core.v1.StorageOSVolumeSource": frozenset(
        {"fsType", "readOnly", "volumeName", "volumeNamespace"}
    ),
    "io.k8s.api.core.v1.TCPSocketAction": frozenset({"host"}),
    "io.k8s.api.core.v1.Taint": frozenset({"value"}),
    "io.k8s.api.core.v1.Toleration": frozenset({"effect", "key", "operator", "value"}),
    "io.k8s.api.core.v1.VolumeMount": frozenset({"readOnly", "subPath", "subPathExpr"}),
    "io.k8s.api.core.v1.VolumeMountStatus": frozenset({"readOnly"}),
    "io.k8s.api.core.v1.VsphereVirtualDiskVolumeSource": frozenset(
        {"fsType", "storagePolicyID", "storagePolicyName"}
    ),
    "io.k8s.api.networking.v1.HTTPIngressPath": frozenset({"path"}),
    "io.k8s.api.networking.v1.IngressClassSpec": frozenset({"controller"}),
    "io.k8s.api.networking.v1.IngressLoadBalancerIngress": frozenset({"hostname", "ip"}),
    "io.k8s.api.networking.v1.IngressRule": frozenset({"host"}),
    "io.k8s.api.networking.v1.IngressTLS": frozenset({"secretName"}),
    "io.k8s.api.networking.v1.ParentReference": frozenset(
        {"group", "name", "namespace", "resource"}
    ),
    "io.k8s.api.networking.v1.ServiceBackendPort": frozenset({"name", "number"}),
    "io.k8s.api.policy.v1.PodDisruptionBudgetStatus": frozenset({"observedGeneration"}),
    "io.k8s.api.rbac.v1.Subject": frozenset({"apiGroup", "namespace"}),
}
