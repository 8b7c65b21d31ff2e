"""Kustomize by an installed binary (``render.kustomize.binary``): kubectl's kustomize v5.5.0."""

from __future__ import annotations

import shutil

import pytest
from rendertest import config

from daemon import settings
from daemon.shell import render

KUBECTL = shutil.which("kubectl")

BASE = {
    "base/kustomization.yaml": "resources: [cm.yaml]\n",
    "base/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  a: '1'\n",
    "apps/web/kustomization.yaml": (
        "namePrefix: web-\n"
        "resources: [../../base]\n"
        "configMapGenerator:\n- name: extra\n  files: [conf/x.txt]\n"
        "  options: {disableNameSuffixHash: true}\n"
    ),
    "apps/web/conf/x.txt": "hello\n",
    "unrelated/file.txt": "not read\n",
}


def binary_config(binary: str, *options: str) -> settings.RenderConfig:
    return config(
        type="kustomize",
        kustomize=settings.KustomizeConfig(binary=binary, build_options=list(options)),
    )


@pytest.fixture
def kubectl() -> str:
    """The path of kubectl (whose ``kubectl kustomize`` is kustomize v5.5.0)."""
    assert KUBECTL is not None, "kubectl with kustomize v5.5.0 is needed on PATH for these tests"
    return KUBECTL


def test_kubectl_kustomize_renders_what_the_builtin_renders(git_tree, kubectl) -> None:
    """`binary: kubectl` gives the same objects as gitopsd's own Kustomize for the same tree."""
    tree = git_tree(BASE)
    by_binary = render.render(tree, path="apps/web", config=binary_config("kubectl"))
    builtin = render.render(tree, path="apps/web", config=config(type="kustomize"))
    assert by_binary.objects == builtin.objects
    assert by_binary.objects == [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "web-cfg"},
            "data": {"a": "1"},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "web-extra"},
            "data": {"x.txt": "hello\n"},
        },
    ]
    assert by_binary.renderer == "kustomize"


def test_inputs_follow_the_kustomization_to_bases_outside_the_app(git_tree, kubectl) -> None:
    """Fan-out: a change in a base outside the app path affects it; an unrelated file does not."""
    result = render.render(git_tree(BASE), path="apps/web", config=binary_config("kubectl"))
    assert render.is_affected(result.inputs, ["base/cm.yaml"]) is True
    assert render.is_affected(result.inputs, ["apps/web/conf/x.txt"]) is True
    assert render.is_affected(result.inputs, ["unrelated/file.txt"]) is False


def test_build_options_reach_the_binary(git_tree, kubectl) -> None:
    """A file above the kustomization is refused by default and loads with the option."""
    tree = git_tree(
        {
            "shared/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n",
            "apps/web/kustomization.yaml": "resources: [../../shared/cm.yaml]\n",
        }
    )
    with pytest.raises(render.RenderError) as refused:
        render.render(tree, path="apps/web", config=binary_config("kubectl"))
    message = str(refused.value)
    assert message.startswith(f"command {kubectl!r} exited with status 1: ")
    assert "security; file 'shared/cm.yaml' is not in or below 'apps/web'" in message, (
        "kustomize's load restrictor refuses the file, named by its repository path"
    )
    assert "gitopsd-render-" not in message
    allowed = render.render(
        tree,
        path="apps/web",
        config=binary_config("kubectl", "--load-restrictor", "LoadRestrictionsNone"),
    )
    assert allowed.objects == [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared"}}
    ]


def test_a_custom_binary_gets_build_and_its_options(git_tree, tmp_path) -> None:
    """An absolute path is run as `<binary> build <options> .` in the app's directory."""
    binary = tmp_path / "kz"
    binary.write_text(
        "#!/bin/sh\n"
        "printf 'apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: argv\\ndata:\\n'\n"
        'printf \'  argv: "%s"\\n  cwd: "%s"\\n\' "$*" "$(basename "$PWD")"\n'
    )
    binary.chmod(0o755)
    tree = git_tree({"apps/web/kustomization.yaml": "{}\n"})
    result = render.render(
        tree, path="apps/web", config=binary_config(str(binary), "--enable-helm")
    )
    assert result.objects[0]["data"] == {"argv": "build --enable-helm .", "cwd": "web"}


def test_a_binary_that_is_not_installed_is_a_clear_error(git_tree) -> None:
    """A binary name missing from PATH says so, naming the setting and the way out."""
    tree = git_tree({"apps/web/kustomization.yaml": "{}\n"})
    with pytest.raises(render.RenderError) as info:
        render.render(tree, path="apps/web", config=binary_config("kustomize-not-installed"))
    assert str(info.value) == (
        "render.kustomize.binary 'kustomize-not-installed' was not found on PATH; install it "
        "or set an absolute path (or 'builtin' for gitopsd's own Kustomize)"
    )
