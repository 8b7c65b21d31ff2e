"""The defaults kube-apiserver fills into objects it stores (KUBE_API.md §2.2).

The job: ``apply_defaults`` fills what the real server's defaulting functions fill (the
``SetDefaults_*`` functions of ``pkg/apis/{core,apps,batch,networking,autoscaling,rbac}/v1``
and the generated ``+default`` markers, read from the Kubernetes source), on create and on
every update and patch; it is idempotent and returns a new object (the input is never
mutated), or the input itself for kinds without defaults. ``prepare_for_create`` does what
a few strategies do once, on create: a Job's generated selector and labels, a Namespace's
``spec.finalizers``. ``schema_defaults`` applies a CRD structural schema's ``default`` values
to custom resources.

Left to neighbours: cluster IP and node port allocation (the server's allocator, optional
hook here), status initialisation and resets (strategies), validation. Defaulted fields are
never owned by an applier: ``apply`` computes ownership from the config, not the object.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson

from kubesim import schema as schema_mod

JSON = dict[str, Any]
Defaulter = Callable[[JSON], None]

_MAX_INT32 = 2147483647
_DEFAULT_MODE = 420  # 0644
_PROBE_DEFAULTS = {"timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1}
_RBAC_GROUP = "rbac.authorization.k8s.io"


def _copy(obj: JSON) -> JSON:
    copied: JSON = orjson.loads(orjson.dumps(obj))
    return copied


def _dict(parent: JSON, key: str) -> JSON:
    """``parent[key]`` as a dict, created when missing or null."""
    value = parent.get(key)
    if not isinstance(value, dict):
        value = {}
        parent[key] = value
    return value


def _dicts(value: Any) -> list[JSON]:
    """The dict items of a list value (anything else yields nothing)."""
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, dict)]


def _set(obj: JSON, key: str, value: Any) -> None:
    """Set ``key`` when it is missing, null or Go's zero value for a string."""
    current = obj.get(key)
    if current is None or current == "":
        obj[key] = value


# ---------------------------------------------------------------- pod templates


_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(rf"{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*(?::[0-9]+)?")
_PATH_PART = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")


def _image_tag(image: Any) -> str:
    """The tag parsers.ParseImageName finds for an image reference.

    ``latest`` when neither a tag nor a digest is given, ``""`` for a digest-only or
    unparsable reference.
    """
    if not isinstance(image, str) or not image:
        return ""
    rest, _, digest = image.partition("@")
    if digest and not _DIGEST.fullmatch(digest):
        return ""
    parts = rest.split("/")
    first, path = parts[0], parts[1:]
    if path and ("." in first or ":" in first or first == "localhost"):
        if not _DOMAIN.fullmatch(first):
            return ""
    else:
        path = parts
    last = path[-1] if path else ""
    name, colon, tag = last.partition(":")
    if colon and not _TAG.fullmatch(tag):
        return ""
    path = [*path[:-1], name]
    if not all(_PATH_PART.fullmatch(p) for p in path) or len(rest) > 255:
        return ""
    if not tag and not digest:
        return "latest"
    return tag


def _image_pull_policy(image: Any) -> str:
    """SetDefaults_Container: Always for the ``latest`` tag, else IfNotPresent."""
    return "Always" if _image_tag(image) == "latest" else "IfNotPresent"


def _container(container: JSON) -> None:
    _set(container, "imagePullPolicy", _image_pull_policy(container.get("image")))
    _set(container, "terminationMessagePath", "/dev/termination-log")
    _set(container, "terminationMessagePolicy", "File")
    if not isinstance(container.get("resources"), dict):
        container["resources"] = {}  # a Go value struct: always serialized
    for port in _dicts(container.get("ports")):
        _set(port, "protocol", "TCP")
    for env in _dicts(container.get("env")):
        value_from = env.get("valueFrom")
        if isinstance(value_from, dict) and isinstance(value_from.get("fieldRef"), dict):
            _set(value_from["fieldRef"], "apiVersion", "v1")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        if isinstance(container.get(probe), dict):
            _probe(container[probe])
    lifecycle = container.get("lifecycle")
    if isinstance(lifecycle, dict):
        for hook in ("postStart", "preStop"):
            handler = lifecycle.get(hook)
            if isinstance(handler, dict) and isinstance(handler.get("httpGet"), dict):
                _http_get(handler["httpGet"])


def _probe(probe: JSON) -> None:
    for key, value in _PROBE_DEFAULTS.items():
        if not probe.get(key):
            probe[key] = value
    if not probe.get("failureThreshold"):
        probe["failureThreshold"] = 3
    if isinstance(probe.get("httpGet"), dict):
        _http_get(probe["httpGet"])


def _http_get(action: JSON) -> None:
    _set(action, "path", "/")
    _set(action, "scheme", "HTTP")


_VOLUME_SOURCES = frozenset(
    {
        "hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo",
        "secret", "nfs", "iscsi", "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume",
        "cinder", "cephfs", "flocker", "downwardAPI", "fc", "azureFile", "configMap",
        "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "projected",
        "portworxVolume", "scaleIO", "storageos", "csi", "ephemeral", "image",
    }
)  # fmt: skip


def _volume(volume: JSON) -> None:
    if not any(volume.get(source) is not None for source in _VOLUME_SOURCES):
        volume["emptyDir"] = {}  # SetDefaults_Volume: no source means an emptyDir
    image = volume.get("image")
    if isinstance(image, dict):
        _set(image, "pullPolicy", _image_pull_policy(image.get("reference")))
    if isinstance(volume.get("hostPath"), dict):
        volume["hostPath"].setdefault("type", "")
    for source in ("secret", "configMap", "downwardAPI", "projected"):
        if isinstance(volume.get(source), dict) and volume[source].get("defaultMode") is None:
            volume[source]["defaultMode"] = _DEFAULT_MODE
    downward = volume.get("downwardAPI")
    if isinstance(downward, dict):
        _field_refs(downward.get("items"))
    projected = volume.get("projected")
    if isinstance(projected, dict):
        for item in _dicts(projected.get("sources")):
            if isinstance(item.get("downwardAPI"), dict):
                _field_refs(item["downwardAPI"].get("items"))
            token = item.get("serviceAccountToken")
            if isinstance(token, dict) and token.get("expirationSeconds") is None:
                token["expirationSeconds"] = 3600
    ephemeral = volume.get("ephemeral")
    if isinstance(ephemeral, dict) and isinstance(ephemeral.get("volumeClaimTemplate"), dict):
        _claim_spec(_dict(ephemeral["volumeClaimTemplate"], "spec"))


def _field_refs(items: Any) -> None:
    for item in _dicts(items):
        if isinstance(item.get("fieldRef"), dict):
            _set(item["fieldRef"], "apiVersion", "v1")


def _pod_spec(spec: JSON) -> None:
    """SetDefaults_PodSpec and everything the generated defaulters reach below it."""
    _set(spec, "dnsPolicy", "ClusterFirst")
    _set(spec, "restartPolicy", "Always")
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = 30
    _set(spec, "schedulerName", "default-scheduler")
    # v1 <-> internal conversion keeps the deprecated serviceAccount equal to
    # serviceAccountName.
    account = spec.get("serviceAccountName") or spec.get("serviceAccount")
    if account:
        spec["serviceAccountName"] = account
        spec["serviceAccount"] = account
    for volume in _dicts(spec.get("volumes")):
        _volume(volume)
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in _dicts(spec.get(key)):
            _container(container)


def _pod_template(parent: JSON) -> None:
    template = parent.get("template")
    if isinstance(template, dict):
        _pod_spec(_dict(template, "spec"))


# ---------------------------------------------------------------- core/v1


def _pod(obj: JSON) -> None:
    spec = _dict(obj, "spec")
    _pod_spec(spec)
    for key in ("containers", "initContainers"):
        for container in _dicts(spec.get(key)):
            resources = _dict(container, "resources")
            limits = resources.get("limits")
            if isinstance(limits, dict) and limits:
                requests = _dict(resources, "requests")
                for name, value in limits.items():
                    requests.setdefault(name, value)
    if spec.get("enableServiceLinks") is None:
        spec["enableServiceLinks"] = True
    if spec.get("hostNetwork"):
        for key in ("containers", "initContainers"):
            for container in _dicts(spec.get(key)):
                for port in _dicts(container.get("ports")):
                    if not port.get("hostPort"):
                        port["hostPort"] = port.get("containerPort")


def _service(obj: JSON) -> None:
    spec = _dict(obj, "spec")
    _set(spec, "sessionAffinity", "None")
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        config = spec.get("sessionAffinityConfig")
        client = config.get("clientIP") if isinstance(config, dict) else None
        if not isinstance(client, dict) or client.get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 10800}}
    _set(spec, "type", "ClusterIP")
    kind = spec["type"]
    for port in _dicts(spec.get("ports")):
        _set(port, "protocol", "TCP")
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port")
    external = kind in ("LoadBalancer", "NodePort") or (
        kind == "ClusterIP" and bool(spec.get("externalIPs"))
    )
    if external:
        _set(spec, "externalTrafficPolicy", "Cluster")
    if spec.get("internalTrafficPolicy") is None and kind in (
        "NodePort",
        "LoadBalancer",
        "ClusterIP",
    ):
        spec["internalTrafficPolicy"] = "Cluster"
    if kind == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        spec["allocateLoadBalancerNodePorts"] = True
    if kind != "ExternalName":
        # The service REST storage fills the IP families of a single-stack IPv4 cluster.
        if spec.get("clusterIP") and not spec.get("clusterIPs"):
            spec["clusterIPs"] = [spec["clusterIP"]]
        if not spec.get("ipFamilies"):
            spec["ipFamilies"] = ["IPv4"]
        _set(spec, "ipFamilyPolicy", "SingleStack")


def _secret(obj: JSON) -> None:
    _set(obj, "type", "Opaque")


def _namespace(obj: JSON) -> None:
    meta = _dict(obj, "metadata")
    name = meta.get("name")
    if name:
        labels = _dict(meta, "labels")
        labels["kubernetes.io/metadata.name"] = name
    _set(_dict(obj, "status"), "phase", "Active")


def _claim_spec(spec: JSON) -> None:
    _set(spec, "volumeMode", "Filesystem")


def _claim(obj: JSON) -> None:
    _claim_spec(_dict(obj, "spec"))
    _set(_dict(obj, "status"), "phase", "Pending")


def _endpoints(obj: JSON) -> None:
    for subset in _dicts(obj.get("subsets")):
        for port in _dicts(subset.get("ports")):
            _set(port, "protocol", "TCP")


def _limit_range(obj: JSON) -> None:
    """SetDefaults_LimitRangeItem for Container items.

    The default limit comes from max; the default request from the default, then from min.
    """
    for item in _dicts(_dict(obj, "spec").get("limits")):
        if item.get("type") != "Container":
            continue
        default = _dict(item, "default")
        request = _dict(item, "defaultRequest")
        for source, target in (("max", default), (None, request), ("min", request)):
            values = default if source is None else item.get(source)
            if isinstance(values, dict):
                for name, value in values.items():
                    target.setdefault(name, value)
        for key in ("default", "defaultRequest"):
            if not item[key]:
                del item[key]  # Go makes the map; omitempty leaves an empty one out


def _replication_controller(obj: JSON) -> None:
    """SetDefaults_ReplicationController: selector and labels from the template's labels."""
    spec = _dict(obj, "spec")
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    template = spec.get("template")
    labels = template.get("metadata", {}).get("labels") if isinstance(template, dict) else None
    if isinstance(labels, dict):
        if not spec.get("selector"):
            spec["selector"] = dict(labels)
        meta = _dict(obj, "metadata")
        if not meta.get("labels"):
            meta["labels"] = dict(labels)
    _pod_template(spec)


# ---------------------------------------------------------------- apps/v1


def _deployment(obj: JSON) -> None:
    spec = _dict(obj, "spec")
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    strategy = _dict(spec, "strategy")
    _set(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = _dict(strategy, "rollingUpdate")
        if rolling.get("maxUnavailable") is None:
            rolling["maxUnavailable"] = "25%"
        if rolling.get("maxSurge") is None:
            rolling["maxSurge"] = "25%"
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    if spec.get("progressDeadlineSeconds") is None:
        spec["progressDeadlineSeconds"] = 600
    _pod_template(spec)


def _daemon_set(obj: JSON) -> None:
    spec = _dict(obj, "spec")
    strategy = _dict(spec, "updateStrategy")
    _set(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = _dict(strategy, "rollingUpdate")
        if rolling.get("maxUnavailable") is None:
            rolling["maxUnavailable"] = 1
        if rolling.get("maxSurge") is None:
            rolling["maxSurge"] = 0
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    _pod_template(spec)


def _stateful_set(obj: JSON) -> None:
    spec = _dict(obj, "spec")
    _set(spec, "podManagementPolicy", "OrderedReady")
    strategy = _dict(spec, "updateStrategy")
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
        if strategy.get("rollingUpdate") is None:
            strategy["rollingUpdate"] = {}
    rolling = strategy.get("rollingUpdate")
    if (
        strategy["type"] == "RollingUpdate"
        and isinstance(rolling, dict)
        and rolling.get("partition") is None
    ):
        rolling["partition"] = 0
    retention = _dict(spec, "persistentVolumeClaimRetentionPolicy")
    _set(retention, "whenDeleted", "Retain")
    _set(retention, "whenScaled", "Retain")
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    _pod_template(spec)
    for claim in _dicts(spec.get("volumeClaimTemplates")):
        # apps/v1 conversion stamps the embedded claims' type; then PVC defaults apply.
        claim.setdefault("apiVersion", "v1")
        claim.setdefault("kind", "PersistentVolumeClaim")
        _claim(claim)


def _replica_set(obj: JSON) -> None:
    spec = _dict(obj, "spec")
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    _pod_template(spec)


# ---------------------------------------------------------------- batch/v1


def _job_spec(spec: JSON) -> None:
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    if spec.get("parallelism") is None:
        spec["parallelism"] = 1
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = _MAX_INT32 if spec.get("backoffLimitPerIndex") is not None else 6
    _set(spec, "completionMode", "NonIndexed")
    if spec.get("suspend") is None:
        spec["suspend"] = False
    if spec.get("podReplacementPolicy") is None:
        failure_policy = spec.get("podFailurePolicy")
        spec["podReplacementPolicy"] = "Failed" if failure_policy else "TerminatingOrFailed"
    if spec.get("manualSelector") is None:
        spec["manualSelector"] = False
    failure_policy = spec.get("podFailurePolicy")
    if isinstance(failure_policy, dict):
        for rule in _dicts(failure_policy.get("rules")):
            for pattern in _dicts(rule.get("onPodConditions")):
                _set(pattern, "status", "True")


def _job(obj: JSON) -> None:
    spec = _dict(obj, "spec")
    _job_spec(spec)
    template = spec.get("template")
    labels = template.get("metadata", {}).get("labels") if isinstance(template, dict) else None
    meta = _dict(obj, "metadata")
    if isinstance(labels, dict) and not meta.get("labels"):
        meta["labels"] = dict(labels)
    _pod_template(spec)


def _cron_job(obj: JSON) -> None:
    spec = _dict(obj, "spec")
    _set(spec, "concurrencyPolicy", "Allow")
    if spec.get("suspend") is None:
        spec["suspend"] = False
    if spec.get("successfulJobsHistoryLimit") is None:
        spec["successfulJobsHistoryLimit"] = 3
    if spec.get("failedJobsHistoryLimit") is None:
        spec["failedJobsHistoryLimit"] = 1
    job_template = spec.get("jobTemplate")
    if isinstance(job_template, dict):
        _pod_template(_dict(job_template, "spec"))


# ---------------------------------------------------------------- other groups


def _network_policy(obj: JSON) -> None:
    spec = _dict(obj, "spec")
    if not spec.get("policyTypes"):
        spec["policyTypes"] = ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]
    for direction in ("ingress", "egress"):
        for rule in _dicts(spec.get(direction)):
            for port in _dicts(rule.get("ports")):
                if port.get("protocol") is None:
                    port["protocol"] = "TCP"


def _hpa(obj: JSON) -> None:
    spec = _dict(obj, "spec")
    if spec.get("minReplicas") is None:
        spec["minReplicas"] = 1
    if not spec.get("metrics"):
        spec["metrics"] = [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 80},
                },
            }
        ]
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        up = behavior.get("scaleUp")
        behavior["scaleUp"] = _scaling_rules(
            up,
            window=0,
            policies=[
                {"type": "Pods", "value": 4, "periodSeconds": 15},
                {"type": "Percent", "value": 100, "periodSeconds": 15},
            ],
        )
        down = behavior.get("scaleDown")
        behavior["scaleDown"] = _scaling_rules(
            down, window=None, policies=[{"type": "Percent", "value": 100, "periodSeconds": 15}]
        )


def _scaling_rules(given: Any, *, window: int | None, policies: list[JSON]) -> JSON:
    """GenerateHPAScale{Up,Down}Rules: the defaults, overridden by what is set."""
    rules: JSON = {"selectPolicy": "Max", "policies": policies}
    if window is not None:
        rules["stabilizationWindowSeconds"] = window
    if isinstance(given, dict):
        for key in ("selectPolicy", "stabilizationWindowSeconds", "policies", "tolerance"):
            if given.get(key) is not None:
                rules[key] = given[key]
    return rules


def _binding(obj: JSON) -> None:
    role_ref = obj.get("roleRef")
    if isinstance(role_ref, dict):
        _set(role_ref, "apiGroup", _RBAC_GROUP)
    for subject in _dicts(obj.get("subjects")):
        if not subject.get("apiGroup"):
            if subject.get("kind") == "ServiceAccount":
                subject["apiGroup"] = ""
            elif subject.get("kind") in ("User", "Group"):
                subject["apiGroup"] = _RBAC_GROUP


_DEFAULTERS: dict[tuple[str, str], Defaulter] = {
    ("", "Pod"): _pod,
    ("", "Service"): _service,
    ("", "Secret"): _secret,
    ("", "Namespace"): _namespace,
    ("", "PersistentVolumeClaim"): _claim,
    ("", "Endpoints"): _endpoints,
    ("", "LimitRange"): _limit_range,
    ("", "ReplicationController"): _replication_controller,
    ("", "PodTemplate"): _pod_template,
    ("apps", "Deployment"): _deployment,
    ("apps", "DaemonSet"): _daemon_set,
    ("apps", "StatefulSet"): _stateful_set,
    ("apps", "ReplicaSet"): _replica_set,
    ("batch", "Job"): _job,
    ("batch", "CronJob"): _cron_job,
    ("networking.k8s.io", "NetworkPolicy"): _network_policy,
    ("autoscaling", "HorizontalPodAutoscaler"): _hpa,
    ("rbac.authorization.k8s.io", "RoleBinding"): _binding,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): _binding,
}


# ---------------------------------------------------------------- entry points


def has_defaults(*, group: str, kind: str) -> bool:
    """Whether objects of this kind get any defaults."""
    return (group, kind) in _DEFAULTERS


def apply_defaults(
    obj: JSON,
    *,
    group: str,
    kind: str,
    allocate_ip: Callable[[], str] | None = None,
) -> JSON:
    """``obj`` with the server's defaults filled in (a new object; idempotent).

    ``allocate_ip`` (optional) gives a Service without ``clusterIP`` one, as the service
    REST storage does on create; the server may instead allocate in its own strategy.
    """
    defaulter = _DEFAULTERS.get((group, kind))
    if defaulter is None:
        return obj
    out = _copy(obj)
    if kind == "Service" and not group and allocate_ip is not None:
        spec = _dict(out, "spec")
        if spec.get("type") != "ExternalName" and not spec.get("clusterIP"):
            spec["clusterIP"] = allocate_ip()
            spec["clusterIPs"] = [spec["clusterIP"]]
    defaulter(out)
    return out


def prepare_for_create(obj: JSON, *, group: str, kind: str) -> JSON:
    """What strategies do once on create (a new object).

    A Job gets its generated selector and labels (``batch.kubernetes.io/controller-uid``
    from ``metadata.uid``, which must be set) unless ``manualSelector``; a Namespace gets
    ``spec.finalizers: [kubernetes]``.
    """
    if (group, kind) == ("batch", "Job"):
        out = _copy(obj)
        _generate_job_selector(out)
        return out
    if (group, kind) == ("", "Namespace"):
        out = _copy(obj)
        _dict(out, "spec")["finalizers"] = ["kubernetes"]
        return out
    return obj


def _generate_job_selector(job: JSON) -> None:
    """Job strategy generateSelector: labels on the template, a selector on the uid."""
    spec = _dict(job, "spec")
    if spec.get("manualSelector"):
        return
    meta = job.get("metadata") or {}
    name, uid = meta.get("name", ""), meta.get("uid", "")
    labels = _dict(_dict(_dict(spec, "template"), "metadata"), "labels")
    for key in ("job-name", "batch.kubernetes.io/job-name"):
        labels.setdefault(key, name)
    for key in ("controller-uid", "batch.kubernetes.io/controller-uid"):
        labels.setdefault(key, uid)
    match = _dict(_dict(spec, "selector"), "matchLabels")
    match.setdefault("batch.kubernetes.io/controller-uid", uid)


# ---------------------------------------------------------------- custom resources


def schema_defaults(obj: JSON, schema: schema_mod.TypeSchema) -> JSON:
    """A custom resource with its CRD schema's ``default`` values filled (a new object).

    Structural defaulting: a missing field whose schema has a default gets it, in every
    object that exists; defaults inside a default are applied too.
    """
    out = _copy(obj)
    _fill(out, schema)
    return out


def _fill(value: Any, schema: schema_mod.TypeSchema) -> None:
    kind = schema.kind
    if kind is schema_mod.Kind.STRUCT and isinstance(value, dict):
        for name, sub in schema.fields.items():
            if name not in value and sub.has_default:
                value[name] = orjson.loads(orjson.dumps(sub.default))
            if name in value:
                _fill(value[name], sub)
    elif kind is schema_mod.Kind.MAP and isinstance(value, dict) and schema.element:
        for member in value.values():
            _fill(member, schema.element)
    elif kind is schema_mod.Kind.LIST and isinstance(value, list) and schema.element:
        for item in value:
            _fill(item, schema.element)
