"""Type topology of Kubernetes objects: what server-side apply and strategic merge need.

The job: turn OpenAPI schemas into a navigable ``TypeSchema`` tree that says, for every
field, whether it is a scalar, a struct (fixed fields), a map (free keys) or a list, and
how it merges: atomic or granular, list type ``atomic|set|map`` with its keys, and the
strategic-merge-patch strategy and merge key (KUBE_API.md §4.3). Built-in kinds come from
the ``kubernetes-validate`` package's JSON schemas (``_definitions.json``, ``$ref`` resolved
lazily per definition and cached); custom resources from a CRD version's
``openAPIV3Schema``. Also here: unknown-field pruning with the server's wording, and the
typed check server-side apply makes on its configuration.

Loading reads one JSON file on first use; everything else is pure. Left to neighbours:
merging (``apply``, ``patch``), field sets (``fieldpath``), defaulting (``defaults``).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import pathlib
from dataclasses import dataclass, field
from typing import Any

import kubernetes_validate
import orjson

from kubesim import omitzero

JSON = dict[str, Any]

_SCHEMA_VERSION = "1.35.0"  # the version /version reports (KUBE_API.md §1.1)


class Kind(enum.StrEnum):
    """The shape of a value."""

    SCALAR = "scalar"  # string, number, boolean, int-or-string, quantity, time
    STRUCT = "struct"  # an object with declared fields
    MAP = "map"  # an object with free keys of one element type
    LIST = "list"
    UNTYPED = "untyped"  # anything, owned and replaced as one leaf (RawExtension)
    DEDUCED = "deduced"  # preserve-unknown-fields: maps granular, lists atomic


@dataclass(slots=True, eq=False)
class TypeSchema:
    """One node of a type tree. Struct fields and elements are ``TypeSchema`` too."""

    kind: Kind
    name: str = ""  # the OpenAPI definition name, when there is one
    fields: dict[str, TypeSchema] = field(default_factory=dict)
    element: TypeSchema | None = None  # map values and list items
    atomic: bool = False  # replaced and owned as a whole
    list_type: str = ""  # "atomic" | "set" | "map" for lists
    keys: tuple[str, ...] = ()  # list-map keys, as declared
    key_defaults: dict[str, Any] = field(default_factory=dict)
    patch_strategy: tuple[str, ...] = ()  # strategic merge: "merge", "retainKeys", "replace"
    merge_key: str = ""  # strategic merge key of a list of maps
    preserve_unknown: bool = False  # a struct that keeps fields it does not declare
    value_fields: frozenset[str] = frozenset()  # struct fields Go always serializes
    default: Any = None  # a CRD schema's ``default`` for this field
    has_default: bool = False
    format: str = ""  # how a scalar decodes: "byte" (base64 of a Go []byte), "quantity"
    keep_empty: frozenset[str] = frozenset()  # struct fields Go encodes even when empty
    omit_zero: frozenset[str] = frozenset()  # scalar fields Go drops when false/0/""

    def child(self, name: str) -> TypeSchema | None:
        """The schema of member ``name`` of a struct or map; None if it is not declared."""
        if self.kind is Kind.STRUCT:
            found = self.fields.get(name)
            if found is None and self.preserve_unknown:
                return DEDUCED
            return found
        if self.kind is Kind.MAP:
            return self.element
        if self.kind is Kind.DEDUCED:
            return DEDUCED
        return None

    @property
    def is_associative(self) -> bool:
        """A list whose items are merged and owned one by one (set or map)."""
        return self.kind is Kind.LIST and self.list_type in ("set", "map")


DEDUCED = TypeSchema(kind=Kind.DEDUCED, name="__untyped_deduced_")
UNTYPED = TypeSchema(kind=Kind.UNTYPED, name="__untyped_atomic_", atomic=True)
SCALAR = TypeSchema(kind=Kind.SCALAR)

# List-map key fields that carry a `+default` marker in the Go types; the real server
# fills them into `k:{...}` path elements when the config leaves them out (SMD helpers.go,
# structured-merge-diff issue 130). kubernetes-validate drops OpenAPI defaults.
_KEY_DEFAULTS: dict[tuple[str, str], Any] = {
    ("io.k8s.api.core.v1.ContainerPort", "protocol"): "TCP",
    ("io.k8s.api.core.v1.ServicePort", "protocol"): "TCP",
    ("io.k8s.api.core.v1.LocalObjectReference", "name"): "",
}

# Struct fields that are Go values (not pointers): an empty Go object serializes them, so
# the server sees them as present on both sides of an Update diff and never marks them
# newly created (no `".":{}`). A small table; the schema files do not say it.
_VALUE_FIELDS: dict[str, frozenset[str]] = {
    "io.k8s.api.apps.v1.DeploymentSpec": frozenset({"template", "strategy"}),
    "io.k8s.api.apps.v1.ReplicaSetSpec": frozenset({"template"}),
    "io.k8s.api.apps.v1.StatefulSetSpec": frozenset({"template", "updateStrategy"}),
    "io.k8s.api.apps.v1.DaemonSetSpec": frozenset({"template", "updateStrategy"}),
    "io.k8s.api.batch.v1.JobSpec": frozenset({"template"}),
    "io.k8s.api.batch.v1.CronJobSpec": frozenset({"jobTemplate"}),
    "io.k8s.api.batch.v1.JobTemplateSpec": frozenset({"metadata", "spec"}),
    "io.k8s.api.core.v1.PodTemplateSpec": frozenset({"metadata", "spec"}),
    "io.k8s.api.core.v1.Container": frozenset({"resources"}),
    "io.k8s.api.core.v1.EphemeralContainer": frozenset({"resources"}),
    "io.k8s.api.core.v1.ServiceStatus": frozenset({"loadBalancer"}),
    "io.k8s.api.networking.v1.IngressStatus": frozenset({"loadBalancer"}),
    "io.k8s.api.core.v1.PersistentVolumeClaimSpec": frozenset({"resources"}),
}
_ROOT_VALUE_FIELDS = frozenset({"metadata", "spec", "status"})
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"

# Optional fields the Go structs serialize without omitempty (an empty list stays), and
# managedFields, whose empty list asks the field manager for a reset.
_KEEP_EMPTY: dict[str, frozenset[str]] = {
    "io.k8s.api.rbac.v1.Role": frozenset({"rules"}),
    "io.k8s.api.rbac.v1.ClusterRole": frozenset({"rules"}),
    "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": frozenset({"managedFields"}),
}


# ---------------------------------------------------------------- built-in definitions


def _definitions_path() -> pathlib.Path:
    base = pathlib.Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    versions = sorted(
        (d.name for d in base.iterdir() if d.name.endswith("-local")),
        key=lambda d: tuple(int(x) for x in d[1:].split("-")[0].split(".")),
    )
    wanted = f"v{_SCHEMA_VERSION}-local"
    chosen = wanted if wanted in versions else versions[-1]
    return base / chosen / "_definitions.json"


class _Definitions:
    """The parsed ``_definitions.json`` and the TypeSchema built from each definition."""

    def __init__(self, defs: dict[str, JSON]) -> None:
        self.defs = defs
        self.built: dict[str, TypeSchema] = {}
        self.gvk: dict[tuple[str, str, str], str] = {}
        for name, body in defs.items():
            for gvk in body.get("x-kubernetes-group-version-kind") or ():
                self.gvk[(gvk.get("group", ""), gvk.get("version", ""), gvk.get("kind", ""))] = name

    def resolve(self, name: str) -> TypeSchema:
        """The TypeSchema of definition ``name`` (built once; recursion-safe)."""
        found = self.built.get(name)
        if found is not None:
            return found
        body = self.defs[name]
        node = _shell_for(body, name)
        self.built[name] = node  # registered before filling: definitions may recurse
        _fill(node, body, self._prop)
        return node

    def _prop(self, prop: JSON, owner: str, field_name: str) -> TypeSchema:
        ref = prop.get("$ref")
        if isinstance(ref, str):
            target = self.resolve(ref.rsplit("/", 1)[-1])
            return _with_field_markers(target, prop)
        return _inline(prop, self._prop, f"{owner}.{field_name}")


@functools.cache
def _definitions() -> _Definitions:
    data = orjson.loads(_definitions_path().read_bytes())
    return _Definitions(data["$defs"])


def for_kind(group: str, version: str, kind: str) -> TypeSchema | None:
    """The schema of a built-in kind (``("apps", "v1", "Deployment")``), or None."""
    return _root_for_kind(group, version, kind)


@functools.cache
def _root_for_kind(group: str, version: str, kind: str) -> TypeSchema | None:
    defs = _definitions()
    name = defs.gvk.get((group, version, kind))
    if name is None:
        return None
    root = defs.resolve(name)
    return dataclasses.replace(root, value_fields=root.value_fields | _ROOT_VALUE_FIELDS)


def definition(name: str) -> TypeSchema:
    """The schema of a named definition (``io.k8s.api.core.v1.Container``)."""
    return _definitions().resolve(name)


def _types(body: JSON) -> set[str]:
    declared = body.get("type")
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list):
        return {t for t in declared if isinstance(t, str)}
    return set()


def _shell_for(body: JSON, name: str) -> TypeSchema:
    types = _types(body)
    if "array" in types:
        return TypeSchema(kind=Kind.LIST, name=name)
    if "object" in types or "properties" in body:
        if "properties" in body:
            return TypeSchema(kind=Kind.STRUCT, name=name)
        if isinstance(body.get("additionalProperties"), dict):
            return TypeSchema(kind=Kind.MAP, name=name)
        return TypeSchema(kind=Kind.UNTYPED, name=name, atomic=True)
    fmt = "quantity" if name == QUANTITY else str(body.get("format") or "")
    return TypeSchema(kind=Kind.SCALAR, name=name, format=fmt)


def _fill(node: TypeSchema, body: JSON, prop: Any) -> None:
    """Fill a shell from its JSON schema body (``prop`` builds the member schemas)."""
    if node.kind is Kind.STRUCT:
        props = body.get("properties") or {}
        node.fields = {fname: prop(p, node.name, fname) for fname, p in props.items()}
        node.atomic = body.get("x-kubernetes-map-type") == "atomic"
        node.value_fields = _VALUE_FIELDS.get(node.name, frozenset())
        # Required fields have no omitempty; a few optional ones lack it too.
        node.keep_empty = frozenset(body.get("required") or ()) | _KEEP_EMPTY.get(
            node.name, frozenset()
        )
        node.omit_zero = omitzero.OMIT_ZERO.get(node.name, frozenset())
    elif node.kind is Kind.MAP:
        node.element = prop(body["additionalProperties"], node.name, "*")
        node.atomic = body.get("x-kubernetes-map-type") == "atomic"
    elif node.kind is Kind.LIST:
        items = body.get("items")
        node.element = prop(items, node.name, "[]") if isinstance(items, dict) else UNTYPED
        _list_markers(node, body)


def _list_markers(node: TypeSchema, body: JSON) -> None:
    strategies = tuple(s for s in str(body.get("x-kubernetes-patch-strategy", "")).split(",") if s)
    node.patch_strategy = strategies
    node.merge_key = str(body.get("x-kubernetes-patch-merge-key", ""))
    list_type = body.get("x-kubernetes-list-type")
    keys = tuple(body.get("x-kubernetes-list-map-keys") or ())
    if list_type is None and "merge" in strategies:
        # No listType: patchStrategy=merge with a merge key means a map (server-side-apply
        # docs), a primitive merge list a set.
        list_type, keys = ("map", (node.merge_key,)) if node.merge_key else ("set", ())
    node.list_type = str(list_type or "atomic")
    node.keys = keys if node.list_type == "map" else ()
    node.atomic = node.list_type == "atomic"
    element = node.element
    if element is not None and node.keys:
        for key in node.keys:
            if (element.name, key) in _KEY_DEFAULTS:
                node.key_defaults[key] = _KEY_DEFAULTS[(element.name, key)]
            else:
                member = element.fields.get(key)
                if member is not None and member.has_default:
                    node.key_defaults[key] = member.default


def _inline(body: JSON, prop: Any, name: str) -> TypeSchema:
    node = _shell_for(body, name)
    _fill(node, body, prop)
    if node.kind is not Kind.LIST:
        strategies = tuple(
            s for s in str(body.get("x-kubernetes-patch-strategy", "")).split(",") if s
        )
        node.patch_strategy = strategies
    return node


def _with_field_markers(target: TypeSchema, prop: JSON) -> TypeSchema:
    """A referenced type as one field sees it: the field may add SMP or map markers."""
    strategies = tuple(s for s in str(prop.get("x-kubernetes-patch-strategy", "")).split(",") if s)
    map_type = prop.get("x-kubernetes-map-type")
    if not strategies and map_type is None:
        return target
    atomic = target.atomic if map_type is None else map_type == "atomic"
    return dataclasses.replace(target, patch_strategy=strategies, atomic=atomic)


# ---------------------------------------------------------------- custom resources


def from_openapi(openapi_v3_schema: JSON) -> TypeSchema:
    """The schema of a custom resource from its CRD version's ``openAPIV3Schema``.

    Lists without ``x-kubernetes-list-type`` are atomic; ``metadata`` is always the real
    ObjectMeta; ``apiVersion`` and ``kind`` are always declared.
    """
    root = _crd_node(openapi_v3_schema, "")
    if root.kind is not Kind.STRUCT:
        root = TypeSchema(kind=Kind.STRUCT, preserve_unknown=root.kind is Kind.DEDUCED)
    fields = dict(root.fields)
    fields["metadata"] = definition("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
    fields.setdefault("apiVersion", SCALAR)
    fields.setdefault("kind", SCALAR)
    return dataclasses.replace(root, fields=fields, value_fields=frozenset({"metadata"}))


def _crd_node(body: JSON, name: str) -> TypeSchema:
    preserve = bool(body.get("x-kubernetes-preserve-unknown-fields"))
    node = _crd_shape(body, name, preserve=preserve)
    if "default" in body:
        node.default, node.has_default = body["default"], True
    return node


def _crd_shape(body: JSON, name: str, *, preserve: bool) -> TypeSchema:
    types = _types(body)
    if body.get("x-kubernetes-int-or-string"):
        return TypeSchema(kind=Kind.SCALAR, name=name)
    if body.get("x-kubernetes-embedded-resource"):
        return _crd_struct(body, name, preserve=preserve, embedded=True)
    if "array" in types:
        items = body.get("items")
        element = _crd_node(items, f"{name}[]") if isinstance(items, dict) else DEDUCED
        node = TypeSchema(kind=Kind.LIST, name=name, element=element)
        _list_markers(node, body)
        return node
    if "object" in types or "properties" in body or "additionalProperties" in body:
        extra = body.get("additionalProperties")
        if isinstance(extra, dict) and "properties" not in body:
            return TypeSchema(
                kind=Kind.MAP,
                name=name,
                element=_crd_node(extra, f"{name}.*"),
                atomic=body.get("x-kubernetes-map-type") == "atomic",
            )
        if "properties" not in body and (preserve or extra is True):
            return TypeSchema(kind=Kind.DEDUCED, name=name)
        return _crd_struct(body, name, preserve=preserve, embedded=False)
    if preserve or not types:
        return TypeSchema(kind=Kind.DEDUCED if preserve else Kind.UNTYPED, name=name)
    return TypeSchema(kind=Kind.SCALAR, name=name)


def _crd_struct(body: JSON, name: str, *, preserve: bool, embedded: bool) -> TypeSchema:
    props = body.get("properties") or {}
    fields = {k: _crd_node(v, f"{name}.{k}") for k, v in props.items() if isinstance(v, dict)}
    if embedded:
        fields.setdefault("apiVersion", SCALAR)
        fields.setdefault("kind", SCALAR)
        fields["metadata"] = definition("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
    return TypeSchema(
        kind=Kind.STRUCT,
        name=name,
        fields=fields,
        atomic=body.get("x-kubernetes-map-type") == "atomic",
        preserve_unknown=preserve,
    )


# ---------------------------------------------------------------- unknown fields


def prune_unknown(obj: JSON, schema: TypeSchema) -> tuple[JSON, list[str]]:
    """``obj`` without the fields ``schema`` does not declare, and their paths.

    Paths read as the server's strict decoder words them: ``spec.foo``,
    ``spec.template.spec.containers[0].bar``; a warning is ``unknown field "<path>"`` and
    a Strict rejection ``<Kind> in version "<v>" cannot be handled as a <Kind>: strict
    decoding error: unknown field "<path>", unknown field "<path2>"``. ``obj`` is not
    mutated; the result shares untouched sub-trees with it.
    """
    unknown: list[str] = []
    pruned = _prune(obj, schema, "", unknown)
    return pruned, unknown


def _prune(value: Any, schema: TypeSchema, path: str, unknown: list[str]) -> Any:
    kind = schema.kind
    if kind is Kind.STRUCT and isinstance(value, dict):
        out: JSON | None = None
        for key, member in value.items():
            sub = schema.fields.get(key)
            where = f"{path}.{key}" if path else key
            if sub is None:
                if schema.preserve_unknown:
                    continue
                unknown.append(where)
                if out is None:
                    out = dict(value)
                del out[key]
                continue
            new = _prune(member, sub, where, unknown)
            if new is not member:
                if out is None:
                    out = dict(value)
                out[key] = new
        return value if out is None else out
    if kind is Kind.MAP and isinstance(value, dict) and schema.element is not None:
        element = schema.element
        changed: JSON | None = None
        for key, member in value.items():
            new = _prune(member, element, f"{path}[{key}]", unknown)
            if new is not member:
                if changed is None:
                    changed = dict(value)
                changed[key] = new
        return value if changed is None else changed
    if kind is Kind.LIST and isinstance(value, list) and schema.element is not None:
        element = schema.element
        items: list[Any] | None = None
        for index, item in enumerate(value):
            new = _prune(item, element, f"{path}[{index}]", unknown)
            if new is not item:
                if items is None:
                    items = list(value)
                items[index] = new
        return value if items is None else items
    return value


# ---------------------------------------------------------------- typed check for apply


def typed_errors(obj: JSON, schema: TypeSchema) -> list[str]:
    """What SMD's typed conversion of an apply configuration rejects, worded as it does.

    Fields the schema does not declare (``.spec.foo: field not declared in schema``; the
    first one per object, as Go's map walk stops there), duplicate keys in associative
    lists and list-map items without any key. Empty when the config is acceptable.
    """
    errors: list[str] = []
    _check(obj, schema, "", errors)
    return errors


def _check(value: Any, schema: TypeSchema, path: str, errors: list[str]) -> None:
    kind = schema.kind
    if kind in (Kind.STRUCT, Kind.MAP) and isinstance(value, dict):
        for key, member in value.items():
            sub = schema.child(key)
            where = f"{path}.{key}"
            if sub is None:
                errors.append(f"{where}: field not declared in schema")
                return
            _check(member, sub, where, errors)
    elif kind is Kind.LIST and isinstance(value, list) and schema.element is not None:
        _check_list(value, schema, path, errors)


def _check_list(value: list[Any], schema: TypeSchema, path: str, errors: list[str]) -> None:
    from kubesim import fieldpath  # noqa: PLC0415 - fieldpath imports this module

    element = schema.element
    assert element is not None
    seen: set[str] = set()
    for index, item in enumerate(value):
        if schema.is_associative:
            try:
                pe = fieldpath.item_element(item, schema)
            except fieldpath.FieldPathError as exc:
                errors.append(f"{path}: element {index}: {exc}")
                return
            where = path + fieldpath.render_element(pe)
            if pe in seen:
                errors.append(f"{path}: duplicate entries for key {fieldpath.render_element(pe)}")
            seen.add(pe)
        else:
            where = f"{path}[{index}]"
        _check(item, element, where, errors)
