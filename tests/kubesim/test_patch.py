"""JSON patch, merge patch and strategic merge patch (kubesim.patch).

Expected results are worked out by hand from KUBE_API.md §4.1, RFC 6902/7386, the
json-patch.v4 library the apiserver uses, and apimachinery's strategicpatch/patch.go.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubesim import patch, schema

DEPLOY = schema.for_kind("apps", "v1", "Deployment")
SERVICE = schema.for_kind("", "v1", "Service")
assert DEPLOY is not None
assert SERVICE is not None

JSON = dict[str, Any]
REJECTED = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": "the server rejected our request due to an error in our request",
    "reason": "Invalid",
    "details": {},
    "code": 422,
}

CM: JSON = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "c", "annotations": {}, "finalizers": ["x", "y"]},
    "data": {"a": "1", "b": "2"},
}


def error_of(call: Any) -> JSON:
    with pytest.raises(patch.PatchError) as caught:
        call()
    return caught.value.status()


# ---------------------------------------------------------------- RFC 6902


def test_json_patch_add_replace_remove() -> None:
    """The basic operations, applied in order."""
    ops = [
        {"op": "add", "path": "/data/c", "value": "3"},
        {"op": "replace", "path": "/data/a", "value": "9"},
        {"op": "remove", "path": "/data/b"},
    ]
    assert patch.json_patch(CM, ops)["data"] == {"a": "9", "c": "3"}


def test_json_patch_pointer_escapes() -> None:
    """~1 is '/' and ~0 is '~' in a token."""
    ops = [
        {"op": "add", "path": "/metadata/annotations/example.com~1key", "value": "v"},
        {"op": "add", "path": "/metadata/annotations/t~0ilde", "value": "w"},
        {"op": "add", "path": "/metadata/annotations/~01", "value": "z"},
    ]
    assert patch.json_patch(CM, ops)["metadata"]["annotations"] == {
        "example.com/key": "v",
        "t~ilde": "w",
        "~1": "z",
    }


def test_json_patch_array_positions() -> None:
    """'-' appends, an index inserts, -1 on add lands at the end (json-patch.v4)."""
    ops = [
        {"op": "add", "path": "/metadata/finalizers/-", "value": "z"},
        {"op": "add", "path": "/metadata/finalizers/0", "value": "first"},
        {"op": "add", "path": "/metadata/finalizers/-1", "value": "last"},
    ]
    assert patch.json_patch(CM, ops)["metadata"]["finalizers"] == ["first", "x", "y", "z", "last"]


def test_json_patch_move_and_copy() -> None:
    """A move removes the source; a copy leaves it."""
    ops = [
        {"op": "move", "from": "/data/a", "path": "/data/m"},
        {"op": "copy", "from": "/data/b", "path": "/data/c"},
    ]
    assert patch.json_patch(CM, ops)["data"] == {"b": "2", "m": "1", "c": "2"}


def test_json_patch_library_quirks() -> None:
    """json-patch.v4: replace of a missing key adds it; copy from a missing key copies null."""
    ops = [
        {"op": "replace", "path": "/data/new", "value": "n"},
        {"op": "copy", "from": "/data/nope", "path": "/data/copied"},
    ]
    assert patch.json_patch(CM, ops)["data"] == {"a": "1", "b": "2", "new": "n", "copied": None}


def test_json_patch_test_passes_and_null_matches_missing() -> None:
    """A matching test is a no-op; testing a missing member against null passes."""
    ops = [
        {"op": "test", "path": "/data/a", "value": "1"},
        {"op": "test", "path": "/data/missing", "value": None},
    ]
    assert patch.json_patch(CM, ops) == CM


@pytest.mark.parametrize(
    "op",
    [
        {"op": "test", "path": "/data/a", "value": "2"},
        {"op": "remove", "path": "/data/missing"},
        {"op": "add", "path": "/nope/deeper", "value": 1},
        {"op": "add", "path": "/metadata/finalizers/5", "value": "x"},
        {"op": "replace", "path": "/metadata/finalizers/2", "value": "x"},
        {"op": "move", "from": "/data/missing", "path": "/data/z"},
        {"op": "frobnicate", "path": "/data/a"},
        {"op": "add", "value": 1},
        {"op": "add", "path": "", "value": {}},
    ],
)
def test_json_patch_failures_are_422_without_details(op: JSON) -> None:
    """Any failed operation gives the generic 422 (the library's text is dropped, §2.3)."""
    assert error_of(lambda: patch.json_patch(CM, [op])) == REJECTED


def test_json_patch_body_must_be_an_array() -> None:
    """A non-array body is a 400 worded by the handler's strict decode (default Warn)."""
    assert error_of(lambda: patch.json_patch(CM, {"op": "add"})) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "error decoding patch: json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp",
        "reason": "BadRequest",
        "code": 400,
    }


def test_json_patch_body_must_be_an_array_when_validation_is_ignored() -> None:
    """With fieldValidation=Ignore the json-patch library words the 400."""
    body = error_of(lambda: patch.json_patch(CM, "x", field_validation="Ignore"))
    assert (body["code"], body["message"]) == (
        400,
        "json: cannot unmarshal string into Go value of type jsonpatch.Patch",
    )


def test_json_patch_operation_fields_must_be_strings() -> None:
    """An op field of the wrong JSON type is a decode error (400)."""
    body = error_of(lambda: patch.json_patch(CM, [{"op": 5, "path": "/a"}]))
    assert (body["code"], body["message"]) == (
        400,
        "error decoding patch: json: cannot unmarshal number into Go struct field jsonPatchOp.op of type string",
    )


def test_json_patch_operation_limit() -> None:
    """More than 10000 operations is 413 RequestEntityTooLarge."""
    ops = [{"op": "test", "path": "/data/a", "value": "1"}] * 10001
    assert error_of(lambda: patch.json_patch(CM, ops)) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10001",
        "reason": "RequestEntityTooLarge",
        "code": 413,
    }


def test_json_patch_null_body_changes_nothing() -> None:
    """`null` decodes to an empty patch."""
    assert patch.json_patch(CM, None) == CM


def test_json_patch_result_must_be_an_object() -> None:
    """Replacing the root with an array cannot decode into the kind: 422 Invalid on patch."""
    body = error_of(lambda: patch.json_patch(CM, [{"op": "replace", "path": "", "value": [1]}]))
    assert (body["code"], body["reason"], body["details"]["causes"][0]["field"]) == (
        422,
        "Invalid",
        "patch",
    )


def test_json_patch_does_not_mutate_its_input() -> None:
    """The stored object is left untouched."""
    before = copy.deepcopy(CM)
    patch.json_patch(
        CM,
        [
            {"op": "remove", "path": "/data/a"},
            {"op": "add", "path": "/metadata/finalizers/-", "value": "q"},
        ],
    )
    assert before == CM


# ---------------------------------------------------------------- RFC 7386


def test_merge_patch_null_deletes_and_maps_merge() -> None:
    """A null removes a member; objects merge recursively."""
    result = patch.merge_patch(
        CM, {"metadata": {"finalizers": None, "labels": {"l": "1"}}, "data": {"a": None, "c": "3"}}
    )
    assert result == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "annotations": {}, "labels": {"l": "1"}},
        "data": {"b": "2", "c": "3"},
    }


def test_merge_patch_replaces_lists_whole() -> None:
    """Lists are never merged: containers are replaced (§4.1)."""
    doc = {"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "2"}]}}
    assert patch.merge_patch(doc, {"spec": {"containers": [{"name": "a", "image": "9"}]}}) == {
        "spec": {"containers": [{"name": "a", "image": "9"}]}
    }


def test_merge_patch_prunes_nulls_in_new_values() -> None:
    """A new object (or one replacing a scalar) loses its null members."""
    doc = {"a": "scalar"}
    assert patch.merge_patch(
        doc, {"a": {"x": None, "y": 1}, "b": {"z": None, "w": [{"n": None}]}}
    ) == {
        "a": {"y": 1},
        "b": {"w": [{}]},
    }


def test_merge_patch_list_replacing_an_object_keeps_nulls() -> None:
    """json-patch.v4 returns a non-object patch value as it is when the target is an object."""
    assert patch.merge_patch({"x": {"k": 1}}, {"x": [{"a": None}]}) == {"x": [{"a": None}]}


def test_merge_patch_body_errors() -> None:
    """A non-object body is a 400; `null` is 'Invalid JSON Patch'."""
    assert error_of(lambda: patch.merge_patch(CM, [1]))["message"] == (
        "error decoding patch: json: cannot unmarshal array into Go value of type map[string]interface {}"
    )
    assert error_of(lambda: patch.merge_patch(CM, None))["message"] == "Invalid JSON Patch"


def test_merge_patch_does_not_mutate_its_input() -> None:
    """The stored object is left untouched."""
    before = copy.deepcopy(CM)
    patch.merge_patch(CM, {"data": {"a": None}, "metadata": {"annotations": {"x": "y"}}})
    assert before == CM


# ---------------------------------------------------------------- strategic merge

DOC: JSON = {
    "metadata": {"name": "web", "labels": {"app": "web", "tier": "x"}, "finalizers": ["a", "b"]},
    "spec": {
        "replicas": 1,
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
        },
        "template": {
            "spec": {
                "containers": [
                    {
                        "name": "app",
                        "image": "app:1",
                        "args": ["--a"],
                        "command": ["run"],
                        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                    },
                    {"name": "side", "image": "side:1"},
                ],
                "tolerations": [{"key": "k1", "operator": "Exists"}],
                "volumes": [{"name": "v", "configMap": {"name": "c"}}],
            }
        },
    },
}


def smp(p: JSON) -> JSON:
    assert DEPLOY is not None
    return patch.strategic_merge_patch(DOC, p, DEPLOY)


def pod(p: JSON) -> JSON:
    return {"spec": {"template": {"spec": p}}}


def containers(result: JSON) -> list[JSON]:
    return result["spec"]["template"]["spec"]["containers"]  # type: ignore[no-any-return]


def test_smp_finalizers_are_unioned_new_first() -> None:
    """Primitive merge lists union; new items come before the live ones (§4.1 trap)."""
    assert smp({"metadata": {"finalizers": ["c"]}})["metadata"]["finalizers"] == ["c", "a", "b"]


def test_smp_empty_finalizers_remove_nothing() -> None:
    """`finalizers: []` is a union with nothing (§4.1 trap)."""
    assert smp({"metadata": {"finalizers": []}})["metadata"]["finalizers"] == ["a", "b"]


def test_smp_delete_from_primitive_list() -> None:
    """$deleteFromPrimitiveList/finalizers removes the listed values."""
    assert smp({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}})["metadata"][
        "finalizers"
    ] == ["b"]


def test_smp_null_removes_a_list() -> None:
    """A null deletes the field, finalizers included."""
    assert "finalizers" not in smp({"metadata": {"finalizers": None}})["metadata"]


def test_smp_containers_merge_by_name() -> None:
    """A container patch merges into the container of that name; others stay in place."""
    result = smp(pod({"containers": [{"name": "app", "image": "app:2"}]}))
    assert [(c["name"], c["image"]) for c in containers(result)] == [
        ("app", "app:2"),
        ("side", "side:1"),
    ]
    assert containers(result)[0]["args"] == ["--a"]


def test_smp_args_command_and_tolerations_are_replaced() -> None:
    """Lists without patchStrategy=merge are replaced whole (§4.1 trap)."""
    result = smp(
        pod(
            {
                "containers": [{"name": "app", "args": ["--b"], "command": ["x", "y"]}],
                "tolerations": [{"key": "k2"}],
            }
        )
    )
    app = containers(result)[0]
    assert (app["args"], app["command"]) == (["--b"], ["x", "y"])
    assert result["spec"]["template"]["spec"]["tolerations"] == [{"key": "k2"}]


def test_smp_env_merges_by_name_keeping_live_order() -> None:
    """The env entries merge by name; a new one follows the ones the patch names."""
    result = smp(
        pod(
            {
                "containers": [
                    {
                        "name": "app",
                        "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}],
                    }
                ]
            }
        )
    )
    assert containers(result)[0]["env"] == [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "3"},
        {"name": "C", "value": "4"},
    ]


def test_smp_delete_directive_removes_a_container() -> None:
    """{"name": x, "$patch": "delete"} removes the container (§4.1 trap)."""
    result = smp(pod({"containers": [{"name": "side", "$patch": "delete"}]}))
    assert [c["name"] for c in containers(result)] == ["app"]


def test_smp_new_container_comes_first() -> None:
    """A new item is placed before the live ones (mergeSortedSlice order)."""
    result = smp(pod({"containers": [{"name": "new", "image": "n:1"}]}))
    assert [c["name"] for c in containers(result)] == ["new", "app", "side"]


def test_smp_set_element_order() -> None:
    """$setElementOrder/containers fixes the order of the merged list."""
    result = smp(
        pod(
            {
                "$setElementOrder/containers": [{"name": "side"}, {"name": "app"}],
                "containers": [{"name": "app", "image": "app:3"}],
            }
        )
    )
    assert [(c["name"], c["image"]) for c in containers(result)] == [
        ("side", "side:1"),
        ("app", "app:3"),
    ]


def test_smp_replace_directive_in_a_list() -> None:
    """A {"$patch": "replace"} item makes the list exactly the other patch items."""
    result = smp(pod({"containers": [{"$patch": "replace"}, {"name": "only", "image": "o"}]}))
    assert containers(result) == [{"name": "only", "image": "o"}]


def test_smp_retain_keys_on_the_strategy() -> None:
    """$retainKeys clears the keys it does not list (Deployment strategy is retainKeys)."""
    result = smp({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}})
    assert result["spec"]["strategy"] == {"type": "Recreate"}


def test_smp_retain_keys_on_a_volume() -> None:
    """Volumes are merge,retainKeys: switching a volume's source drops the old one."""
    result = smp(
        pod({"volumes": [{"name": "v", "$retainKeys": ["emptyDir", "name"], "emptyDir": {}}]})
    )
    assert result["spec"]["template"]["spec"]["volumes"] == [{"name": "v", "emptyDir": {}}]


def test_smp_retain_keys_must_cover_the_patch() -> None:
    """A patched key missing from $retainKeys is a 400."""
    body = error_of(
        lambda: smp({"spec": {"strategy": {"$retainKeys": ["rollingUpdate"], "type": "Recreate"}}})
    )
    assert (body["code"], body["reason"], body["message"]) == (
        400,
        "BadRequest",
        "invalid patch format of retainKeys",
    )


def test_smp_map_directives() -> None:
    """$patch: replace makes a map exactly the patch; $patch: delete empties it."""
    assert smp({"metadata": {"labels": {"$patch": "replace", "new": "1"}}})["metadata"][
        "labels"
    ] == {"new": "1"}
    assert smp({"spec": {"strategy": {"$patch": "delete"}}})["spec"]["strategy"] == {}


def test_smp_null_deletes_a_label() -> None:
    """Maps merge per key; null removes the key."""
    assert smp({"metadata": {"labels": {"tier": None, "new": "n"}}})["metadata"]["labels"] == {
        "app": "web",
        "new": "n",
    }


def test_smp_service_ports_merge_by_port() -> None:
    """Service ports merge by their patchMergeKey, port."""
    doc = {
        "spec": {
            "ports": [
                {"port": 80, "targetPort": 8080, "protocol": "TCP"},
                {"port": 443, "protocol": "TCP"},
            ]
        }
    }
    assert SERVICE is not None
    result = patch.strategic_merge_patch(
        doc, {"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}, SERVICE
    )
    assert result["spec"]["ports"] == [
        {"port": 80, "targetPort": 9090, "protocol": "TCP"},
        {"port": 443, "protocol": "TCP"},
    ]


def test_smp_item_without_its_merge_key_is_a_500() -> None:
    """ErrNoMergeKey is not mapped by the handler: a 500 without reason."""
    assert error_of(lambda: smp(pod({"containers": [{"image": "x"}]}))) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "map: map[image:x] does not contain declared merge key: name",
        "code": 500,
    }


def test_smp_malformed_delete_list_key_is_a_400() -> None:
    """$deleteFromPrimitiveList without '/<field>' is ErrBadPatchFormatForPrimitiveList."""
    body = error_of(lambda: smp({"metadata": {"$deleteFromPrimitiveList": ["a"]}}))
    assert (body["code"], body["message"]) == (400, "invalid patch format of primitive list")


def test_smp_unknown_map_directive_is_a_500() -> None:
    """Only replace and delete are map directives; anything else is ErrBadPatchType."""
    body = error_of(lambda: smp({"metadata": {"labels": {"$patch": "merge", "a": "b"}}}))
    assert (body["code"], body["message"]) == (
        500,
        "unknown patch type: merge in map: map[$patch:merge a:b]",
    )


def test_smp_merge_directive_in_a_list_is_refused() -> None:
    """$patch: merge inside a list is not supported by strategicpatch."""
    body = error_of(lambda: smp(pod({"containers": [{"$patch": "merge"}]})))
    assert (body["code"], body["message"]) == (
        500,
        "merging lists cannot yet be specified in the patch",
    )


def test_smp_list_of_lists_is_a_422() -> None:
    """ErrNoListOfLists maps to the generic 422."""
    doc = {"metadata": {"finalizers": []}}
    assert DEPLOY is not None
    assert (
        error_of(
            lambda: patch.strategic_merge_patch(doc, {"metadata": {"finalizers": [["x"]]}}, DEPLOY)
        )
        == REJECTED
    )


def test_smp_mixed_item_types_are_a_500() -> None:
    """Items of different types in one merged list fail sliceElementType."""
    body = error_of(lambda: smp({"metadata": {"finalizers": [["x"]]}}))
    assert (body["code"], body["message"]) == (
        500,
        "list element types are not identical: [[a b] [[x]]]",
    )


def test_smp_body_must_be_an_object() -> None:
    """A non-object body is the JSON decoder's 400."""
    body = error_of(lambda: smp([1]))  # type: ignore[arg-type]
    assert (body["code"], body["message"]) == (
        400,
        "json: cannot unmarshal array into Go value of type map[string]interface {}",
    )


def test_smp_does_not_mutate_its_inputs() -> None:
    """Neither the stored object nor the patch is changed."""
    before = copy.deepcopy(DOC)
    body = pod(
        {
            "containers": [
                {"name": "side", "$patch": "delete"},
                {"name": "app", "env": [{"name": "A", "value": None}]},
            ]
        }
    )
    body_before = copy.deepcopy(body)
    smp(body)
    assert (DOC, body) == (before, body_before)
