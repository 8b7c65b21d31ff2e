"""Patch targets: which resources a ``target`` selects, as kustomize decides.

Group, version, kind, name and namespace are anchored regular expressions (an empty
one matches anything); name and namespace match the original or the current value,
namespaces compared in their effective form. Label and annotation selectors use the
Kubernetes syntax: ``k``, ``!k``, ``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``,
``k notin (a,b)``, ``k>1``, ``k<1``, joined by commas.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from daemon.shell.render.kustomize.kfile import Selector
from daemon.shell.render.kustomize.resource import Resource
from daemon.shell.render.result import RenderError

Requirement = Callable[[dict[str, Any]], bool]

_REQUIREMENT = re.compile(
    r"""^\s*(?:
        (?P<not>!)\s*(?P<nkey>[^\s,!=<>()]+)
      | (?P<key>[^\s,!=<>()]+)\s*
        (?:(?P<op>==|=|!=|<|>)\s*(?P<value>[^\s,()]*)
          |\s(?P<setop>in|notin)\s*\((?P<values>[^)]*)\)
        )?
    )\s*$""",
    re.VERBOSE,
)


def _split(text: str) -> list[str]:
    """Split at commas that are not inside parentheses."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def parse(text: str) -> list[Requirement]:
    """Requirements of a label selector string (empty: matches everything)."""
    if not text.strip():
        return []
    return [_requirement(part, text) for part in _split(text)]


def _requirement(part: str, whole: str) -> Requirement:
    match = _REQUIREMENT.match(part)
    if match is None:
        raise RenderError(f"invalid selector {whole!r} (at {part.strip()!r})")
    if match["not"]:
        key = match["nkey"]
        return lambda labels: key not in labels
    key = match["key"]
    if match["setop"]:
        values = {v.strip() for v in match["values"].split(",")}
        if match["setop"] == "in":
            return lambda labels: key in labels and _text(labels[key]) in values
        return lambda labels: key not in labels or _text(labels[key]) not in values
    op, value = match["op"], match["value"] or ""
    match op:
        case None:
            return lambda labels: key in labels
        case "=" | "==":
            return lambda labels: key in labels and _text(labels[key]) == value
        case "!=":
            return lambda labels: key not in labels or _text(labels[key]) != value
        case _:
            return _compare(key, op, value, whole)


def _compare(key: str, op: str, value: str, whole: str) -> Requirement:
    try:
        bound = int(value)
    except ValueError:
        raise RenderError(f"invalid selector {whole!r}: {op} needs an integer") from None

    def check(labels: dict[str, Any]) -> bool:
        try:
            actual = int(_text(labels.get(key)))
        except ValueError:
            return False
        return actual > bound if op == ">" else actual < bound

    return lambda labels: key in labels and check(labels)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def matches(requirements: Iterable[Requirement], labels: dict[str, Any]) -> bool:
    """True when every requirement holds."""
    return all(req(labels) for req in requirements)


def _regex(pattern: str) -> re.Pattern[str] | None:
    if not pattern:
        return None
    try:
        return re.compile(f"^(?:{pattern})$")
    except re.error as exc:
        raise RenderError(f"invalid regular expression {pattern!r} in patch target: {exc}") from exc


def select(resources: Iterable[Resource], target: Selector) -> list[Resource]:
    """The resources ``target`` selects, in order."""
    group, version, kind = (_regex(p) for p in target.gvk)
    name, namespace = _regex(target.name), _regex(target.namespace)
    labels = parse(target.label_selector)
    annotations = parse(target.annotation_selector)
    out = []
    for resource in resources:
        org, cur = resource.org_id(), resource.cur_id()
        if namespace and not (
            namespace.match(org.effective_namespace()) or namespace.match(cur.effective_namespace())
        ):
            continue
        if name and not (name.match(org.name) or name.match(cur.name)):
            continue
        gvk = resource.gvk
        if any(
            rx is not None and not rx.match(part)
            for rx, part in ((group, gvk.group), (version, gvk.version), (kind, gvk.kind))
        ):
            continue
        if not matches(labels, resource.string_map("labels")):
            continue
        if not matches(annotations, resource.string_map("annotations")):
            continue
        out.append(resource)
    return out
