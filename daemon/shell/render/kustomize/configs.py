"""The ``configurations`` field: custom field specs merged into the built-in ones.

A configuration file holds any of ``namePrefix``, ``nameSuffix``, ``namespace``,
``commonLabels``, ``labels``, ``templateLabels``, ``commonAnnotations``,
``nameReference`` (``kind``/``group``/``version`` plus ``fieldSpecs``),
``varReference``, ``images`` and ``replicas``, each a list of field specs (``group``,
``version``, ``kind``, ``path``, ``create``); any other key is an error, as
kustomize decodes these files strictly.

Inheritance is kustomize's: a kustomization's transformers run with the built-in specs
merged with its own ``configurations`` *and* those of every base and component below
it (a base's configuration reaches its overlays, never the other way), and the name
reference and var steps at the end of the build use everything merged. Merging skips
a spec already there for a gvk that selects it; the same path with a different
``create`` is an error.

Also here: kustomize's default ``varReference`` field specs (which fields ``$(VAR)``
is substituted in), restated from its built-in configuration.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

from daemon.shell.render import yamlsafe
from daemon.shell.render.kustomize import fieldspecs, kfile
from daemon.shell.render.kustomize.fieldspecs import FieldSpec, NameReference, TransformerConfig
from daemon.shell.render.kustomize.ids import Gvk
from daemon.shell.render.result import Limits, RenderError

_SPEC_LISTS = {
    "namePrefix": "name_prefix",
    "nameSuffix": "name_suffix",
    "namespace": "namespace",
    "commonLabels": "common_labels",
    "labels": "labels",
    "templateLabels": "template_labels",
    "commonAnnotations": "common_annotations",
    "varReference": "var_reference",
    "images": "images",
    "replicas": "replicas",
}


def _workload_var_paths(prefix: str) -> list[str]:
    return [
        f"{prefix}{holder}/{field}"
        for holder in ("containers", "initContainers")
        for field in ("args", "command", "env/value", "volumeMounts/mountPath")
    ]


def _var_reference() -> tuple[FieldSpec, ...]:
    spec = fieldspecs.spec
    out = [
        *(spec(p, "CronJob") for p in _workload_var_paths("spec/jobTemplate/spec/template/spec/")),
        spec("spec/jobTemplate/spec/template/volumes/nfs/server", "CronJob"),
    ]
    for kind in ("DaemonSet", "Deployment"):
        out += [spec(p, kind) for p in _workload_var_paths("spec/template/spec/")]
        out.append(spec("spec/template/spec/volumes/nfs/server", kind))
    out += [
        spec("spec/template/metadata/annotations", "Deployment"),
        spec("spec/rules/host", "Ingress"),
        spec("spec/tls/hosts", "Ingress"),
        spec("spec/tls/secretName", "Ingress"),
    ]
    out += [spec(p, "Job") for p in _workload_var_paths("spec/template/spec/")]
    out.append(spec("spec/template/spec/volumes/nfs/server", "Job"))
    out += [spec(p, "Pod") for p in _workload_var_paths("spec/")]
    out.append(spec("spec/volumes/nfs/server", "Pod"))
    out += [spec(p, "ReplicaSet") for p in _workload_var_paths("spec/template/spec/")]
    out.append(spec("spec/template/spec/volumes/nfs/server", "ReplicaSet"))
    out += [spec("spec/ports/port", "Service"), spec("spec/ports/targetPort", "Service")]
    out += [spec(p, "StatefulSet") for p in _workload_var_paths("spec/template/spec/")]
    out += [
        spec("spec/volumeClaimTemplates/spec/nfs/server", "StatefulSet"),
        spec("spec/nfs/server", "PersistentVolume"),
        spec("metadata/labels"),
        spec("metadata/annotations"),
    ]
    return tuple(out)


DEFAULT = dataclasses.replace(fieldspecs.DEFAULT, var_reference=_var_reference())
"""The built-in configuration a build starts from (field specs and var references)."""

EMPTY = TransformerConfig(
    name_prefix=(),
    name_suffix=(),
    namespace=(),
    common_labels=(),
    template_labels=(),
    volume_claim_template_labels=(),
    common_annotations=(),
    images=(),
    replicas=(),
    name_reference=(),
)


def merge(first: TransformerConfig, second: TransformerConfig) -> TransformerConfig:
    """``first`` with the specs of ``second`` added (kustomize's TransformerConfig.Merge)."""
    if second is EMPTY or second is first:
        return first
    if first is EMPTY:
        return second
    lists = {
        field: tuple(fieldspecs.merge_all(list(getattr(first, field)), getattr(second, field)))
        for field in (*_SPEC_LISTS.values(), "volume_claim_template_labels")
    }
    references = list(first.name_reference)
    for reference in second.name_reference:
        references = _merge_reference(references, reference)
    return TransformerConfig(**lists, name_reference=tuple(references))


def _merge_reference(references: list[NameReference], new: NameReference) -> list[NameReference]:
    out = []
    found = False
    for existing in references:
        if existing.gvk != new.gvk:
            out.append(existing)
            continue
        found = True
        referrers = fieldspecs.merge_all(list(existing.referrers), new.referrers)
        out.append(NameReference(existing.gvk, tuple(referrers)))
    return out if found else [*out, new]


Load = Callable[[str], bytes]


def load(paths: Iterable[str], *, load_file: Load, limits: Limits) -> TransformerConfig:
    """The configuration the files at ``paths`` describe, merged in order."""
    config = EMPTY
    for path in paths:
        document = yamlsafe.load(
            load_file(path).decode("utf-8", "replace"), file=path, limits=limits
        )
        if document.value is None:
            continue
        try:
            config = merge(config, _parse(document.value, file=path, lines=document.key_lines))
        except RenderError as exc:
            if exc.file:
                raise
            raise RenderError(exc.message, file=path) from exc
    return config


def _parse(value: object, *, file: str, lines: dict[str, int]) -> TransformerConfig:
    top = kfile.Fields(value, where="", file=file, lines=lines)
    top.only({*_SPEC_LISTS, "nameReference"})
    lists = {field: tuple(_specs(top, key)) for key, field in _SPEC_LISTS.items()}
    references = []
    for item in top.items("nameReference"):
        item.only({"group", "version", "kind", "fieldSpecs"})
        gvk = Gvk(item.string("group"), item.string("version"), item.string("kind"))
        references.append(NameReference(gvk, tuple(_specs(item, "fieldSpecs"))))
    return dataclasses.replace(EMPTY, **lists, name_reference=tuple(references))


def _specs(f: kfile.Fields, key: str) -> list[FieldSpec]:
    specs = [kfile.field_spec(item) for item in f.items(key)]
    for fs in specs:
        if not fs.path:
            raise RenderError(f"a field spec in {key} has no path", file=f.file, line=f.line)
    return specs
