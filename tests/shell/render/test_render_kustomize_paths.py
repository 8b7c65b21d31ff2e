"""Field paths and ``$(VAR)`` expansion of the native Kustomize, unit by unit."""

from __future__ import annotations

import pytest

from daemon.shell.render.kustomize import fieldpath, varref
from daemon.shell.render.result import RenderError


@pytest.mark.parametrize(
    ("path", "parts"),
    [
        ("spec.replicas", ["spec", "replicas"]),
        (".metadata.name", ["metadata", "name"]),
        (
            "metadata.annotations.[cert-manager.io/inject-ca-from]",
            ["metadata", "annotations", "cert-manager.io/inject-ca-from"],
        ),
        (
            "spec.containers.[name=a.b].image",
            ["spec", "containers", "[name=a.b]", "image"],
        ),
        ("data.a\\.b", ["data", "a.b"]),
        ("spec.[x]", ["spec", "[x]"]),
    ],
)
def test_split_follows_kyaml(path: str, parts: list[str]) -> None:
    """Dots split, escaped dots and bracketed keys do not, as in kyaml's splitter."""
    assert fieldpath.split(path) == parts


def test_split_with_indexes_reads_slice_indexes() -> None:
    """A var field path's ``containers[1]`` is the list, then the index."""
    assert fieldpath.split_with_indexes("spec.containers[1].image") == [
        "spec",
        "containers",
        "1",
        "image",
    ]


def test_lookup_and_locate() -> None:
    """Sources read one value exactly; targets match by regex and create on request."""
    body = {"spec": {"containers": [{"name": "app"}, {"name": "app-sidecar"}]}}
    assert fieldpath.lookup(body, fieldpath.split("spec.containers.[name=app].name")) == "app"
    assert fieldpath.lookup(body, ["spec", "nope"]) is fieldpath.MISSING
    slots = fieldpath.locate(body, fieldpath.split("spec.containers.[name=app].image"))
    assert slots == []
    slots = fieldpath.locate(
        body, fieldpath.split("spec.containers.[name=app].image"), create="scalar"
    )
    assert [(c["name"], k) for c, k in slots] == [("app", "image"), ("app-sidecar", "image")]


def test_locate_refuses_a_list_part_without_equals() -> None:
    """``[x]`` on a list is not a key or an element match: the error says what is needed."""
    with pytest.raises(RenderError, match="must contain fieldName=fieldValue"):
        fieldpath.locate({"spec": []}, ["spec", "[x]"])


@pytest.mark.parametrize(
    ("text", "expanded"),
    [
        ("$(NAME)", "web"),
        ("$(PORT)", 8080),
        ("a-$(NAME)-$(PORT)", "a-web-8080"),
        ("$$(NAME)", "$(NAME)"),
        ("$(NOPE)", "$(NOPE)"),
        ("x$(NOPE)", "x$(NOPE)"),
        ("$(MAP)", "$(MAP)"),
        ("$(", "$("),
        ("a$", "a$"),
        ("$x", "$x"),
    ],
)
def test_expand_follows_kubernetes_rules(text: str, expanded: object) -> None:
    """Known vars expand, a whole-value var keeps its type, ``$$`` escapes, unknowns stay."""
    values = {"NAME": "web", "PORT": 8080, "MAP": {"a": 1}}
    assert varref.expand(text, values) == expanded
