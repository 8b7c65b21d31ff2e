"""The Helm renderer: a chart at the app's path, rendered by Helm's own engine (``helm template``).

Steps:
1. The values: each of ``render.helm.values_files`` (repository paths relative to the
   chart, read through the ``Reader`` so they are confined, capped and tracked as
   inputs) merged in order the way ``helm -f a -f b`` merges them (maps recursively,
   anything else replaced), then ``render.helm.values`` over them.
2. The chart directory (subcharts under ``charts/``, as directories or ``.tgz``, come
   along) is written to a private temporary directory through the ``Reader``: its
   symlinks must stay inside the app path, and the whole chart is the render's input.
3. Helm renders it in-process through ``helmsdk`` (helm-python-sdk) when that is
   importable, else with a ``helm`` binary found on ``PATH`` (``helm template``, run
   like the exec renderer: minimal environment, timeout, output cap). Neither: an
   error saying what to install.
4. The output is parsed as YAML; ``NOTES.txt`` and, with ``skip_tests``, test hooks are
   dropped; with ``include_crds`` the chart's ``crds/`` come first.

Not supported (yet): fetching dependencies from chart repositories or OCI registries.
A dependency declared in Chart.yaml and missing from ``charts/`` is an error asking to
vendor it (``helm dependency build`` and commit ``charts/``). ``lookup`` returns
nothing (no cluster is contacted), and Capabilities are Helm's defaults.

Hooks (``helm.sh/hook``) stay in the output as annotations; ``ordering`` maps them
onto gitopsd's phases the way Argo CD does.
"""

from __future__ import annotations

import json
import posixpath
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from daemon import settings
from daemon.settings import HelmConfig, RenderConfig
from daemon.shell.render import exec as exec_renderer
from daemon.shell.render import helmsdk, plain, yamlsafe
from daemon.shell.render.reader import Reader
from daemon.shell.render.result import RenderError, Sourced

CHART_FILE = "Chart.yaml"
DEFAULT_RELEASE = "release-name"
TEMPLATED_NAMESPACE = (
    "the app's destination namespace is templated per target, but Helm renders once for "
    "all targets: set render.helm.namespace (the release namespace)"
)
TEST_HOOKS = frozenset({"test", "test-success", "test-failure"})
_SOURCE = re.compile(r"^# Source: (?P<name>\S+)\s*$", re.MULTILINE)
_DOCUMENT_START = re.compile(r"^---\s*$", re.MULTILINE)
NO_ENGINE = (
    "rendering a Helm chart needs the helm-python-sdk package (pip install helm-python-sdk) "
    "or a helm binary on PATH; neither was found"
)


def render(files: Reader, *, path: str, config: RenderConfig) -> list[Sourced]:
    """Render the chart at ``path`` (see the module docstring); raises ``RenderError``."""
    helm = config.helm
    chart_file = join(path, CHART_FILE)
    if files.kind(path) != "dir" or not files.is_file(chart_file):
        raise RenderError(f"a Helm chart needs {CHART_FILE} at the app path", file=path or ".")
    if helm.namespace == "":  # the destination's namespace is templated (settings.loader)
        raise RenderError(TEMPLATED_NAMESPACE, file=chart_file)
    layers = value_layers(files, path=path, helm=helm)
    values: dict[str, Any] = {}
    for _, layer in layers:
        values = merge(values, layer)
    with tempfile.TemporaryDirectory(prefix="gitopsd-helm-") as scratch:
        chart_dir = Path(scratch) / "chart"
        write_chart(files, path=path, dest=chart_dir)
        if helmsdk.is_available():
            manifests = _render_sdk(chart_dir, path=path, helm=helm, values=values, layers=layers)
        else:
            manifests = _render_binary(
                chart_dir, path=path, config=config, values=values, files=files
            )
    return objects(manifests, path=path, skip_tests=helm.skip_tests, files=files)


def join(base: str, name: str) -> str:
    """``name`` under the repository directory ``base`` (which may be the root)."""
    return posixpath.normpath(posixpath.join(base, name)) if base else posixpath.normpath(name)


# -- values ---------------------------------------------------------------------------


def value_layers(
    files: Reader, *, path: str, helm: HelmConfig
) -> list[tuple[str | None, dict[str, Any]]]:
    """(repository file or None for inline values, mapping), lowest precedence first."""
    layers: list[tuple[str | None, dict[str, Any]]] = []
    for relative in helm.values_files:
        if not settings.is_inside_repository(path, relative):
            raise RenderError(
                f"render.helm.values_files entry {relative!r} leaves the repository",
                file=path or ".",
            )
        file = join(path, relative)
        document = yamlsafe.load(files.text(file), file=file, limits=files.limits)
        if document.value is not None and not isinstance(document.value, dict):
            raise RenderError("a values file must hold a mapping", file=file, line=document.line)
        layers.append((file, document.value or {}))
    if helm.values:
        layers.append((None, dict(helm.values)))
    return layers


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` over ``base`` as Helm merges ``-f`` files: maps recursively, else replaced."""
    out = dict(base)
    for key, value in override.items():
        current = out.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            out[key] = merge(current, value)
        else:
            out[key] = value
    return out


# -- the chart on disk ----------------------------------------------------------------


def write_chart(
    files: Reader, *, path: str, dest: Path, above: frozenset[str] = frozenset()
) -> None:
    """Copy the chart directory at ``path`` to ``dest`` through the Reader (links followed).

    ``above`` holds the real directories being copied around this one: a symlink back to
    one of them would copy forever, so it is refused.
    """
    real = files.resolve(path)
    if real in above:
        raise RenderError("symlink loop: the directory contains itself", file=path)
    dest.mkdir()
    for name in files.list(path):
        source = join(path, name)
        kind = files.kind(source)
        if kind == "dir":
            write_chart(files, path=source, dest=dest / name, above=above | {real})
        elif kind == "file":
            (dest / name).write_bytes(files.read(source))


# -- engines --------------------------------------------------------------------------


def _render_sdk(
    chart_dir: Path,
    *,
    path: str,
    helm: HelmConfig,
    values: dict[str, Any],
    layers: Sequence[tuple[str | None, dict[str, Any]]],
) -> list[helmsdk.Manifest]:
    try:
        missing = helmsdk.missing_dependencies(chart_dir)
        if missing:
            raise RenderError(_missing_message(missing), file=join(path, CHART_FILE))
        return helmsdk.render(
            chart_dir,
            values=values,
            release_name=helm.release_name or DEFAULT_RELEASE,
            namespace=helm.namespace or "default",
            include_crds=helm.include_crds,
        )
    except helmsdk.ChartError as failure:
        if failure.kind == "schema":
            raise _schema_error(chart_dir, path=path, layers=layers, failure=failure) from None
        raise _error(failure, path=path) from None


def _missing_message(missing: Sequence[tuple[str, str]]) -> str:
    names = ", ".join(f"{name} ({repo})" if repo else name for name, repo in missing)
    return (
        f"dependency not vendored in charts/: {names}; gitopsd does not fetch charts from "
        "repositories (it may later): run helm dependency build and commit charts/"
    )


def _schema_error(
    chart_dir: Path,
    *,
    path: str,
    layers: Sequence[tuple[str | None, dict[str, Any]]],
    failure: helmsdk.ChartError,
) -> RenderError:
    """The values.schema.json failure, blamed on the first values source failing by itself.

    Helm validates the merged values; to name a file, each layer is checked alone over
    the chart's defaults. None fails alone: the chart's own values.yaml when the
    defaults fail, else the schema file (the combination fails).
    """
    for file, layer in layers:
        problem = helmsdk.schema_problem(chart_dir, layer)
        if problem is not None:
            where = file or "render.helm.values"
            message = f"{where} does not match the chart's values.schema.json: {problem}"
            return RenderError(message, file=file or join(path, "values.schema.json"))
    problem = helmsdk.schema_problem(chart_dir, None)
    if problem is not None:
        return RenderError(
            f"the chart's default values do not match values.schema.json: {problem}",
            file=join(path, "values.yaml"),
        )
    return RenderError(failure.message, file=join(path, "values.schema.json"))


def _error(failure: helmsdk.ChartError, *, path: str) -> RenderError:
    if failure.kind == "load":
        return RenderError(f"cannot load the chart: {failure.message}", file=join(path, CHART_FILE))
    file = repository_path(failure.name, path=path) if failure.name else path or "."
    return RenderError(failure.message, file=file, line=failure.line)


def _render_binary(
    chart_dir: Path,
    *,
    path: str,
    config: RenderConfig,
    values: dict[str, Any],
    files: Reader,
) -> list[helmsdk.Manifest]:
    binary = shutil.which("helm")
    if binary is None:
        raise RenderError(NO_ENGINE, file=path or ".")
    helm = config.helm
    values_file = chart_dir.parent / "values.json"
    values_file.write_text(json.dumps(values), encoding="utf-8")
    home = chart_dir.parent / "home"
    home.mkdir()
    argv = [
        binary,
        "template",
        helm.release_name or DEFAULT_RELEASE,
        str(chart_dir),
        "--namespace",
        helm.namespace or "default",
        "--values",
        str(values_file),
    ]
    argv += ["--include-crds"] if helm.include_crds else []
    argv += ["--skip-tests"] if helm.skip_tests else []
    try:
        stdout = exec_renderer.run(
            argv,
            cwd=chart_dir,
            env=exec_renderer.environment(config.env, home=home),
            timeout=float(config.timeout),
            max_output=files.limits.max_output_bytes,
            stderr_tail=files.limits.stderr_tail_bytes,
        )
    except RenderError as exc:
        if helmsdk.SCHEMA_FAILURE in exc.message:
            raise RenderError(exc.message, file=join(path, "values.schema.json")) from None
        raise
    return split_stream(exec_renderer.decode(stdout, f"{path or '.'} (helm template output)"))


def split_stream(text: str) -> list[helmsdk.Manifest]:
    """``helm template`` output cut into manifests by its ``# Source:`` comments."""
    out: list[helmsdk.Manifest] = []
    for chunk in _DOCUMENT_START.split(text):
        found = _SOURCE.search(chunk)
        if chunk.strip():
            out.append(helmsdk.Manifest(name=found["name"] if found else "", text=chunk))
    return out


# -- output ---------------------------------------------------------------------------


def repository_path(name: str, *, path: str) -> str:
    """Helm's ``chart/templates/x.yaml`` as the repository path under the app's ``path``."""
    _, _, rest = name.partition("/")
    return join(path, rest) if rest else path or "."


def objects(
    manifests: Sequence[helmsdk.Manifest], *, path: str, skip_tests: bool, files: Reader
) -> list[Sourced]:
    """The objects of the rendered manifests, NOTES.txt and (maybe) test hooks left out."""
    out: list[Sourced] = []
    for manifest in manifests:
        if manifest.name.endswith("NOTES.txt"):
            continue
        label = f"{repository_path(manifest.name, path=path)} (rendered)"
        for item in plain.objects_in(manifest.text, file=label, limits=files.limits):
            if skip_tests and is_test_hook(item.body):
                continue
            out.append(item)
    return out


def is_test_hook(body: Mapping[str, Any]) -> bool:
    """True for a ``helm.sh/hook: test`` (or test-success/test-failure) object."""
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    hooks = str(annotations.get("helm.sh/hook", ""))
    return any(h.strip() in TEST_HOOKS for h in hooks.split(","))
