"""The configuration file ``gitopsd.yaml``: its schema (in this one place), loading and validation.

The schema is a tree of frozen dataclasses. ``load`` parses YAML keeping every node's
line, converts it field by field against the dataclass annotations, and collects every
problem as ``FILE:LINE: key.path: what is wrong`` instead of stopping at the first one.
Cross-references (an app's source and cluster) and duplicate names are checked after.

Strings may reference environment variables as ``${NAME}`` (``$${`` is a literal
``${``). Values that came from the environment are treated as secrets: error messages
never echo them, and ``Secret`` fields print as ``***``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import posixpath
import re
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, NewType

import yaml

from daemon import configfile
from daemon.core import sources as core_sources
from daemon.errors import ConfigError, UsageError

Duration = NewType("Duration", float)
"""Seconds, written in the file as ``30s``, ``5m``, ``1h``, ``7d`` or ``1h30m``."""

ByteSize = NewType("ByteSize", int)
"""Bytes, written as ``256Mi``, ``1Gi``, ``512MiB``, ``1G`` (10^9) or a plain integer."""

Name = NewType("Name", str)
"""A DNS-1123 label: lowercase alphanumerics and '-', at most 63 characters."""

YamlMapping = NewType("YamlMapping", dict[str, Any])
"""A free-form mapping (Helm values): any YAML that JSON can carry, string keys."""

DEFAULT_CONFIG = "gitopsd.yaml"
DATABASE_URL_ENV = "GITOPSD_DATABASE_URL"
CONFIG_ENV = "GITOPSD_CONFIG"


@dataclasses.dataclass(frozen=True, slots=True)
class Secret:
    """A value that must never be printed; ``reveal()`` hands it to the code that needs it."""

    _value: str

    def reveal(self) -> str:
        """The secret itself."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"


# -- schema -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DatabaseConfig:
    """Where the event log lives. No URL: gitopsd runs an embedded PostgreSQL in state_dir/pg."""

    url: Secret | None = None
    pool_size: int = 10


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class HttpConfig:
    """The daemon's HTTP server (health, metrics, API, webhooks, UI)."""

    listen: str = "127.0.0.1:8089"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ClusterConfig:
    """A Kubernetes cluster gitopsd deploys to."""

    name: Name
    kubeconfig: str | None = None
    context: str | None = None
    in_cluster: bool = False
    labels: dict[str, str] = dataclasses.field(default_factory=dict)
    qps: float = 50.0
    burst: int = 100
    timeout: Duration = Duration(30.0)
    namespaces: list[Name] = dataclasses.field(default_factory=list)
    """Namespaced RBAC (deploy/namespaced): informers list and watch only these namespaces
    instead of the whole cluster. Empty: cluster-wide."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class AuthConfig:
    """Credentials for a Git remote: HTTPS token or basic auth, or an SSH key."""

    token: Secret | None = None
    token_file: str | None = None
    username: str | None = None
    password: Secret | None = None
    password_file: str | None = None
    ssh_key_file: str | None = None
    known_hosts_file: str | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SourceConfig:
    """A Git repository and the ref gitopsd follows in it."""

    name: Name
    url: str
    branch: str | None = None
    tag: str | None = None
    semver: str | None = None
    commit: str | None = None
    interval: Duration = Duration(60.0)
    timeout: Duration = Duration(60.0)
    auth: AuthConfig | None = None
    ca_file: str | None = None
    webhook_secret: Secret | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DestinationConfig:
    """Where an app's objects go."""

    cluster: Name
    namespace: str = "default"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class KustomizeConfig:
    """Which Kustomize renders an app: gitopsd's own, or an installed binary."""

    binary: str = "builtin"
    """``builtin``, ``kustomize``, ``kubectl`` (found on PATH), or an absolute path."""
    build_options: list[str] = dataclasses.field(default_factory=list)
    """Extra arguments for the binary (``--enable-helm``, ``--load-restrictor ...``)."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class HelmConfig:
    """How a Helm chart at the app's path is rendered (``render.helm``).

    ``load`` fills ``release_name`` (the app's name) and ``namespace`` (the app's
    destination namespace) when they are left out, so a render needs nothing but this.
    """

    release_name: str | None = None
    namespace: str | None = None
    values_files: list[str] = dataclasses.field(default_factory=list)
    """Repository paths relative to the chart's path, merged in order (later wins)."""
    values: YamlMapping = dataclasses.field(default_factory=lambda: YamlMapping({}))
    """Inline values, merged over ``values_files``."""
    include_crds: bool = True
    skip_tests: bool = True


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RenderLimitsConfig:
    """What one render of an app may use; past a limit the render fails, the daemon goes on."""

    memory: ByteSize = ByteSize(1 << 30)
    """Address space a render may add to its worker (RLIMIT_AS: the worker's size plus this)."""
    cpu: Duration = Duration(60.0)
    """CPU time of the render (RLIMIT_CPU, whole seconds, rounded up)."""
    wall_clock: Duration = Duration(60.0)
    """Time from handing the render to a worker until its result is back."""
    output: ByteSize = ByteSize(50 << 20)
    """Size of the serialized result (and cap on an exec command's or jsonnet's output)."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RenderConfig:
    """How an app's manifests are produced from its path."""

    type: Literal["auto", "plain", "kustomize", "jsonnet", "exec", "helm"] = "auto"
    recurse: bool = False
    ext_vars: dict[str, str] = dataclasses.field(default_factory=dict)
    tla: dict[str, str] = dataclasses.field(default_factory=dict)
    command: list[str] = dataclasses.field(default_factory=list)
    env: list[str] = dataclasses.field(default_factory=list)
    timeout: Duration = Duration(60.0)
    libs: list[str] = dataclasses.field(default_factory=list)
    """Jsonnet library directories (repository-relative), searched after the importing file's."""
    kustomize: KustomizeConfig = dataclasses.field(default_factory=KustomizeConfig)
    helm: HelmConfig = dataclasses.field(default_factory=HelmConfig)
    limits: RenderLimitsConfig = dataclasses.field(default_factory=RenderLimitsConfig)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RetryConfig:
    """Backoff for retrying a failed sync."""

    limit: int = 5
    backoff: Duration = Duration(5.0)
    max_backoff: Duration = Duration(300.0)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SyncPolicyConfig:
    """When and how an app is synced."""

    auto: bool = True
    prune: bool = True
    self_heal: bool = True
    allow_recreate: bool = False
    create_namespace: bool = False
    resync: Duration = Duration(600.0)
    retry: RetryConfig = dataclasses.field(default_factory=RetryConfig)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RestrictionsConfig:
    """What an app may create (project-style guard rails), enforced before any apply."""

    namespaces: list[str] = dataclasses.field(default_factory=list)
    allowed_kinds: list[str] = dataclasses.field(default_factory=list)
    denied_kinds: list[str] = dataclasses.field(default_factory=list)
    cluster_scoped: bool = True


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class AppConfig:
    """An application: a path in a source, rendered and synced to a destination."""

    name: Name
    source: Name
    path: str = "."
    destination: DestinationConfig
    render: RenderConfig = dataclasses.field(default_factory=RenderConfig)
    sync: SyncPolicyConfig = dataclasses.field(default_factory=SyncPolicyConfig)
    restrictions: RestrictionsConfig = dataclasses.field(default_factory=RestrictionsConfig)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RenderPoolConfig:
    """The worker processes every render runs in."""

    workers: int = 2


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """The whole ``gitopsd.yaml``."""

    state_dir: str = ""
    database: DatabaseConfig = dataclasses.field(default_factory=DatabaseConfig)
    http: HttpConfig = dataclasses.field(default_factory=HttpConfig)
    render: RenderPoolConfig = dataclasses.field(default_factory=RenderPoolConfig)
    clusters: list[ClusterConfig] = dataclasses.field(default_factory=list)
    sources: list[SourceConfig] = dataclasses.field(default_factory=list)
    apps: list[AppConfig] = dataclasses.field(default_factory=list)
    path: str = dataclasses.field(default="", metadata={"internal": True})
    env_refs: Mapping[str, str] = dataclasses.field(
        default_factory=dict, compare=False, metadata={"internal": True}
    )
    """Key path -> the value as written, for every value that used ``${ENV}`` (so that
    ``config check --effective`` shows the reference, never what it expanded to)."""

    def database_url(self) -> str | None:
        """The external database URL: ``$GITOPSD_DATABASE_URL`` first, then the file."""
        from_env = os.environ.get(DATABASE_URL_ENV)
        if from_env:
            return from_env
        return self.database.url.reveal() if self.database.url else None

    def state_path(self) -> Path:
        """The state directory (embedded database, Git mirrors); created on demand by its users."""
        return Path(self.state_dir).expanduser()


def default_state_dir() -> str:
    """Systemd's ``$STATE_DIRECTORY`` when set, else ``.gitopsd`` in the working directory."""
    return os.environ.get("STATE_DIRECTORY", "").split(":")[0] or ".gitopsd"


def locate(explicit: str | None, *, environ: Mapping[str, str] | None = None) -> Path:
    """The config path: ``--config``, else ``$GITOPSD_CONFIG``, else ``./gitopsd.yaml``.

    With neither set and no ``./gitopsd.yaml``, a ``UsageError`` says where it looked:
    a command that needs a configuration must not run (and create state) on defaults.
    """
    env = os.environ if environ is None else environ
    named = explicit or env.get(CONFIG_ENV)
    if named:
        return Path(named)
    default = Path(DEFAULT_CONFIG)
    if not os.path.lexists(default):
        raise UsageError(
            f"no configuration file: no --config, ${CONFIG_ENV} is not set, and "
            f"{default.absolute()} does not exist; pass --config FILE, set ${CONFIG_ENV}, "
            f"or create {DEFAULT_CONFIG} (an empty file means every default: an embedded "
            f"database in {default_state_dir()})"
        )
    return default


# -- loading ------------------------------------------------------------------------

_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)(ms|s|m|h|d))+$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_BYTE_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([KMGT]i?)?B?$")
_UNIT_BYTES = {
    **{u: 1000**i for i, u in enumerate(("", "K", "M", "G", "T"))},
    **{u + "i": 1024**i for i, u in enumerate(("K", "M", "G", "T"), start=1)},
}
_ENV_REF = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def parse_duration(text: str) -> float:
    """Seconds in a duration like ``30s``, ``5m``, ``1h30m``; ValueError when malformed."""
    if not _DURATION.match(text):
        raise ValueError(f"bad duration {text!r}: write a number and a unit, e.g. 30s, 5m, 1h, 7d")
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(text))


def parse_byte_size(text: str) -> int:
    """Bytes in a size like ``256Mi``, ``1Gi``, ``64MiB``, ``1G``; ValueError when malformed."""
    found = _BYTE_SIZE.match(text.strip())
    if found is None:
        raise ValueError(f"bad size {text!r}: write a number and a unit, e.g. 256Mi, 1Gi")
    return int(float(found.group(1)) * _UNIT_BYTES[found.group(2) or ""])


def load(path: Path, *, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate a config file; raises ``ConfigError`` listing every problem.

    The file must be a regular file of at most ``$GITOPSD_CONFIG_MAX_BYTES`` (4 MiB) of
    UTF-8 YAML within ``configfile.Limits`` (see ``daemon.configfile``).
    """
    env = os.environ if environ is None else environ
    text = configfile.read(path, max_bytes=configfile.size_cap(env))
    return loads(text, filename=str(path), environ=env)


def loads(text: str, *, filename: str, environ: Mapping[str, str] | None = None) -> Config:
    """Validate config text; ``filename`` is used in messages."""
    ctx = _Context(filename=filename, environ=os.environ if environ is None else environ)
    root = configfile.compose(text, filename=filename)
    if root is None:
        root = yaml.MappingNode(tag="tag:yaml.org,2002:map", value=[])
        root.start_mark = yaml.Mark(filename, 0, 0, 0, "", 0)
    value = ctx.convert(Config, root, "")
    if ctx.problems:
        raise ConfigError(ctx.sorted_problems())
    config = typing.cast("Config", value)
    _check_references(config, ctx, root)
    _check_render(config, ctx, root)
    _check_pool(config, ctx, root)
    if ctx.problems:
        raise ConfigError(ctx.sorted_problems())
    state_dir = config.state_dir or default_state_dir()
    apps = [_with_helm_defaults(app) for app in config.apps]
    return dataclasses.replace(
        config, state_dir=state_dir, path=filename, apps=apps, env_refs=dict(ctx.env_refs)
    )


def _with_helm_defaults(app: AppConfig) -> AppConfig:
    """Fill ``render.helm``'s release name and namespace from the app (Argo CD's defaults).

    Only for apps that may render as Helm (``type`` helm or auto): the other types never
    read ``render.helm``, so their settings stay exactly as written.
    """
    if app.render.type not in ("helm", "auto"):
        return app
    helm = dataclasses.replace(
        app.render.helm,
        release_name=app.render.helm.release_name or app.name,
        namespace=app.render.helm.namespace or app.destination.namespace,
    )
    return dataclasses.replace(app, render=dataclasses.replace(app.render, helm=helm))


@dataclasses.dataclass
class _Context:
    filename: str
    environ: Mapping[str, str]
    problems: list[str] = dataclasses.field(default_factory=list)
    lines: list[int] = dataclasses.field(default_factory=list)
    env_refs: dict[str, str] = dataclasses.field(default_factory=dict)

    def problem(self, node: yaml.Node, path: str, message: str) -> None:
        where = path or "(top level)"
        self.problems.append(f"{self.filename}:{node.start_mark.line + 1}: {where}: {message}")
        self.lines.append(node.start_mark.line)

    def sorted_problems(self) -> list[str]:
        """Problems in file order (stable for problems on the same line)."""
        order = sorted(range(len(self.problems)), key=lambda i: self.lines[i])
        return [self.problems[i] for i in order]

    def convert(self, tp: Any, node: yaml.Node, path: str) -> Any:
        """Convert ``node`` to ``tp``; on a problem record it and return ``_INVALID``."""
        if tp in _SCALARS:
            return self._scalar(tp, node, path)
        origin = typing.get_origin(tp)
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if _is_null(node):
                return None
            return self.convert(args[0], node, path)
        if origin is list:
            return self._list(typing.get_args(tp)[0], node, path)
        if origin is dict:
            return self._dict(typing.get_args(tp)[1], node, path)
        if origin is Literal:
            return self._literal(typing.get_args(tp), node, path)
        if dataclasses.is_dataclass(tp) and isinstance(tp, type):
            return self._dataclass(tp, node, path)
        return self._scalar(tp, node, path)

    def _dataclass(self, cls: type, node: yaml.Node, path: str) -> Any:
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, path, f"expected a mapping, got {_kind(node)}")
            return _INVALID
        fields, hints = _schema(cls)
        values: dict[str, Any] = {}
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            child = f"{path}.{key}" if path else str(key)
            if key in seen:
                self.problem(key_node, child, "duplicate key")
                continue
            if key is None or key not in fields:
                known = ", ".join(sorted(fields))
                self.problem(key_node, child, f"unknown key (known keys: {known})")
                continue
            seen.add(key)
            values[key] = self.convert(hints[key], value_node, child)
        for name, field in fields.items():
            required = (
                field.default is dataclasses.MISSING
                and field.default_factory is dataclasses.MISSING
            )
            if required and name not in seen:
                self.problem(node, f"{path}.{name}" if path else name, "required key is missing")
        if any(v is _INVALID for v in values.values()) or self.problems:
            return _INVALID
        return cls(**values)

    def _list(self, item_t: Any, node: yaml.Node, path: str) -> Any:
        if _is_null(node):
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node, path, f"expected a list, got {_kind(node)}")
            return _INVALID
        items = [self.convert(item_t, n, f"{path}[{i}]") for i, n in enumerate(node.value)]
        return _INVALID if any(i is _INVALID for i in items) else items

    def _dict(self, value_t: Any, node: yaml.Node, path: str) -> Any:
        if _is_null(node):
            return {}
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, path, f"expected a mapping, got {_kind(node)}")
            return _INVALID
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = f"{path}.{key}"
            if key in out:
                self.problem(key_node, child, "duplicate key")
                continue
            out[key] = self.convert(value_t, value_node, child)
        return _INVALID if any(v is _INVALID for v in out.values()) else out

    def _literal(self, choices: tuple[Any, ...], node: yaml.Node, path: str) -> Any:
        text = self._string(node, path)
        if text is _INVALID:
            return _INVALID
        if text not in choices:
            allowed = ", ".join(str(c) for c in choices)
            self.problem(node, path, f"must be one of {allowed}, got {text!r}")
            return _INVALID
        return text

    def _scalar(self, tp: Any, node: yaml.Node, path: str) -> Any:
        handler = _SCALARS.get(tp)
        if handler is None:  # pragma: no cover - a schema bug, not user input
            raise TypeError(f"no converter for {tp!r} at {path}")
        return handler(self, node, path)

    def _string(self, node: yaml.Node, path: str) -> Any:
        if not isinstance(node, yaml.ScalarNode) or _is_null(node):
            self.problem(node, path, f"expected a string, got {_kind(node)}")
            return _INVALID
        text, secret = self._expand(node, path)
        if text is None:
            return _INVALID
        return _Sensitive(text) if secret else text

    def _expand(self, node: yaml.ScalarNode, path: str) -> tuple[str | None, bool]:
        raw = str(node.value)
        missing: list[str] = []
        used = False

        def sub(match: re.Match[str]) -> str:
            nonlocal used
            if match.group(0) == "$${":
                return "${"
            used = True
            name = match.group(1)
            if name not in self.environ:
                missing.append(name)
                return ""
            return self.environ[name]

        text = _ENV_REF.sub(sub, raw)
        if used:
            self.env_refs[path] = raw
        for name in missing:
            self.problem(node, path, f"environment variable {name} is not set")
        return (None if missing else text), used


@functools.cache
def _schema(cls: type) -> tuple[dict[str, dataclasses.Field[Any]], dict[str, Any]]:
    """A schema class's file fields and their types (``get_type_hints`` is slow: once per class)."""
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    return fields, typing.get_type_hints(cls)


class _Sensitive(str):
    """A string that came (partly) from the environment: never echoed in errors."""

    __slots__ = ()


_INVALID: Any = object()

_BOOL_TRUE = {"true", "True", "TRUE", "yes", "on"}
_BOOL_FALSE = {"false", "False", "FALSE", "no", "off"}


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if _is_null(node):
        return "null"
    return {
        "tag:yaml.org,2002:int": "an integer",
        "tag:yaml.org,2002:float": "a number",
        "tag:yaml.org,2002:bool": "a boolean",
    }.get(node.tag, "a string")


def _shown(text: str) -> str:
    return "(value from the environment, not shown)" if isinstance(text, _Sensitive) else repr(text)


def _conv_str(ctx: _Context, node: yaml.Node, path: str) -> Any:
    if (
        isinstance(node, yaml.ScalarNode)
        and node.tag != "tag:yaml.org,2002:str"
        and not _is_null(node)
    ):
        ctx.problem(node, path, f"expected a string, got {_kind(node)} (quote it)")
        return _INVALID
    value = ctx._string(node, path)  # noqa: SLF001 - module-private helper
    return value if value is _INVALID else str(value)


def _conv_secret(ctx: _Context, node: yaml.Node, path: str) -> Any:
    value = _conv_str(ctx, node, path)
    return value if value is _INVALID else Secret(value)


def _conv_name(ctx: _Context, node: yaml.Node, path: str) -> Any:
    value = ctx._string(node, path)  # noqa: SLF001
    if value is _INVALID:
        return _INVALID
    if len(value) > 63 or not _DNS1123.match(value):
        ctx.problem(
            node,
            path,
            f"{_shown(value)} is not a DNS-1123 label (lowercase letters, digits and '-', "
            "starting and ending with a letter or digit, at most 63 characters)",
        )
        return _INVALID
    return str(value)


def _conv_yaml_mapping(ctx: _Context, node: yaml.Node, path: str) -> Any:
    if _is_null(node):
        return YamlMapping({})
    if not isinstance(node, yaml.MappingNode):
        ctx.problem(node, path, f"expected a mapping, got {_kind(node)}")
        return _INVALID
    value = yaml.constructor.SafeConstructor().construct_document(node)
    problem = _json_problem(value, path)
    if problem is not None:
        ctx.problem(node, problem[0], problem[1])
        return _INVALID
    return YamlMapping(value)


def _json_problem(value: Any, path: str) -> tuple[str, str] | None:
    """Where and why ``value`` cannot be carried as JSON (Helm values are JSON), or None."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return path, f"key {key!r} must be a string (quote it)"
            problem = _json_problem(item, f"{path}.{key}")
            if problem is not None:
                return problem
        return None
    if isinstance(value, list):
        for i, item in enumerate(value):
            problem = _json_problem(item, f"{path}[{i}]")
            if problem is not None:
                return problem
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return None
    return path, f"a {type(value).__name__} cannot be a Helm value (quote it to pass a string)"


def _conv_int(ctx: _Context, node: yaml.Node, path: str) -> Any:
    if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:int":
        ctx.problem(node, path, f"expected an integer, got {_kind(node)}")
        return _INVALID
    try:  # YAML 1.1 also calls 017 (octal) and 1:30 (base 60) integers; Python does not
        value = int(node.value.replace("_", ""), 0)
    except ValueError:
        ctx.problem(node, path, f"expected a decimal integer, got {node.value!r}")
        return _INVALID
    if value < 0:
        ctx.problem(node, path, f"must not be negative, got {value}")
        return _INVALID
    return value


def _conv_float(ctx: _Context, node: yaml.Node, path: str) -> Any:
    if not isinstance(node, yaml.ScalarNode) or node.tag not in (
        "tag:yaml.org,2002:int",
        "tag:yaml.org,2002:float",
    ):
        ctx.problem(node, path, f"expected a number, got {_kind(node)}")
        return _INVALID
    try:  # YAML 1.1 floats include .inf, .nan and 1:30.5 (base 60); none is a rate
        value = float(node.value.replace("_", ""))
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        ctx.problem(node, path, f"expected a finite number like 50 or 0.5, got {node.value!r}")
        return _INVALID
    if value <= 0:
        ctx.problem(node, path, f"must be positive, got {node.value}")
        return _INVALID
    return value


def _conv_bool(ctx: _Context, node: yaml.Node, path: str) -> Any:
    if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:bool":
        return node.value in _BOOL_TRUE
    ctx.problem(node, path, f"expected true or false, got {_kind(node)}")
    return _INVALID


def _conv_duration(ctx: _Context, node: yaml.Node, path: str) -> Any:
    if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:str":
        ctx.problem(node, path, f"expected a duration like 30s, 5m, 1h or 7d, got {_kind(node)}")
        return _INVALID
    value = ctx._string(node, path)  # noqa: SLF001
    if value is _INVALID:
        return _INVALID
    try:
        seconds = parse_duration(value)
    except ValueError:
        ctx.problem(
            node,
            path,
            f"bad duration {_shown(value)}: write a number and a unit, e.g. 30s, 5m, 1h, 7d",
        )
        return _INVALID
    if seconds <= 0:
        ctx.problem(node, path, "duration must be greater than zero")
        return _INVALID
    return Duration(seconds)


def _conv_byte_size(ctx: _Context, node: yaml.Node, path: str) -> Any:
    if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:int":
        value = _conv_int(ctx, node, path)
    elif isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:str":
        text = ctx._string(node, path)  # noqa: SLF001
        if text is _INVALID:
            return _INVALID
        try:
            value = parse_byte_size(text)
        except ValueError:
            ctx.problem(
                node, path, f"bad size {_shown(text)}: write a number and a unit, e.g. 256Mi, 1Gi"
            )
            return _INVALID
    else:
        ctx.problem(node, path, f"expected a size like 256Mi or 1Gi, got {_kind(node)}")
        return _INVALID
    if value is not _INVALID and value <= 0:
        ctx.problem(node, path, "size must be greater than zero")
        return _INVALID
    return value if value is _INVALID else ByteSize(value)


_SCALARS: dict[Any, Callable[[_Context, yaml.Node, str], Any]] = {
    str: _conv_str,
    Secret: _conv_secret,
    Name: _conv_name,
    int: _conv_int,
    float: _conv_float,
    bool: _conv_bool,
    Duration: _conv_duration,
    YamlMapping: _conv_yaml_mapping,
    ByteSize: _conv_byte_size,
}


# -- cross-references -----------------------------------------------------------------


def _child(node: yaml.Node, *keys: str | int) -> yaml.Node:
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
                    _child(root, section, i, "name"),
                    f"{section}[{i}].name",
                    f"duplicate name {item.name!r} (also {section}[{seen[item.name]}])",
                )
            else:
                seen[item.name] = i
    clusters = {c.name for c in config.clusters}
    sources = {s.name for s in config.sources}
    for i, app in enumerate(config.apps):
        if app.source not in sources:
            ctx.problem(
                _child(root, "apps", i, "source"),
                f"apps[{i}].source",
                f"undefined source {app.source!r} "
                f"(defined: {', '.join(sorted(sources)) or 'none'})",
            )
        if app.destination.cluster not in clusters:
            ctx.problem(
                _child(root, "apps", i, "destination", "cluster"),
                f"apps[{i}].destination.cluster",
                f"undefined cluster {app.destination.cluster!r} "
                f"(defined: {', '.join(sorted(clusters)) or 'none'})",
            )
    for i, src in enumerate(config.sources):
        refs = [k for k in ("branch", "tag", "semver", "commit") if getattr(src, k) is not None]
        if len(refs) > 1:
            ctx.problem(
                _child(root, "sources", i, refs[1]),
                f"sources[{i}]",
                f"set only one of branch, tag, semver, commit (got {', '.join(refs)})",
            )
        _check_source(src, i, ctx, root)
    for i, cluster in enumerate(config.clusters):
        if cluster.in_cluster and cluster.kubeconfig:
            ctx.problem(
                _child(root, "clusters", i, "in_cluster"),
                f"clusters[{i}]",
                "in_cluster and kubeconfig exclude each other",
            )
        if not cluster.in_cluster and not cluster.kubeconfig:
            ctx.problem(
                _child(root, "clusters", i),
                f"clusters[{i}]",
                "set kubeconfig (with an optional context) or in_cluster: true",
            )


def _check_kustomize(render: RenderConfig, ctx: _Context, root: yaml.Node, i: int) -> None:
    """``render.kustomize``: a known binary or an absolute path; options need a binary."""
    where = f"apps[{i}].render.kustomize"
    binary, options = render.kustomize.binary, render.kustomize.build_options
    if binary not in ("builtin", "kustomize", "kubectl") and not binary.startswith("/"):
        ctx.problem(
            _child(root, "apps", i, "render", "kustomize", "binary"),
            f"{where}.binary",
            f"{_shown(binary)} must be builtin, kustomize, kubectl or an absolute path",
        )
    if options and binary == "builtin":
        ctx.problem(
            _child(root, "apps", i, "render", "kustomize", "build_options"),
            f"{where}.build_options",
            "build_options are passed to a kustomize binary: set render.kustomize.binary too",
        )
    if render.kustomize != KustomizeConfig() and render.type not in ("auto", "kustomize"):
        ctx.problem(
            _child(root, "apps", i, "render", "kustomize"),
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
                _child(root, "apps", i, "render", "type"),
                f"{where}.command",
                "render.type exec needs render.command (an argv list, e.g. [helm, template, .])",
            )
        if render.command and render.type != "exec":
            ctx.problem(
                _child(root, "apps", i, "render", "command"),
                f"{where}.command",
                "render.command is only used with render.type: exec",
            )
        if render.timeout <= 0:
            ctx.problem(
                _child(root, "apps", i, "render", "timeout"), f"{where}.timeout", "must be positive"
            )
        _check_kustomize(render, ctx, root, i)
        _check_render_limits(render.limits, i, ctx, root)
        for j, name in enumerate(render.env):
            if not _ENV_NAME.match(name):
                ctx.problem(
                    _child(root, "apps", i, "render", "env", j),
                    f"{where}.env[{j}]",
                    f"{name!r} is not an environment variable name",
                )
        for j, lib in enumerate(render.libs):
            normal = posixpath.normpath(lib) if lib else ""
            if not lib or lib.startswith("/") or normal == ".." or normal.startswith("../"):
                ctx.problem(
                    _child(root, "apps", i, "render", "libs", j),
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
            _child(root, "apps", i, "render", "helm"),
            where,
            f"render.helm is only used with render.type helm or auto, not {app.render.type}",
        )
    name = helm.release_name
    if name is not None and (len(name) > _RELEASE_NAME_MAX or not _RELEASE_NAME.match(name)):
        ctx.problem(
            _child(root, "apps", i, "render", "helm", "release_name"),
            f"{where}.release_name",
            f"{_shown(name)} is not a valid Helm release name (lowercase letters, digits, "
            f"'-' and '.', at most {_RELEASE_NAME_MAX} characters)",
        )
    if helm.namespace is not None and not _DNS1123.match(helm.namespace):
        ctx.problem(
            _child(root, "apps", i, "render", "helm", "namespace"),
            f"{where}.namespace",
            f"{_shown(helm.namespace)} is not a DNS-1123 label",
        )
    for j, file in enumerate(helm.values_files):
        if not file or file.startswith("/") or not is_inside_repository(app.path, file):
            ctx.problem(
                _child(root, "apps", i, "render", "helm", "values_files", j),
                f"{where}.values_files[{j}]",
                f"{_shown(file)} must be a file inside the repository, relative to the chart "
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
            _child(root, "apps", i, "render", "limits", "memory"),
            f"{where}.memory",
            f"must be at least 128Mi (room for a parse and its objects), "
            f"got {limits.memory / (1 << 20):g} MiB",
        )
    if limits.cpu < 1:
        ctx.problem(
            _child(root, "apps", i, "render", "limits", "cpu"),
            f"{where}.cpu",
            f"must be at least 1s (CPU time is counted in whole seconds), got {limits.cpu:g}s",
        )


def _check_pool(config: Config, ctx: _Context, root: yaml.Node) -> None:
    """``render.workers``: at least one render worker."""
    if config.render.workers < 1:
        ctx.problem(
            _child(root, "render", "workers"), "render.workers", "must be at least 1, got 0"
        )


_URL_SCHEMES = ("https://", "http://", "ssh://", "git://", "file://")
_SCP_URL = re.compile(r"^(?:[A-Za-z0-9._-]+@)?[A-Za-z0-9.-]+:(?!//)[^\s]+$")


def _check_source(src: SourceConfig, i: int, ctx: _Context, root: yaml.Node) -> None:
    """A source's URL, ref and credentials make sense (and no secret hides in the URL)."""
    where = f"sources[{i}]"
    url_node = _child(root, "sources", i, "url")
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
            ctx.problem(_child(root, "sources", i, "semver"), f"{where}.semver", str(exc))
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
    auth_node = _child(root, "sources", i, "auth")
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
