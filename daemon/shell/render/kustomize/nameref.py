"""Name references: rewrite the fields that name another resource after its name changed.

After prefixes, suffixes and hash suffixes, a Deployment that mounted ConfigMap
``app-config`` must mount ``prod-app-config-5f7k2m9t8h``. kustomize's rules, kept here:
a referral candidate is a resource that once had the referenced name (among its
*earlier* ids) and the referenced kind, is visible from the referrer's namespace
(cluster-scoped objects and ServiceAccounts always are; a RoleBinding also sees the
namespaces of its ServiceAccount subjects), and for ``roleRef`` has the roleRef's
group and kind; ties are broken by the prefixes/suffixes both went through. Fields
holding a map (``subjects``, webhook ``service``) get both name and namespace.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from daemon.shell.render.kustomize import fieldspecs
from daemon.shell.render.kustomize.fieldspecs import FieldSpec, NameReference
from daemon.shell.render.kustomize.ids import Gvk, ResId
from daemon.shell.render.kustomize.resource import Resource
from daemon.shell.render.result import RenderError


@dataclasses.dataclass(frozen=True, slots=True)
class _Info:
    """What name reference fixing asks of a resource, computed once (ids do not change here)."""

    resource: Resource
    cur: ResId
    prev: tuple[ResId, ...]
    org: ResId


class _Index:
    """All resources of a build, indexed by their earlier names."""

    def __init__(self, resources: Sequence[Resource]) -> None:
        self.infos = [_info(r) for r in resources]
        self.by_previous_name: dict[str, list[_Info]] = {}
        for info in self.infos:
            for name in dict.fromkeys(p.name for p in info.prev):
                self.by_previous_name.setdefault(name, []).append(info)


def _info(res: Resource) -> _Info:
    prev = tuple(res.prev_ids())
    cur = res.cur_id()
    return _Info(res, cur, prev, prev[0] if prev else cur)


def fix(resources: Sequence[Resource], references: Sequence[NameReference]) -> None:
    """Update every name reference in ``resources`` (in place)."""
    by_kind: dict[str, list[tuple[FieldSpec, Gvk]]] = {}
    for reference in references:
        for referrer in reference.referrers:
            by_kind.setdefault(referrer.gvk.kind, []).append((referrer, reference.gvk))
    index = _Index(resources)
    for info in index.infos:
        org = info.org.gvk
        wanted = [
            (fs, target)
            for fs, target in (*by_kind.get(org.kind, ()), *by_kind.get("", ()))
            if org.is_selected_by(fs.gvk)
        ]
        if not wanted:
            continue
        visible = _Visibility(info)
        for fs, target in wanted:
            _Fixer(referrer=info, spec=fs, target=target, index=index, visible=visible).run()


class _Visibility:
    """Which resources a referrer may refer to (SubsetThatCouldBeReferencedByResource)."""

    def __init__(self, referrer: _Info) -> None:
        self.referrer = referrer
        self.namespace = referrer.cur.effective_namespace()
        self.binding_namespaces = _role_binding_namespaces(referrer.resource)

    def __call__(self, candidate: _Info) -> bool:
        if self.referrer.cur.cluster or candidate.cur.cluster:
            return True
        return (
            candidate.cur.effective_namespace() == self.namespace
            or candidate.resource.namespace in self.binding_namespaces
        )


def _role_binding_namespaces(referrer: Resource) -> set[str]:
    subjects = referrer.body.get("subjects")
    if referrer.kind != "RoleBinding" or not isinstance(subjects, list):
        return set()
    found = set()
    for subject in subjects:
        if (
            isinstance(subject, dict)
            and "namespace" in subject
            and subject.get("kind") == "ServiceAccount"
        ):
            namespace = subject["namespace"]
            if not isinstance(namespace, str):
                raise RenderError(f"invalid subject namespace in {referrer.cur_id().display()}")
            found.add(namespace)
    return found


def _same_ending(first: list[str], second: list[str]) -> bool:
    shorter, longer = sorted((first, second), key=len)
    if not shorter:
        return not longer
    return longer[len(longer) - len(shorter) :] == shorter


def _affixes_equal(candidate: Resource, referrer: Resource, *, allow_empty: bool) -> bool:
    if allow_empty:
        prefixes_ok = (
            not candidate.prefixes
            or not referrer.prefixes
            or _same_ending(candidate.prefixes, referrer.prefixes)
        )
        suffixes_ok = (
            not candidate.suffixes
            or not referrer.suffixes
            or _same_ending(candidate.suffixes, referrer.suffixes)
        )
        return prefixes_ok and suffixes_ok
    return _same_ending(candidate.prefixes, referrer.prefixes) and _same_ending(
        candidate.suffixes, referrer.suffixes
    )


class _Fixer:
    """One referrer field spec applied to one referrer."""

    def __init__(
        self, *, referrer: _Info, spec: FieldSpec, target: Gvk, index: _Index, visible: _Visibility
    ) -> None:
        self.info = referrer
        self.referrer = referrer.resource
        self.spec = FieldSpec(referrer.cur.gvk, spec.path, create=False)
        self.target = target
        self.index = index
        self.visible = visible

    def run(self) -> None:
        fieldspecs.apply(self.referrer.body, self.spec, self.set, create_kind=None)

    def set(self, parent: dict[str, Any], key: str) -> None:
        node = parent[key]
        if node is None:
            return
        if isinstance(node, dict):
            self.set_mapping(node)
        elif isinstance(node, list):
            for index, element in enumerate(node):
                if isinstance(element, dict):
                    self.set_mapping(element)
                elif isinstance(element, list):
                    raise RenderError(f"{self.spec.path}: expected names or maps in the list")
                elif element is not None:
                    node[index] = self.new_name(element)
        else:
            parent[key] = self.new_name(node)

    def candidates(self, old: str) -> list[_Info]:
        return [c for c in self.index.by_previous_name.get(old, ()) if self.visible(c)]

    def new_name(self, value: Any) -> Any:
        old = _text(value)
        referral = self.select(old, self.candidates(old), same_namespace=False)
        if referral is None:
            return value
        referral.referred = True
        return value if referral.name == old else referral.name

    def set_mapping(self, node: dict[str, Any]) -> None:
        if "name" not in node:
            raise RenderError(f"{self.info.cur.display()}: field {self.spec.path} has no 'name'")
        old = _text(node["name"])
        candidates = self.candidates(old)
        if "namespace" in node:
            candidates = self.by_namespace(candidates, _text(node["namespace"]))
        referral = self.select(old, candidates, same_namespace=True)
        if referral is None:
            return
        referral.referred = True
        if referral.name == old and not referral.namespace:
            return
        node["name"] = referral.name
        if referral.namespace:
            node["namespace"] = referral.namespace

    def by_namespace(self, candidates: list[_Info], namespace: str) -> list[_Info]:
        """Candidates in ``namespace``: by original namespace if any visible one is, else now."""
        if any(
            i.org.effective_namespace() == namespace and self.visible(i) for i in self.index.infos
        ):
            return [c for c in candidates if c.org.effective_namespace() == namespace]
        return [c for c in candidates if c.cur.effective_namespace() == namespace]

    def select(self, old: str, candidates: list[_Info], *, same_namespace: bool) -> Resource | None:
        found = [
            c
            for c in candidates
            if any(p.gvk.is_selected_by(self.target) for p in c.prev)
            and self.role_ref_accepts(c)
            and self.namespace_accepts(c)
        ]
        if len(found) == 1:
            return found[0].resource
        chosen = [c.resource for c in found]
        chosen = [c for c in chosen if _affixes_equal(c, self.referrer, allow_empty=True)]
        if len(chosen) > 1:
            chosen = [c for c in chosen if _affixes_equal(c, self.referrer, allow_empty=False)]
        if len(chosen) == 1:
            return chosen[0]
        if not chosen:
            return None
        first = chosen[0]
        if all(
            c.name == first.name and (not same_namespace or c.namespace == first.namespace)
            for c in chosen
        ):
            return first
        ids = ", ".join(c.cur_id().display() for c in chosen)
        where = self.info.cur.display()
        raise RenderError(f"found multiple possible referrals for {old!r} in {where}: {ids}")

    def role_ref_accepts(self, candidate: _Info) -> bool:
        if not self.spec.path.endswith("roleRef/name"):
            return True
        role_ref = self.referrer.body.get("roleRef")
        if (
            not isinstance(role_ref, dict)
            or role_ref.get("apiGroup") is None
            or role_ref.get("kind") is None
        ):
            return True
        wanted = Gvk(group=_text(role_ref["apiGroup"]), kind=_text(role_ref["kind"]))
        return any(p.gvk.is_selected_by(wanted) for p in candidate.prev)

    def namespace_accepts(self, candidate: _Info) -> bool:
        rid = self.info.cur
        if rid.cluster:
            return True
        cid = candidate.cur
        return (
            cid.cluster
            or cid.gvk.kind == "ServiceAccount"
            or cid.effective_namespace() == rid.effective_namespace()
        )


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
