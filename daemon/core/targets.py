"""Which clusters an app deploys to, and what changes when that set changes.

An app's destination names its clusters (one, or a list) or selects them with a label
selector over the clusters' ``labels``, written as Kubernetes writes one
(``matchLabels`` and ``matchExpressions`` with ``In``, ``NotIn``, ``Exists``,
``DoesNotExist``; the requirements are ANDed and an empty selector selects every
cluster, as ``LabelSelectorAsSelector`` in apimachinery's ``meta/v1/helpers.go`` and
``Requirement.Matches`` in ``labels/selector.go`` define them). Each selected cluster is
a *target* with its own namespace, fixed or templated from the cluster's name and labels:
``{{cluster}}`` and ``{{labels.KEY}}``.

``reconfigure`` is the decision taken when an app's policy is (re)recorded: the targets
added and removed, as ``TargetAdded`` / ``TargetRemoved`` events beside the
``AppConfigured``. A removed target's objects are pruned only if the app prunes.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import Any

from daemon.core import events as ev
from daemon.core.state import AppState

OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
_VARIABLE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


class TemplateError(ValueError):
    """A namespace template that cannot be filled in for a cluster."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Requirement:
    """One ``matchExpressions`` entry."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def problem(self) -> str | None:
        """What is wrong with it, as the API server would say, or None."""
        if self.operator not in OPERATORS:
            return f"operator must be one of {', '.join(OPERATORS)}, got {self.operator!r}"
        if self.operator in ("In", "NotIn") and not self.values:
            return f"values must be non-empty when operator is {self.operator}"
        if self.operator in ("Exists", "DoesNotExist") and self.values:
            return f"values must be empty when operator is {self.operator}"
        return None

    def matches(self, labels: Mapping[str, str]) -> bool:
        """True when ``labels`` satisfy the requirement."""
        match self.operator:
            case "In":
                return self.key in labels and labels[self.key] in self.values
            case "NotIn":
                return self.key not in labels or labels[self.key] not in self.values
            case "Exists":
                return self.key in labels
            case "DoesNotExist":
                return self.key not in labels
        raise ValueError(f"unknown selector operator {self.operator!r}")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Selector:
    """A label selector over clusters."""

    match_labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
    match_expressions: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """True when every label and every requirement holds."""
        return all(labels.get(k) == v for k, v in self.match_labels.items()) and all(
            r.matches(labels) for r in self.match_expressions
        )


def variables(template: str) -> list[str]:
    """The variables a namespace template uses."""
    return [m.group(1) for m in _VARIABLE.finditer(template)]


def variable_problem(name: str) -> str | None:
    """Why ``name`` is not a template variable, or None."""
    if name == "cluster" or (name.startswith("labels.") and len(name) > len("labels.")):
        return None
    return f"unknown variable {{{{{name}}}}} (use {{{{cluster}}}} or {{{{labels.KEY}}}})"


def namespace_for(template: str, *, cluster: str, labels: Mapping[str, str]) -> str:
    """The namespace ``template`` gives on ``cluster``; raises ``TemplateError``."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        problem = variable_problem(name)
        if problem is not None:
            raise TemplateError(problem)
        if name == "cluster":
            return cluster
        key = name.removeprefix("labels.")
        if key not in labels:
            raise TemplateError(f"cluster {cluster!r} has no label {key!r} ({{{{{name}}}}})")
        return labels[key]

    return _VARIABLE.sub(fill, template)


def resolve(
    *,
    clusters: Mapping[str, Mapping[str, str]],
    names: Sequence[str] = (),
    selector: Selector | None = None,
    namespace: str,
) -> dict[str, str]:
    """The targets (cluster -> namespace) a destination selects among ``clusters``.

    ``names`` lists clusters explicitly; otherwise ``selector`` selects by labels.
    Raises ``TemplateError`` when the namespace cannot be filled in for a cluster.
    """
    if names:
        chosen = [n for n in names if n in clusters]
    elif selector is not None:
        chosen = sorted(n for n, labels in clusters.items() if selector.matches(labels))
    else:
        chosen = []
    return {n: namespace_for(namespace, cluster=n, labels=clusters[n]) for n in sorted(chosen)}


def reconfigure(
    app: AppState | None,
    *,
    name: str,
    policy: Mapping[str, Any],
    digest: str,
    position: int,
) -> list[ev.EventBase]:
    """The events recording ``policy`` for app ``name`` over its state at ``position``.

    Nothing when the recorded policy is the same. Otherwise the targets removed (first:
    a removed target's prune must not wait on a new one), those added, then the policy.
    """
    if app is not None and app.policy_digest == digest:
        return []
    wanted: Mapping[str, str] = policy.get("targets") or {}
    current = set(app.targets) if app is not None else set()
    prune = bool(policy.get("prune", True))
    removed: list[ev.EventBase] = [
        ev.TargetRemoved(
            app=name,
            target=gone,
            prune=prune and bool(app.targets[gone].inventory),
            state_position=position,
            objects=len(app.targets[gone].inventory),
        )
        for gone in sorted(current - set(wanted))
        if app is not None
    ]
    # A removed target still pruning that is selected again is added again: the fold
    # clears its removal, else it would go on pruning a cluster the app deploys to.
    active = {n for n in current if app is not None and not app.targets[n].removed}
    added: list[ev.EventBase] = [
        ev.TargetAdded(app=name, target=c, namespace=str(wanted[c]), state_position=position)
        for c in sorted(set(wanted) - active)
    ]
    out = [*removed, *added]
    out.append(ev.AppConfigured(app=name, digest=digest, policy=dict(policy)))
    return out
