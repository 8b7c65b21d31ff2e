"""Type topology from kubernetes-validate's schemas and CRD schemas (kubesim.schema).

Expected topology is KUBE_API.md §4.3's table, which was read from kubernetes/api's
listType/listMapKey markers.
"""

from __future__ import annotations

from typing import Any

import pytest

from kubesim import schema
from kubesim.schema import Kind, TypeSchema


def at(root: TypeSchema | None, *path: str) -> TypeSchema:
    """Walk struct fields; '[]' steps into list items or map values."""
    assert root is not None
    node = root
    for name in path:
        nxt = node.element if name == "[]" else node.fields.get(name)
        assert nxt is not None, name
        node = nxt
    return node


DEPLOY = schema.for_kind("apps", "v1", "Deployment")
SERVICE = schema.for_kind("", "v1", "Service")
POD_SPEC = ("spec", "template", "spec")
CONTAINER = (*POD_SPEC, "containers", "[]")


@pytest.mark.parametrize(
    ("root", "path", "list_type", "keys"),
    [
        (DEPLOY, (*POD_SPEC, "containers"), "map", ("name",)),
        (DEPLOY, (*POD_SPEC, "initContainers"), "map", ("name",)),
        (DEPLOY, (*POD_SPEC, "ephemeralContainers"), "map", ("name",)),
        (DEPLOY, (*POD_SPEC, "volumes"), "map", ("name",)),
        (DEPLOY, (*POD_SPEC, "imagePullSecrets"), "map", ("name",)),
        (DEPLOY, (*CONTAINER, "ports"), "map", ("containerPort", "protocol")),
        (DEPLOY, (*CONTAINER, "env"), "map", ("name",)),
        (DEPLOY, (*CONTAINER, "volumeMounts"), "map", ("mountPath",)),
        (DEPLOY, (*CONTAINER, "volumeDevices"), "map", ("devicePath",)),
        (DEPLOY, (*CONTAINER, "args"), "atomic", ()),
        (DEPLOY, (*CONTAINER, "command"), "atomic", ()),
        (DEPLOY, (*CONTAINER, "envFrom"), "atomic", ()),
        (DEPLOY, (*POD_SPEC, "tolerations"), "atomic", ()),
        (DEPLOY, (*POD_SPEC, "readinessGates"), "atomic", ()),
        (
            DEPLOY,
            (*POD_SPEC, "topologySpreadConstraints"),
            "map",
            ("topologyKey", "whenUnsatisfiable"),
        ),
        (DEPLOY, (*POD_SPEC, "hostAliases"), "map", ("ip",)),
        (DEPLOY, ("metadata", "finalizers"), "set", ()),
        (DEPLOY, ("metadata", "ownerReferences"), "map", ("uid",)),
        (DEPLOY, ("status", "conditions"), "map", ("type",)),
        (SERVICE, ("spec", "ports"), "map", ("port", "protocol")),
        (SERVICE, ("spec", "clusterIPs"), "atomic", ()),
        (SERVICE, ("spec", "externalIPs"), "atomic", ()),
        (SERVICE, ("spec", "ipFamilies"), "atomic", ()),
        (SERVICE, ("spec", "loadBalancerSourceRanges"), "atomic", ()),
    ],
)
def test_list_topology_matches_section_4_3(
    root: TypeSchema | None, path: tuple[str, ...], list_type: str, keys: tuple[str, ...]
) -> None:
    """Every list of KUBE_API.md §4.3 has its list type and keys."""
    node = at(root, *path)
    assert (node.kind, node.list_type, node.keys) == (Kind.LIST, list_type, keys)


def test_protocol_key_defaults_to_tcp() -> None:
    """Container and Service ports fill a missing protocol key with TCP."""
    assert at(DEPLOY, *CONTAINER, "ports").key_defaults == {"protocol": "TCP"}
    assert at(SERVICE, "spec", "ports").key_defaults == {"protocol": "TCP"}


@pytest.mark.parametrize(
    ("path", "kind", "atomic"),
    [
        (("spec", "selector"), Kind.STRUCT, True),  # LabelSelector
        (("metadata", "ownerReferences", "[]"), Kind.STRUCT, True),
        (("metadata", "labels"), Kind.MAP, False),
        (("metadata", "annotations"), Kind.MAP, False),
        ((*POD_SPEC, "nodeSelector"), Kind.MAP, True),
        ((*CONTAINER, "resources", "limits"), Kind.MAP, False),
        (("spec", "replicas"), Kind.SCALAR, False),
        (("spec", "strategy", "rollingUpdate", "maxSurge"), Kind.SCALAR, False),  # IntOrString
    ],
)
def test_map_and_struct_topology(path: tuple[str, ...], kind: Kind, atomic: bool) -> None:
    """Granular vs atomic maps and structs follow x-kubernetes-map-type."""
    node = at(DEPLOY, *path)
    assert (node.kind, node.atomic) == (kind, atomic)


def test_granular_config_map_data() -> None:
    """ConfigMap data is a granular map of strings."""
    node = at(schema.for_kind("", "v1", "ConfigMap"), "data")
    assert (node.kind, node.atomic, at(node, "[]").kind) == (Kind.MAP, False, Kind.SCALAR)


@pytest.mark.parametrize(
    ("path", "strategy", "merge_key"),
    [
        ((*POD_SPEC, "containers"), ("merge",), "name"),
        ((*CONTAINER, "ports"), ("merge",), "containerPort"),
        ((*POD_SPEC, "volumes"), ("merge", "retainKeys"), "name"),
        (("metadata", "finalizers"), ("merge",), ""),
        ((*CONTAINER, "args"), (), ""),
        ((*POD_SPEC, "tolerations"), (), ""),
        (("spec", "strategy"), ("retainKeys",), ""),
    ],
)
def test_strategic_merge_markers(
    path: tuple[str, ...], strategy: tuple[str, ...], merge_key: str
) -> None:
    """SMP strategies and merge keys come from the field that points at a type."""
    node = at(DEPLOY, *path)
    assert (node.patch_strategy, node.merge_key) == (strategy, merge_key)


def test_pdb_selector_is_replaced_by_strategic_merge() -> None:
    """PodDisruptionBudget's selector carries patchStrategy=replace."""
    node = at(schema.for_kind("policy", "v1", "PodDisruptionBudget"), "spec", "selector")
    assert node.patch_strategy == ("replace",)


def test_unknown_kind_has_no_schema() -> None:
    """A kind the schemas do not define yields None."""
    assert schema.for_kind("example.com", "v1", "Widget") is None


def test_schemas_are_cached() -> None:
    """Asking twice returns the very same tree (built once)."""
    assert schema.for_kind("apps", "v1", "Deployment") is DEPLOY


# ---------------------------------------------------------------- custom resources

CRD: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "plain": {"type": "array", "items": {"type": "string"}},
                "ports": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["port", "protocol"],
                    "items": {
                        "type": "object",
                        "properties": {
                            "port": {"type": "integer"},
                            "protocol": {"type": "string", "default": "TCP"},
                        },
                    },
                },
                "tags": {
                    "type": "array",
                    "x-kubernetes-list-type": "set",
                    "items": {"type": "string"},
                },
                "sel": {
                    "type": "object",
                    "x-kubernetes-map-type": "atomic",
                    "properties": {"a": {"type": "string"}},
                },
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "size": {"x-kubernetes-int-or-string": True},
                "replicas": {"type": "integer", "default": 1},
            },
        },
        "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
    },
}


def test_crd_topology() -> None:
    """CRD markers map to the same topology; lists without markers are atomic."""
    root = schema.from_openapi(CRD)
    assert at(root, "spec", "plain").list_type == "atomic"
    ports = at(root, "spec", "ports")
    assert (ports.list_type, ports.keys, ports.key_defaults) == (
        "map",
        ("port", "protocol"),
        {"protocol": "TCP"},
    )
    assert at(root, "spec", "tags").list_type == "set"
    assert at(root, "spec", "sel").atomic is True
    assert at(root, "spec", "labels").kind is Kind.MAP
    assert at(root, "spec", "free").kind is Kind.DEDUCED
    assert at(root, "spec", "size").kind is Kind.SCALAR
    assert (at(root, "spec", "replicas").has_default, at(root, "spec", "replicas").default) == (
        True,
        1,
    )


def test_crd_root_gets_object_meta_and_type_fields() -> None:
    """A CR always has the real ObjectMeta, apiVersion and kind."""
    root = schema.from_openapi({"type": "object", "properties": {"spec": {"type": "object"}}})
    assert at(root, "metadata", "finalizers").list_type == "set"
    assert (at(root, "apiVersion").kind, at(root, "kind").kind) == (Kind.SCALAR, Kind.SCALAR)


# ---------------------------------------------------------------- unknown fields


def test_prune_unknown_reports_paths_without_mutating() -> None:
    """Unknown fields are dropped and reported as the strict decoder words their paths."""
    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "w", "labels": {"any": "x"}},
        "spec": {
            "foo": 1,
            "template": {"spec": {"containers": [{"name": "a"}, {"name": "b", "bar": 2}]}},
        },
        "extra": True,
    }
    assert DEPLOY is not None
    snapshot = repr(obj)
    pruned, unknown = schema.prune_unknown(obj, DEPLOY)
    assert unknown == ["spec.foo", "spec.template.spec.containers[1].bar", "extra"]
    assert pruned == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "w", "labels": {"any": "x"}},
        "spec": {"template": {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}},
    }
    assert repr(obj) == snapshot


def test_prune_unknown_keeps_preserved_fields_of_a_cr() -> None:
    """x-kubernetes-preserve-unknown-fields keeps everything below it."""
    root = schema.from_openapi(CRD)
    obj = {"spec": {"free": {"any": {"thing": 1}}, "nope": 1}}
    assert schema.prune_unknown(obj, root) == (
        {"spec": {"free": {"any": {"thing": 1}}}},
        ["spec.nope"],
    )


def test_prune_unknown_returns_the_same_object_when_clean() -> None:
    """A clean object comes back as the very same object (no copy)."""
    assert DEPLOY is not None
    obj = {"spec": {"replicas": 1}}
    pruned, unknown = schema.prune_unknown(obj, DEPLOY)
    assert (pruned is obj, unknown) == (True, [])


def test_typed_errors_name_the_first_unknown_field_with_smd_paths() -> None:
    """The apply-time check words paths as SMD does, keyed items included."""
    assert DEPLOY is not None
    obj = {"spec": {"template": {"spec": {"containers": [{"name": "c", "nope": 1}]}}}}
    assert schema.typed_errors(obj, DEPLOY) == [
        '.spec.template.spec.containers[name="c"].nope: field not declared in schema'
    ]


def test_typed_errors_missing_keys() -> None:
    """A list-map item without any key field is reported with its index."""
    assert DEPLOY is not None
    obj = {"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}
    expected = (
        ".spec.template.spec.containers: element 0: associative list with keys has an element"
        ' that omits all key fields ["name"] (and doesn\'t have default values for any key fields)'
    )
    assert schema.typed_errors(obj, DEPLOY) == [expected]
