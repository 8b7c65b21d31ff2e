"""Health: how well one live Kubernetes object is doing, and how well an app is doing.

``assess`` reads a live object (the JSON an API server returns) and answers a
``HealthStatus``: one of ``events.Health`` and a message for people. Built-in kinds
follow gitops-engine's ``pkg/health`` (KUBE_API.md §6.3; read at argoproj/argo-cd
@37ee0097cf ``gitops-engine/pkg/health/health_*.go``, where gitops-engine now lives),
with its messages; CronJob and CustomResourceDefinition follow Argo CD's built-in
``resource_customizations/*/health.lua`` (same commit); other custom resources follow
kstatus (kubernetes-sigs/cli-utils @5895ad6c17 ``pkg/kstatus/status``) with Argo CD's
severities. Kinds without a health concept (ConfigMap, Secret, RBAC...) are Healthy.
``severity``, ``worst`` and ``aggregate`` order and combine results: an app is as
healthy as its least healthy object (DESIGN.md §4).

Pure: no I/O, no clock, no logging. The object is read, never copied or changed. A
field of the wrong JSON type is an expected outcome, not an exception: the object is
Unknown with a message naming the field (gitops-engine's conversion error does the
same). Deciding which objects count (hooks, ignored objects) and recording
``HealthChanged`` are the caller's business.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final

from daemon.core import events, ids, kinds

Health = events.Health
JSON = Mapping[str, Any]


@dataclasses.dataclass(frozen=True, slots=True)
class HealthStatus:
    """A health code and the message that explains it ("" when there is nothing to say)."""

    health: events.Health
    message: str = ""


# -- ordering and aggregation -----------------------------------------------------------

# Most healthy first; gitops-engine's healthOrder (pkg/health/health.go) and DESIGN.md §4.
ORDER: Final = (
    Health.HEALTHY,
    Health.SUSPENDED,
    Health.PROGRESSING,
    Health.MISSING,
    Health.DEGRADED,
    Health.UNKNOWN,
)
_SEVERITY: Final = MappingProxyType({health: rank for rank, health in enumerate(ORDER)})
_HEALTHY: Final = HealthStatus(Health.HEALTHY)


def severity(health: events.Health) -> int:
    """Rank of a health code: 0 for Healthy, growing with how bad it is."""
    return _SEVERITY[health]


def missing() -> HealthStatus:
    """Health of a desired object that is not in the cluster."""
    return HealthStatus(Health.MISSING, "Not found in the cluster")


def _is_worse(candidate: HealthStatus, current: HealthStatus) -> bool:
    """Strictly more severe; on a tie the smaller message, so the choice never depends on order."""
    new, old = _SEVERITY[candidate.health], _SEVERITY[current.health]
    return new > old or (new == old and candidate.message < current.message)


def worst(statuses: Iterable[HealthStatus]) -> HealthStatus:
    """The least healthy of ``statuses`` (Healthy with no message when there are none)."""
    result: HealthStatus | None = None
    for status in statuses:
        if result is None or _is_worse(status, result):
            result = status
    return _HEALTHY if result is None else result


def aggregate(items: Mapping[str, HealthStatus]) -> HealthStatus:
    """An app's health from its objects' (object key -> status): the worst, naming its object.

    The message is ``Kind/namespace/name: <message>``, for the first key (in sorted order)
    among the objects at the worst level, with ``(and N more)`` when others share it.
    Healthy needs no explanation, so an all-healthy app has an empty message.
    """
    cause: tuple[str, HealthStatus] | None = None
    sharing = 0
    for key, status in items.items():
        if cause is None:
            cause, sharing = (key, status), 1
            continue
        new, old = _SEVERITY[status.health], _SEVERITY[cause[1].health]
        if new > old:
            cause, sharing = (key, status), 1
        elif new == old:
            sharing += 1
            if key < cause[0]:
                cause = (key, status)
    if cause is None or cause[1].health is Health.HEALTHY:
        return _HEALTHY
    key, status = cause
    message = ids.display_key(key)
    if status.message:
        message = f"{message}: {status.message}"
    if sharing > 1:
        message = f"{message} (and {sharing - 1} more)"
    return HealthStatus(status.health, message)


# -- reading raw JSON -----------------------------------------------------------------


class _MalformedError(Exception):
    """A field has the wrong JSON type; ``assess`` reports the object as Unknown."""


_EMPTY: Final[JSON] = MappingProxyType({})


def _type_name(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    return names.get(type(value), "a number" if isinstance(value, int | float) else "null")


def _wrong(where: str, key: str, value: object, want: str) -> _MalformedError:
    return _MalformedError(f"{where}.{key} is {_type_name(value)}, want {want}")


def _obj(parent: JSON, key: str, where: str) -> JSON:
    value = parent.get(key)
    if isinstance(value, dict):
        return value
    if value is None:
        return _EMPTY
    raise _wrong(where, key, value, "an object")


def _list(parent: JSON, key: str, where: str) -> list[Any]:
    value = parent.get(key)
    if isinstance(value, list):
        return value
    if value is None:
        return []
    raise _wrong(where, key, value, "an array")


def _objs(parent: JSON, key: str, where: str) -> list[JSON]:
    items = _list(parent, key, where)
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise _wrong(where, f"{key}[{index}]", item, "an object")
    return items


def _opt_int(parent: JSON, key: str, where: str) -> int | None:
    value = parent.get(key)
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise _wrong(where, key, value, "an integer")


def _int(parent: JSON, key: str, where: str) -> int:
    """An integer that Go would read as 0 when absent (``omitempty`` counters)."""
    value = _opt_int(parent, key, where)
    return 0 if value is None else value


def _opt_str(parent: JSON, key: str, where: str) -> str | None:
    value = parent.get(key)
    if value is None or isinstance(value, str):
        return value
    raise _wrong(where, key, value, "a string")


def _str(parent: JSON, key: str, where: str) -> str:
    value = _opt_str(parent, key, where)
    return "" if value is None else value


def _parts(obj: JSON) -> tuple[JSON, JSON, JSON]:
    """``metadata``, ``spec`` and ``status``, each empty when absent."""
    return (
        _obj(obj, "metadata", "object"),
        _obj(obj, "spec", "object"),
        _obj(obj, "status", "object"),
    )


def _condition(status: JSON, kind: str) -> JSON | None:
    """The first ``status.conditions`` entry of type ``kind``."""
    for condition in _objs(status, "conditions", "status"):
        if condition.get("type") == kind:
            return condition
    return None


def _message(condition: JSON) -> str:
    return _str(condition, "message", "status.conditions[]")


def _healthy(message: str) -> HealthStatus:
    return HealthStatus(Health.HEALTHY, message)


def _suspended(message: str) -> HealthStatus:
    return HealthStatus(Health.SUSPENDED, message)


def _progressing(message: str) -> HealthStatus:
    return HealthStatus(Health.PROGRESSING, message)


def _degraded(message: str) -> HealthStatus:
    return HealthStatus(Health.DEGRADED, message)


def _unknown(message: str) -> HealthStatus:
    return HealthStatus(Health.UNKNOWN, message)


# -- apps -------------------------------------------------------------------------------


def _deployment(obj: JSON) -> HealthStatus:
    """gitops-engine health_deployment.go (kubectl rollout status)."""
    meta, spec, status = _parts(obj)
    if spec.get("paused") is True:
        return _suspended("Deployment is paused")
    if _int(meta, "generation", "metadata") > _int(status, "observedGeneration", "status"):
        return _progressing(
            "Waiting for rollout to finish: observed deployment generation less than desired"
            " generation"
        )
    progressing = _condition(status, "Progressing")
    if progressing is not None and progressing.get("reason") == "ProgressDeadlineExceeded":
        name = _str(meta, "name", "metadata")
        return _degraded(f'Deployment "{name}" exceeded its progress deadline')
    wanted = _opt_int(spec, "replicas", "spec")
    replicas = _int(status, "replicas", "status")
    updated = _int(status, "updatedReplicas", "status")
    available = _int(status, "availableReplicas", "status")
    waiting = "Waiting for rollout to finish: "
    if wanted is not None and updated < wanted:
        message = f"{updated} out of {wanted} new replicas have been updated..."
    elif replicas > updated:
        message = f"{replicas - updated} old replicas are pending termination..."
    elif available < updated:
        message = f"{available} of {updated} updated replicas are available..."
    else:
        return _HEALTHY
    return _progressing(waiting + message)


def _statefulset(obj: JSON) -> HealthStatus:
    """gitops-engine health_statefulset.go.

    A RollingUpdate StatefulSet read from an API server always has ``rollingUpdate``
    (defaulted to partition 0), so such objects end in the partition branch; the
    revision comparison is reached only by objects without a strategy type.
    """
    meta, spec, status = _parts(obj)
    observed = _int(status, "observedGeneration", "status")
    if observed == 0 or _int(meta, "generation", "metadata") > observed:
        return _progressing("Waiting for statefulset spec update to be observed...")
    wanted = _opt_int(spec, "replicas", "spec")
    ready = _int(status, "readyReplicas", "status")
    if wanted is not None and ready < wanted:
        return _progressing(f"Waiting for {wanted - ready} pods to be ready...")
    strategy = _obj(spec, "updateStrategy", "spec")
    kind = _str(strategy, "type", "spec.updateStrategy")
    updated = _int(status, "updatedReplicas", "status")
    if kind == "RollingUpdate" and strategy.get("rollingUpdate") is not None:
        rolling = _obj(strategy, "rollingUpdate", "spec.updateStrategy")
        partition = _opt_int(rolling, "partition", "spec.updateStrategy.rollingUpdate")
        if wanted is not None and partition is not None and updated < wanted - partition:
            return _progressing(
                f"Waiting for partitioned roll out to finish: {updated} out of"
                f" {wanted - partition} new pods have been updated..."
            )
        return _healthy(f"partitioned roll out complete: {updated} new pods have been updated...")
    if kind == "OnDelete":
        return _healthy(f"statefulset has {ready} ready pods")
    update_revision = _str(status, "updateRevision", "status")
    current_revision = _str(status, "currentRevision", "status")
    if update_revision != current_revision:
        return _progressing(
            f"waiting for statefulset rolling update to complete {updated} pods at revision"
            f" {update_revision}..."
        )
    current = _int(status, "currentReplicas", "status")
    return _healthy(
        f"statefulset rolling update complete {current} pods at revision {current_revision}..."
    )


def _daemonset(obj: JSON) -> HealthStatus:
    """gitops-engine health_daemonset.go."""
    meta, spec, status = _parts(obj)
    if _int(meta, "generation", "metadata") > _int(status, "observedGeneration", "status"):
        return _progressing(
            "Waiting for rollout to finish: observed daemon set generation less than desired"
            " generation"
        )
    updated = _int(status, "updatedNumberScheduled", "status")
    desired = _int(status, "desiredNumberScheduled", "status")
    strategy = _obj(spec, "updateStrategy", "spec")
    if _str(strategy, "type", "spec.updateStrategy") == "OnDelete":
        return _healthy(f"daemon set {updated} out of {desired} new pods have been updated")
    name = _str(meta, "name", "metadata")
    waiting = f'Waiting for daemon set "{name}" rollout to finish: '
    if updated < desired:
        return _progressing(f"{waiting}{updated} out of {desired} new pods have been updated...")
    available = _int(status, "numberAvailable", "status")
    if available < desired:
        return _progressing(f"{waiting}{available} of {desired} updated pods are available...")
    return _HEALTHY


def _replicaset(obj: JSON) -> HealthStatus:
    """gitops-engine health_replicaset.go."""
    meta, spec, status = _parts(obj)
    if _int(meta, "generation", "metadata") > _int(status, "observedGeneration", "status"):
        return _progressing(
            "Waiting for rollout to finish: observed replica set generation less than desired"
            " generation"
        )
    failure = _condition(status, "ReplicaFailure")
    if failure is not None and failure.get("status") == "True":
        return _degraded(_message(failure))
    wanted = _opt_int(spec, "replicas", "spec")
    available = _int(status, "availableReplicas", "status")
    if wanted is not None and available < wanted:
        return _progressing(
            f"Waiting for rollout to finish: {available} out of {wanted} new replicas are"
            " available..."
        )
    return _HEALTHY


# -- core -------------------------------------------------------------------------------


_CONTAINER: Final = "status.containerStatuses[]"


def _waiting_errors(statuses: list[JSON]) -> list[str]:
    """Messages of containers waiting on an error (``Err*``, ``*Error``, ``*BackOff``)."""
    messages = []
    for container in statuses:
        state = _obj(container, "state", _CONTAINER)
        waiting = _obj(state, "waiting", f"{_CONTAINER}.state")
        reason = _str(waiting, "reason", f"{_CONTAINER}.state.waiting")
        if reason.startswith("Err") or reason.endswith(("Error", "BackOff")):
            messages.append(_str(waiting, "message", f"{_CONTAINER}.state.waiting"))
    return messages


def _failure(container: JSON) -> str:
    """Why a terminated container failed, or "" (gitops-engine's getFailMessage)."""
    where = f"{_CONTAINER}.state.terminated"
    terminated = _obj(_obj(container, "state", _CONTAINER), "terminated", f"{_CONTAINER}.state")
    if not terminated:
        return ""
    if message := _str(terminated, "message", where):
        return message
    if terminated.get("reason") == "OOMKilled":
        return "OOMKilled"
    if code := _int(terminated, "exitCode", where):
        name = _str(container, "name", _CONTAINER)
        return f'container "{name}" failed with exit code {code}'
    return ""


def _pod(obj: JSON) -> HealthStatus:
    """gitops-engine health_pod.go.

    Only ``restartPolicy: Always`` pods turn Degraded on a waiting error: a hook pod
    (OnFailure/Never) may still succeed once the error clears. Running finite pods are
    Progressing, never Healthy, for the same reason.
    """
    _, spec, status = _parts(obj)
    policy = _str(spec, "restartPolicy", "spec")
    containers = _objs(status, "containerStatuses", "status")
    if policy == "Always" and (errors := _waiting_errors(containers)):
        return _degraded(", ".join(errors))
    phase = _str(status, "phase", "status")
    message = _str(status, "message", "status")
    if phase == "Pending":
        return _progressing(message)
    if phase == "Succeeded":
        return _healthy(message)
    if phase == "Failed":
        if not message:
            init = _objs(status, "initContainerStatuses", "status")
            message = next(filter(None, map(_failure, init + containers)), "")
        return _degraded(message)
    if phase == "Running" and policy == "Always":
        ready = _condition(status, "Ready")
        if ready is not None and ready.get("status") == "True":
            return _healthy(message)
        if any(_obj(c, "lastState", _CONTAINER).get("terminated") for c in containers):
            return _degraded(message)
        return _progressing(message)
    if phase == "Running" and policy in {"OnFailure", "Never"}:
        return _progressing(message)
    return _unknown(message)


def _service(obj: JSON) -> HealthStatus:
    """gitops-engine health_service.go: a LoadBalancer waits for its address."""
    _, spec, status = _parts(obj)
    if _str(spec, "type", "spec") == "LoadBalancer":
        balancer = _obj(status, "loadBalancer", "status")
        if not _list(balancer, "ingress", "status.loadBalancer"):
            return _progressing("")
    return _HEALTHY


def _ingress(obj: JSON) -> HealthStatus:
    """gitops-engine health_ingress.go: Healthy once the controller publishes an address."""
    balancer = _obj(_obj(obj, "status", "object"), "loadBalancer", "status")
    if _list(balancer, "ingress", "status.loadBalancer"):
        return _HEALTHY
    return _progressing("")


_CLAIM_PHASES: Final = MappingProxyType(
    {"Bound": Health.HEALTHY, "Pending": Health.PROGRESSING, "Lost": Health.DEGRADED}
)


def _pvc(obj: JSON) -> HealthStatus:
    """gitops-engine health_pvc.go: by ``status.phase``."""
    phase = _str(_obj(obj, "status", "object"), "phase", "status")
    return HealthStatus(_CLAIM_PHASES.get(phase, Health.UNKNOWN))


def _namespace(obj: JSON) -> HealthStatus:
    """Neither gitops-engine nor kstatus has a Namespace rule; only a terminating one waits.

    A namespace being deleted has ``deletionTimestamp`` and is caught before this; the
    phase check covers a status written without it.
    """
    phase = _str(_obj(obj, "status", "object"), "phase", "status")
    if phase == "Terminating":
        return _progressing("Namespace is terminating")
    return _HEALTHY


# -- batch ------------------------------------------------------------------------------


def _job(obj: JSON) -> HealthStatus:
    """gitops-engine health_job.go, with KUBE_API.md §6.3's reading of ``Suspended``.

    gitops-engine counts any ``Suspended`` condition as final, so a resumed Job
    (``Suspended=False``/``JobResumed``) would read Healthy while it runs; §6.3 says only
    ``Suspended=True`` counts, so a resumed, unfinished Job is Progressing.
    """
    failed = complete = suspended = False
    fail_message = message = ""
    for condition in _objs(_obj(obj, "status", "object"), "conditions", "status"):
        kind = condition.get("type")
        if kind == "Failed":
            failed = complete = True
            fail_message = _message(condition)
        elif kind == "Complete":
            complete = True
            message = _message(condition)
        elif kind == "Suspended":
            message = _message(condition)
            if condition.get("status") == "True":
                suspended = complete = True
    if not complete:
        return _progressing(message)
    if failed:
        return _degraded(fail_message)
    if suspended:
        return _suspended(message)
    return _healthy(message)


def _cronjob(obj: JSON) -> HealthStatus:
    """Argo CD resource_customizations/batch/CronJob/health.lua.

    A suspended CronJob is Healthy, not Suspended: Argo CD chose this (argo-cd#24428)
    because a Suspended object would make its whole app Suspended (argo-cd#19126), and
    the same holds for gitopsd's worst-of aggregation. Times are compared as text, as
    the Lua does: the API server writes RFC 3339 UTC with whole seconds.
    """
    _, spec, status = _parts(obj)
    if spec.get("suspend") is True:
        return _healthy("CronJob is Suspended")
    if obj.get("status") is None:
        return _progressing("Waiting for CronJob")
    scheduled = _opt_str(status, "lastScheduleTime", "status")
    if scheduled is None:
        return _healthy("CronJob has not been scheduled yet")
    succeeded = _opt_str(status, "lastSuccessfulTime", "status")
    if succeeded is None:
        return _healthy("The CronJob never completed successfully. It may not be healthy")
    if _list(status, "active", "status"):
        return _healthy("The job is running. Its last execution may not have been successful")
    if succeeded < scheduled:
        return _degraded("CronJob has not completed its last execution successfully")
    return _healthy("CronJob has completed its last execution successfully")


# -- autoscaling ------------------------------------------------------------------------

_HPA_WAITING: Final = _progressing("Waiting to Autoscale")
_HPA_DEGRADED: Final = frozenset(
    {
        ("AbleToScale", "FailedGetScale"),
        ("AbleToScale", "FailedUpdateScale"),
        ("ScalingActive", "FailedGetResourceMetric"),
        ("ScalingActive", "FailedGetObjectMetric"),
        ("ScalingActive", "FailedGetPodsMetric"),
        ("ScalingActive", "FailedGetExternalMetric"),
        ("ScalingActive", "FailedComputeMetricsReplicas"),
        ("ScalingActive", "InvalidSelector"),
    }
)
_HPA_CONDITIONS_ANNOTATION: Final = "autoscaling.alpha.kubernetes.io/conditions"


def _hpa_conditions(obj: JSON) -> list[JSON] | None:
    """Conditions of an HPA: ``status.conditions`` (v2), or v1's JSON annotation."""
    meta, _, status = _parts(obj)
    if obj.get("apiVersion") != "autoscaling/v1":
        return _objs(status, "conditions", "status")
    annotations = _obj(meta, "annotations", "metadata")
    raw = _opt_str(annotations, _HPA_CONDITIONS_ANNOTATION, "metadata.annotations")
    if raw is None:
        return None
    try:
        conditions = json.loads(raw)
    except ValueError as err:
        raise _MalformedError(
            f"annotation {_HPA_CONDITIONS_ANNOTATION} is not JSON: {err}"
        ) from err
    return _objs({"conditions": conditions}, "conditions", "annotation")


def _hpa(obj: JSON) -> HealthStatus:
    """gitops-engine health_hpa.go: failure reasons first, then a scaling condition True."""
    conditions = _hpa_conditions(obj)
    if not conditions:
        return _HPA_WAITING
    for condition in conditions:
        if (condition.get("type"), condition.get("reason")) in _HPA_DEGRADED:
            return _degraded(_message(condition))
    for condition in conditions:
        if condition.get("type") in {"AbleToScale", "ScalingLimited"} and (
            condition.get("status") == "True"
        ):
            return _healthy(_message(condition))
    return _HPA_WAITING


# -- API extensions ---------------------------------------------------------------------


def _crd(obj: JSON) -> HealthStatus:
    """Argo CD resource_customizations/apiextensions.k8s.io/CustomResourceDefinition/health.lua."""
    conditions = _objs(_obj(obj, "status", "object"), "conditions", "status")
    if not conditions:
        return _progressing("Status conditions not found")
    established = False
    for condition in conditions:
        kind, status = condition.get("type"), condition.get("status")
        if kind == "Terminating" and status == "True":
            return _progressing(f"CRD is terminating: {_message(condition)}")
        if kind == "NamesAccepted" and status == "False":
            return _degraded(f"CRD names have not been accepted: {_message(condition)}")
        if kind == "NonStructuralSchema" and status == "True":
            return _degraded(f"Schema violations found: {_message(condition)}")
        if kind == "Established":
            if status == "True":
                established = True
            elif condition.get("reason") == "Installing":
                return _progressing("CRD is being installed")
    if not established:
        return _degraded("CRD is not established")
    return _healthy("CRD is healthy")


def _apiservice(obj: JSON) -> HealthStatus:
    """gitops-engine health_apiservice.go: the Available condition, else waiting."""
    available = _condition(_obj(obj, "status", "object"), "Available")
    if available is None:
        return _progressing("Waiting to be processed")
    reason = _str(available, "reason", "status.conditions[]")
    message = f"{reason}: {_message(available)}"
    if available.get("status") == "True":
        return _healthy(message)
    return _progressing(message)


# -- custom resources -------------------------------------------------------------------

# Ready/Available False with one of these reasons means "not yet", not "failed": Flux's
# meta.ProgressingReason, Crossplane's xpv1.ReasonCreating, the CRD Established
# condition's Installing, and Reconciling (kstatus's word for work under way, used as a
# reason by some operators). Any other reason is Degraded. This list is gitopsd's choice.
_IN_PROGRESS_REASONS: Final = frozenset({"Progressing", "Reconciling", "Creating", "Installing"})


def _stale(condition: JSON, generation: int) -> bool:
    """A metav1.Condition set for an older generation (its ``observedGeneration``)."""
    observed = _opt_int(condition, "observedGeneration", "status.conditions[]")
    return observed is not None and observed < generation


def _custom_resource(obj: JSON) -> HealthStatus:
    """The generic rules of kstatus (status.go Compute), with Argo CD's Degraded for failures.

    1. ``status.observedGeneration`` below ``metadata.generation``: Progressing.
    2. ``Stalled=True``: Degraded; ``Reconciling=True``: Progressing (kstatus conditions).
    3. ``Ready``, else ``Available``: stale (condition observedGeneration below
       generation) or ``Unknown`` is Progressing; ``True`` Healthy; ``False`` Degraded,
       or Progressing when its reason says it is still under way. kstatus calls every
       ``Ready=False`` InProgress because it cannot tell; Argo CD's health scripts for
       cert-manager, Flux and Crossplane call it Degraded, which is what a user must see.
    4. Neither condition: Healthy, "Resource is current" (kstatus; Argo CD gives no
       health at all to a custom resource it has no script for).
    """
    meta, _, status = _parts(obj)
    generation = _opt_int(meta, "generation", "metadata")
    observed = _opt_int(status, "observedGeneration", "status")
    if generation is not None and observed is not None and observed < generation:
        kind = obj.get("kind")
        return _progressing(
            f"{kind} generation is {generation}, but latest observed generation is {observed}"
        )
    conditions = _objs(status, "conditions", "status")
    by_type = {str(c.get("type")): c for c in reversed(conditions)}
    if (stalled := by_type.get("Stalled")) is not None and stalled.get("status") == "True":
        return _degraded(_message(stalled))
    if (busy := by_type.get("Reconciling")) is not None and busy.get("status") == "True":
        return _progressing(_message(busy))
    for kind in ("Ready", "Available"):
        if (condition := by_type.get(kind)) is not None:
            return _readiness(kind, condition, generation or 0)
    return _healthy("Resource is current")


def _readiness(kind: str, condition: JSON, generation: int) -> HealthStatus:
    """Health from a Ready or Available condition (see ``_custom_resource``)."""
    if _stale(condition, generation):
        return _progressing(f"Waiting for the {kind} condition to observe generation {generation}")
    status = condition.get("status")
    message = _message(condition) or _str(condition, "reason", "status.conditions[]")
    if status == "True":
        return _healthy(message or f"Resource is {kind}")
    if status == "False" and condition.get("reason") not in _IN_PROGRESS_REASONS:
        return _degraded(message)
    return _progressing(message)


# -- dispatch ---------------------------------------------------------------------------

Check = Callable[[JSON], HealthStatus]

_CHECKS: Final[Mapping[tuple[str, str], Check]] = MappingProxyType(
    {
        ("apps", "Deployment"): _deployment,
        ("apps", "StatefulSet"): _statefulset,
        ("apps", "DaemonSet"): _daemonset,
        ("apps", "ReplicaSet"): _replicaset,
        ("", "Pod"): _pod,
        ("", "Service"): _service,
        ("", "PersistentVolumeClaim"): _pvc,
        ("", "Namespace"): _namespace,
        ("networking.k8s.io", "Ingress"): _ingress,
        ("extensions", "Ingress"): _ingress,
        ("batch", "Job"): _job,
        ("batch", "CronJob"): _cronjob,
        ("autoscaling", "HorizontalPodAutoscaler"): _hpa,
        ("apiextensions.k8s.io", "CustomResourceDefinition"): _crd,
        ("apiregistration.k8s.io", "APIService"): _apiservice,
    }
)

# gitops-engine leaves hooks it still holds by a finalizer to their kind's rule, so a hook
# Job being cleaned up still reports how it ended (health.go, hook.HookFinalizer).
HOOK_FINALIZERS: Final = frozenset(
    {"gitopsd.io/hook-finalizer", "argocd.argoproj.io/hook-finalizer"}
)
_PENDING_DELETION: Final = _progressing("Pending deletion")


def _is_pending_deletion(meta: object) -> bool:
    if not isinstance(meta, dict) or not meta.get("deletionTimestamp"):
        return False
    finalizers = meta.get("finalizers")
    return not (isinstance(finalizers, list) and HOOK_FINALIZERS.intersection(finalizers))


def assess(obj: JSON) -> HealthStatus:
    """Health of one live object, as gitops-engine (or kstatus, for custom resources) sees it."""
    if _is_pending_deletion(obj.get("metadata")):
        return _PENDING_DELETION
    kind = obj.get("kind")
    api_version = obj.get("apiVersion")
    if not isinstance(kind, str) or not kind or not isinstance(api_version, str):
        return _unknown("object has no kind or apiVersion")
    group = api_version.rpartition("/")[0]
    check = _CHECKS.get((group, kind))
    if check is None:
        # A built-in kind without a rule has no health (ConfigMap, RBAC...); its
        # conditions, where it has any, do not mean Ready.
        if group in kinds.BUILTIN_GROUPS:
            return _HEALTHY
        check = _custom_resource
    try:
        return check(obj)
    except _MalformedError as err:
        return _unknown(f"failed to read {kind}: {err}")
