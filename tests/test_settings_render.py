"""The ``render:`` section of an app: exec needs a command, env names and libs are checked."""

from __future__ import annotations

import textwrap

import pytest

from daemon import settings
from daemon.errors import ConfigError

HEAD = """\
clusters:
  - {name: prod, kubeconfig: /k}
sources:
  - {name: infra, url: https://git.example.com/infra.git, branch: main}
apps:
  - name: web
    source: infra
    path: apps/web
    destination: {cluster: prod}
"""


def load(render: str) -> settings.Config:
    return settings.loads(
        HEAD + textwrap.indent(textwrap.dedent(render), "    "), filename="g.yaml", environ={}
    )


def problems(render: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(render)
    return info.value.problems


def test_render_section_loads_with_all_fields() -> None:
    """Every render field reaches RenderConfig, libs included."""
    config = load(
        """
        render:
          type: exec
          command: [helm, template, .]
          env: [HELM_CACHE_HOME]
          timeout: 2m
          libs: [vendor, lib/jsonnet]
        """
    )
    assert config.apps[0].render == settings.RenderConfig(
        type="exec",
        command=["helm", "template", "."],
        env=["HELM_CACHE_HOME"],
        timeout=settings.Duration(120.0),
        libs=["vendor", "lib/jsonnet"],
    )


def test_exec_without_command_and_command_without_exec_are_refused() -> None:
    """An exec app needs a command; a command on another type would be ignored, so it is refused."""
    assert problems("render: {type: exec}\n") == [
        (
            "g.yaml:10: apps[0].render.command: render.type exec needs render.command "
            "(an argv list, e.g. [helm, template, .])"
        )
    ]
    assert problems("render: {type: plain, command: [make]}\n") == [
        "g.yaml:10: apps[0].render.command: render.command is only used with render.type: exec"
    ]


def test_libs_outside_the_repository_and_bad_env_names_are_refused() -> None:
    """Library directories stay inside the repository; env entries are variable names."""
    outside = "must be a directory inside the repository (relative, no '..' above it)"
    assert problems(
        "render:\n  libs: [/usr/lib, ../up, ok/../..]\n  env: [GOOD, 'BAD-NAME']\n"
    ) == [
        f"g.yaml:11: apps[0].render.libs[0]: '/usr/lib' {outside}",
        f"g.yaml:11: apps[0].render.libs[1]: '../up' {outside}",
        f"g.yaml:11: apps[0].render.libs[2]: 'ok/../..' {outside}",
        "g.yaml:12: apps[0].render.env[1]: 'BAD-NAME' is not an environment variable name",
    ]


def test_kustomize_binary_and_build_options_load() -> None:
    """`render.kustomize` chooses a binary and its build options."""
    config = load("render:\n  kustomize: {binary: kubectl, build_options: [--enable-helm]}\n")
    assert config.apps[0].render.kustomize == settings.KustomizeConfig(
        binary="kubectl", build_options=["--enable-helm"]
    )
    assert load("render: {}\n").apps[0].render.kustomize == settings.KustomizeConfig(
        binary="builtin"
    )


def test_kustomize_block_misuse_is_refused() -> None:
    """An unknown binary name, options for the builtin, or the block on another type are refused."""
    assert problems("render:\n  kustomize: {binary: kz}\n") == [
        (
            "g.yaml:11: apps[0].render.kustomize.binary: 'kz' must be builtin, kustomize, "
            "kubectl or an absolute path"
        )
    ]
    assert problems("render:\n  kustomize: {build_options: [--enable-helm]}\n") == [
        (
            "g.yaml:11: apps[0].render.kustomize.build_options: build_options are passed to a "
            "kustomize binary: set render.kustomize.binary too"
        )
    ]
    assert problems("render:\n  type: plain\n  kustomize: {binary: kubectl}\n") == [
        (
            "g.yaml:12: apps[0].render.kustomize: render.kustomize is only used with render.type "
            "kustomize (or auto), not plain"
        )
    ]


def test_helm_section_loads_and_defaults_come_from_the_app() -> None:
    """render.helm reaches HelmConfig; release name and namespace default to the app's."""
    config = load(
        """
        render:
          helm:
            values_files: [values-prod.yaml, ../shared/values.yaml]
            values: {replicas: 3, image: {tag: "1.2"}, hosts: [a, b], debug: null}
            include_crds: false
            skip_tests: false
        """
    )
    assert config.apps[0].render.helm == settings.HelmConfig(
        release_name="web",
        namespace="default",
        values_files=["values-prod.yaml", "../shared/values.yaml"],
        values=settings.YamlMapping(
            {"replicas": 3, "image": {"tag": "1.2"}, "hosts": ["a", "b"], "debug": None}
        ),
        include_crds=False,
        skip_tests=False,
    )


def test_helm_release_name_and_namespace_given_are_kept() -> None:
    """An explicit release name and namespace win over the app's."""
    config = load("render: {type: helm, helm: {release_name: shop.v2, namespace: web-prod}}\n")
    assert (config.apps[0].render.helm.release_name, config.apps[0].render.helm.namespace) == (
        "shop.v2",
        "web-prod",
    )


def test_other_render_types_keep_helm_settings_empty() -> None:
    """A kustomize app's render.helm stays the default (no defaults filled in)."""
    assert load("render: {type: kustomize}\n").apps[0].render.helm == settings.HelmConfig()


def test_bad_helm_settings_are_refused_with_their_place() -> None:
    """Values files leaving the repository, bad names, non-JSON values and misplaced helm fail."""
    inside = "must be a file inside the repository, relative to the chart path 'apps/web'"
    assert problems("render: {helm: {values: {when: 2024-01-01}}}\n") == [
        (
            "g.yaml:10: apps[0].render.helm.values.when: a date cannot be a Helm value "
            "(quote it to pass a string)"
        ),
    ]
    assert problems(
        """
        render:
          helm:
            release_name: Web_App
            namespace: NS
            values_files: [../../../etc/passwd, /abs.yaml, '']
        """
    ) == [
        (
            "g.yaml:13: apps[0].render.helm.release_name: 'Web_App' is not a valid Helm release "
            "name (lowercase letters, digits, '-' and '.', at most 53 characters)"
        ),
        "g.yaml:14: apps[0].render.helm.namespace: 'NS' is not a DNS-1123 label",
        (
            f"g.yaml:15: apps[0].render.helm.values_files[0]: '../../../etc/passwd' {inside} "
            "('..' may not climb above the repository root)"
        ),
        (
            f"g.yaml:15: apps[0].render.helm.values_files[1]: '/abs.yaml' {inside} "
            "('..' may not climb above the repository root)"
        ),
        (
            f"g.yaml:15: apps[0].render.helm.values_files[2]: '' {inside} "
            "('..' may not climb above the repository root)"
        ),
    ]
    assert problems("render: {type: jsonnet, helm: {values: {a: 1}}}\n") == [
        (
            "g.yaml:10: apps[0].render.helm: render.helm is only used with render.type helm or "
            "auto, not jsonnet"
        )
    ]
    assert problems("render: {helm: {values: [a]}}\n") == [
        "g.yaml:10: apps[0].render.helm.values: expected a mapping, got a list"
    ]


def test_render_limits_load_sizes_and_durations() -> None:
    """render.limits takes sizes (256Mi, 1Gi, 10^n units, plain bytes) and durations."""
    config = load(
        """
        render:
          limits: {memory: 256Mi, cpu: 2s, wall_clock: 1m, output: 1G}
        """
    )
    assert config.apps[0].render.limits == settings.RenderLimitsConfig(
        memory=settings.ByteSize(256 << 20),
        cpu=settings.Duration(2.0),
        wall_clock=settings.Duration(60.0),
        output=settings.ByteSize(10**9),
    )
    assert load("render: {limits: {output: 65536}}\n").apps[0].render.limits.output == 65536


def test_render_limits_default_to_the_documented_values() -> None:
    """Without render.limits an app gets 1 GiB, 60 s CPU, 60 s wall clock, 50 MiB output; two workers."""
    config = load("")
    assert (config.apps[0].render.limits, config.render) == (
        settings.RenderLimitsConfig(
            memory=settings.ByteSize(1 << 30),
            cpu=settings.Duration(60.0),
            wall_clock=settings.Duration(60.0),
            output=settings.ByteSize(50 << 20),
        ),
        settings.RenderPoolConfig(workers=2),
    )


def test_bad_render_limits_are_refused_with_file_line_and_key() -> None:
    """Malformed sizes, sizes too small to run a render, and sub-second CPU limits name file, line and key."""
    assert problems(
        "render:\n  limits:\n    memory: lots\n    output: [1]\n    wall_clock: 0s\n"
    ) == [
        (
            "g.yaml:12: apps[0].render.limits.memory: bad size 'lots': write a number and a unit, "
            "e.g. 256Mi, 1Gi"
        ),
        "g.yaml:13: apps[0].render.limits.output: expected a size like 256Mi or 1Gi, got a list",
        "g.yaml:14: apps[0].render.limits.wall_clock: duration must be greater than zero",
    ]
    assert problems("render:\n  limits: {memory: 64Mi, cpu: 500ms, output: 0}\n") == [
        "g.yaml:11: apps[0].render.limits.output: size must be greater than zero",
    ]
    assert problems("render:\n  limits: {memory: 64Mi, cpu: 500ms}\n") == [
        (
            "g.yaml:11: apps[0].render.limits.memory: must be at least 128Mi "
            "(room for a parse and its objects), got 64 MiB"
        ),
        (
            "g.yaml:11: apps[0].render.limits.cpu: must be at least 1s "
            "(CPU time is counted in whole seconds), got 0.5s"
        ),
    ]


def test_render_workers_must_be_at_least_one() -> None:
    """The top-level render.workers sizes the worker pool; zero is refused."""
    assert settings.loads(
        HEAD + "render: {workers: 4}\n", filename="g.yaml", environ={}
    ).render == (settings.RenderPoolConfig(workers=4))
    with pytest.raises(ConfigError) as info:
        settings.loads(HEAD + "render: {workers: 0}\n", filename="g.yaml", environ={})
    assert info.value.problems == ["g.yaml:10: render.workers: must be at least 1, got 0"]
