"""Plain YAML/JSON rendering from a real Git tree: documents, lists, recursion, order, inputs."""

from __future__ import annotations

import pytest
from rendertest import config, docs

from daemon.shell import render


def cm(name: str, **extra: object) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, **extra}}


def test_multi_document_files_render_in_path_order_with_empty_documents_skipped(git_tree) -> None:
    """Files are read in lexical order, every document is an object, empty ones are dropped."""
    tree = git_tree(
        {
            "app/b.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b1}\n---\n---\n# c\n",
            "app/a.yml": "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a1}\n---\n"
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a2}\n",
            "app/c.json": '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c1"}}',
            "app/README.md": "not yaml: [",
            "app/.hidden.yaml": "not: [valid",
            "other/x.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
        }
    )
    result = render.render(tree, path="app", config=config())
    assert result.objects == [cm("a1"), cm("a2"), cm("b1"), cm("c1")]
    assert result.renderer == "plain"
    assert result.inputs == frozenset(
        {"app", "app/README.md", "app/a.yml", "app/b.yaml", "app/c.json"}
    )


def test_kind_list_is_flattened(git_tree) -> None:
    """A ``kind: List`` (and a typed ``ConfigMapList``) contributes its items."""
    tree = git_tree(
        {
            "app/list.yaml": """
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: ConfigMap, metadata: {name: one}}
- apiVersion: v1
  kind: ConfigMapList
  items:
  - {apiVersion: v1, kind: ConfigMap, metadata: {name: two}}
""",
        }
    )
    assert render.render(tree, path="app", config=config()).objects == [cm("one"), cm("two")]


def test_recursion_walks_subdirectories_only_when_asked(git_tree) -> None:
    """``recurse`` walks subdirectories at their place in lexical order."""
    files = {
        "app/a.yaml": "{apiVersion: v1, kind: ConfigMap, metadata: {name: a}}",
        "app/m/x.yaml": "{apiVersion: v1, kind: ConfigMap, metadata: {name: mx}}",
        "app/m/n/y.yaml": "{apiVersion: v1, kind: ConfigMap, metadata: {name: mny}}",
        "app/z.yaml": "{apiVersion: v1, kind: ConfigMap, metadata: {name: z}}",
    }
    tree = git_tree(files)
    flat = render.render(tree, path="app", config=config())
    deep = render.render(tree, path="app", config=config(recurse=True))
    assert (flat.objects, deep.objects) == (
        [cm("a"), cm("z")],
        [cm("a"), cm("mny"), cm("mx"), cm("z")],
    )
    assert deep.inputs >= {"app/m", "app/m/n", "app/m/n/y.yaml"}


def test_single_file_app_path_renders_that_file(git_tree) -> None:
    """An app path naming a file renders just that file."""
    tree = git_tree({"one.yaml": "{apiVersion: v1, kind: ConfigMap, metadata: {name: solo}}"})
    assert render.render(tree, path="one.yaml", config=config()).objects == [cm("solo")]


def test_broken_yaml_names_file_and_line(git_tree) -> None:
    """A YAML syntax error reports the file and the 1-based line."""
    tree = git_tree(
        {"app/bad.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [oops\n  x: 1\n"}
    )
    with pytest.raises(render.RenderError) as err:
        render.render(tree, path="app", config=config())
    assert (err.value.file, err.value.line) == ("app/bad.yaml", 5)
    assert str(err.value).startswith("app/bad.yaml:5: invalid YAML: ")


def test_duplicate_mapping_key_is_refused_with_both_lines(git_tree) -> None:
    """A key given twice in one mapping is an error, as in Kubernetes' decoder."""
    tree = git_tree(
        {"app/d.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  name: b\n"}
    )
    with pytest.raises(render.RenderError) as err:
        render.render(tree, path="app", config=config())
    assert str(err.value) == "app/d.yaml:5: duplicate key 'name' (first at line 4)"


def test_alias_bomb_is_refused(git_tree) -> None:
    """A billion-laughs document is refused before it expands."""
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for prev, cur in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 10) + "]")
    tree = git_tree({"app/bomb.yaml": "\n".join(lines) + "\n"})
    with pytest.raises(render.RenderError) as err:
        render.render(tree, path="app", config=config())
    assert err.value.file == "app/bomb.yaml"
    assert "alias" in err.value.message


def test_deep_nesting_is_refused(git_tree) -> None:
    """Nesting beyond the depth limit is refused with the file and line."""
    tree = git_tree({"app/deep.yaml": "a: " + "[" * 500 + "]" * 500 + "\n"})
    with pytest.raises(render.RenderError) as err:
        render.render(tree, path="app", config=config())
    assert str(err.value) == "app/deep.yaml:1: YAML nested deeper than 100 levels; refused"


def test_huge_file_is_refused_before_loading(git_tree) -> None:
    """A file over the 5 MiB per-file cap fails the render naming the file."""
    tree = git_tree({"app/huge.yaml": b"#" * (5 * 1024 * 1024 + 1)})
    with pytest.raises(render.RenderError) as err:
        render.render(tree, path="app", config=config())
    assert str(err.value) == "app/huge.yaml: file is 5242881 bytes, over the 5 MiB per-file cap"


def test_per_render_cap_counts_all_files(git_tree) -> None:
    """Many files under the per-file cap still fail once their sum passes the per-render cap."""
    body = "# " + "x" * 600 + "\n"
    tree = git_tree({f"app/f{i}.yaml": body for i in range(5)})
    limits = render.Limits(max_render_bytes=2000)
    with pytest.raises(render.RenderError) as err:
        render.render(tree, path="app", config=config(), limits=limits)
    assert str(err.value) == "app/f3.yaml: render reads over 0 MiB (per-render cap)"


def test_symlink_leaving_the_app_path_is_refused(git_tree) -> None:
    """A symlink inside the app pointing elsewhere in the repository is refused."""
    tree = git_tree(
        {
            "app/link.yaml": render.Link("../secrets/creds.yaml"),
            "secrets/creds.yaml": "{apiVersion: v1, kind: Secret, metadata: {name: s}}",
        }
    )
    with pytest.raises(render.RenderError) as err:
        render.render(tree, path="app", config=config())
    assert str(err.value) == (
        "app/link.yaml: symlink to '../secrets/creds.yaml' leaves the app path 'app'; refused"
    )


def test_symlink_leaving_the_repository_is_refused(git_tree) -> None:
    """Absolute symlinks and ones climbing above the root are refused."""
    for target in ("/etc/passwd", "../../etc/passwd"):
        tree = git_tree({"app/link.yaml": render.Link(target)})
        with pytest.raises(render.RenderError) as err:
            render.render(tree, path="app", config=config())
        assert err.value.file == "app/link.yaml"


def test_symlink_inside_the_app_path_is_followed(git_tree) -> None:
    """A symlink that stays inside the app path works and both paths are inputs."""
    tree = git_tree(
        {
            "app/real/cm.yaml": "{apiVersion: v1, kind: ConfigMap, metadata: {name: linked}}",
            "app/alias.yaml": render.Link("real/cm.yaml"),
        }
    )
    result = render.render(tree, path="app", config=config())
    assert result.objects == [cm("linked")]
    assert {"app/alias.yaml", "app/real/cm.yaml"} <= result.inputs


def test_validation_refuses_missing_and_invalid_names(git_tree) -> None:
    """apiVersion, kind and a valid metadata.name are required per kind's naming rule."""
    cases = {
        "{kind: ConfigMap, metadata: {name: a}}": "app/x.yaml:1: object has no apiVersion",
        "{apiVersion: v1, metadata: {name: a}}": "app/x.yaml:1: object has no kind",
        "{apiVersion: v1, kind: ConfigMap, metadata: {}}": "app/x.yaml:1: ConfigMap has no metadata.name",
        "{apiVersion: v1, kind: ConfigMap, metadata: {name: Bad_Name}}": (
            "app/x.yaml:1: ConfigMap name 'Bad_Name' is invalid: must be a DNS-1123 subdomain "
            "(lowercase letters, digits, '-', '.', at most 253)"
        ),
        "{apiVersion: v1, kind: Service, metadata: {name: a.b}}": (
            "app/x.yaml:1: Service name 'a.b' is invalid: must be a DNS-1123 label "
            "(lowercase letters, digits, '-', at most 63)"
        ),
    }
    for text, expected in cases.items():
        tree = git_tree({"app/x.yaml": text})
        with pytest.raises(render.RenderError) as err:
            render.render(tree, path="app", config=config())
        assert str(err.value) == expected


def test_rbac_names_may_hold_colons(git_tree) -> None:
    """RBAC kinds accept path-segment names such as ``system:controller``."""
    tree = git_tree(
        {
            "app/r.yaml": "{apiVersion: rbac.authorization.k8s.io/v1, kind: ClusterRole, metadata: {name: 'system:x'}}"
        }
    )
    assert render.render(tree, path="app", config=config()).objects == docs(
        "{apiVersion: rbac.authorization.k8s.io/v1, kind: ClusterRole, metadata: {name: 'system:x'}}"
    )


def test_duplicate_objects_are_refused_naming_both_files(git_tree) -> None:
    """Two objects with one key fail, naming where each came from."""
    tree = git_tree(
        {
            "app/a.yaml": "{apiVersion: v1, kind: ConfigMap, metadata: {name: same, namespace: ns}}",
            "app/b.yaml": "---\n{apiVersion: v1, kind: ConfigMap, metadata: {name: same, namespace: ns}}",
        }
    )
    with pytest.raises(render.RenderError) as err:
        render.render(tree, path="app", config=config())
    assert (
        str(err.value)
        == "app/b.yaml:2: duplicate object ConfigMap/ns/same: also defined in app/a.yaml:1"
    )


def test_missing_app_path_is_an_error(git_tree) -> None:
    """An app path absent at the revision fails clearly."""
    tree = git_tree({"else/x.yaml": "{}"})
    with pytest.raises(render.RenderError) as err:
        render.render(tree, path="app", config=config())
    assert str(err.value) == "app: app path does not exist at this revision"


def test_yaml_values_follow_kubernetes_yaml_11_rules(git_tree) -> None:
    """Booleans, octal and merge keys as Kubernetes reads them; dates and 1:30 stay strings."""
    tree = git_tree(
        {
            "app/v.yaml": """
apiVersion: v1
kind: ConfigMap
metadata: {name: v}
base: &base {keep: 1, over: 1}
data:
  <<: *base
  over: 2
  on: on
  octal: 0755
  date: 2024-01-02
  time: 1:30
  quoted: "yes"
""",
        }
    )
    [obj] = render.render(tree, path="app", config=config()).objects
    assert obj["data"] == {
        "keep": 1,
        "over": 2,
        "true": True,
        "octal": 493,
        "date": "2024-01-02",
        "time": "1:30",
        "quoted": "yes",
    }


def test_is_affected_matches_inputs_and_paths_beneath_them() -> None:
    """A change to an input or beneath a listed directory affects the app; others do not."""
    inputs = frozenset({"apps/web", "base/deploy.yaml"})
    assert [
        render.is_affected(inputs, ["apps/web/new.yaml"]),
        render.is_affected(inputs, ["base/deploy.yaml"]),
        render.is_affected(inputs, ["base/other.yaml"]),
        render.is_affected(inputs, ["apps/webber/x.yaml"]),
        render.is_affected(frozenset({""}), ["anything"]),
    ] == [True, True, False, False, True]
