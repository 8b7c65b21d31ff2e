"""The effective configuration: a loaded ``Config`` written back as YAML, every default filled in.

``config check --effective`` prints it. The output is itself a valid ``gitopsd.yaml``
that loads back to an equal ``Config`` (with the same environment), except for
literal secrets: a ``Secret`` is never written out. A value that used ``${ENV}`` is
written as it was in the file (the reference, not its value); a ``Secret`` whose value
is exactly one ``${NAME}`` reference keeps it, any other secret is ``***``. Durations
are written in the file's units (``90s`` as ``1m30s``). Loading and validation are
``daemon.settings.loader`` and ``daemon.settings.checks``; this module only writes.
"""

from __future__ import annotations

import dataclasses
import decimal
import re
import types
import typing
from typing import Any

import yaml

from daemon import settings

HIDDEN = "***"

_WHOLE_REF = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$")
_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def effective(config: settings.Config) -> str:
    """``config`` as the YAML of a ``gitopsd.yaml`` with every key set, secrets hidden."""
    document = _value(config, settings.Config, "", config.env_refs)
    header = (
        f"# Effective configuration of {config.path}: every default filled in.\n"
        f"# Secrets are {HIDDEN} unless written as one ${{NAME}} reference.\n"
        f"# ${settings.DATABASE_URL_ENV}, when set, overrides database.url.\n"
    )
    body = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    return header + body


def format_duration(seconds: float) -> str:
    """A duration string that ``settings.parse_duration`` reads back as exactly ``seconds``."""
    if seconds == int(seconds) and seconds >= 1:
        left, parts = int(seconds), []
        for unit, size in _UNITS:
            if left >= size:
                parts.append(f"{left // size}{unit}")
                left %= size
        return "".join(parts)
    # repr is the shortest text that reads back as the same float; "f" spells out 1e-05
    return f"{decimal.Decimal(repr(seconds)):f}s"


def _value(value: Any, tp: Any, path: str, refs: typing.Mapping[str, str]) -> Any:
    if path in refs:
        return _reference(refs[path], is_secret=_is_secret(tp))
    if value is None:
        return None
    tp = _unoptional(tp)
    if isinstance(value, settings.Secret):
        return HIDDEN
    if tp is settings.YamlMapping:
        return value  # free-form (Helm values): read back as written, no ${ENV} expansion
    if dataclasses.is_dataclass(value):
        hints = typing.get_type_hints(type(value))
        out: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            if f.metadata.get("internal"):
                continue
            key = settings.yaml_key(f)  # matchLabels, not match_labels
            out[key] = _value(getattr(value, f.name), hints[f.name], _child(path, key), refs)
        return out
    if isinstance(value, list):
        (item_t,) = typing.get_args(tp)
        return [_value(v, item_t, f"{path}[{i}]", refs) for i, v in enumerate(value)]
    if isinstance(value, dict):
        value_t = typing.get_args(tp)[1]
        return {k: _value(v, value_t, f"{path}.{k}", refs) for k, v in value.items()}
    if tp is settings.Duration:
        return format_duration(value)
    if isinstance(value, str):
        return value.replace("${", "$${")  # read back literally, not as a reference
    return value


def _reference(raw: str, *, is_secret: bool) -> str:
    if is_secret and not _WHOLE_REF.match(raw):
        return HIDDEN  # text around the reference is part of the secret
    return raw


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _unoptional(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return next(a for a in typing.get_args(tp) if a is not type(None))
    return tp


def _is_secret(tp: Any) -> bool:
    return _unoptional(tp) is settings.Secret
