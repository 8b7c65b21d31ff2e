"""The Helm renderer's fallback to a ``helm`` binary when helm-python-sdk cannot be imported.

No real helm binary can be installed here (not in Debian, not on PyPI), so these tests
put a small fake ``helm`` script on PATH that records its argv and prints YAML the way
``helm template`` does. That proves the selection, the argv and the output parsing;
it does not prove a real helm binary's rendering (the SDK tests do that for the engine).
"""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path
from typing import Any

import pytest
from helmcharts import web_chart
from rendertest import config

from daemon.settings import HelmConfig
from daemon.shell import render
from daemon.shell.render import helm, helmsdk

FAKE_HELM = """\
#!/bin/sh
printf '%s\\n' "$@" > {log}
values=""
prev=""
for arg in "$@"; do
  if [ "$prev" = "--values" ]; then values="$arg"; fi
  prev="$arg"
done
if grep -q '"fail": "schema"' "$values"; then
  echo "Error: values don't meet the specifications of the schema(s) in the following chart(s):" >&2
  echo "web:" >&2
  echo "- at '/replicas': minimum: got 0, want 1" >&2
  exit 1
fi
cat <<EOF
---
# Source: web/crds/widgets.yaml
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.org
---
# Source: web/templates/cm.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: $2-values
data:
  values: '$(cat "$values")'
EOF
"""


@pytest.fixture
def fake_helm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake ``helm`` first on PATH, with the SDK made unavailable; returns the argv log."""
    log = tmp_path / "argv.log"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "helm"
    script.write_text(FAKE_HELM.format(log=log))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setitem(sys.modules, "helm_python", None)  # the import now fails
    return log


def helm_config(**fields: Any) -> Any:
    fields.setdefault("release_name", "web")
    fields.setdefault("namespace", "prod")
    return config(helm=HelmConfig(**fields))


def test_sdk_import_failure_means_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    """When ``import helm_python`` fails the adapter says the SDK is unavailable."""
    monkeypatch.setitem(sys.modules, "helm_python", None)
    assert helmsdk.is_available() is False


def test_binary_renders_when_the_sdk_is_missing(git_tree, fake_helm: Path) -> None:
    """Without the SDK, ``helm template`` runs with release, namespace, merged values, switches."""
    files = web_chart("apps/web")
    result = render.render(
        git_tree(files),
        path="apps/web",
        config=helm_config(values_files=["values-prod.yaml"], values={"greeting": "inline"}),
    )
    argv = fake_helm.read_text().splitlines()
    chart_dir = Path(argv[2])
    assert argv == [
        "template",
        "web",
        str(chart_dir),
        "--namespace",
        "prod",
        "--values",
        str(chart_dir.parent / "values.json"),
        "--include-crds",
        "--skip-tests",
    ]
    assert [o["metadata"]["name"] for o in result.objects] == ["widgets.example.org", "web-values"]
    assert json.loads(result.objects[1]["data"]["values"]) == {
        "replicas": 3,
        "greeting": "inline",
        "db": {"size": "large"},
    }
    assert (result.renderer, chart_dir.exists()) == ("helm", False)


def test_binary_switches_follow_the_settings(git_tree, fake_helm: Path) -> None:
    """include_crds: false and skip_tests: false drop the two flags."""
    render.render(
        git_tree(web_chart("app")),
        path="app",
        config=helm_config(include_crds=False, skip_tests=False),
    )
    argv = fake_helm.read_text().splitlines()
    values = str(Path(argv[2]).parent / "values.json")
    assert argv[3:] == ["--namespace", "prod", "--values", values]


def test_binary_schema_failure_names_the_schema(git_tree, fake_helm: Path) -> None:
    """A schema failure reported by the binary names the chart's values.schema.json."""
    with pytest.raises(render.RenderError) as err:
        render.render(
            git_tree(web_chart("app")), path="app", config=helm_config(values={"fail": "schema"})
        )
    assert err.value.file == "app/values.schema.json"


def test_neither_sdk_nor_binary_says_what_to_install(
    git_tree, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With no SDK and no helm on PATH the error names both ways to get one."""
    monkeypatch.setitem(sys.modules, "helm_python", None)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(render.RenderError) as err:
        render.render(git_tree(web_chart("app")), path="app", config=helm_config())
    assert str(err.value) == f"app: {helm.NO_ENGINE}"


def test_split_stream_cuts_on_source_comments() -> None:
    """``helm template`` output is cut per document, each named by its ``# Source:`` line."""
    text = "---\n# Source: web/templates/a.yaml\na: 1\n---\n# Source: web/templates/b.yaml\nb: 2\n"
    assert helm.split_stream(text) == [
        helmsdk.Manifest(
            name="web/templates/a.yaml", text="\n# Source: web/templates/a.yaml\na: 1\n"
        ),
        helmsdk.Manifest(
            name="web/templates/b.yaml", text="\n# Source: web/templates/b.yaml\nb: 2\n"
        ),
    ]
