"""The sync plan: from desired and live state to an ordered list of steps, purely.

``prepare`` turns the rendered objects of an app into the bodies gitopsd applies:
namespace resolved (the app's destination for namespaced kinds, cleared for
cluster-scoped ones), the tracking label and annotation added, and the app's
restrictions checked (a refused object is a step with its reason, and nothing is
applied while any step is refused).

``compute`` pairs those bodies with the live objects and the inventory (what gitopsd
applied before): a missing live object is a create, a different one an update
(with the fields named), an equal one unchanged, and an inventory key no longer
desired a prune — unless pruning is off for the app or the object carries
``gitopsd.io/prune: disabled`` (or Helm's ``helm.sh/resource-policy: keep``; then it
is kept). Steps are ordered by
``ordering.sort_key``; prunes come last in reverse order.

Hooks run with a sync but do not make a plan one with changes (``has_changes``; Argo CD
leaves hooks out of an app's sync status too): the reconciler syncs for hooks alone only
while their revision has not synced successfully. A hook named by
``generateName`` (key ``.../prefix*``, see ``ids``) is a create in every plan; the
server names each instance, which the log records, and those instances are the
executor's to delete by the hook's delete policy, not prunes, while Git declares the
hook. Once it does not, they are pruned like anything else gitopsd applied.

Everything here is a function of its arguments, so ``gitopsd verify`` can recompute a
recorded plan from the state folded up to the plan's position and get the same steps.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from daemon.core import codec, diff, ids, kinds, ordering
from daemon.core.events import PlanStep, StepAction
from daemon.core.state import State

TRACKING_LABEL = "gitopsd.io/app"
TRACKING_ANNOTATION = "gitopsd.io/tracking"
PRUNE_ANNOTATION = "gitopsd.io/prune"
ARGO_SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
HELM_RESOURCE_POLICY = "helm.sh/resource-policy"
GENERATE_NAME_REFUSED = (
    "metadata.generateName is only allowed on hooks (PreSync, Sync, PostSync or SyncFail); "
    "give it a metadata.name"
)
GENERATED_HOOK = "hook named by generateName: a new instance is created each sync"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """An app's settings that decisions depend on (recorded in the log as AppConfigured)."""

    cluster: str
    namespace: str = "default"
    auto: bool = True
    prune: bool = True
    self_heal: bool = True
    allow_recreate: bool = False
    create_namespace: bool = False
    namespaces: tuple[str, ...] = ()
    allowed_kinds: tuple[str, ...] = ()
    denied_kinds: tuple[str, ...] = ()
    cluster_scoped: bool = True
    retry_limit: int = 5
    retry_backoff: float = 5.0
    retry_max_backoff: float = 300.0
    resync: float = 600.0

    def to_json(self) -> dict[str, Any]:
        """Plain JSON for AppConfigured."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, target: str | None = None) -> Policy:
        """Read a recorded policy for one target (unknown keys from newer versions are ignored).

        A policy recorded with targets (``app_policy``) names each target's namespace; one
        recorded before targets names its single ``cluster`` and ``namespace``.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {
            k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items() if k in known
        }
        targets = data.get("targets")
        if isinstance(targets, Mapping) and target is not None:
            values["cluster"] = target
            values["namespace"] = str(targets.get(target, values.get("namespace", "default")))
        return cls(**values)


def app_policy(policy: Policy, targets: Mapping[str, str]) -> dict[str, Any]:
    """The JSON an app's AppConfigured records.

    The settings its targets share, and ``targets`` (cluster -> namespace): the cluster
    and namespace of ``Policy`` are per target.
    """
    shared = {k: v for k, v in policy.to_json().items() if k not in ("cluster", "namespace")}
    return {**shared, "targets": dict(sorted(targets.items()))}


@dataclasses.dataclass(frozen=True, slots=True)
class Prepared:
    """The app's objects as gitopsd will apply them, and those refused, by resolved key."""

    bodies: dict[str, dict[str, Any]]
    refused: dict[str, str]
    placements: dict[str, ordering.Placement]


_CHANGES = frozenset({StepAction.CREATE, StepAction.UPDATE, StepAction.PRUNE, StepAction.REFUSED})


@dataclasses.dataclass(frozen=True, slots=True)
class Plan:
    """An ordered plan."""

    steps: tuple[PlanStep, ...]
    hooks: frozenset[str] = frozenset()
    """Keys of the steps that are hooks (not recorded: it follows from the bodies)."""

    @property
    def has_changes(self) -> bool:
        """True when applying it would change an object that is not a hook (or it refuses one)."""
        return any(
            s.action is StepAction.REFUSED or (s.action in _CHANGES and s.key not in self.hooks)
            for s in self.steps
        )

    @property
    def has_hook_changes(self) -> bool:
        """True when applying it would create or update a hook."""
        return any(s.action in _CHANGES and s.key in self.hooks for s in self.steps)

    @property
    def refused(self) -> tuple[PlanStep, ...]:
        """Steps refused by policy."""
        return tuple(s for s in self.steps if s.action is StepAction.REFUSED)


def group_kind(key: str) -> str:
    """``group/Kind`` of an object key."""
    parts = ids.parse_key(key)
    return f"{parts.group}/{parts.kind}"


def scope_of(gk: str, scopes: Mapping[str, bool]) -> bool | None:
    """True if namespaced, False if cluster-scoped, None if unknown (a CR without its CRD)."""
    if gk in scopes:
        return scopes[gk]
    group = gk.partition("/")[0]
    if gk in kinds.CLUSTER_SCOPED:
        return False
    if group in kinds.BUILTIN_GROUPS:
        return True
    return None


def crd_scopes(bodies: Iterable[Mapping[str, Any]]) -> dict[str, bool]:
    """Scopes declared by CustomResourceDefinitions among ``bodies``."""
    out: dict[str, bool] = {}
    for body in bodies:
        if body.get("kind") != kinds.CRD:
            continue
        spec = body.get("spec") or {}
        group, kind = spec.get("group"), (spec.get("names") or {}).get("kind")
        if isinstance(group, str) and isinstance(kind, str):
            out[f"{group}/{kind}"] = spec.get("scope") != "Cluster"
    return out


def prepare(
    *,
    app: str,
    objects: Mapping[str, Mapping[str, Any]],
    policy: Policy,
    scopes: Mapping[str, bool],
) -> Prepared:
    """Resolve namespaces, add tracking metadata, apply restrictions."""
    known = {**crd_scopes(objects.values()), **scopes}
    if policy.create_namespace:
        objects = {**_destination_namespace(policy), **objects}
    bodies: dict[str, dict[str, Any]] = {}
    refused: dict[str, str] = {}
    placements: dict[str, ordering.Placement] = {}
    for rendered_key in sorted(objects):
        body = objects[rendered_key]
        key, prepared, problem = _prepare_one(app, body, policy, known)
        if key in bodies or key in refused:
            refused[key] = f"declared twice (also as {rendered_key})"
            bodies.pop(key, None)
            continue
        if problem is None:
            try:
                place = ordering.placement(prepared)
            except ordering.AnnotationError as exc:
                problem = str(exc)
            else:
                if place.phase is ordering.Phase.SKIP:
                    continue
                if ids.is_generated(key) and not place.is_hook:
                    problem = GENERATE_NAME_REFUSED
                else:
                    placements[key] = place
        if problem is not None:
            refused[key] = problem
        else:
            bodies[key] = prepared
    return Prepared(bodies=bodies, refused=refused, placements=placements)


def _destination_namespace(policy: Policy) -> dict[str, dict[str, Any]]:
    """The destination Namespace, created for the app and never pruned.

    Argo CD's ``CreateNamespace=true``; pruning it would delete everything in it.
    """
    body = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": policy.namespace, "annotations": {PRUNE_ANNOTATION: "disabled"}},
    }
    return {ids.key_of(body): body}


def _prepare_one(
    app: str, body: Mapping[str, Any], policy: Policy, scopes: Mapping[str, bool]
) -> tuple[str, dict[str, Any], str | None]:
    out = dict(body)
    meta = dict(out.get("metadata") or {})
    gk = group_kind(ids.key_of(out))
    namespaced = scope_of(gk, scopes)
    if namespaced is False:
        meta.pop("namespace", None)
    elif not meta.get("namespace"):
        meta["namespace"] = policy.namespace
    out["metadata"] = meta
    key = ids.key_of(out)
    meta["labels"] = {**(meta.get("labels") or {}), TRACKING_LABEL: app}
    meta["annotations"] = {**(meta.get("annotations") or {}), TRACKING_ANNOTATION: f"{app}:{key}"}
    return key, out, _restriction(key, namespaced=namespaced, policy=policy)


def _restriction(key: str, *, namespaced: bool | None, policy: Policy) -> str | None:
    parts = ids.parse_key(key)
    gk = f"{parts.group}/{parts.kind}"
    if any(_kind_matches(rule, parts.kind, gk) for rule in policy.denied_kinds):
        return f"kind {parts.kind} is denied for this app"
    if policy.allowed_kinds and not any(
        _kind_matches(rule, parts.kind, gk) for rule in policy.allowed_kinds
    ):
        return f"kind {parts.kind} is not in the app's allowed kinds"
    if namespaced is False:
        if not policy.cluster_scoped:
            return "cluster-scoped objects are not allowed for this app"
        return None
    if policy.namespaces and parts.namespace not in policy.namespaces:
        allowed = ", ".join(policy.namespaces)
        return f"namespace {parts.namespace!r} is not allowed for this app (allowed: {allowed})"
    return None


def _kind_matches(rule: str, kind: str, gk: str) -> bool:
    # "Deployment" matches the kind in any group; "apps/Deployment" only in that group;
    # "*" matches everything.
    return rule in ("*", kind) or rule == gk or (rule.startswith("/") and rule == gk)


def compute(
    *,
    app: str,
    prepared: Prepared,
    live: Mapping[str, Mapping[str, Any] | None],
    inventory: Mapping[str, str],
    policy: Policy,
    hook_instances: Mapping[str, str] | None = None,
) -> Plan:
    """The ordered steps that converge ``live`` on ``prepared``.

    ``hook_instances`` maps inventory keys that are instances of ``generateName`` hooks
    to their hook's key (``AppState.hook_instances``).
    """
    steps: list[tuple[tuple[Any, ...], PlanStep]] = []
    for key, reason in prepared.refused.items():
        refusal = PlanStep(key=key, action=StepAction.REFUSED, reason=reason)
        steps.append((_order(key, None), refusal))
    for key, body in prepared.bodies.items():
        place = prepared.placements[key]
        if ids.is_generated(key):
            action, reason = StepAction.CREATE, GENERATED_HOOK
        else:
            action, reason = _verdict(app, key, body, live.get(key), inventory)
        step = PlanStep(
            key=key,
            action=action,
            wave=place.wave,
            phase=place.phase.value,
            digest=codec.digest(body),
            reason=reason,
        )
        steps.append((_order(key, place), step))
    steps.sort(key=lambda pair: pair[0])
    instances = hook_instances or {}
    # Instances of a hook Git still declares are the hook's business, not prunes.
    declared = prepared.bodies.keys() | prepared.refused.keys()
    kept = {k for k, hook in instances.items() if hook in declared}
    owned = {k: v for k, v in inventory.items() if k not in kept}
    prunes = _prunes(prepared, live, owned, policy)
    hooks = frozenset(k for k, place in prepared.placements.items() if place.is_hook)
    return Plan(steps=tuple(s for _, s in steps) + tuple(prunes), hooks=hooks)


def _verdict(
    app: str,
    key: str,
    body: Mapping[str, Any],
    current: Mapping[str, Any] | None,
    inventory: Mapping[str, str],
) -> tuple[StepAction, str]:
    if current is None:
        return StepAction.CREATE, "not in the cluster"
    owner = _tracked_app(current)
    if owner is not None and owner != app:
        return StepAction.REFUSED, f"{ids.display_key(key)} is managed by app {owner!r}"
    differences = diff.compare(body, current)
    if not differences:
        return StepAction.UNCHANGED, "in sync"
    shown = "; ".join(d.describe() for d in differences[:3])
    more = f" (+{len(differences) - 3} more)" if len(differences) > 3 else ""
    adopt = "" if key in inventory or owner == app else "adopting an existing object: "
    return StepAction.UPDATE, f"{adopt}{shown}{more}"


def _tracked_app(obj: Mapping[str, Any]) -> str | None:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(TRACKING_ANNOTATION)
    if not isinstance(value, str) or ":" not in value:
        return None
    return value.split(":", 1)[0]


def _prunes(
    prepared: Prepared,
    live: Mapping[str, Mapping[str, Any] | None],
    inventory: Mapping[str, str],
    policy: Policy,
) -> list[PlanStep]:
    doomed: list[tuple[tuple[Any, ...], PlanStep]] = []
    for key in inventory:
        if key in prepared.bodies or key in prepared.refused:
            continue
        current = live.get(key)
        order = _order(key, _safe_placement(current))
        deleting = (current or {}).get("metadata", {}).get("deletionTimestamp")
        if current is not None and deleting:
            # Deleted already and held by finalizers: nothing to do until it is gone
            # (then it is absent, and the prune is confirmed).
            finalizers = ", ".join((current.get("metadata") or {}).get("finalizers") or [])
            step = PlanStep(
                key=key,
                action=StepAction.KEEP,
                phase="Prune",
                reason=f"no longer in Git; deletion pending (finalizers: {finalizers or 'none'})",
            )
        elif current is not None and (protection := _protection(current)) is not None:
            step = PlanStep(
                key=key,
                action=StepAction.KEEP,
                phase="Prune",
                reason=f"no longer in Git; kept: {protection}",
            )
        elif not policy.prune:
            step = PlanStep(
                key=key,
                action=StepAction.KEEP,
                phase="Prune",
                reason="no longer in Git; kept: pruning is off for this app",
            )
        else:
            reason = "no longer in Git" + ("" if current is not None else " (already absent)")
            step = PlanStep(key=key, action=StepAction.PRUNE, phase="Prune", reason=reason)
        doomed.append((order, step))
    doomed.sort(key=lambda pair: pair[0], reverse=True)
    return [s for _, s in doomed]


def _protection(obj: Mapping[str, Any]) -> str | None:
    """The annotation that keeps ``obj`` from being pruned (``name: value``), or None."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if annotations.get(PRUNE_ANNOTATION) == "disabled":
        return f"{PRUNE_ANNOTATION}: disabled"
    if annotations.get(HELM_RESOURCE_POLICY) == "keep":  # as Argo CD reads it
        return f"{HELM_RESOURCE_POLICY}: keep"
    options = str(annotations.get(ARGO_SYNC_OPTIONS, ""))
    if "Prune=false" in [o.strip() for o in options.split(",")]:
        return f"{ARGO_SYNC_OPTIONS}: Prune=false"
    return None


def _safe_placement(obj: Mapping[str, Any] | None) -> ordering.Placement | None:
    if obj is None:
        return None
    try:
        return ordering.placement(obj)
    except ordering.AnnotationError:
        return None


def _order(key: str, place: ordering.Placement | None) -> tuple[Any, ...]:
    parts = ids.parse_key(key)
    return ordering.sort_key(
        kind=parts.kind,
        name=parts.name,
        namespace=parts.namespace,
        phase=place.phase if place else ordering.Phase.SYNC,
        wave=place.wave if place else 0,
    )


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


class MissingBlobsError(LookupError):
    """Bodies the plan needs are not in the blob map given; fetch them and call again."""

    def __init__(self, digests: set[str]) -> None:
        super().__init__(f"{len(digests)} object bodies are needed: {sorted(digests)[:3]}...")
        self.digests = digests


@dataclasses.dataclass(frozen=True, slots=True)
class AppPlan:
    """A plan for an app and what it was computed from."""

    revision: str
    plan: Plan
    prepared: Prepared
    policy: Policy


def plan_app(
    state: State,
    app_name: str,
    *,
    target: str,
    blobs: Mapping[str, Any],
    scopes: Mapping[str, bool],
) -> AppPlan | None:
    """The plan for one target of ``app_name`` from the folded ``state`` and bodies by digest.

    None when the app has no policy yet, no such target, or nothing rendered to converge
    on. Raises ``MissingBlobsError`` naming the digests to fetch when ``blobs`` lacks some.
    """
    app = state.apps.get(app_name)
    if app is None or app.policy is None:
        return None
    where = app.targets.get(target)
    if where is None:
        return None
    revision, desired = app.converge_on(where)
    if revision is None or desired is None:
        return None
    policy = Policy.from_json(app.policy, target=target)
    if where.removed:
        # Leaving the app: everything goes (what is protected stays), nothing is created.
        policy = dataclasses.replace(policy, namespace=where.namespace, create_namespace=False)
    missing = {d for d in desired.values() if d not in blobs}
    if missing:
        raise MissingBlobsError(missing)
    prepared = prepare(
        app=app_name,
        objects={key: blobs[digest] for key, digest in desired.items()},
        policy=policy,
        scopes=scopes,
    )
    cluster = state.clusters.get(policy.cluster)
    objects = cluster.objects if cluster is not None else {}
    keys = set(prepared.bodies) | set(prepared.refused) | set(where.inventory)
    live_digests = {k: objects[k].digest for k in keys if k in objects}
    missing = {d for d in live_digests.values() if d not in blobs}
    if missing:
        raise MissingBlobsError(missing)
    live = {k: blobs[d] for k, d in live_digests.items()}
    result = compute(
        app=app_name,
        prepared=prepared,
        live=live,
        inventory=where.inventory,
        policy=policy,
        hook_instances=where.hook_instances,
    )
    return AppPlan(revision=revision, plan=result, prepared=prepared, policy=policy)
