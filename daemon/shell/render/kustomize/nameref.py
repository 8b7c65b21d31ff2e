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

from collections.abc import Sequence
from typing import Any

from daemon.shell.render.kustomize import fieldspecs
from daemon.shell.render.kustomize.fieldspecs import FieldSpec, NameReference
from daemon.shell.render.kustomize.ids import Gvk
from daemon.shell.render.kustomize.resource import Resource
from daemon.shell.render.result import RenderError


def fix(resources: Sequence[Resource], references: Sequence[NameReference]) -> None:
    """Update every name reference in ``resources`` (in place)."""
    by_kind: dict[str, list[tuple[FieldSpec, Gvk]]] = {}
    for reference in references:
        for referrer in reference.referrers:
            by_kind.setdefault(referrer.gvk.kind, []).append((referrer, reference.gvk))
    for res in resources:
        org = res.org_id().gvk
        wanted = [
            (fs, target)
            for fs, target in (*by_kind.get(org.kind, ()), *by_kind.get("", ()))
            if org.is_selected_by(fs.gvk)
        ]
        if not wanted:
            continue
        candidates = _referable_by(resources, res)
        for fs, target in wanted:
            _Fixer(referrer=res, spec=fs, target=target, candidates=candidates).run()


def _referable_by(resources: Sequence[Resource], referrer: Resource) -> list[Resource]:
    rid = referrer.cur_id()
    if rid.cluster:
        return list(resources)
    binding_namespaces = _role_binding_namespaces(referrer)
    out = []
    for candidate in resources:
        cid = candidate.cur_id()
        if (
            cid.cluster
            or cid.effective_namespace() == rid.effective_namespace()
            or candidate.namespace in binding_namespaces
        ):
            out.append(candidate)
    return out


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
        self, *, referrer: Resource, spec: FieldSpec, target: Gvk, candidates: list[Resource]
    ) -> None:
        self.referrer = referrer
        self.spec = FieldSpec(referrer.gvk, spec.path, create=False)
        self.target = target
        self.candidates = candidates

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

    def new_name(self, value: Any) -> Any:
        old = _text(value)
        referral = self.select(old, self.candidates, same_namespace=False)
        if referral is None:
            return value
        referral.referred = True
        return value if referral.name == old else referral.name

    def set_mapping(self, node: dict[str, Any]) -> None:
        if "name" not in node:
            raise RenderError(
                f"{self.referrer.cur_id().display()}: field {self.spec.path} has no 'name'"
            )
        old = _text(node["name"])
        referral = self.select(old, self.by_namespace(node), same_namespace=True)
        if referral is None:
            return
        referral.referred = True
        if referral.name == old and not referral.namespace:
            return
        node["name"] = referral.name
        if referral.namespace:
            node["namespace"] = referral.namespace

    def by_namespace(self, node: dict[str, Any]) -> list[Resource]:
        if "namespace" not in node:
            return self.candidates
        namespace = _text(node["namespace"])
        original = [c for c in self.candidates if c.org_id().effective_namespace() == namespace]
        if original:
            return original
        return [c for c in self.candidates if c.cur_id().effective_namespace() == namespace]

    def select(
        self, old: str, candidates: list[Resource], *, same_namespace: bool
    ) -> Resource | None:
        found = [
            c
            for c in candidates
            if any(p.name == old for p in c.prev_ids())
            and any(p.gvk.is_selected_by(self.target) for p in c.prev_ids())
            and self.role_ref_accepts(c)
            and self.namespace_accepts(c)
        ]
        if len(found) == 1:
            return found[0]
        found = [c for c in found if _affixes_equal(c, self.referrer, allow_empty=True)]
        if len(found) > 1:
            found = [c for c in found if _affixes_equal(c, self.referrer, allow_empty=False)]
        if len(found) == 1:
            return found[0]
        if not found:
            return None
        first = found[0]
        if all(
            c.name == first.name and (not same_namespace or c.namespace == first.namespace)
            for c in found
        ):
            return first
        ids = ", ".join(c.cur_id().display() for c in found)
        where = self.referrer.cur_id().display()
        raise RenderError(f"found multiple possible referrals for {old!r} in {where}: {ids}")

    def role_ref_accepts(self, candidate: Resource) -> bool:
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
        return any(p.gvk.is_selected_by(wanted) for p in candidate.prev_ids())

    def namespace_accepts(self, candidate: Resource) -> bool:
        rid = self.referrer.cur_id()
        if rid.cluster:
            return True
        cid = candidate.cur_id()
        return (
            cid.cluster
            or candidate.kind == "ServiceAccount"
            or cid.effective_namespace() == rid.effective_namespace()
        )


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
