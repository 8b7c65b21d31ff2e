"""The deprecated ``vars`` field: ``$(NAME)`` in chosen fields becomes a field of a resource.

A var names an object (``objref``: apiVersion or group/version, kind, name, optional
namespace) and a field of it (``fieldref.fieldPath``, ``metadata.name`` by default).
As in kustomize, each kustomization binds its vars once its own transformers have run
(``bind``: the object is looked up by any of its names so far; two matches is an
error, none leaves the var unbound), vars from bases and components join the
overlay's (a name defined twice is an error), and ``resolve`` runs once at the very
end of the build, after name references are fixed, so a var reads the final name.

Substitution happens only in the fields of the ``varReference`` field specs
(kustomize's defaults plus ``configurations``): ``$(NAME)`` inside a string is
replaced by the value's text, a string that is exactly ``$(NAME)`` takes the value
itself (a number stays a number), ``$$`` is a literal ``$``, and a ``$(X)`` with no
var ``X`` is left as it is. A var whose object or field cannot be found fails the
build, naming the var.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from daemon.shell.render.kustomize import fieldpath, fieldspecs, ids, kfile, transformers
from daemon.shell.render.kustomize.fieldspecs import FieldSpec
from daemon.shell.render.kustomize.ids import Gvk, ResId
from daemon.shell.render.kustomize.resource import Resource
from daemon.shell.render.result import RenderError

DEFAULT_FIELD_PATH = "metadata.name"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Var:
    """One ``vars`` entry and where it was written."""

    name: str
    gvk: Gvk
    object_name: str
    namespace: str = ""
    field_path: str = DEFAULT_FIELD_PATH
    file: str = ""

    def display(self) -> str:
        """The var as errors name it."""
        rid = ResId(self.gvk, self.object_name, self.namespace)
        return f"{self.name} (objref {rid.display()}, fieldPath {self.field_path}, in {self.file})"


def parse(entries: Sequence[kfile.Fields]) -> list[Var]:
    """The vars of a kustomization's ``vars`` entries."""
    out = []
    for f in entries:
        f.only({"name", "objref", "fieldref"})
        name = f.string("name")
        objref = f.child("objref")
        if not name or objref is None:
            raise f.fail("a var needs a name and an objref")
        objref.only({"apiVersion", "group", "version", "kind", "name", "namespace"})
        api_version = objref.string("apiVersion")
        if api_version:
            group, version = ids.split_api_version(api_version)
        else:
            group, version = objref.string("group"), objref.string("version")
        fieldref = f.child("fieldref")
        if fieldref is not None:
            fieldref.only({"fieldPath"})
        out.append(
            Var(
                name=name,
                gvk=Gvk(group, version, objref.string("kind")),
                object_name=objref.string("name"),
                namespace=objref.string("namespace"),
                field_path=(fieldref.string("fieldPath") if fieldref else "") or DEFAULT_FIELD_PATH,
                file=f.file,
            )
        )
    return out


def merge(known: Sequence[Var], incoming: Sequence[Var]) -> list[Var]:
    """``known`` plus ``incoming``, refusing a name already there."""
    out = list(known)
    names = {v.name: v for v in out}
    for var in incoming:
        if var.name in names:
            raise RenderError(
                f"var '{var.name}' already encountered (in {names[var.name].file} and {var.file})"
            )
        names[var.name] = var
        out.append(var)
    return out


def bind(resources: Sequence[Resource], incoming: Sequence[Var]) -> None:
    """Mark the resource each of ``incoming`` reads from (kustomize's MergeVars)."""
    for var in incoming:
        wanted = ResId(var.gvk, var.object_name, var.namespace, var.gvk.is_cluster_scoped())
        exact = bool(var.namespace) or wanted.cluster
        matched = [
            r
            for r in resources
            if any(
                (rid.equals(wanted) if exact else rid.gvkn_equals(wanted)) for rid in r.all_ids()
            )
        ]
        if len(matched) > 1:
            raise RenderError(
                f"found {len(matched)} resId matches for var {var.display()} "
                "(unable to disambiguate)"
            )
        if matched:
            matched[0].var_names.append(var.name)


def resolve(
    resources: Sequence[Resource], variables: Sequence[Var], specs: Sequence[FieldSpec]
) -> None:
    """Substitute every var in the ``specs`` fields of ``resources`` (in place)."""
    if not variables:
        return
    values = {var.name: _value(resources, var) for var in variables}
    for res in resources:
        gvk = res.gvk
        for fs in specs:
            if fieldspecs.is_match(fs, gvk):
                fieldspecs.apply(res.body, fs, _substituter(values, fs), create_kind=None)


def _value(resources: Sequence[Resource], var: Var) -> Any:
    for res in resources:
        if var.name in res.var_names:
            found = fieldpath.lookup(res.body, fieldpath.split_with_indexes(var.field_path))
            if found is fieldpath.MISSING:
                raise RenderError(
                    f"field specified in var {var.display()} not found in corresponding "
                    f"resource {res.cur_id().display()}"
                )
            return "" if found is None else found
    raise RenderError(
        f"var {var.display()} cannot be mapped to a field in the set of known resources"
    )


def _substituter(values: dict[str, Any], fs: FieldSpec) -> fieldspecs.Setter:
    def put(parent: dict[str, Any], key: str) -> None:
        _substitute(parent, key, values, fs)

    return put


def _substitute(parent: dict[str, Any], key: str, values: dict[str, Any], fs: FieldSpec) -> None:
    node = parent[key]
    if isinstance(node, str):
        parent[key] = expand(node, values)
    elif isinstance(node, dict):
        for name, item in node.items():
            if isinstance(item, str):
                node[name] = expand(item, values)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            if not isinstance(item, str):
                raise RenderError(
                    f"var reference field {fs.path!r}: invalid value type expect a string"
                )
            node[index] = expand(item, values)


def _mapped(name: str, values: dict[str, Any]) -> Any:
    value = values.get(name)
    if value is None or isinstance(value, (dict, list)):
        return f"$({name})"
    return value


def expand(text: str, values: dict[str, Any]) -> Any:
    """``text`` with ``$(NAME)`` replaced (kustomize's and Kubernetes' expansion rules)."""
    out: list[str] = []
    cursor = 0
    while cursor < len(text):
        char = text[cursor]
        if char != "$" or cursor + 1 >= len(text):
            out.append(char)
            cursor += 1
            continue
        following = text[cursor + 1]
        if following == "$":
            out.append("$")
            cursor += 2
        elif following == "(" and (close := text.find(")", cursor + 2)) >= 0:
            name = text[cursor + 2 : close]
            mapped = _mapped(name, values)
            if text == f"$({name})":
                return mapped
            out.append(transformers.text(mapped) if not isinstance(mapped, float) else repr(mapped))
            cursor = close + 1
        else:
            out.append("$" + following)
            cursor += 2
    return "".join(out)
