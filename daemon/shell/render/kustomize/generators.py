"""ConfigMap and Secret generators, and the content hash kustomize appends to their names.

Sources are read in kustomize's order (env files, then literals, then files); keys
must be valid ConfigMap keys and may not repeat. ConfigMap values that are not UTF-8
go to ``binaryData``; Secret values are base64 with a line break every 70 characters
(and a trailing one) once they reach 70, exactly as kustomize writes them, since the
hash covers them. Reading files goes through ``target``'s loader (root-restricted).

The hash is kustomize's: sha256 of a canonical JSON of kind, name, data (and type,
binaryData/stringData when present), first ten hex digits with ``0 1 3 a e`` mapped
to ``g h k m t``. kustomize's name lookup in that JSON misses (it looks up a field
literally named ``metadata/name``), so the name is always empty there; we do the same
so our suffixes equal kustomize's.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from daemon.shell.render.kustomize import kfile
from daemon.shell.render.kustomize.resource import Resource
from daemon.shell.render.result import RenderError

_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_HASH_MAP = str.maketrans("013ae", "ghkmt")
_BASE64_LINE = 70

Load = Callable[[str], bytes]
"""Reads a path relative to the kustomization directory (with kustomize's restrictions)."""


def merged_options(
    local: kfile.GeneratorOptions | None, global_: kfile.GeneratorOptions | None
) -> kfile.GeneratorOptions | None:
    """A generator's options with ``generatorOptions`` folded in (local keys win)."""
    if global_ is None:
        return local
    local = local or kfile.GeneratorOptions()
    return kfile.GeneratorOptions(
        labels=_override(local.labels, global_.labels),
        annotations=_override(local.annotations, global_.annotations),
        disable_name_suffix_hash=local.disable_name_suffix_hash or global_.disable_name_suffix_hash,
        immutable=local.immutable or global_.immutable,
    )


def _override(
    local: dict[str, str] | None, global_: dict[str, str] | None
) -> dict[str, str] | None:
    if local is None:
        return dict(global_) if global_ is not None else None
    return {**(global_ or {}), **local}


def generate(
    args: kfile.GeneratorArgs, *, secret: bool, load: Load, file: str, line: int | None
) -> Resource:
    """The ConfigMap or Secret an entry describes, marked for hashing unless disabled."""
    kind = "Secret" if secret else "ConfigMap"
    if not args.name:
        raise RenderError(f"a {kind.lower()} generator entry has no name", file=file, line=line)
    pairs = _pairs(args, load=load, file=file, line=line)
    body: dict[str, Any] = {"apiVersion": "v1", "kind": kind, "metadata": {"name": args.name}}
    if args.namespace:
        body["metadata"]["namespace"] = args.namespace
    if secret:
        body["type"] = args.type or "Opaque"
        body["data"] = {k: _base64(v) for k, v in sorted(pairs.items())}
    else:
        _config_map_data(body, pairs)
    _apply_options(body, args.options)
    behavior = args.behavior if args.behavior in ("create", "merge", "replace") else "unspecified"
    options = args.options
    return Resource(
        body=body,
        file=file,
        line=line,
        behavior=behavior,
        needs_hash=not (options is not None and options.disable_name_suffix_hash),
    )


def _config_map_data(body: dict[str, Any], pairs: dict[str, bytes]) -> None:
    for key, value in sorted(pairs.items()):
        try:
            body.setdefault("data", {})[key] = value.decode("utf-8")
        except UnicodeDecodeError:
            body.setdefault("binaryData", {})[key] = _base64(value)


def _apply_options(body: dict[str, Any], options: kfile.GeneratorOptions | None) -> None:
    if options is None:
        return
    if options.labels:
        body["metadata"]["labels"] = dict(sorted(options.labels.items()))
    if options.annotations:
        body["metadata"]["annotations"] = dict(sorted(options.annotations.items()))
    if options.immutable:
        body["immutable"] = True


def _base64(value: bytes) -> str:
    encoded = base64.b64encode(value).decode("ascii")
    if len(encoded) < _BASE64_LINE:
        return encoded
    lines = [encoded[i : i + _BASE64_LINE] for i in range(0, len(encoded), _BASE64_LINE)]
    return "".join(f"{line}\n" for line in lines)


def _pairs(
    args: kfile.GeneratorArgs, *, load: Load, file: str, line: int | None
) -> dict[str, bytes]:
    found: list[tuple[str, bytes]] = []
    for env in args.envs:
        found.extend(_env_pairs(load(env), source=env, file=file))
    found.extend(_literal(literal, file=file, line=line) for literal in args.literals)
    for source in args.files:
        key, path = _file_source(source, file=file, line=line)
        found.append((key, load(path)))
    pairs: dict[str, bytes] = {}
    for key, value in found:
        if len(key) > 253 or not _CONFIG_KEY.match(key):
            raise RenderError(
                f"{args.name}: invalid key {key!r} (alphanumerics, '-', '_' or '.')",
                file=file,
                line=line,
            )
        if key in pairs:
            raise RenderError(
                f"configmap {args.name} illegally repeats the key `{key}`", file=file, line=line
            )
        pairs[key] = value
    return pairs


def _literal(source: str, *, file: str, line: int | None) -> tuple[str, bytes]:
    key, equals, value = source.partition("=")
    if not equals or not key:
        raise RenderError(
            f"invalid literal source {source!r}, expected key=value", file=file, line=line
        )
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return key, value.encode()


def _file_source(source: str, *, file: str, line: int | None) -> tuple[str, str]:
    separators = source.count("=")
    if separators == 0:
        return source.rsplit("/", 1)[-1], source
    key, _, path = source.partition("=")
    if separators > 1 or not key or not path:
        raise RenderError(
            f"invalid file source {source!r}: want PATH or KEY=PATH", file=file, line=line
        )
    return key, path


def _env_pairs(content: bytes, *, source: str, file: str) -> list[tuple[str, bytes]]:
    pairs: list[tuple[str, bytes]] = []
    for number, raw in enumerate(content.split(b"\n")):
        line_bytes = raw.removesuffix(b"\r")
        if number == 0:
            line_bytes = line_bytes.removeprefix(b"\xef\xbb\xbf")
        try:
            text = line_bytes.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RenderError(f"line {number + 1} is not valid UTF-8", file=source) from exc
        text = text.lstrip()
        if not text or text.startswith("#"):
            continue
        key, _, value = text.partition("=")
        if not _ENV_NAME.match(key):
            raise RenderError(
                f"{key!r} is not a valid environment variable name (line {number + 1}, "
                f"used by {file})",
                file=source,
            )
        pairs.append((key, value.encode()))
    return pairs


def content_hash(body: dict[str, Any]) -> str:
    """Kustomize's hash suffix for a ConfigMap or Secret body (other kinds: whole body)."""
    kind = body.get("kind")
    if kind == "ConfigMap":
        encoded: dict[str, Any] = {"kind": "ConfigMap", "name": "", "data": _or_empty(body, "data")}
        if isinstance(body.get("binaryData"), dict):
            encoded["binaryData"] = body["binaryData"]
    elif kind == "Secret":
        encoded = {
            "kind": "Secret",
            "type": _scalar(body.get("type")),
            "name": "",
            "data": _or_empty(body, "data"),
        }
        if isinstance(body.get("stringData"), dict):
            encoded["stringData"] = body["stringData"]
    else:
        encoded = body
    return encode(_go_json(encoded))


def _or_empty(body: dict[str, Any], key: str) -> Any:
    value = body.get(key)
    if value is None:
        return ""
    return value if isinstance(value, (dict, list)) else _scalar(value)


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _go_json(value: Any) -> str:
    """JSON as Go's encoding/json writes it: sorted keys, no spaces, HTML-safe escapes."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def encode(text: str) -> str:
    """The ten-character suffix of ``text``'s sha256."""
    return hashlib.sha256(text.encode()).hexdigest()[:10].translate(_HASH_MAP)
