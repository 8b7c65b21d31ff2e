"""Accumulating a kustomization: resources, generators, components, then transformers.

The order is kustomize's: resources (files and sub-kustomizations, each built
separately and appended), generators (merged into what is there by their behavior),
components (which work on the accumulation so far), then the built-in transformers
in kustomize's fixed order — strategic merge patches, patches, namespace, prefix,
suffix, labels, annotations, JSON 6902 patches, replicas, images — then the
``transformers`` field.

File rules are kustomize's defaults: a file a kustomization reads (resource, patch,
generator source) must resolve inside that kustomization's directory; directories
(bases, components) may be anywhere in the repository but not the kustomization's own
directory or one of its ancestors (a cycle). Remote bases and files are refused.
"""

from __future__ import annotations

import dataclasses
import re

from daemon.shell.render import tree as treemod
from daemon.shell.render.kustomize import (
    builtins,
    configs,
    fieldspecs,
    generators,
    ids,
    kfile,
    patches,
    replacement,
    resource,
    transformers,
    varref,
)
from daemon.shell.render.kustomize.resource import Resource
from daemon.shell.render.reader import Reader
from daemon.shell.render.result import RenderError

_REMOTE = re.compile(
    r"^(?:[a-z][a-z0-9+.-]*://|git@|github\.com/|gitlab\.com/|bitbucket\.org/)|\?ref="
)


def is_remote(path: str) -> bool:
    """True for URLs and go-getter style repository references."""
    return _REMOTE.search(path) is not None


@dataclasses.dataclass(slots=True)
class Accumulation:
    """What building a kustomization yields: resources, the field specs in force, vars."""

    resources: list[Resource]
    config: fieldspecs.TransformerConfig = configs.EMPTY
    variables: list[varref.Var] = dataclasses.field(default_factory=list)


class Builder:
    """Builds one app's kustomization tree through a reader."""

    def __init__(self, files: Reader) -> None:
        self.files = files

    def accumulate(
        self, directory: str, into: Accumulation, *, chain: tuple[str, ...]
    ) -> Accumulation:
        """The accumulation of the kustomization at ``directory`` (added to ``into``).

        ``into`` is empty for a base; a component works on its parent's accumulation.
        The steps are kustomize's: resources, configurations, generators, components,
        transformers, then binding the kustomization's own vars.
        """
        k = kfile.load(self.files, directory)
        chain = (*chain, self.real(directory))
        acc = self.add_resources(k, into, chain=chain)
        own = configs.load(
            k.configurations, load_file=self.loader(k, "configurations"), limits=self.files.limits
        )
        try:
            acc.config = configs.merge(acc.config, configs.merge(configs.DEFAULT, own))
        except RenderError as exc:
            raise RenderError(
                f"configurations: {exc.message}", file=k.file, line=k.line("configurations")
            ) from exc
        acc.resources = self.run_generators(k, acc.resources)
        for path in k.components:
            sub = self.directory(k, path, key="components", chain=chain)
            if kfile.load(self.files, sub).kind != "Component":
                raise RenderError(
                    f"expected kind 'Component' for path {path!r}",
                    file=k.file,
                    line=k.line("components"),
                )
            acc = self.accumulate(sub, acc, chain=chain)
        acc.resources = self.transform(k, acc, chain=chain)
        variables = varref.parse(k.vars)
        varref.bind(acc.resources, variables)
        acc.variables = varref.merge(acc.variables, variables)
        return acc

    def real(self, path: str) -> str:
        """``path`` with symlinks followed."""
        return self.files.resolve(path)

    def load(self, k: kfile.Kustomization, path: str, *, key: str) -> bytes:
        """A file named in ``k`` (relative to its directory, and inside it once resolved)."""
        if is_remote(path):
            raise RenderError(
                f"remote file {path!r} is not supported: vendor it into the repository",
                file=k.file,
                line=k.line(key),
            )
        full = self.join(k, path, key=key)
        kind = self.files.kind(full)
        if kind != "file":
            what = "not found" if kind is None else f"is a {kind}, not a file"
            raise RenderError(f"{key}: {path!r} {what}", file=k.file, line=k.line(key))
        if not treemod.is_within(self.real(full), self.real(k.dir)):
            raise RenderError(
                f"security; file {path!r} is not in or below {k.dir or '.'!r}",
                file=k.file,
                line=k.line(key),
            )
        return self.files.read(full)

    def loader(self, k: kfile.Kustomization, key: str) -> generators.Load:
        """``load`` bound to one kustomization and field."""

        def load(path: str) -> bytes:
            return self.load(k, path, key=key)

        return load

    def join(self, k: kfile.Kustomization, path: str, *, key: str) -> str:
        """``path`` relative to ``k``'s directory, as a repository path."""
        try:
            return treemod.join(k.dir, path)
        except RenderError as exc:
            raise RenderError(
                f"{key}: {path!r} {exc.message}", file=k.file, line=k.line(key)
            ) from exc

    def directory(
        self, k: kfile.Kustomization, path: str, *, key: str, chain: tuple[str, ...]
    ) -> str:
        """A base or component directory named in ``k``, checked for cycles."""
        if is_remote(path):
            raise RenderError(
                f"remote {key} {path!r} is not supported: vendor it into the repository",
                file=k.file,
                line=k.line(key),
            )
        full = self.join(k, path, key=key)
        if self.files.kind(full) != "dir":
            raise RenderError(f"{key}: {path!r} is not a directory", file=k.file, line=k.line(key))
        real = self.real(full)
        for visited in chain:
            if treemod.is_within(visited, real):
                raise RenderError(
                    f"cycle detected: {key} {path!r} contains the visited "
                    f"kustomization {visited or '.'!r}",
                    file=k.file,
                    line=k.line(key),
                )
        return full

    def add_resources(
        self, k: kfile.Kustomization, into: Accumulation, *, chain: tuple[str, ...]
    ) -> Accumulation:
        """``into`` plus the ``resources`` of ``k`` (refusing duplicate ids), configs and vars."""
        acc = Accumulation(list(into.resources), into.config, list(into.variables))
        for path in k.resources:
            if (
                not is_remote(path)
                and self.files.kind(self.join(k, path, key="resources")) == "file"
            ):
                text = self.load(k, path, key="resources").decode("utf-8", "replace")
                found = resource.from_text(
                    text, file=self.join(k, path, key="resources"), limits=self.files.limits
                )
            else:
                sub = self.directory(k, path, key="resources", chain=chain)
                if kfile.load(self.files, sub).kind == "Component":
                    raise RenderError(
                        f"expected kind != 'Component' for path {path!r}",
                        file=k.file,
                        line=k.line("resources"),
                    )
                base = self.accumulate(sub, Accumulation([]), chain=chain)
                acc.config = configs.merge(acc.config, base.config)
                acc.variables = varref.merge(acc.variables, base.variables)
                found = base.resources
            append_all(acc.resources, found)
        return acc

    def run_generators(self, k: kfile.Kustomization, resources: list[Resource]) -> list[Resource]:
        """ConfigMaps then Secrets, each absorbed by its behavior."""
        for key, entries, secret in (
            ("configMapGenerator", k.config_map_generator, False),
            ("secretGenerator", k.secret_generator, True),
        ):
            load = self.loader(k, key)
            for args in entries:
                options = generators.merged_options(args.options, k.generator_options)
                made = generators.generate(
                    _with_options(args, options),
                    secret=secret,
                    load=load,
                    file=k.file,
                    line=k.line(key),
                )
                resources = absorb(resources, made)
        return resources

    def transform(
        self, k: kfile.Kustomization, acc: Accumulation, *, chain: tuple[str, ...]
    ) -> list[Resource]:
        """The built-in transformers of ``k`` in kustomize's order, then ``transformers``."""
        resources = acc.resources
        where = k.file
        limits = self.files.limits

        def load_psm(p: str) -> bytes:
            return self.load(k, p, key="patchesStrategicMerge")

        resources = patches.apply_patches_strategic_merge(
            resources, k.patches_strategic_merge, load=load_psm, where=where, limits=limits
        )
        resources = patches.apply_patches(
            resources,
            k.patches,
            load=lambda p: self.load(k, p, key="patches"),
            where=where,
            limits=limits,
        )
        config = acc.config
        transformers.namespace(resources, k.namespace, specs=config.namespace)
        if k.name_prefix:
            transformers.prefix_suffix(resources, prefix=k.name_prefix, specs=config.name_prefix)
        if k.name_suffix:
            transformers.prefix_suffix(resources, suffix=k.name_suffix, specs=config.name_suffix)
        for label in k.labels:
            transformers.set_entries(
                resources, label.pairs, transformers.label_specs(label, config)
            )
        transformers.set_entries(resources, k.common_labels, config.common_labels)
        transformers.set_entries(resources, k.common_annotations, config.common_annotations)
        patches.apply_json6902(
            resources,
            k.patches_json6902,
            load=self.loader(k, "patchesJson6902"),
            where=where,
            limits=limits,
        )
        for name, count in k.replicas:
            transformers.replicas(resources, name=name, count=count, specs=config.replicas)
        for image in k.images:
            transformers.images(resources, image, specs=config.images)
        replacement.apply(
            resources,
            replacement.parse(
                k.replacements, load=self.loader(k, "replacements"), limits=self.files.limits
            ),
        )
        for entry in k.transformers:
            for plugin in self.transformer_configs(k, entry, chain=chain):
                resources = builtins.run(plugin, resources, builder=self, k=k)
        return resources

    def transformer_configs(
        self, k: kfile.Kustomization, entry: str, *, chain: tuple[str, ...]
    ) -> list[Resource]:
        """The plugin configurations an ``transformers`` entry names (inline, file or directory)."""
        if "\n" in entry.strip() or entry.lstrip().startswith(("apiVersion:", "kind:", "{")):
            return resource.from_text(entry, file=k.file, limits=self.files.limits)
        if (
            not is_remote(entry)
            and self.files.kind(self.join(k, entry, key="transformers")) == "file"
        ):
            text = self.load(k, entry, key="transformers").decode("utf-8", "replace")
            return resource.from_text(
                text, file=self.join(k, entry, key="transformers"), limits=self.files.limits
            )
        sub = self.directory(k, entry, key="transformers", chain=chain)
        return self.accumulate(sub, Accumulation([]), chain=chain).resources


def _with_options(
    args: kfile.GeneratorArgs, options: kfile.GeneratorOptions | None
) -> kfile.GeneratorArgs:
    return kfile.GeneratorArgs(
        name=args.name,
        namespace=args.namespace,
        behavior=args.behavior,
        literals=args.literals,
        files=args.files,
        envs=args.envs,
        options=options,
        type=args.type,
    )


def append_all(resources: list[Resource], new: list[Resource]) -> None:
    """Append ``new``, refusing a current id that is already there."""
    seen = {_id_key(r.cur_id()): r for r in resources}
    for res in new:
        rid = res.cur_id()
        clash = seen.get(_id_key(rid))
        if clash is not None:
            raise RenderError(
                f"may not add resource with an already registered id: {rid.display()} "
                f"(from {res.where()}, already from {clash.where()})"
            )
        resources.append(res)
        seen[_id_key(rid)] = res


def _id_key(rid: ids.ResId) -> tuple[ids.Gvk, str, str]:
    return (rid.gvk, rid.name, rid.effective_namespace())


def absorb(resources: list[Resource], new: Resource) -> list[Resource]:
    """Add a generated resource, or merge/replace the one it names, per its behavior."""
    rid = new.cur_id()
    matches = [r for r in resources if any(i.equals(rid) for i in r.all_ids())]
    behavior = new.behavior or "unspecified"
    if not matches:
        if behavior in ("merge", "replace"):
            raise RenderError(
                f"id {rid.display()} does not exist; cannot merge or replace",
                file=new.file,
                line=new.line,
            )
        append_all(resources, [new])
        return resources
    if len(matches) > 1:
        raise RenderError(
            f"found multiple objects that could accept merge of {rid.display()}",
            file=new.file,
            line=new.line,
        )
    old = matches[0]
    if behavior not in ("merge", "replace"):
        raise RenderError(
            f"id {rid.display()} exists; behavior must be merge or replace, not {behavior!r}",
            file=new.file,
            line=new.line,
        )
    _copy_merge_metadata(new, old)
    if behavior == "merge":
        for field in ("data", "binaryData"):
            merged = {**_map(old.body.get(field)), **_map(new.body.get(field))}
            new.body.pop(field, None)
            if merged:
                new.body[field] = dict(sorted(merged.items()))
    return [new if r is old else r for r in resources]


def _map(value: object) -> dict[str, object]:
    return dict(value) if isinstance(value, dict) else {}


def _copy_merge_metadata(new: Resource, old: Resource) -> None:
    """Kustomize's CopyMergeMetaDataFieldsFrom: labels and annotations merged, old's identity."""
    new.set_string_map("labels", {**old.string_map("labels"), **new.string_map("labels")})
    new.set_string_map(
        "annotations", {**old.string_map("annotations"), **new.string_map("annotations")}
    )
    new.name = old.name
    new.namespace = old.namespace
    new.previous = list(old.previous)
    new.prefixes = list(old.prefixes)
    new.suffixes = list(old.suffixes)
    new.referred = old.referred
    new.needs_hash = old.needs_hash and new.needs_hash
    new.behavior = old.behavior
