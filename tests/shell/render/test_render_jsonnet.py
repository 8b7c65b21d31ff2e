"""Jsonnet rendering from a Git tree: entry file rules, ext vars, TLAs, confined imports, outputs."""

from __future__ import annotations

import pytest
from rendertest import config

from daemon.shell import render


def cm(name: str, **data: str) -> dict[str, object]:
    body: dict[str, object] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
    if data:
        body["data"] = data
    return body


def test_ext_vars_tla_imports_and_libs(git_tree) -> None:
    """main.jsonnet gets ext vars and TLAs, imports relative files and library directories."""
    tree = git_tree(
        {
            "apps/web/main.jsonnet": """
local lib = import 'util.libsonnet';
local shared = import 'k.libsonnet';
function(replicas) [
  lib.cm('web-' + std.extVar('env'), { replicas: replicas, greeting: importstr 'hello.txt' }),
  shared.cm('shared'),
]
""",
            "apps/web/util.libsonnet": "{ cm(name, data): { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: name }, data: data } }",
            "apps/web/hello.txt": "hi\n",
            "vendor/k.libsonnet": "{ cm(name): { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: name } } }",
        }
    )
    result = render.render(
        tree,
        path="apps/web",
        config=config(ext_vars={"env": "prod"}, tla={"replicas": "3"}, libs=["vendor"]),
    )
    assert result.objects == [cm("web-prod", replicas="3", greeting="hi\n"), cm("shared")]
    assert result.renderer == "jsonnet"
    assert {
        "apps/web/main.jsonnet",
        "apps/web/util.libsonnet",
        "apps/web/hello.txt",
        "vendor/k.libsonnet",
    } <= result.inputs


def test_output_shapes_object_list_kind_list_and_nested(git_tree) -> None:
    """An object, a kind: List, and a Tanka-style object of objects all yield their objects."""
    single = git_tree(
        {"a/x.jsonnet": "{apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'one'}}"}
    )
    listed = git_tree(
        {
            "a/main.jsonnet": "{apiVersion: 'v1', kind: 'List', items: [{apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'i'}}]}"
        }
    )
    nested = git_tree(
        {
            "a/main.jsonnet": "{ b: {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'b'}},"
            " a: { inner: {apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'a'}} } }",
            "a/other.jsonnet": "error 'not the entry point'",
        }
    )
    assert [
        render.render(tree, path="a", config=config()).objects for tree in (single, listed, nested)
    ] == [[cm("one")], [cm("i")], [cm("a"), cm("b")]]


def test_import_escaping_the_repository_is_refused(git_tree) -> None:
    """Imports above the repository root or absolute are refused with the importing file."""
    for target in ("../../../etc/passwd", "/etc/passwd"):
        tree = git_tree({"app/main.jsonnet": f"import '{target}'"})
        with pytest.raises(render.RenderError) as err:
            render.render(tree, path="app", config=config())
        assert err.value.file == "app"
        assert "refused" in err.value.message


def test_import_through_a_symlink_leaving_the_app_is_refused(git_tree) -> None:
    """A symlinked library inside the app that points out of it is refused like any read."""
    tree = git_tree(
        {
            "app/main.jsonnet": "import 'lib.libsonnet'",
            "app/lib.libsonnet": render.Link("../secret/x.libsonnet"),
            "secret/x.libsonnet": "{}",
        }
    )
    with pytest.raises(render.RenderError) as err:
        render.render(tree, path="app", config=config())
    assert (
        str(err.value)
        == "app/lib.libsonnet: symlink to '../secret/x.libsonnet' leaves the app path 'app'; refused"
    )


def test_jsonnet_errors_name_file_and_line(git_tree) -> None:
    """Runtime and syntax errors report the jsonnet file and line."""
    runtime = git_tree({"app/main.jsonnet": "local x = 1;\n\nerror 'boom'\n"})
    syntax = git_tree({"app/main.jsonnet": "{\n  a: ,\n}\n"})
    errors = []
    for tree in (runtime, syntax):
        with pytest.raises(render.RenderError) as err:
            render.render(tree, path="app", config=config())
        errors.append((err.value.file, err.value.line))
    assert errors == [("app/main.jsonnet", 3), ("app/main.jsonnet", 2)]


def test_several_entry_files_without_main_are_an_error(git_tree) -> None:
    """Auto-detection needs main.jsonnet when there are several .jsonnet files."""
    tree = git_tree({"app/a.jsonnet": "{}", "app/b.jsonnet": "{}"})
    with pytest.raises(render.RenderError) as err:
        render.render(tree, path="app", config=config())
    assert str(err.value) == (
        "app: several .jsonnet files (a.jsonnet, b.jsonnet) and no main.jsonnet: "
        "name the entry point main.jsonnet"
    )


def test_non_object_output_is_refused(git_tree) -> None:
    """A string or number where objects belong fails with the entry file."""
    tree = git_tree({"app/main.jsonnet": "[1]"})
    with pytest.raises(render.RenderError) as err:
        render.render(tree, path="app", config=config())
    assert str(err.value) == "app/main.jsonnet: jsonnet output holds a int, not an object"
