"""The one adapter for ``helm-python-sdk`` (``import helm_python``): Helm v4's engine in-process.

Nothing else in gitopsd imports ``helm_python``; ``helm.py`` (the renderer) calls the
functions here and never sees the SDK's types. The import is lazy, on the first Helm
render, because loading the SDK starts a Go runtime in this process (see "Fork" below).

Evaluation of helm-python-sdk 0.2.2 (helm-c-sdk 0.2.2, Helm SDK v4.2.3), December 2026:

* **License.** Apache-2.0 (``License-Expression`` in its metadata; LICENSE and NOTICE
  in its dist-info; NOTICE credits the Helm SDK, Apache-2.0): compatible with
  gitopsd's Apache-2.0. The wheel carries a statically linked Go library (~85 MB)
  whose Go module dependencies (client-go, sprig, ...) are Apache-2.0/MIT/BSD, but the
  wheel ships no list of their notices: a distributor bundling the wheel should add
  them (a gap of the package, not a conflict).
* **API.** ``Chart.load(dir_or_tgz)`` gives a handle (context manager);
  ``chart.render(values, name=, namespace=)`` returns ``{template path: text}`` from
  ``engine.Render`` with ``DefaultCapabilities``, so hooks, test hooks and ``NOTES.txt``
  are all in the output (the caller filters) and CRDs under ``crds/`` are not
  (``chart.crds`` lists them, subcharts' included). Values are a JSON-able dict,
  coalesced with the chart's defaults and checked against ``values.schema.json``;
  subchart ``condition``/``tags`` are honoured. There is no option for
  ``--kube-version`` or ``--api-versions`` (Capabilities are Helm's defaults:
  KubeVersion v1.36.0 in this build), none for include-crds or skip-tests (done here),
  and ``dependency_list(dir)`` reports declared dependencies missing from ``charts/``.
* **Errors** come back as ``HelmError`` subclasses with a numeric ``code``:
  ``HelmChartLoadError`` (bad Chart.yaml), ``HelmValuesError`` (schema, with
  "values don't meet the specifications of the schema(s)" and JSON pointers),
  ``HelmRenderError`` (``execution error at (chart/templates/x.yaml:6:8): ...``,
  ``parse error at (chart/templates/x.yaml:2): ...``). ``HelmLibraryError`` at import
  when the native library cannot be loaded.
* **Stability.** "Development Status :: 3 - Alpha"; the C ABI is versioned and its
  option keys are "additive only"; the binding checks every symbol at load. Pinned to
  ``>=0.2.2,<0.3`` for that reason.
* **Memory.** Importing adds ~53 MiB RSS (13 -> 66 MiB); 200 renders of a small chart
  grew RSS by ~4 MiB and left no open handles (``open_handles_count() == 0``).
* **Threads.** ctypes releases the GIL during calls and charts are immutable handles:
  4 threads rendering concurrently worked. Safe from ``asyncio.to_thread``.
* **Fork.** Not fork-safe once used: with other threads rendering, 11 of 20 forked
  children that then rendered hung (the Go runtime's threads do not survive fork).
  A process pool must use the ``spawn`` or ``forkserver`` start method, or make sure
  the parent never imported ``helm_python`` (it is imported lazily here for that
  reason). ``subprocess`` (fork then exec at once) is unaffected.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

SCHEMA_FAILURE = "values don't meet the specifications of the schema"
_LOCATION = re.compile(r"(?P<file>[^\s():]+):(?P<line>\d+)")


@dataclasses.dataclass(frozen=True, slots=True)
class Manifest:
    """One rendered template (or CRD file), by its Helm name (``chart/templates/x.yaml``)."""

    name: str
    text: str


class ChartError(Exception):
    """Helm refused the chart or its values; ``name``/``line`` locate it in Helm's names."""

    def __init__(
        self, message: str, *, kind: str, name: str | None = None, line: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        """``load``, ``schema``, ``values`` or ``render``."""
        self.name = name
        self.line = line


def sdk() -> ModuleType | None:
    """The ``helm_python`` module, or None when it is not installed or cannot load."""
    try:
        return importlib.import_module("helm_python")
    except ImportError:
        return None
    except Exception as exc:
        # HelmLibraryError (a wheel for another platform or libc) is raised while the
        # package itself is imported, so its class cannot be imported to catch it.
        if type(exc).__name__ == "HelmLibraryError":
            return None
        raise


@functools.cache  # once per process: the Go runtime starts once and stays
def warm_up() -> bool:
    """Start the SDK's Go runtime with a tiny render; False when the SDK is not available.

    Go reserves its address space (about 1.7 GB of it, ~100 MiB resident) on the first
    render, all at once. A render worker calls this before it lowers ``RLIMIT_AS`` for a
    Helm job, so that the reservation is the worker's own and the limit bounds what the
    chart's render adds; under the limit the Go runtime aborts the process instead
    (``runtime/cgo: pthread_create failed``). Later calls return at once.
    """
    if sdk() is None:
        return False
    with tempfile.TemporaryDirectory(prefix="gitopsd-helm-warm-up-") as scratch:
        chart = Path(scratch)
        (chart / "templates").mkdir()
        (chart / "Chart.yaml").write_text("apiVersion: v2\nname: warm-up\nversion: 0.1.0\n")
        (chart / "templates" / "cm.yaml").write_text(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: {{ .Release.Name }}}\n"
        )
        render(chart, values={}, release_name="warm-up", namespace="default", include_crds=False)
    return True


def is_available() -> bool:
    """True when renders can use the SDK."""
    return sdk() is not None


def version() -> str:
    """The Helm SDK version compiled into the library (e.g. ``v4.2.3``)."""
    return str(_module().helm_sdk_version())


def missing_dependencies(chart_dir: Path) -> list[tuple[str, str]]:
    """(name, repository) of each Chart.yaml dependency that ``charts/`` does not hold.

    Helm's own ``dependency list`` check; like ``helm template`` only absence counts (a
    vendored subchart of another version renders as it is).
    """
    helm = _module()
    try:
        listed = helm.dependency_list(str(chart_dir))
    except helm.HelmError as exc:
        raise _failure(exc, helm) from exc
    return [
        (str(d.get("name", "")), str(d.get("repository") or ""))
        for d in listed
        if d.get("status") == "missing"
    ]


def render(
    chart_dir: Path,
    *,
    values: Mapping[str, Any],
    release_name: str,
    namespace: str,
    include_crds: bool,
) -> list[Manifest]:
    """Render the chart at ``chart_dir``: its CRDs (when asked) then its templates, by name."""
    helm = _module()
    try:
        with helm.Chart.load(str(chart_dir)) as chart:
            rendered = chart.render(dict(values), name=release_name, namespace=namespace)
            crds = chart.crds if include_crds else []
    except helm.HelmError as exc:
        raise _failure(exc, helm) from exc
    out = [Manifest(name=str(c["filename"]), text=str(c["data"])) for c in crds]
    out.extend(Manifest(name=name, text=rendered[name]) for name in sorted(rendered))
    return out


def schema_problem(chart_dir: Path, values: Mapping[str, Any] | None) -> str | None:
    """Why the chart's defaults with ``values`` over them fail values.schema.json, or None."""
    helm = _module()
    try:
        with helm.Chart.load(str(chart_dir)) as chart:
            chart.validate_schema(None if values is None else dict(values))
    except helm.HelmValuesError as exc:
        return str(exc).strip()
    except helm.HelmError as exc:
        raise _failure(exc, helm) from exc
    return None


def _module() -> Any:
    helm = sdk()
    if helm is None:  # the renderer checks is_available() first
        raise RuntimeError("helm-python-sdk is not importable")
    return helm


def _failure(exc: Exception, helm: Any) -> ChartError:
    message = str(exc).strip()
    if isinstance(exc, helm.HelmChartLoadError):
        return ChartError(message, kind="load")
    if isinstance(exc, helm.HelmValuesError):
        kind = "schema" if SCHEMA_FAILURE in message else "values"
        return ChartError(message, kind=kind)
    found = _LOCATION.search(message)
    if found is None:
        return ChartError(message, kind="render")
    return ChartError(message, kind="render", name=found["file"], line=int(found["line"]))
