"""A native Kustomize for the subset real repositories use, matching ``kustomize build`` (v5).

``render`` builds the kustomization at an app's path: accumulation (``target``), then
the steps kustomize runs once at the top — hash suffixes on generated ConfigMaps and
Secrets, name reference fixing, ``vars`` substitution, dropping
``config.kubernetes.io/local-config`` objects — then the output order (kustomize's
legacy order unless the top kustomization's ``sortOptions`` says ``fifo`` or gives its
own kind lists), and the removal of kustomize's internal annotations.

Supported fields: resources/bases, components, namespace, namePrefix, nameSuffix,
commonLabels, labels, commonAnnotations, images/imageTags, replicas, patches,
patchesStrategicMerge, patchesJson6902, configMapGenerator, secretGenerator,
generatorOptions, replacements, vars, configurations, transformers (built-in
configurations), sortOptions. Anything else fails with
``unsupported kustomize field X (FILE:LINE)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from daemon.shell.render.kustomize import ids, kfile, nameref, target, transformers, varref
from daemon.shell.render.kustomize.resource import Resource
from daemon.shell.render.reader import Reader
from daemon.shell.render.result import Sourced

LOCAL_CONFIG = "config.kubernetes.io/local-config"
LEGACY_FIRST = (
    "Namespace", "ResourceQuota", "StorageClass", "CustomResourceDefinition", "ServiceAccount",
    "PodSecurityPolicy", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "ConfigMap",
    "Secret", "Endpoints", "Service", "LimitRange", "PriorityClass", "PersistentVolume",
    "PersistentVolumeClaim", "Deployment", "StatefulSet", "CronJob", "PodDisruptionBudget",
)  # fmt: skip
LEGACY_LAST = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
INTERNAL_ANNOTATIONS = frozenset(
    {
        *(
            f"internal.config.kubernetes.io/{name}"
            for name in (
                "previousKinds",
                "previousNames",
                "prefixes",
                "suffixes",
                "previousNamespaces",
                "allowNameChange",
                "allowKindChange",
                "refBy",
                "generatorBehavior",
                "needsHashSuffix",
                "path",
                "index",
                "seqindent",
                "id",
                "annotations-migration-resource-id",
                "helm-generated",
            )
        ),
        "config.kubernetes.io/path",
        "config.kubernetes.io/index",
        "config.k8s.io/id",
        "config.kubernetes.io/origin",
        "alpha.config.kubernetes.io/transformations",
    }
)


def render(files: Reader, *, path: str) -> list[Sourced]:
    """The objects ``kustomize build PATH`` would print, in its order."""
    builder = target.Builder(files)
    top = kfile.load(files, path)
    acc = builder.accumulate(path, target.Accumulation([]), chain=())
    resources = acc.resources
    transformers.hash_suffixes(resources)
    nameref.fix(resources, acc.config.name_reference)
    varref.resolve(resources, acc.variables, acc.config.var_reference)
    resources = [r for r in resources if not _is_local_config(r)]
    resources = order(resources, top.sort_options)
    return [Sourced(_cleaned(r), r.file, r.line) for r in resources]


def _is_local_config(res: Resource) -> bool:
    value = res.string_map("annotations").get(LOCAL_CONFIG)
    return value is not None and transformers.text(value) != "false"


def order(resources: Sequence[Resource], options: kfile.SortOptions | None) -> list[Resource]:
    """Kustomize's output order: legacy by default, fifo or custom legacy lists on request."""
    if options is not None and options.order == "fifo":
        return list(resources)
    first = LEGACY_FIRST if options is None or options.order_first is None else options.order_first
    last = LEGACY_LAST if options is None or options.order_last is None else options.order_last
    ranks = {kind: index - len(first) for index, kind in enumerate(first)}
    ranks.update({kind: index + 1 for index, kind in enumerate(last)})
    return sorted(resources, key=lambda r: ids.legacy_sort_key(r.cur_id(), ranks))


def _cleaned(res: Resource) -> dict[str, Any]:
    """The body as kustomize prints it: internal annotations gone, annotation values as text."""
    body = res.body
    metadata = body.get("metadata")
    if not isinstance(metadata, dict) or "annotations" not in metadata:
        return body
    annotations = metadata["annotations"]
    kept = {
        key: transformers.text(value) if value is not None else res.null_text(annotations, key)
        for key, value in (annotations.items() if isinstance(annotations, dict) else ())
        if key not in INTERNAL_ANNOTATIONS
    }
    if kept:
        metadata["annotations"] = dict(sorted(kept.items()))
    else:
        del metadata["annotations"]
    return body
