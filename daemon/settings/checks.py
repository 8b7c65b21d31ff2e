"""Cross-checks of a converted ``gitopsd.yaml``: what one field alone cannot say.

Duplicate names, an app's source, render settings that only make sense together (exec
and its command, kustomize and helm options with their render type, limits that leave a
render room to run), source URLs and credentials; an app's destination (its clusters,
selector and namespace) is ``daemon.settings.destinations``. ``daemon.settings.loader``
runs them after conversion; each problem is reported through the loader's context, so it
reads ``FILE:LINE: key.path: what is wrong`` like a conversion problem.
"""

from __future__ import annotations

import posixpath
import re
import typing

import yaml

from daemon.core import sources as core_sources
from daemon.settings.schema import (
    DNS1123,
    AppConfig,
    Config,
    HelmConfig,
    KustomizeConfig,
    RenderConfig,
    RenderLimitsConfig,
    SourceConfig,
    shown,
)

if typing.TYPE_CHECKING:
    from daemon.settings.loader import _Context


def cross_check(config: Config, ctx: _Context, root: yaml.Node) -> None:
    """Every cross-check of ``config`` (converted from ``root``); problems go to ``ctx``."""
    _check_references(config, ctx, root)
    _check_render(config, ctx, root)
    _check_pool(config, ctx, root)


def node_at(node: yaml.Node, *keys: str | int) -> yaml.Node:
    """The node at ``keys`` under ``node`` (for line numbers), or the deepest one found."""
    current = node
    for key in keys:
        nxt: yaml.Node | None = None
        if isinstance(key, int) and isinstance(current, yaml.SequenceNode):
            nxt = current.value[key] if key < len(current.value) else None
        elif isinstance(current, yaml.MappingNode):
            nxt = next((v for k, v in current.value if k.value == key), None)
        if nxt is None:
            return current
        current = nxt
    return current


def _check_references(config: Config, ctx: _Context, root: yaml.Node) -> None:
    for section in ("clusters", "sources", "apps"):
        seen: dict[str, int] = {}
        for i, item in enumerate(getattr(config, section)):
            if item.name in seen:
                ctx.problem(
                    node_at(root, section, i, "name"),
                    f"{section}[{i}].name",
                    f"duplicate name {item.name!r} (also {section}[{seen[item.name]}])",
                )
            else:
                seen[item.name] = i
    sources = {s.name for s in config.sources}
    for i, app in enumerate(config.apps):
        if app.source not in sources:
            ctx.problem(
                node_at(root, "apps", i, "source"),
                f"apps[{i}].source",
                f"undefined source {app.source!r} "
                f"(defined: {', '.join(sorted(sources)) or 'none'})",
            )
    for i, src in enumerate(config.sources):
        refs = [k for k in ("branch", "tag", "semver", "commit") if getattr(src, k) is not None]
        if len(refs) > 1:
            ctx.problem(
                node_at(root, "sources", i, refs[1]),
                f"sources[{i}]",
                f"set only one of branch, tag, semver, commit (got {', '.join(refs)})",
            )
        _check_source(src, i, ctx, root)
    for i, cluster in enumerate(config.clusters):
        if cluster.in_cluster and cluster.kubeconfig:
            ctx.problem(
                node_at(root, "clusters", i, "in_cluster"),
                f"clusters[{i}]",
                "in_cluster and kubeconfig exclude each other",
            )
        if not cluster.in_cluster and not cluster.kubeconfig:
            ctx.problem(
                node_at(root, "clusters", i),
                f"clusters[{i}]",
                "set kubeconfig (with an optional context) or in_cluster: true",
            )


def _check_kustomize(render: RenderConfig, ctx: _Context, root: yaml.Node, i: int) -> None:
    """``render.kustomize``: a known binary or an absolute path; options need a binary."""
    where = f"apps[{i}].render.kustomize"
    binary, options = render.kustomize.binary, render.kustomize.build_options
    if binary not in ("builtin", "kustomize", "kubectl") and not binary.startswith("/"):
        ctx.problem(
            node_at(root, "apps", i, "render", "kustomize", "binary"),
            f"{where}.binary",
            f"{shown(binary)} must be builtin, kustomize, kubectl or an absolute path",
        )
    if options and binary == "builtin":
        ctx.problem(
            node_at(root, "apps", i, "render", "kustomize", "build_options"),
            f"{where}.build_options",
            "build_options are passed to a kustomize binary: set render.kustomize.binary too",
        )
    if render.kustomize != KustomizeConfig() and render.type not in ("auto", "kustomize"):
        ctx.problem(
            node_at(root, "apps", i, "render", "kustomize"),
            where,
            "render.kustomize is only used with render.type kustomize (or auto), "
            f"not {render.type}",
        )


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _check_render(config: Config, ctx: _Context, root: yaml.Node) -> None:
    """Each app's ``render``: exec needs a command, libs stay in the repository."""
    for i, app in enumerate(config.apps):
        render = app.render
        where = f"apps[{i}].render"
        if render.type == "exec" and not render.command:
            ctx.problem(
                node_at(root, "apps", i, "render", "type"),
                f"{where}.command",
                "render.type exec needs render.command (an argv list, e.g. [helm, template, .])",
            )
        if render.command and render.type != "exec":
            ctx.problem(
                node_at(root, "apps", i, "render", "command"),
                f"{where}.command",
                "render.command is only used with render.type: exec",
            )
        if render.timeout <= 0:
            ctx.problem(
                node_at(root, "apps", i, "render", "timeout"),
                f"{where}.timeout",
                "must be positive",
            )
        _check_kustomize(render, ctx, root, i)
        _check_render_limits(render.limits, i, ctx, root)
        for j, name in enumerate(render.env):
            if not _ENV_NAME.match(name):
                ctx.problem(
                    node_at(root, "apps", i, "render", "env", j),
                    f"{where}.env[{j}]",
                    f"{name!r} is not an environment variable name",
                )
        for j, lib in enumerate(render.libs):
            normal = posixpath.normpath(lib) if lib else ""
            if not lib or lib.startswith("/") or normal == ".." or normal.startswith("../"):
                ctx.problem(
                    node_at(root, "apps", i, "render", "libs", j),
                    f"{where}.libs[{j}]",
                    f"{lib!r} must be a directory inside the repository "
                    "(relative, no '..' above it)",
                )
        _check_helm(app, i, ctx, root)


_RELEASE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_RELEASE_NAME_MAX = 53  # Helm's limit (names end up in labels with suffixes)


def _check_helm(app: AppConfig, i: int, ctx: _Context, root: yaml.Node) -> None:
    """``render.helm``: only with a type that can be Helm; names valid; values files inside."""
    helm = app.render.helm
    where = f"apps[{i}].render.helm"
    if app.render.type not in ("helm", "auto") and helm != HelmConfig():
        ctx.problem(
            node_at(root, "apps", i, "render", "helm"),
            where,
            f"render.helm is only used with render.type helm or auto, not {app.render.type}",
        )
    name = helm.release_name
    if name is not None and (len(name) > _RELEASE_NAME_MAX or not _RELEASE_NAME.match(name)):
        ctx.problem(
            node_at(root, "apps", i, "render", "helm", "release_name"),
            f"{where}.release_name",
            f"{shown(name)} is not a valid Helm release name (lowercase letters, digits, "
            f"'-' and '.', at most {_RELEASE_NAME_MAX} characters)",
        )
    if helm.namespace is not None and not DNS1123.match(helm.namespace):
        ctx.problem(
            node_at(root, "apps", i, "render", "helm", "namespace"),
            f"{where}.namespace",
            f"{shown(helm.namespace)} is not a DNS-1123 label",
        )
    for j, file in enumerate(helm.values_files):
        if not file or file.startswith("/") or not is_inside_repository(app.path, file):
            ctx.problem(
                node_at(root, "apps", i, "render", "helm", "values_files", j),
                f"{where}.values_files[{j}]",
                f"{shown(file)} must be a file inside the repository, relative to the chart "
                f"path {app.path!r} ('..' may not climb above the repository root)",
            )


def is_inside_repository(base: str, relative: str) -> bool:
    """True when ``relative``, taken from the repository directory ``base``, stays inside."""
    joined = posixpath.normpath(posixpath.join(base or ".", relative))
    return joined != ".." and not joined.startswith("../") and not joined.startswith("/")


MIN_RENDER_MEMORY = 128 << 20
"""Below this even a small render (a YAML parse, a few objects) runs out of address space."""


def _check_render_limits(
    limits: RenderLimitsConfig, i: int, ctx: _Context, root: yaml.Node
) -> None:
    """An app's ``render.limits`` leave a render room to run at all."""
    where = f"apps[{i}].render.limits"
    if limits.memory < MIN_RENDER_MEMORY:
        ctx.problem(
            node_at(root, "apps", i, "render", "limits", "memory"),
            f"{where}.memory",
            f"must be at least 128Mi (room for a parse and its objects), "
            f"got {limits.memory / (1 << 20):g} MiB",
        )
    if limits.cpu < 1:
        ctx.problem(
            node_at(root, "apps", i, "render", "limits", "cpu"),
            f"{where}.cpu",
            f"must be at least 1s (CPU time is counted in whole seconds), got {limits.cpu:g}s",
        )


def _check_pool(config: Config, ctx: _Context, root: yaml.Node) -> None:
    """``render.workers``: at least one render worker."""
    if config.render.workers < 1:
        ctx.problem(
            node_at(root, "render", "workers"), "render.workers", "must be at least 1, got 0"
        )


_URL_SCHEMES = ("https://", "http://", "ssh://", "git://", "file://")
_SCP_URL = re.compile(r"^(?:[A-Za-z0-9._-]+@)?[A-Za-z0-9.-]+:(?!//)[^\s]+$")


def _check_source(src: SourceConfig, i: int, ctx: _Context, root: yaml.Node) -> None:
    """A source's URL, ref and credentials make sense (and no secret hides in the URL)."""
    where = f"sources[{i}]"
    url_node = node_at(root, "sources", i, "url")
    is_scp = _SCP_URL.match(src.url) is not None and "://" not in src.url
    if not src.url.startswith(_URL_SCHEMES) and not is_scp:
        ctx.problem(
            url_node,
            f"{where}.url",
            "use an https://, ssh://, git://, file:// or user@host:path URL",
        )
    elif "://" in src.url and "@" in src.url.split("://", 1)[1].split("/", 1)[0]:
        userinfo = src.url.split("://", 1)[1].split("@", 1)[0]
        if ":" in userinfo or src.url.startswith(("https://", "http://")):
            ctx.problem(
                url_node,
                f"{where}.url",
                "credentials do not belong in the URL (they would show in logs and events): "
                "move them to auth (token, token_file, username, password, password_file)",
            )
    if src.semver is not None:
        try:
            core_sources.parse_constraint(src.semver)
        except ValueError as exc:
            ctx.problem(node_at(root, "sources", i, "semver"), f"{where}.semver", str(exc))
    is_ssh = is_scp or src.url.startswith("ssh://")
    auth = src.auth
    if auth is None:
        if is_ssh:
            ctx.problem(
                url_node,
                where,
                "an SSH source needs auth.ssh_key_file and auth.known_hosts_file "
                "(host keys are checked strictly)",
            )
        return
    auth_node = node_at(root, "sources", i, "auth")
    for value, file, name in (
        (auth.token, auth.token_file, "token"),
        (auth.password, auth.password_file, "password"),
    ):
        if value is not None and file is not None:
            ctx.problem(auth_node, f"{where}.auth", f"set {name} or {name}_file, not both")
    if is_ssh and (auth.ssh_key_file is None or auth.known_hosts_file is None):
        ctx.problem(
            auth_node,
            f"{where}.auth",
            "an SSH source needs ssh_key_file and known_hosts_file "
            "(host keys are checked strictly)",
        )
