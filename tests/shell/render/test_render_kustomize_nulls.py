"""How the source text of YAML nulls is recorded and follows a resource.

The fixtures under ``kustomize_cases/nulls`` check the rendered result against kubectl.
"""

from __future__ import annotations

from daemon.shell.render import yamlsafe
from daemon.shell.render.kustomize import resource
from daemon.shell.render.result import DEFAULT_LIMITS

TEXT = """\
kind: ConfigMap
metadata:
  name: c
  annotations: {a: null, b: ~, c: }
data:
  empty:
  items: [x, {inner: }]
"""


def test_each_null_mapping_value_is_recorded_with_its_text_and_values_stay_none() -> None:
    """Nulls read as None; the document lists (map, key, text) of every null map value."""
    (document,) = yamlsafe.load_all(TEXT, file="c.yaml")
    value = document.value
    assert value == {
        "kind": "ConfigMap",
        "metadata": {"name": "c", "annotations": {"a": None, "b": None, "c": None}},
        "data": {"empty": None, "items": ["x", {"inner": None}]},
    }
    annotations, data = value["metadata"]["annotations"], value["data"]
    inner = data["items"][1]
    assert [(id(m), k, t) for m, k, t in document.null_texts] == [
        (id(annotations), "a", "null"),
        (id(annotations), "b", "~"),
        (id(annotations), "c", ""),
        (id(data), "empty", ""),
        (id(inner), "inner", ""),
    ]


def test_nulls_reached_through_an_alias_are_not_recorded() -> None:
    """An alias expands to a copy, so only the anchored original's null is listed."""
    (document,) = yamlsafe.load_all("a: &x {k: }\nb: *x\n", file="a.yaml")
    assert [(id(m), k, t) for m, k, t in document.null_texts] == [
        (id(document.value["a"]), "k", "")
    ]


def test_a_resource_copy_carries_the_null_texts_onto_its_own_maps() -> None:
    """Copying a resource remaps each record to the copied map, so patches of the copy see it."""
    (original,) = resource.from_text(TEXT, file="c.yaml", limits=DEFAULT_LIMITS)
    copied = original.copy()
    data = copied.body["data"]
    assert copied.null_text(data, "empty") == ""
    assert copied.null_text(copied.body["metadata"]["annotations"], "b") == "~"
    assert copied.empty_null_places() == {
        (id(copied.body["metadata"]["annotations"]), "c"),
        (id(data), "empty"),
        (id(data["items"][1]), "inner"),
    }
    assert original.empty_null_places().isdisjoint(copied.empty_null_places())
