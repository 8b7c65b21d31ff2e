"""Cross-checks of each app's ``destination``: which clusters, and in which namespace.

A destination names one cluster (``cluster``), a list (``clusters``) or selects clusters by
their labels (``selector``): exactly one of the three. Named clusters must be defined; a
selector must be one the Kubernetes API server would accept (as apimachinery's
``ValidateLabelSelector`` / ``ValidateLabelSelectorRequirement`` in
``pkg/apis/meta/v1/validation/validation.go`` check it: the operator's values, label keys
as qualified names, values as label values). The namespace template may use only
``{{cluster}}`` and ``{{labels.KEY}}``, and on every selected cluster it must fill in to a
DNS-1123 label. A selector that selects no cluster is valid (clusters may be labelled
later): it is a warning, not a problem. The selection itself is ``core.targets``; this
module only reports, through the loader's context, as ``FILE:LINE: key.path: message``.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Mapping

import yaml

from daemon.core import targets as core_targets
from daemon.settings import targets as settings_targets
from daemon.settings.checks import node_at
from daemon.settings.schema import DNS1123, AppConfig, ClusterSelectorConfig, Config, shown

if typing.TYPE_CHECKING:
    from daemon.settings.loader import _Context

FORMS = ("cluster", "clusters", "selector")

# apimachinery pkg/util/validation/validation.go: IsQualifiedName and IsValidLabelValue
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
_NAME_MAX = 63
_PREFIX_MAX = 253
_NAME_RULE = (
    "alphanumeric characters, '-', '_' or '.', starting and ending with an alphanumeric "
    f"character, at most {_NAME_MAX} characters"
)


def label_key_problem(key: str) -> str | None:
    """Why ``key`` is not a label key (``[prefix/]name``), or None."""
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > _PREFIX_MAX or not _DNS1123_SUBDOMAIN.match(prefix)):
        return (
            f"label key {key!r}: the prefix before '/' must be a DNS subdomain "
            "(lowercase, e.g. example.com)"
        )
    if len(name) > _NAME_MAX or not _QUALIFIED_NAME.match(name):
        return f"label key {key!r}: the name must be {_NAME_RULE}"
    return None


def label_value_problem(value: str) -> str | None:
    """Why ``value`` is not a label value (empty is one), or None."""
    if value and (len(value) > _NAME_MAX or not _QUALIFIED_NAME.match(value)):
        return f"label value {value!r} must be empty or {_NAME_RULE}"
    return None


def is_templated(namespace: str) -> bool:
    """True when a destination namespace is filled in per target (it uses ``{{``)."""
    return "{{" in namespace


def cross_check(config: Config, ctx: _Context, root: yaml.Node) -> None:
    """Every app's destination; problems (and warnings) go to ``ctx``."""
    clusters = {str(c.name): dict(c.labels) for c in config.clusters}
    for i, app in enumerate(config.apps):
        _Check(ctx=ctx, root=root, i=i, clusters=clusters).app(app)


class _Check:
    """The checks of one app's destination (``apps[i].destination``)."""

    def __init__(
        self,
        *,
        ctx: _Context,
        root: yaml.Node,
        i: int,
        clusters: Mapping[str, Mapping[str, str]],
    ) -> None:
        self.ctx, self.root, self.i, self.clusters = ctx, root, i, clusters
        self.where = f"apps[{i}].destination"

    def report(self, keys: tuple[str | int, ...], path: str, message: str) -> None:
        node = node_at(self.root, "apps", self.i, "destination", *keys)
        self.ctx.problem(node, f"{self.where}{path}", message)

    def app(self, app: AppConfig) -> None:
        dest = app.destination
        is_set = (dest.cluster is not None, bool(dest.clusters), dest.selector is not None)
        forms = [form for form, used in zip(FORMS, is_set, strict=True) if used]
        if not forms:
            self.report((), "", "set one of cluster, clusters or selector")
        elif len(forms) > 1:
            self.report(
                (forms[1],),
                "",
                f"set only one of cluster, clusters or selector (got {' and '.join(forms)})",
            )
        names_ok = self.names([str(dest.cluster)] if dest.cluster is not None else [], "cluster")
        names_ok = self.names([str(c) for c in dest.clusters], "clusters") and names_ok
        selector_ok = dest.selector is None or self.selector(dest.selector)
        template_ok = self.template(dest.namespace)
        self.helm(app)
        if len(forms) == 1 and names_ok and selector_ok and template_ok:
            self.targets(app)

    def names(self, names: list[str], key: str) -> bool:
        """Each named cluster is defined, and named once."""
        ok = True
        seen: dict[str, int] = {}
        for j, name in enumerate(names):
            keys: tuple[str | int, ...] = (key,) if key == "cluster" else (key, j)
            path = f".{key}" if key == "cluster" else f".{key}[{j}]"
            if name not in self.clusters:
                defined = ", ".join(sorted(self.clusters)) or "none"
                self.report(keys, path, f"undefined cluster {name!r} (defined: {defined})")
                ok = False
            if name in seen:
                self.report(keys, path, f"duplicate cluster {name!r} (also {key}[{seen[name]}])")
                ok = False
            seen.setdefault(name, j)
        return ok

    def selector(self, selector: ClusterSelectorConfig) -> bool:
        """The selector is one the API server would accept."""
        count = len(self.ctx.problems)
        for key, value in selector.match_labels.items():
            keys = ("selector", "matchLabels", key)
            for problem in (label_key_problem(key), label_value_problem(value)):
                if problem is not None:
                    self.report(keys, f".selector.matchLabels.{key}", problem)
        for j, expr in enumerate(selector.match_expressions):
            keys_j: tuple[str | int, ...] = ("selector", "matchExpressions", j)
            path = f".selector.matchExpressions[{j}]"
            requirement = core_targets.Requirement(
                key=expr.key, operator=expr.operator, values=tuple(expr.values)
            )
            problem = requirement.problem()
            if problem is not None:
                self.report((*keys_j, "values"), f"{path}.values", problem)
            key_problem = label_key_problem(expr.key)
            if key_problem is not None:
                self.report((*keys_j, "key"), f"{path}.key", key_problem)
            for k, value in enumerate(expr.values):
                value_problem = label_value_problem(value)
                if value_problem is not None:
                    self.report((*keys_j, "values", k), f"{path}.values[{k}]", value_problem)
        return len(self.ctx.problems) == count

    def template(self, namespace: str) -> bool:
        """The namespace uses only known variables; a fixed one is a DNS-1123 label."""
        ok = True
        for name in core_targets.variables(namespace):
            problem = core_targets.variable_problem(name)
            if problem is not None:
                self.report(("namespace",), ".namespace", problem)
                ok = False
        if ok and not core_targets.variables(namespace):
            ok = self.namespace(namespace, on="")
        return ok

    def namespace(self, namespace: str, *, on: str) -> bool:
        """``namespace`` (as filled in on cluster ``on``, if any) is a DNS-1123 label."""
        if len(namespace) <= _NAME_MAX and DNS1123.match(namespace):
            return True
        where = f"namespace {shown(namespace)}" + (f" (on cluster {on!r})" if on else "")
        self.report(
            ("namespace",),
            ".namespace",
            f"{where} is not a DNS-1123 label (lowercase letters, digits and '-', starting "
            f"and ending with a letter or digit, at most {_NAME_MAX} characters)",
        )
        return False

    def targets(self, app: AppConfig) -> None:
        """On every selected cluster the namespace fills in; a selector selects something."""
        dest = app.destination
        chosen = core_targets.resolve(
            clusters=self.clusters,
            names=settings_targets.names_of(dest),
            selector=settings_targets.selector_of(dest),
            namespace="",  # only the selection: the namespace is filled in below, per cluster
        )
        if dest.selector is not None and not chosen:
            node = node_at(self.root, "apps", self.i, "destination", "selector")
            self.ctx.warn(
                node,
                f"{self.where}.selector",
                f"selects no cluster yet (of {len(self.clusters)}): app {app.name!r} "
                "deploys nowhere until a cluster's labels match",
            )
        if not core_targets.variables(dest.namespace):
            return
        for cluster in chosen:
            try:
                filled = core_targets.namespace_for(
                    dest.namespace, cluster=cluster, labels=self.clusters[cluster]
                )
            except core_targets.TemplateError as error:
                self.report(("namespace",), ".namespace", str(error))
                continue
            self.namespace(filled, on=cluster)

    def helm(self, app: AppConfig) -> None:
        """A templated namespace needs ``render.helm.namespace`` when the app may be Helm.

        Helm renders once per revision for all targets, so ``.Release.Namespace`` has one
        value; it cannot follow a namespace that differs per target.
        """
        namespace = app.destination.namespace
        # ``auto`` only renders Helm when the path holds Chart.yaml, which the config
        # cannot see: such a render fails then, saying the same (``shell.render.helm``).
        if (
            app.render.type != "helm"
            or app.render.helm.namespace is not None
            or not is_templated(namespace)
        ):
            return
        self.report(
            ("namespace",),
            ".namespace",
            f"{shown(namespace)} is templated per target, but Helm renders once for all "
            "targets: set render.helm.namespace (the release namespace)",
        )
