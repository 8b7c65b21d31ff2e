"""The Helm renderer through helm-python-sdk: detection, values, subcharts, hooks, CRDs, errors."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
from typing import Any

import pytest
from helmcharts import web_chart
from rendertest import config

from daemon.settings import HelmConfig
from daemon.shell import render
from daemon.shell.render import helmsdk


def helm_config(**fields: Any) -> Any:
    """A render config for a Helm app released as ``web`` in namespace ``prod``."""
    fields.setdefault("release_name", "web")
    fields.setdefault("namespace", "prod")
    return config(helm=HelmConfig(**fields))


def by_name(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in objects}


def test_sdk_is_installed() -> None:
    """The SDK these tests exercise is importable here (a dependency in pyproject.toml)."""
    assert (helmsdk.is_available(), helmsdk.version()) == (True, "v4.2.3")


def test_chart_renders_helpers_subcharts_crds_and_hooks(git_tree) -> None:
    """A chart with helpers, a directory and a .tgz subchart renders CRDs first, then templates.

    NOTES.txt, the test hook and _helpers.tpl give no objects; the release name and
    namespace reach the templates.
    """
    result = render.render(git_tree(web_chart("apps/web")), path="apps/web", config=helm_config())
    names = [f"{o['kind']}/{o['metadata']['name']}" for o in result.objects]
    assert names == [
        "CustomResourceDefinition/widgets.example.org",
        "ConfigMap/web-cache",
        "ConfigMap/web-db",
        "Deployment/web-web",
        "Job/web-web-migrate",
        "Job/web-web-smoke",
        "Job/web-web-goodbye",
    ]
    objects = by_name(result.objects)
    assert objects["ConfigMap/web-db"]["data"] == {"size": "small"}
    assert objects["ConfigMap/web-cache"]["data"] == {"size": "default"}
    deployment = objects["Deployment/web-web"]
    assert deployment["metadata"] == {
        "name": "web-web",
        "labels": {"app.kubernetes.io/instance": "web", "app.kubernetes.io/version": "4.5"},
    }
    assert deployment["spec"]["template"]["spec"]["containers"][0]["env"] == [
        {"name": "GREETING", "value": "hello"},
        {"name": "NAMESPACE", "value": "prod"},
    ]
    assert objects["Job/web-web-migrate"]["metadata"]["annotations"] == {
        "helm.sh/hook": "pre-install,pre-upgrade",
        "helm.sh/hook-weight": "-5",
        "helm.sh/hook-delete-policy": "before-hook-creation",
    }
    assert result.renderer == "helm"
    assert {"apps/web", "apps/web/charts/cache-0.1.0.tgz", "apps/web/values.yaml"} <= result.inputs


def test_chart_yaml_is_detected_before_a_kustomization(git_tree) -> None:
    """A path holding Chart.yaml and kustomization.yaml renders as Helm (as in Argo CD)."""
    files = web_chart("app")
    files["app/kustomization.yaml"] = "resources: []\n"
    result = render.render(git_tree(files), path="app", config=helm_config())
    assert (result.renderer, len(result.objects)) == ("helm", 7)


def test_render_type_overrides_detection(git_tree) -> None:
    """``render.type: kustomize`` on a chart directory renders the kustomization instead."""
    files = web_chart("app")
    files["app/kustomization.yaml"] = "resources: [cm.yaml]\n"
    files["app/cm.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\n"
    result = render.render(git_tree(files), path="app", config=config(type="kustomize"))
    assert (result.renderer, result.objects) == (
        "kustomize",
        [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "plain"}}],
    )


def test_inline_values_override_values_files_which_override_the_chart(git_tree) -> None:
    """Values files merge in order over values.yaml (maps deeply), inline values over them."""
    files = web_chart("apps/web")
    files["env/more.yaml"] = "greeting: from-more\nimage: nginx:1.28\n"
    cfg = helm_config(
        values_files=["values-prod.yaml", "../../env/more.yaml"],
        values={"greeting": "inline", "db": {"size": "huge"}},
    )
    result = render.render(git_tree(files), path="apps/web", config=cfg)
    objects = by_name(result.objects)
    container = objects["Deployment/web-web"]["spec"]["template"]["spec"]["containers"][0]
    assert (objects["Deployment/web-web"]["spec"]["replicas"], container["image"]) == (
        3,
        "nginx:1.28",
    )
    assert container["env"][0] == {"name": "GREETING", "value": "inline"}
    assert objects["ConfigMap/web-db"]["data"] == {"size": "huge"}
    assert {"apps/web/values-prod.yaml", "env/more.yaml"} <= result.inputs


def test_a_values_file_violating_the_schema_is_named(git_tree) -> None:
    """A values file breaking values.schema.json fails the render naming that file."""
    files = web_chart("apps/web")
    files["apps/web/values-bad.yaml"] = "replicas: 0\n"
    with pytest.raises(render.RenderError) as err:
        render.render(
            git_tree(files),
            path="apps/web",
            config=helm_config(values_files=["values-prod.yaml", "values-bad.yaml"]),
        )
    assert err.value.file == "apps/web/values-bad.yaml"
    assert str(err.value) == (
        "apps/web/values-bad.yaml: apps/web/values-bad.yaml does not match the chart's "
        "values.schema.json: web:\n- at '/replicas': minimum: got 0, want 1"
    )


def test_inline_values_violating_the_schema_point_at_the_schema(git_tree) -> None:
    """Inline values (not a repository file) breaking the schema name the schema file."""
    with pytest.raises(render.RenderError) as err:
        render.render(
            git_tree(web_chart("app")), path="app", config=helm_config(values={"greeting": 5})
        )
    assert str(err.value) == (
        "app/values.schema.json: render.helm.values does not match the chart's "
        "values.schema.json: web:\n- at '/greeting': got number, want string"
    )


def test_chart_defaults_violating_the_schema_name_values_yaml(git_tree) -> None:
    """A chart whose own values.yaml breaks its schema names values.yaml."""
    files = web_chart("app")
    files["app/values.yaml"] = "replicas: none\n"
    with pytest.raises(render.RenderError) as err:
        render.render(git_tree(files), path="app", config=helm_config())
    assert (err.value.file, err.value.message.split(":")[0]) == (
        "app/values.yaml",
        "the chart's default values do not match values.schema.json",
    )


def test_a_dependency_not_vendored_is_refused(git_tree) -> None:
    """A Chart.yaml dependency missing from charts/ is an error: remote charts are not fetched."""
    files = web_chart("app")
    files["app/Chart.yaml"] += (
        "  - name: redis\n    version: 19.0.0\n    repository: https://charts.example.org\n"
    )
    with pytest.raises(render.RenderError) as err:
        render.render(git_tree(files), path="app", config=helm_config())
    assert str(err.value) == (
        "app/Chart.yaml: dependency not vendored in charts/: redis (https://charts.example.org); "
        "gitopsd does not fetch charts from repositories (it may later): "
        "run helm dependency build and commit charts/"
    )


def test_template_error_names_the_template_and_line(git_tree) -> None:
    """A failing template (``required``) names its repository path and line."""
    files = web_chart("app")
    files["app/templates/secret.yaml"] = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n"
        'stringData:\n  token: {{ required "set token" .Values.token }}\n'
    )
    with pytest.raises(render.RenderError) as err:
        render.render(git_tree(files), path="app", config=helm_config())
    assert (err.value.file, err.value.line) == ("app/templates/secret.yaml", 6)
    assert err.value.message == "execution error at (web/templates/secret.yaml:6:12): set token"


def test_invalid_yaml_output_names_the_rendered_template(git_tree) -> None:
    """A template rendering to invalid YAML names the template it came from."""
    files = web_chart("app")
    files["app/templates/broken.yaml"] = "a: b\n  c: d\n"
    with pytest.raises(render.RenderError) as err:
        render.render(git_tree(files), path="app", config=helm_config())
    assert err.value.file == "app/templates/broken.yaml (rendered)"


def test_bad_chart_yaml_names_chart_yaml(git_tree) -> None:
    """A Chart.yaml Helm cannot load fails the render naming Chart.yaml."""
    files = web_chart("app")
    files["app/Chart.yaml"] = "apiVersion: v2\nname: [\n"
    with pytest.raises(render.RenderError) as err:
        render.render(git_tree(files), path="app", config=helm_config())
    assert (err.value.file, err.value.message.startswith("cannot load the chart: ")) == (
        "app/Chart.yaml",
        True,
    )


def test_crds_and_tests_follow_their_switches(git_tree) -> None:
    """include_crds: false leaves crds/ out; skip_tests: false keeps the test hook."""
    result = render.render(
        git_tree(web_chart("app")),
        path="app",
        config=helm_config(include_crds=False, skip_tests=False),
    )
    names = {f"{o['kind']}/{o['metadata']['name']}" for o in result.objects}
    assert (
        "CustomResourceDefinition/widgets.example.org" in names,
        "Pod/web-web-test" in names,
    ) == (
        False,
        True,
    )


def test_values_file_leaving_the_repository_is_refused(git_tree) -> None:
    """A values file climbing above the repository root is refused before anything is read."""
    with pytest.raises(render.RenderError) as err:
        render.render(
            git_tree(web_chart("app")),
            path="app",
            config=helm_config(values_files=["../../etc/passwd"]),
        )
    assert str(err.value) == (
        "app: render.helm.values_files entry '../../etc/passwd' leaves the repository"
    )


def test_values_file_must_be_a_mapping(git_tree) -> None:
    """A values file holding a list fails naming it and its line."""
    files = web_chart("app")
    files["app/list.yaml"] = "\n- a\n- b\n"
    with pytest.raises(render.RenderError) as err:
        render.render(git_tree(files), path="app", config=helm_config(values_files=["list.yaml"]))
    assert str(err.value) == "app/list.yaml:2: a values file must hold a mapping"


def test_symlink_leaving_the_chart_is_refused(git_tree) -> None:
    """A symlink in the chart pointing outside the app path is refused, like any render."""
    files: dict[str, Any] = web_chart("app")
    files["app/templates/leak.yaml"] = render.Link("../../secrets.yaml")
    files["secrets.yaml"] = "x: y\n"
    with pytest.raises(render.RenderError) as err:
        render.render(git_tree(files), path="app", config=helm_config())
    assert str(err.value) == (
        "app/templates/leak.yaml: symlink to '../../secrets.yaml' leaves the app path 'app'; refused"
    )


def test_symlink_loop_in_the_chart_is_refused(git_tree) -> None:
    """A directory symlink pointing back up the chart fails instead of copying forever."""
    files: dict[str, Any] = web_chart("app")
    files["app/templates/again"] = render.Link("..")
    with pytest.raises(render.RenderError) as err:
        render.render(git_tree(files), path="app", config=helm_config())
    assert str(err.value) == "app/templates/again: symlink loop: the directory contains itself"


def test_explicit_helm_type_needs_a_chart(git_tree) -> None:
    """``render.type: helm`` on a path without Chart.yaml says what is missing."""
    tree = git_tree({"app/cm.yaml": "a: b\n"})
    with pytest.raises(render.RenderError) as err:
        render.render(tree, path="app", config=config(type="helm"))
    assert str(err.value) == "app: a Helm chart needs Chart.yaml at the app path"


def test_defaults_without_settings_are_helm_templates(git_tree) -> None:
    """Without a release name or namespace (not loaded from gitopsd.yaml) Helm's defaults apply."""
    result = render.render(git_tree(web_chart("")), path="", config=config())
    deployment = by_name(result.objects)["Deployment/release-name-web"]
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env[1] == {"name": "NAMESPACE", "value": "default"}


def _render_in_child(files: dict[str, Any]) -> list[dict[str, Any]]:
    tree = render.DictTree(files)
    return render.render(tree, path="app", config=helm_config()).objects


def test_renders_in_a_spawned_worker_process() -> None:
    """A render is a plain blocking call that works in a spawned pool worker, same result.

    (spawn, not fork: the SDK's Go runtime does not survive a fork; see helmsdk.)
    """
    files = web_chart("app")
    here = _render_in_child(files)
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        there = pool.submit(_render_in_child, files).result(timeout=60)
    assert there == here


def test_a_chart_under_a_templated_destination_namespace_is_refused(git_tree) -> None:
    """A chart found by ``auto`` with no release namespace (templated per target) fails clearly."""
    with pytest.raises(render.RenderError) as err:
        render.render(git_tree(web_chart("app")), path="app", config=helm_config(namespace=""))
    assert (err.value.file, str(err.value)) == (
        "app/Chart.yaml",
        (
            "app/Chart.yaml: the app's destination namespace is templated per target, "
            "but Helm renders once for all targets: set render.helm.namespace "
            "(the release namespace)"
        ),
    )
