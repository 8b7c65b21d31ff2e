"""Field sets in the FieldsV1 shape (kubesim.fieldpath).

Expected values come from KUBE_API.md §4.2 and structured-merge-diff's tofieldset.go,
compare.go, set.go, element.go and serialize.go, written by hand.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from kubesim import fieldpath, schema

DEPLOY = schema.for_kind("apps", "v1", "Deployment")
CM = schema.for_kind("", "v1", "ConfigMap")
SVC = schema.for_kind("", "v1", "Service")
assert DEPLOY is not None
assert CM is not None
assert SVC is not None
CONTAINERS = DEPLOY.fields["spec"].fields["template"].fields["spec"].fields["containers"]
PORTS = CONTAINERS.element.fields["ports"] if CONTAINERS.element else None
FINALIZERS = DEPLOY.fields["metadata"].fields["finalizers"]


def text(tree: Any) -> str:
    """The exact JSON text the server would write for a set."""
    return orjson.dumps(fieldpath.encode(tree)).decode()


# ---------------------------------------------------------------- path elements


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"name": "nginx", "image": "x"}, 'k:{"name":"nginx"}'),
        ({"name": "a<b&c>"}, 'k:{"name":"a\\u003cb\\u0026c\\u003e"}'),
    ],
)
def test_container_item_element(item: dict[str, Any], expected: str) -> None:
    """Keyed items serialize their key fields as Go's encoder (HTML-escaped)."""
    assert fieldpath.item_element(item, CONTAINERS) == expected


def test_port_item_element_fills_the_defaulted_protocol() -> None:
    """A list-map key the item omits takes its default: protocol TCP (SMD issue 130)."""
    assert PORTS is not None
    assert (
        fieldpath.item_element({"containerPort": 80}, PORTS)
        == 'k:{"containerPort":80,"protocol":"TCP"}'
    )
    assert (
        fieldpath.item_element({"protocol": "UDP", "containerPort": 53, "name": "dns"}, PORTS)
        == 'k:{"containerPort":53,"protocol":"UDP"}'
    )


def test_set_item_element() -> None:
    """Items of a set list are v: elements holding the JSON value."""
    assert fieldpath.item_element("example.com/fin", FINALIZERS) == 'v:"example.com/fin"'


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (
            {"image": "x"},
            'associative list with keys has an element that omits all key fields ["name"] (and doesn\'t have default values for any key fields)',
        ),
        ("x", "associative list with keys may not have non-map elements"),
        (None, "associative list with keys may not have a null element"),
    ],
)
def test_bad_keyed_items(item: Any, message: str) -> None:
    """Items that cannot be addressed fail with SMD's wording."""
    with pytest.raises(fieldpath.FieldPathError) as caught:
        fieldpath.item_element(item, CONTAINERS)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("path", "rendered"),
    [
        (
            ("f:spec", "f:template", "f:spec", "f:containers", 'k:{"name":"nginx"}', "f:image"),
            '.spec.template.spec.containers[name="nginx"].image',
        ),
        (
            ("f:ports", 'k:{"containerPort":80,"protocol":"TCP"}'),
            '.ports[containerPort=80,protocol="TCP"]',
        ),
        (
            ("f:metadata", "f:finalizers", 'v:"example.com/fin"'),
            '.metadata.finalizers[="example.com/fin"]',
        ),
        (("f:x", 'k:{"on":true}'), ".x[on=true]"),
        (("f:x", "i:3"), ".x[3]"),
        (("f:data", "f:a.b"), ".data.a.b"),
    ],
)
def test_render_path(path: tuple[str, ...], rendered: str) -> None:
    """Paths print as SMD's Path.String: quoted strings, bare numbers and booleans."""
    assert fieldpath.render_path(path) == rendered


# ---------------------------------------------------------------- sets from objects


def test_config_map_config_set() -> None:
    """Scalars and granular map keys are owned leaves; maps with children are not members."""
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "labels": {"a": "1"}},
        "data": {"k": "v"},
    }
    assert CM is not None
    assert text(fieldpath.from_object(config, CM)) == (
        '{"f:apiVersion":{},"f:data":{"f:k":{}},"f:kind":{},'
        '"f:metadata":{"f:labels":{"f:a":{}},"f:name":{}}}'
    )


def test_empty_maps_nulls_and_atomic_values_are_leaves() -> None:
    """`resources: {}` and nulls are owned as leaves, an atomic selector as one leaf."""
    assert DEPLOY is not None
    config = {
        "spec": {
            "selector": {"matchLabels": {"app": "x"}},
            "paused": None,
            "template": {
                "spec": {"containers": [{"name": "c", "resources": {}, "args": ["a", "b"]}]}
            },
        }
    }
    assert text(fieldpath.from_object(config, DEPLOY)) == (
        '{"f:spec":{"f:paused":{},"f:selector":{},"f:template":{"f:spec":{"f:containers":'
        '{"k:{\\"name\\":\\"c\\"}":{".":{},"f:args":{},"f:name":{},"f:resources":{}}}}}}}'
    )


def test_empty_associative_list_owns_nothing() -> None:
    """`finalizers: []` in a config owns nothing (tofieldset inserts no path for it)."""
    assert DEPLOY is not None
    assert fieldpath.from_object({"metadata": {"finalizers": []}}, DEPLOY) == {}


def test_set_items_are_owned() -> None:
    """Each item of a set list is owned as a v: member."""
    assert DEPLOY is not None
    tree = fieldpath.from_object({"metadata": {"finalizers": ["b", "a"]}}, DEPLOY)
    assert text(tree) == '{"f:metadata":{"f:finalizers":{"v:\\"a\\"":{},"v:\\"b\\"":{}}}}'


# ---------------------------------------------------------------- encoding


def test_children_sort_fields_then_keys_then_values_then_indexes() -> None:
    """element.go Compare: f: by name, then k:, then v:, then i:; '.' comes first."""
    tree = {
        "i:0": {},
        'v:"z"': {},
        'k:{"a":1}': {},
        "f:b": {},
        "f:a": {".": {}, "f:x": {}},
        ".": {},
    }
    assert list(fieldpath.encode(tree)) == [".", "f:a", "f:b", 'k:{"a":1}', 'v:"z"', "i:0"]


def test_keys_sort_numerically_not_textually() -> None:
    """value.Compare orders numbers by value: port 80 before 443 (text would say 443 first)."""
    tree = {'k:{"port":443}': {}, 'k:{"port":80}': {}, 'k:{"port":8080}': {}}
    assert list(fieldpath.encode(tree)) == ['k:{"port":80}', 'k:{"port":443}', 'k:{"port":8080}']


def test_values_sort_numbers_before_strings_before_booleans() -> None:
    """value.Compare type order: numbers, strings, booleans, then null."""
    tree = {"v:true": {}, 'v:"a"': {}, "v:2": {}, "v:null": {}}
    assert list(fieldpath.encode(tree)) == ["v:2", 'v:"a"', "v:true", "v:null"]


def test_decode_round_trips_and_drops_unknown_element_kinds() -> None:
    """FieldsV1 decodes to the same set; element kinds SMD does not know are dropped."""
    raw = {"f:data": {".": {}, "f:a": {}}, "x:future": {"f:b": {}}, "f:only": {".": {}}}
    assert fieldpath.decode(raw) == {"f:data": {".": {}, "f:a": {}}, "f:only": {}}


@pytest.mark.parametrize("bad", [{"nocolon": {}}, {"f:a": 1}, {'k:{"a":': {}}, []])
def test_decode_rejects_malformed_fields(bad: Any) -> None:
    """Malformed fieldsV1 is an error, not a silently wrong set."""
    with pytest.raises(fieldpath.FieldPathError):
        fieldpath.decode(bad)


# ---------------------------------------------------------------- set algebra

A = fieldpath.from_paths([("f:data", "f:a"), ("f:data", "f:b"), ("f:spec",)])
B = fieldpath.from_paths([("f:data", "f:b"), ("f:data", "f:c"), ("f:spec", "f:x")])


def test_union() -> None:
    """Union keeps every path and membership from either side."""
    assert fieldpath.union(A, B) == {
        "f:data": {"f:a": {}, "f:b": {}, "f:c": {}},
        "f:spec": {".": {}, "f:x": {}},
    }


def test_difference_is_member_wise() -> None:
    """Difference removes members only; a member with owned children keeps the children."""
    assert fieldpath.difference(A, B) == {"f:data": {"f:a": {}}, "f:spec": {}}
    assert fieldpath.difference(B, A) == {"f:data": {"f:c": {}}, "f:spec": {"f:x": {}}}


def test_intersection() -> None:
    """Intersection keeps paths owned on both sides."""
    assert fieldpath.intersection(A, B) == {"f:data": {"f:b": {}}}


def test_recursive_difference_drops_whole_subtrees() -> None:
    """Removing a member path drops everything below it (the reset-fields filter)."""
    assert fieldpath.recursive_difference(B, fieldpath.from_paths([("f:spec",)])) == {
        "f:data": {"f:b": {}, "f:c": {}}
    }
    assert fieldpath.difference(B, fieldpath.from_paths([("f:spec",)])) == B


def test_paths_iterate_members_before_children() -> None:
    """Set.Iterate: a level's members in order, then each child's paths."""
    tree = fieldpath.from_paths([("f:b", "f:x"), ("f:a",), ("f:b",), ("f:c",)])
    assert fieldpath.paths(tree) == [("f:a",), ("f:b",), ("f:c",), ("f:b", "f:x")]


def test_operations_do_not_mutate_operands() -> None:
    """Sets are values: every operation leaves its inputs unchanged."""
    before = (repr(A), repr(B))
    fieldpath.union(A, B)
    fieldpath.difference(A, B)
    fieldpath.intersection(A, B)
    fieldpath.recursive_difference(A, B)
    assert (repr(A), repr(B)) == before


# ---------------------------------------------------------------- comparing objects


def test_compare_marks_new_maps_as_owned_themselves() -> None:
    """A map that did not exist is added with '.' (compare.go); a scalar change is modified."""
    assert CM is not None
    old = {"metadata": {"name": "c"}, "data": {"a": "1"}}
    new = {"metadata": {"name": "c", "labels": {"x": "1"}}, "data": {"a": "2"}}
    result = fieldpath.compare(old, new, CM)
    assert result.added == {"f:metadata": {"f:labels": {".": {}, "f:x": {}}}}
    assert result.modified == {"f:data": {"f:a": {}}}
    assert result.removed == {}


def test_compare_removed_map_is_removed_with_its_children() -> None:
    """A map that disappears is removed as a member with its children."""
    assert CM is not None
    result = fieldpath.compare({"data": {"a": "1"}}, {}, CM)
    assert result.removed == {"f:data": {".": {}, "f:a": {}}}


def test_compare_list_items_by_key_not_position() -> None:
    """Reordering an associative list changes nothing; an item's field change is modified."""
    assert DEPLOY is not None

    def dep(*containers: dict[str, Any]) -> dict[str, Any]:
        return {"spec": {"template": {"spec": {"containers": list(containers)}}}}

    result = fieldpath.compare(
        dep({"name": "a", "image": "1"}, {"name": "b", "image": "1"}),
        dep({"name": "b", "image": "2"}, {"name": "a", "image": "1"}),
        DEPLOY,
    )
    assert result.modified == {
        "f:spec": {"f:template": {"f:spec": {"f:containers": {'k:{"name":"b"}': {"f:image": {}}}}}}
    }
    assert result.added == {}
    assert result.removed == {}


def test_compare_atomic_list_is_one_leaf() -> None:
    """An atomic list (args) is compared as a whole."""
    assert DEPLOY is not None
    old = {"spec": {"template": {"spec": {"containers": [{"name": "a", "args": ["1"]}]}}}}
    new = {"spec": {"template": {"spec": {"containers": [{"name": "a", "args": ["1", "2"]}]}}}}
    result = fieldpath.compare(old, new, DEPLOY)
    assert result.modified == {
        "f:spec": {"f:template": {"f:spec": {"f:containers": {'k:{"name":"a"}': {"f:args": {}}}}}}
    }


def test_compare_value_structs_are_never_new() -> None:
    """Go value structs (spec, template, strategy) exist on both sides: no '.' on them."""
    assert DEPLOY is not None
    new = {
        "spec": {
            "strategy": {"type": "Recreate"},
            "template": {"spec": {"restartPolicy": "Always"}},
        }
    }
    result = fieldpath.compare({}, new, DEPLOY)
    assert text(result.added) == (
        '{"f:spec":{"f:strategy":{"f:type":{}},"f:template":{"f:spec":{"f:restartPolicy":{}}}}}'
    )


def test_compare_bool_and_int_are_not_equal() -> None:
    """value.Equals keeps types apart: true is not 1."""
    assert CM is not None
    result = fieldpath.compare({"immutable": True}, {"immutable": 1}, CM)
    assert result.modified == {"f:immutable": {}}


# ---------------------------------------------------------------- removing


def test_remove_drops_members_items_and_emptied_containers() -> None:
    """RemoveItems: members go with their subtree; a container left empty is dropped."""
    assert DEPLOY is not None
    obj = {
        "metadata": {"labels": {"a": "1"}, "finalizers": ["x", "y"]},
        "spec": {
            "template": {
                "spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "2"}]}
            }
        },
    }
    doomed = fieldpath.from_paths(
        [
            ("f:metadata", "f:labels", "f:a"),
            ("f:metadata", "f:finalizers", 'v:"x"'),
            ("f:spec", "f:template", "f:spec", "f:containers", 'k:{"name":"b"}'),
        ]
    )
    snapshot = repr(obj)
    assert fieldpath.remove(obj, doomed, DEPLOY) == {
        "metadata": {"finalizers": ["y"]},
        "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "1"}]}}},
    }
    assert repr(obj) == snapshot


def test_remove_nothing_returns_the_same_object() -> None:
    """Removing an empty set is free: the very same object comes back."""
    assert CM is not None
    obj = {"data": {"a": "1"}}
    assert fieldpath.remove(obj, {}, CM) is obj
