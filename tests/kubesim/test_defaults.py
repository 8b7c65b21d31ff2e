"""Server-side defaulting (kubesim.defaults).

Expected objects are written from KUBE_API.md §2.2 and the SetDefaults_* functions of
kubernetes' pkg/apis/{core,apps,batch,networking,autoscaling,rbac}/v1/defaults.go.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubesim import defaults, schema

JSON = dict[str, Any]

POD_SPEC_DEFAULTS: JSON = {
    "dnsPolicy": "ClusterFirst",
    "restartPolicy": "Always",
    "securityContext": {},
    "terminationGracePeriodSeconds": 30,
    "schedulerName": "default-scheduler",
}


def container(**extra: Any) -> JSON:
    """A container as the server stores it after defaulting."""
    return {
        "imagePullPolicy": "IfNotPresent",
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "resources": {},
        **extra,
    }


def template(*containers: JSON, **spec: Any) -> JSON:
    return {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": list(containers), **spec},
    }


def test_deployment_defaults() -> None:
    """The minimum set of KUBE_API.md §2.2 for a Deployment and its pod template."""
    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": template(
                {"name": "nginx", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}
            ),
        },
    }
    assert defaults.apply_defaults(obj, group="apps", kind="Deployment") == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 1,
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        container(
                            name="nginx",
                            image="nginx:1.25",
                            ports=[{"containerPort": 80, "protocol": "TCP"}],
                        )
                    ],
                    **POD_SPEC_DEFAULTS,
                },
            },
        },
    }


def test_recreate_strategy_gets_no_rolling_update() -> None:
    """Only RollingUpdate deployments get rollingUpdate defaults."""
    obj = {"spec": {"strategy": {"type": "Recreate"}, "template": template()}}
    assert defaults.apply_defaults(obj, group="apps", kind="Deployment")["spec"]["strategy"] == {
        "type": "Recreate"
    }


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.25", "IfNotPresent"),
        ("registry.example.com:5000/team/app", "Always"),
        ("registry.example.com:5000/team/app:v2", "IfNotPresent"),
        ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
        ("nginx:latest@sha256:" + "b" * 64, "Always"),
        ("localhost/app", "Always"),
    ],
)
def test_image_pull_policy_rule(image: str, policy: str) -> None:
    """Always for :latest or no tag (and no digest), otherwise IfNotPresent (§2.2)."""
    obj = {"spec": {"template": template({"name": "c", "image": image})}}
    result = defaults.apply_defaults(obj, group="apps", kind="Deployment")
    assert result["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == policy


def test_explicit_values_are_kept() -> None:
    """Defaulting never overrides what the object already says."""
    obj = {
        "spec": {
            "replicas": 0,
            "revisionHistoryLimit": 2,
            "template": template(
                {
                    "name": "c",
                    "image": "x",
                    "imagePullPolicy": "Never",
                    "ports": [{"containerPort": 53, "protocol": "UDP"}],
                },
                restartPolicy="Never",
                terminationGracePeriodSeconds=5,
            ),
        }
    }
    spec = defaults.apply_defaults(obj, group="apps", kind="Deployment")["spec"]
    assert (spec["replicas"], spec["revisionHistoryLimit"]) == (0, 2)
    pod = spec["template"]["spec"]
    assert (pod["restartPolicy"], pod["terminationGracePeriodSeconds"]) == ("Never", 5)
    assert pod["containers"][0]["imagePullPolicy"] == "Never"
    assert pod["containers"][0]["ports"] == [{"containerPort": 53, "protocol": "UDP"}]


def test_defaulting_is_idempotent_and_pure() -> None:
    """A second pass changes nothing, and the input is never mutated."""
    obj = {"spec": {"template": template({"name": "c", "image": "x"})}}
    before = copy.deepcopy(obj)
    once = defaults.apply_defaults(obj, group="apps", kind="Deployment")
    assert defaults.apply_defaults(once, group="apps", kind="Deployment") == once
    assert obj == before


def test_kinds_without_defaults_come_back_unchanged() -> None:
    """ConfigMaps and ServiceAccounts have no defaults: the same object is returned."""
    obj = {"metadata": {"name": "c"}, "data": {"a": "1"}}
    assert defaults.apply_defaults(obj, group="", kind="ConfigMap") is obj
    assert defaults.has_defaults(group="", kind="ServiceAccount") is False


def test_probe_volume_and_env_defaults() -> None:
    """Probes, HTTP actions, volume modes, empty volumes and fieldRefs get their defaults."""
    obj = {
        "spec": {
            "template": template(
                {
                    "name": "c",
                    "image": "x:1",
                    "livenessProbe": {"httpGet": {"port": 8080}},
                    "env": [
                        {"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
                    ],
                },
                volumes=[
                    {"name": "cfg", "configMap": {"name": "c"}},
                    {"name": "tmp"},
                    {"name": "s", "secret": {"secretName": "s"}},
                ],
            )
        }
    }
    pod = defaults.apply_defaults(obj, group="apps", kind="Deployment")["spec"]["template"]["spec"]
    assert pod["containers"][0]["livenessProbe"] == {
        "httpGet": {"port": 8080, "path": "/", "scheme": "HTTP"},
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }
    assert pod["containers"][0]["env"] == [
        {"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name", "apiVersion": "v1"}}}
    ]
    assert pod["volumes"] == [
        {"name": "cfg", "configMap": {"name": "c", "defaultMode": 420}},
        {"name": "tmp", "emptyDir": {}},
        {"name": "s", "secret": {"secretName": "s", "defaultMode": 420}},
    ]


def test_service_account_name_and_deprecated_alias_agree() -> None:
    """v1 conversion keeps serviceAccount equal to serviceAccountName."""
    obj = {"spec": {"template": template(serviceAccountName="robot")}}
    pod = defaults.apply_defaults(obj, group="apps", kind="Deployment")["spec"]["template"]["spec"]
    assert (pod["serviceAccountName"], pod["serviceAccount"]) == ("robot", "robot")


def test_service_defaults() -> None:
    """A ClusterIP Service as §2.2 lists it (the IP comes from the allocator hook)."""
    obj = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {
            "selector": {"app": "web"},
            "ports": [{"port": 80}, {"port": 443, "targetPort": "https"}],
        },
    }
    assert defaults.apply_defaults(
        obj, group="", kind="Service", allocate_ip=lambda: "10.96.0.10"
    ) == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {
            "selector": {"app": "web"},
            "ports": [
                {"port": 80, "protocol": "TCP", "targetPort": 80},
                {"port": 443, "targetPort": "https", "protocol": "TCP"},
            ],
            "type": "ClusterIP",
            "clusterIP": "10.96.0.10",
            "clusterIPs": ["10.96.0.10"],
            "sessionAffinity": "None",
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "internalTrafficPolicy": "Cluster",
        },
    }


def test_load_balancer_and_external_name_services() -> None:
    """LoadBalancers get traffic-policy defaults; ExternalName services get no IP fields."""
    lb = defaults.apply_defaults(
        {"spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}}, group="", kind="Service"
    )
    assert {
        k: lb["spec"].get(k)
        for k in ("externalTrafficPolicy", "allocateLoadBalancerNodePorts", "internalTrafficPolicy")
    } == {
        "externalTrafficPolicy": "Cluster",
        "allocateLoadBalancerNodePorts": True,
        "internalTrafficPolicy": "Cluster",
    }
    ext = defaults.apply_defaults(
        {"spec": {"type": "ExternalName", "externalName": "x.example.com"}},
        group="",
        kind="Service",
        allocate_ip=lambda: "10.96.0.99",
    )
    assert ext["spec"] == {
        "type": "ExternalName",
        "externalName": "x.example.com",
        "sessionAffinity": "None",
    }


def test_client_ip_session_affinity_gets_a_timeout() -> None:
    """A ClientIP session affinity defaults its timeout to 10800 seconds."""
    svc = defaults.apply_defaults(
        {"spec": {"sessionAffinity": "ClientIP"}}, group="", kind="Service"
    )
    assert svc["spec"]["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}


def test_stateful_set_defaults() -> None:
    """podManagementPolicy, updateStrategy with partition 0, retention policy, claim templates."""
    obj = {
        "spec": {
            "serviceName": "db",
            "template": template(),
            "volumeClaimTemplates": [
                {"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}
            ],
        }
    }
    spec = defaults.apply_defaults(obj, group="apps", kind="StatefulSet")["spec"]
    assert {k: v for k, v in spec.items() if k not in ("template", "serviceName")} == {
        "replicas": 1,
        "revisionHistoryLimit": 10,
        "podManagementPolicy": "OrderedReady",
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
        "volumeClaimTemplates": [
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem"},
                "status": {"phase": "Pending"},
            }
        ],
    }


def test_stateful_set_on_delete_gets_no_partition() -> None:
    """An explicit OnDelete strategy is left alone."""
    spec = defaults.apply_defaults(
        {"spec": {"updateStrategy": {"type": "OnDelete"}}}, group="apps", kind="StatefulSet"
    )["spec"]
    assert spec["updateStrategy"] == {"type": "OnDelete"}


def test_daemon_set_defaults() -> None:
    """RollingUpdate with maxUnavailable 1 and maxSurge 0; revisionHistoryLimit 10."""
    spec = defaults.apply_defaults(
        {"spec": {"template": template()}}, group="apps", kind="DaemonSet"
    )["spec"]
    assert (spec["updateStrategy"], spec["revisionHistoryLimit"]) == (
        {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
        10,
    )


def test_job_defaults_and_labels_from_the_template() -> None:
    """Job spec defaults; the Job takes its template's labels when it has none."""
    obj = {"metadata": {"name": "j"}, "spec": {"template": template(restartPolicy="Never")}}
    result = defaults.apply_defaults(obj, group="batch", kind="Job")
    assert result["metadata"] == {"name": "j", "labels": {"app": "web"}}
    assert {k: v for k, v in result["spec"].items() if k != "template"} == {
        "completions": 1,
        "parallelism": 1,
        "backoffLimit": 6,
        "completionMode": "NonIndexed",
        "suspend": False,
        "podReplacementPolicy": "TerminatingOrFailed",
        "manualSelector": False,
    }


def test_job_with_failure_policy_replaces_failed_pods_only() -> None:
    """The pod replacement policy is Failed when a podFailurePolicy is set; backoff per index."""
    obj = {
        "spec": {
            "parallelism": 3,
            "backoffLimitPerIndex": 1,
            "podFailurePolicy": {
                "rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]
            },
            "template": template(),
        }
    }
    spec = defaults.apply_defaults(obj, group="batch", kind="Job")["spec"]
    assert (
        spec.get("completions"),
        spec["parallelism"],
        spec["backoffLimit"],
        spec["podReplacementPolicy"],
    ) == (None, 3, 2147483647, "Failed")
    assert spec["podFailurePolicy"]["rules"][0]["onPodConditions"] == [
        {"type": "DisruptionTarget", "status": "True"}
    ]


def test_job_selector_is_generated_on_create() -> None:
    """The job strategy labels the template and selects on batch.kubernetes.io/controller-uid."""
    obj = {"metadata": {"name": "j", "uid": "u-1"}, "spec": {"template": template()}}
    result = defaults.prepare_for_create(obj, group="batch", kind="Job")
    assert result["spec"]["selector"] == {
        "matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}
    }
    assert result["spec"]["template"]["metadata"]["labels"] == {
        "app": "web",
        "job-name": "j",
        "batch.kubernetes.io/job-name": "j",
        "controller-uid": "u-1",
        "batch.kubernetes.io/controller-uid": "u-1",
    }


def test_manual_selector_job_is_not_touched_on_create() -> None:
    """manualSelector: true keeps the user's selector and labels."""
    obj = {
        "metadata": {"name": "j", "uid": "u"},
        "spec": {
            "manualSelector": True,
            "selector": {"matchLabels": {"a": "b"}},
            "template": template(),
        },
    }
    assert defaults.prepare_for_create(obj, group="batch", kind="Job") == obj


def test_cron_job_defaults() -> None:
    """CronJob spec defaults; the job template's pod spec is defaulted, its Job spec is not."""
    obj = {
        "spec": {
            "schedule": "* * * * *",
            "jobTemplate": {"spec": {"template": template(restartPolicy="OnFailure")}},
        }
    }
    spec = defaults.apply_defaults(obj, group="batch", kind="CronJob")["spec"]
    assert {k: v for k, v in spec.items() if k != "jobTemplate"} == {
        "schedule": "* * * * *",
        "concurrencyPolicy": "Allow",
        "suspend": False,
        "successfulJobsHistoryLimit": 3,
        "failedJobsHistoryLimit": 1,
    }
    assert list(spec["jobTemplate"]["spec"]) == ["template"]
    assert spec["jobTemplate"]["spec"]["template"]["spec"]["schedulerName"] == "default-scheduler"


def test_namespace_defaults_and_create_finalizer() -> None:
    """Namespaces get the metadata.name label and phase Active; create adds the finalizer."""
    obj = {"metadata": {"name": "team"}}
    defaulted = defaults.apply_defaults(obj, group="", kind="Namespace")
    assert defaulted == {
        "metadata": {"name": "team", "labels": {"kubernetes.io/metadata.name": "team"}},
        "status": {"phase": "Active"},
    }
    assert defaults.prepare_for_create(defaulted, group="", kind="Namespace")["spec"] == {
        "finalizers": ["kubernetes"]
    }


def test_pvc_and_secret_defaults() -> None:
    """PVCs default volumeMode and phase; Secrets default their type."""
    pvc = defaults.apply_defaults(
        {"spec": {"accessModes": ["ReadWriteOnce"]}}, group="", kind="PersistentVolumeClaim"
    )
    assert pvc == {
        "spec": {"accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem"},
        "status": {"phase": "Pending"},
    }
    assert defaults.apply_defaults({"data": {}}, group="", kind="Secret") == {
        "data": {},
        "type": "Opaque",
    }


def test_pod_only_defaults() -> None:
    """Pods (not templates) get enableServiceLinks and requests copied from limits."""
    obj = {
        "spec": {
            "containers": [{"name": "c", "image": "x:1", "resources": {"limits": {"cpu": "1"}}}]
        }
    }
    spec = defaults.apply_defaults(obj, group="", kind="Pod")["spec"]
    assert spec["enableServiceLinks"] is True
    assert spec["containers"][0]["resources"] == {"limits": {"cpu": "1"}, "requests": {"cpu": "1"}}


def test_network_policy_defaults() -> None:
    """The policy types follow the rules present; ports default to TCP."""
    obj = {"spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}], "egress": [{}]}}
    spec = defaults.apply_defaults(obj, group="networking.k8s.io", kind="NetworkPolicy")["spec"]
    assert (spec["policyTypes"], spec["ingress"][0]["ports"]) == (
        ["Ingress", "Egress"],
        [{"port": 80, "protocol": "TCP"}],
    )


def test_hpa_defaults() -> None:
    """An HPA gets minReplicas 1 and the 80% CPU metric when none is given."""
    spec = defaults.apply_defaults(
        {"spec": {"maxReplicas": 5}}, group="autoscaling", kind="HorizontalPodAutoscaler"
    )["spec"]
    assert spec == {
        "maxReplicas": 5,
        "minReplicas": 1,
        "metrics": [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 80},
                },
            }
        ],
    }


def test_hpa_behavior_is_completed() -> None:
    """A given behavior gets the default scaling rules for what it leaves out."""
    obj = {
        "spec": {
            "maxReplicas": 5,
            "metrics": [{"type": "Pods"}],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}},
        }
    }
    behavior = defaults.apply_defaults(obj, group="autoscaling", kind="HorizontalPodAutoscaler")[
        "spec"
    ]["behavior"]
    assert behavior == {
        "scaleUp": {
            "stabilizationWindowSeconds": 0,
            "selectPolicy": "Max",
            "policies": [
                {"type": "Pods", "value": 4, "periodSeconds": 15},
                {"type": "Percent", "value": 100, "periodSeconds": 15},
            ],
        },
        "scaleDown": {
            "stabilizationWindowSeconds": 60,
            "selectPolicy": "Max",
            "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
        },
    }


def test_role_binding_defaults() -> None:
    """The roleRef and User/Group subjects default to the RBAC group; ServiceAccounts to ''."""
    obj = {
        "roleRef": {"kind": "Role", "name": "r"},
        "subjects": [
            {"kind": "User", "name": "u"},
            {"kind": "ServiceAccount", "name": "s", "namespace": "n"},
        ],
    }
    result = defaults.apply_defaults(obj, group="rbac.authorization.k8s.io", kind="RoleBinding")
    assert result == {
        "roleRef": {"kind": "Role", "name": "r", "apiGroup": "rbac.authorization.k8s.io"},
        "subjects": [
            {"kind": "User", "name": "u", "apiGroup": "rbac.authorization.k8s.io"},
            {"kind": "ServiceAccount", "name": "s", "namespace": "n", "apiGroup": ""},
        ],
    }


def test_crd_schema_defaults() -> None:
    """Structural defaults fill missing fields of objects that exist."""
    crd = schema.from_openapi(
        {
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "properties": {
                        "replicas": {"type": "integer", "default": 1},
                        "tls": {
                            "type": "object",
                            "properties": {"enabled": {"type": "boolean", "default": False}},
                        },
                        "ports": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {"protocol": {"type": "string", "default": "TCP"}},
                            },
                        },
                    },
                }
            },
        }
    )
    obj = {"spec": {"ports": [{"port": 1}]}}
    assert defaults.schema_defaults(obj, crd) == {
        "spec": {"replicas": 1, "ports": [{"port": 1, "protocol": "TCP"}]}
    }
