"""Loading ``gitopsd.yaml``: YAML to the dataclasses of ``daemon.settings.schema``.

``load`` parses YAML keeping every node's line, converts it field by field against the
dataclass annotations, and collects every problem as ``FILE:LINE: key.path: what is wrong``
instead of stopping at the first one. The cross-checks (``daemon.settings.checks``) run
after, on the converted value, and report in the same form.

Strings may reference environment variables as ``${NAME}`` (``$${`` is a literal
``${``). Values that came from the environment are treated as secrets: error messages
never echo them, and ``Secret`` fields print as ``***``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import re
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import yaml

from daemon import configfile
from daemon.errors import ConfigError, UsageError
from daemon.settings import checks, destinations, schema
from daemon.settings.schema import (
    CONFIG_ENV,
    DEFAULT_CONFIG,
    DNS1123,
    AppConfig,
    ByteSize,
    Config,
    Duration,
    Name,
    Secret,
    Sensitive,
    YamlMapping,
    default_state_dir,
    shown,
)


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


_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)(ms|s|m|h|d))+$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_BYTE_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([KMGT]i?)?B?$")
_UNIT_BYTES = {
    **{u: 1000**i for i, u in enumerate(("", "K", "M", "G", "T"))},
    **{u + "i": 1024**i for i, u in enumerate(("K", "M", "G", "T"), start=1)},
}
_ENV_REF = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


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
    checks.cross_check(config, ctx, root)
    destinations.cross_check(config, ctx, root)
    if ctx.problems:
        raise ConfigError(ctx.sorted_problems())
    state_dir = config.state_dir or default_state_dir()
    apps = [_with_helm_defaults(app) for app in config.apps]
    return dataclasses.replace(
        config,
        state_dir=state_dir,
        path=filename,
        apps=apps,
        env_refs=dict(ctx.env_refs),
        warnings=tuple(ctx.sorted_warnings()),
    )


def _with_helm_defaults(app: AppConfig) -> AppConfig:
    """Fill ``render.helm``'s release name and namespace from the app (Argo CD's defaults).

    Only for apps that may render as Helm (``type`` helm or auto): the other types never
    read ``render.helm``, so their settings stay exactly as written. A namespace templated
    per target is no default (Helm renders once for every target): it is left empty
    (``""``), which the Helm renderer refuses with a message saying to set it.
    """
    if app.render.type not in ("helm", "auto"):
        return app
    namespace = app.destination.namespace
    helm = dataclasses.replace(
        app.render.helm,
        release_name=app.render.helm.release_name or app.name,
        namespace=app.render.helm.namespace
        or ("" if destinations.is_templated(namespace) else namespace),
    )
    return dataclasses.replace(app, render=dataclasses.replace(app.render, helm=helm))


@dataclasses.dataclass
class _Context:
    filename: str
    environ: Mapping[str, str]
    problems: list[str] = dataclasses.field(default_factory=list)
    lines: list[int] = dataclasses.field(default_factory=list)
    env_refs: dict[str, str] = dataclasses.field(default_factory=dict)
    warnings: list[tuple[int, str]] = dataclasses.field(default_factory=list)

    def problem(self, node: yaml.Node, path: str, message: str) -> None:
        self.problems.append(self._located(node, path, message))
        self.lines.append(node.start_mark.line)

    def warn(self, node: yaml.Node, path: str, message: str) -> None:
        """Record something valid that may not do what was meant (it loads all the same)."""
        self.warnings.append((node.start_mark.line, self._located(node, path, message)))

    def _located(self, node: yaml.Node, path: str, message: str) -> str:
        return f"{self.filename}:{node.start_mark.line + 1}: {path or '(top level)'}: {message}"

    def sorted_problems(self) -> list[str]:
        """Problems in file order (stable for problems on the same line)."""
        order = sorted(range(len(self.problems)), key=lambda i: self.lines[i])
        return [self.problems[i] for i in order]

    def sorted_warnings(self) -> list[str]:
        """Warnings in file order (stable for warnings on the same line)."""
        return [text for _, text in sorted(self.warnings, key=lambda w: w[0])]

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
        fields = _schema(cls)
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
            field = fields[key]
            values[field.name] = self.convert(field.type, value_node, child)
        for key, field in fields.items():
            if field.required and key not in seen:
                self.problem(node, f"{path}.{key}" if path else key, "required key is missing")
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
        return Sensitive(text) if secret else text

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


@dataclasses.dataclass(frozen=True, slots=True)
class _Field:
    """A schema field as the file spells it: its dataclass name, type and whether required."""

    name: str
    type: Any
    required: bool


@functools.cache
def _schema(cls: type) -> dict[str, _Field]:
    """A schema class's file fields by YAML key (``get_type_hints`` is slow: once per class).

    The YAML key is the field's name unless its ``metadata["key"]`` says otherwise
    (``matchLabels`` for ``match_labels``: the spelling Kubernetes users know).
    """
    hints = typing.get_type_hints(cls)
    return {
        schema.yaml_key(f): _Field(
            name=f.name,
            type=hints[f.name],
            required=f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
        )
        for f in dataclasses.fields(cls)
        if not f.metadata.get("internal")
    }


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
    if len(value) > 63 or not DNS1123.match(value):
        ctx.problem(
            node,
            path,
            f"{shown(value)} is not a DNS-1123 label (lowercase letters, digits and '-', "
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
            f"bad duration {shown(value)}: write a number and a unit, e.g. 30s, 5m, 1h, 7d",
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
                node, path, f"bad size {shown(text)}: write a number and a unit, e.g. 256Mi, 1Gi"
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
