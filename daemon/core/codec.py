"""Encoding of events (and of any frozen dataclass tree) to JSON and back.

Events are frozen dataclasses registered under a permanent type name and a schema
version. ``encode`` turns one into ``(type, schema_version, bytes)``; ``decode`` reads
that back, first passing old payloads through the upcasters registered for their
(type, version), so a stored event of any past version decodes to today's class.

Payloads are written by msgspec and read by orjson into compiled builders (msgspec's
own decoders would be faster still, but ignore unknown fields of a dataclass, which
this codec refuses). Decoding is compiled once per class: a field whose annotation is
a plain JSON value is copied as is; tuples, nested dataclasses, mappings and enums get
a converter. This keeps replay of a million events fast without a generic, reflective
walk per event.
The codec never skips: an unknown type or a payload that does not fit its class raises
``DecodeError``; the caller adds the position.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Protocol, TypeVar, cast

import msgspec
import orjson

MAX_PAYLOAD_BYTES = 1024 * 1024


class DecodeError(Exception):
    """A stored payload cannot be turned into an event."""


class PayloadTooLargeError(ValueError):
    """An event's encoded payload exceeds ``MAX_PAYLOAD_BYTES``."""


class Event(Protocol):
    """What every registered event class provides (set by ``@event``)."""

    TYPE: ClassVar[str]
    VERSION: ClassVar[int]


E = TypeVar("E")
T = TypeVar("T")

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
Converter = Callable[[Any], Any]

JsonDecoder = Callable[[bytes | str], Any]

_REGISTRY: dict[str, type[Any]] = {}
_UPCASTERS: dict[tuple[str, int], Upcaster] = {}
_DECODERS: dict[type[Any], Converter] = {}
_JSON_DECODERS: dict[type[Any], JsonDecoder] = {}
_CURRENT: dict[str, tuple[int, JsonDecoder]] = {}
"""type name -> (current version, JSON-to-event function), filled on first decode."""
_ENCODING: dict[type[Any], tuple[str, int]] = {}
_ENCODER = msgspec.json.Encoder()


def event(type_name: str, *, version: int = 1) -> Callable[[type[E]], type[E]]:
    """Register a frozen dataclass as an event with a permanent type name and version."""

    def register(cls: type[E]) -> type[E]:
        if type_name in _REGISTRY and _REGISTRY[type_name] is not cls:
            raise TypeError(f"event type {type_name!r} registered twice")
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"event {type_name!r} must be a dataclass")
        cls.TYPE = type_name  # type: ignore[attr-defined]
        cls.VERSION = version  # type: ignore[attr-defined]
        _REGISTRY[type_name] = cls
        return cls

    return register


def upcaster(type_name: str, *, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register a function that turns a payload of ``from_version`` into ``from_version + 1``."""

    def register(fn: Upcaster) -> Upcaster:
        _UPCASTERS[(type_name, from_version)] = fn
        return fn

    return register


def registered_types() -> dict[str, type[Any]]:
    """Every registered event class by type name (a copy)."""
    return dict(_REGISTRY)


def encode(evt: object) -> tuple[str, int, bytes]:
    """Type name, schema version and JSON payload of an event."""
    cls = type(evt)
    known = _ENCODING.get(cls)
    if known is None:
        type_name: str = getattr(cls, "TYPE", "")
        if _REGISTRY.get(type_name) is not cls:
            raise TypeError(f"{cls.__name__} is not a registered event")
        known = _ENCODING[cls] = (type_name, cast("int", cls.VERSION))
    # msgspec writes a slotted dataclass about four times faster than orjson (which reads
    # each slot through getattr); the JSON is the same: fields in order, enums by value.
    data = _ENCODER.encode(evt)
    if len(data) > MAX_PAYLOAD_BYTES:
        raise PayloadTooLargeError(
            f"event {known[0]} payload is {len(data)} bytes, "
            f"over the {MAX_PAYLOAD_BYTES}-byte limit"
        )
    return known[0], known[1], data


def current_decoders() -> Mapping[str, tuple[int, JsonDecoder]]:
    """Type name -> (current schema version, JSON payload -> event), for types decoded so far.

    For a caller that decodes many rows (replay) without a call into ``decode`` per row.
    A function takes only a payload of exactly its class's fields, which is what
    ``encode`` writes; on anything else it raises (any exception), and the caller then
    calls ``decode``, which decodes it the slow way or raises ``DecodeError``. The
    mapping is live: ``decode`` adds a type the first time it decodes one.
    """
    return _CURRENT


def decode(type_name: str, schema_version: int, data: bytes | str | dict[str, Any]) -> Any:
    """Rebuild an event from its stored form, upcasting old versions first."""
    fast = _CURRENT.get(type_name)
    if fast is not None and fast[0] == schema_version and type(data) is not dict:
        # The replay path: a payload of today's version, one call that parses and builds.
        try:
            return fast[1](cast("bytes | str", data))
        except (TypeError, ValueError, KeyError, AttributeError):
            pass  # decoded again below, for an error that says what is wrong
    cls = _REGISTRY.get(type_name)
    if cls is None:
        raise DecodeError(f"unknown event type {type_name!r}")
    if isinstance(data, dict):
        payload: Any = data
    else:
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise DecodeError(f"{type_name}: payload is not JSON: {exc}") from exc
    if schema_version != cls.VERSION:
        payload = _upcast(type_name, schema_version, cls.VERSION, payload)
    try:
        convert = _DECODERS.get(cls) or _decoder_for(cls)
        _CURRENT[type_name] = (cls.VERSION, _JSON_DECODERS[cls])
        return convert(payload)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise DecodeError(f"{type_name} v{schema_version}: {exc}") from exc


def _upcast(type_name: str, stored: int, current: int, payload: Any) -> Any:
    if stored > current:
        raise DecodeError(
            f"{type_name}: schema version {stored} is newer than this gitopsd knows ({current})"
        )
    version = stored
    while version < current:
        up = _UPCASTERS.get((type_name, version))
        if up is None:
            raise DecodeError(f"{type_name}: no upcaster from schema version {version}")
        if type(payload) is not dict:
            raise DecodeError(f"{type_name}: payload is not a JSON object")
        payload = up(payload)
        version += 1
    return payload


def from_primitive(cls: type[T], data: Any) -> T:
    """Rebuild a dataclass tree from the JSON value orjson made of it."""
    return cast("T", _decoder_for(cls)(data))


def dumps(value: object) -> bytes:
    """Canonical JSON: sorted keys, no whitespace (the form digests are taken of)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def digest(value: object) -> str:
    """sha256 hex of the canonical JSON of a value."""
    return hashlib.sha256(dumps(value)).hexdigest()


# -- compiled converters ------------------------------------------------------------


def _identity(value: Any) -> Any:
    return value


def _decoder_for(tp: Any) -> Converter:
    cached = _DECODERS.get(tp) if isinstance(tp, type) else None
    if cached is not None:
        return cached
    conv = _build(tp)
    if isinstance(tp, type):
        _DECODERS[tp] = conv
    return conv


def _build(tp: Any) -> Converter:
    if tp in (str, int, bool, type(None), Any, object):
        return _identity
    if tp is float:
        return _to_float
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return _build_union(typing.get_args(tp))
    if origin is tuple:
        return _build_tuple(typing.get_args(tp))
    if origin in (dict, Mapping, typing.Mapping):
        key_t, val_t = typing.get_args(tp)
        return _build_mapping(key_t, val_t)
    if origin is list:
        (item_t,) = typing.get_args(tp)
        item = _decoder_for(item_t)
        return lambda v: [item(x) for x in v] if item is not _identity else list(v)
    if origin is typing.Literal:
        return _identity
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _build_dataclass(tp)
    if isinstance(tp, typing.NewType):
        return _decoder_for(tp.__supertype__)
    raise TypeError(f"cannot decode values of type {tp!r}")


def _to_float(value: Any) -> float:
    return float(value)


def _build_union(args: tuple[Any, ...]) -> Converter:
    non_none = [a for a in args if a is not type(None)]
    if len(non_none) == 1:
        inner = _decoder_for(non_none[0])
        if inner is _identity:
            return _identity
        return lambda v: None if v is None else inner(v)
    convs = [_decoder_for(a) for a in non_none]
    if all(c is _identity for c in convs):
        return _identity
    raise TypeError(f"cannot decode a union of structured types {args!r}")


def _build_tuple(args: tuple[Any, ...]) -> Converter:
    if len(args) == 2 and args[1] is Ellipsis:
        item = _decoder_for(args[0])
        if item is _identity:
            return tuple
        return lambda v: tuple(item(x) for x in v)
    convs = [_decoder_for(a) for a in args]
    return lambda v: tuple(c(x) for c, x in zip(convs, v, strict=True))


def _build_mapping(key_t: Any, val_t: Any) -> Converter:
    key = _decoder_for(key_t)
    val = _decoder_for(val_t)
    if key is _identity and val is _identity:
        return dict
    return lambda v: {key(k): val(x) for k, x in v.items()}


def _build_dataclass(cls: type[Any]) -> Converter:
    hints = typing.get_type_hints(cls)
    fields = [f for f in dataclasses.fields(cls) if f.init]
    # Placeholder while building, so recursive types resolve to this converter.
    _DECODERS[cls] = lambda v: convert(v)  # noqa: PLW0108 - convert is defined below
    convs = {f.name: _decoder_for(hints[f.name]) for f in fields}
    names = frozenset(convs)

    def checked(value: Any) -> Any:
        """Slow path: payloads missing defaulted fields, or malformed ones."""
        if type(value) is not dict:
            raise TypeError(f"{cls.__name__}: expected an object, got {type(value).__name__}")
        if not names.issuperset(value):
            unknown = sorted(set(value) - names)
            raise TypeError(f"{cls.__name__}: unknown fields {unknown}")
        try:
            return with_defaults(value)
        except KeyError as exc:
            raise TypeError(f"{cls.__name__}: missing field {exc.args[0]!r}") from None

    with_defaults = _compile_builder(cls, fields, convs, names=names, fallback=None)
    convert = _compile_builder(cls, fields, convs, names=names, fallback=checked)
    _JSON_DECODERS[cls] = _compile_builder(
        cls, fields, convs, names=names, fallback=checked, parse=True
    )
    _DECODERS[cls] = convert
    return convert


def _compile_builder(
    cls: type[Any],
    fields: list[dataclasses.Field[Any]],
    convs: dict[str, Converter],
    *,
    names: frozenset[str],
    fallback: Converter | None,
    parse: bool = False,
) -> Converter:
    """A constructor for decoding: sets each slot directly from the JSON object.

    A frozen dataclass's ``__init__`` goes through ``object.__setattr__`` per field,
    which dominates replay time. The builder instead fills a plain twin of the class
    (same bases, same ``__slots__``, so the same memory layout) with ordinary attribute
    stores, which the interpreter does at the speed of a slot write, and then gives
    the object its real class (``__class__`` assignment, allowed between classes of one
    layout). A class whose twin does not fit gets its slots set through their
    descriptors. This is how ``dataclasses`` itself generates code: exec.
    With ``fallback``, the builder takes the fast path only for a dict holding exactly
    the class's fields (what ``encode`` always writes) and hands anything else to it;
    without, it fills missing defaulted fields. With ``parse``, it takes JSON text and
    parses it first. Classes without slots, or with ``__post_init__``, use their
    ``__init__``.
    """
    if "__slots__" not in cls.__dict__ or hasattr(cls, "__post_init__"):
        build_dict = _init_builder(cls, fallback)
        if parse:
            return lambda data: build_dict(orjson.loads(data))
        return build_dict
    target = _writable_twin(cls)
    env: dict[str, Any] = {
        "_new": object.__new__,
        "_cls": cls,
        "_twin": target,
        "_names": names,
        "_fb": fallback,
        "_loads": orjson.loads,
    }
    lines = ["def build(v):"]
    if parse:
        lines.append("    v = _loads(v)")
    indent = "    "
    if fallback is not None:
        # Exactly the class's fields: as many keys as fields, and every field found
        # (a missing one raises KeyError, an unknown one would leave one missing).
        lines.append(f"    if type(v) is not dict or len(v) != {len(fields)}: return _fb(v)")
        lines.append("    try:")
        indent = "        "
    lines.append(f"{indent}o = _new({'_cls' if target is None else '_twin'})")
    for i, f in enumerate(fields):
        get = _field_getter(i, f, convs[f.name], env, fill_defaults=fallback is None)
        if target is None:
            env[f"s{i}"] = cls.__dict__[f.name].__set__
            lines.append(f"{indent}s{i}(o, {get})")
        else:
            lines.append(f"{indent}o.{f.name} = {get}")
    if fallback is not None:
        lines.append("    except KeyError:")
        lines.append("        return _fb(v)")
    if target is not None and target is not cls:
        lines.append("    o.__class__ = _cls")
    lines.append("    return o")
    exec("\n".join(lines), env)  # noqa: S102 - generated from the dataclass's own fields
    builder: Converter = env["build"]
    return builder


def _init_builder(cls: type[Any], fallback: Converter | None) -> Converter:
    if fallback is None:
        return lambda v: cls(**v)
    return lambda v: cls(**(v if type(v) is dict else fallback(v)))


def _field_getter(
    i: int,
    f: dataclasses.Field[Any],
    conv: Converter,
    env: dict[str, Any],
    *,
    fill_defaults: bool,
) -> str:
    """The expression that reads field ``f`` from the JSON object ``v`` (and converts it)."""
    if not fill_defaults or (
        f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ):
        get = f"v[{f.name!r}]"
    elif f.default is not dataclasses.MISSING:
        env[f"d{i}"] = f.default
        get = f"v.get({f.name!r}, d{i})"
    else:
        env[f"f{i}"] = f.default_factory
        get = f"(v[{f.name!r}] if {f.name!r} in v else f{i}())"
    if conv is not _identity:
        env[f"c{i}"] = conv
        get = f"c{i}({get})"
    return get


_OBJECT_SETATTR: object = object.__setattr__


def _writable_twin(cls: type[Any]) -> type[Any] | None:
    """``cls`` when plain attribute stores work on it, else a twin of the same layout.

    A frozen dataclass refuses attribute stores (its ``__setattr__`` raises); its twin
    has the same bases and ``__slots__`` but the default ``__setattr__``, so a builder
    fills the twin and then assigns ``__class__``. None when no twin fits (a base with
    its own ``__setattr__``, or a layout Python will not let ``__class__`` move between).
    """
    if cls.__setattr__ is _OBJECT_SETATTR:
        return cls
    twin = type(f"{cls.__name__}Builder", cls.__bases__, {"__slots__": cls.__dict__["__slots__"]})
    if twin.__setattr__ is not _OBJECT_SETATTR:
        return None
    probe: Any = object.__new__(twin)
    try:
        probe.__class__ = cls
    except TypeError:
        return None
    return twin


# -- upcasters ------------------------------------------------------------------------


@upcaster("ObjectApplied", from_version=1)
def _object_applied_v1(payload: dict[str, Any]) -> dict[str, Any]:
    """v2 added ``hook`` (the generateName hook an instance belongs to): none before."""
    return {**payload, "hook": ""}


_BEFORE_TARGETS = {
    "SyncFinished": 1,
    "HealthChanged": 1,
    "AppPinned": 1,
    "AppUnpinned": 1,
    "SyncRequested": 1,
    "SyncPlanned": 1,
    "ObjectApplied": 2,
    "ObjectPruned": 1,
    "HookDeleted": 1,
    "StepFailed": 1,
}
"""The last version of each app event before events named their target."""


def _no_target(payload: dict[str, Any]) -> dict[str, Any]:
    """Events written before targets had one destination: ``""`` names it (see events)."""
    return {**payload, "target": ""}


for _type_name, _version in _BEFORE_TARGETS.items():
    upcaster(_type_name, from_version=_version)(_no_target)
