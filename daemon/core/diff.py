"""Does a live object still match what gitopsd applies? A fast, pure comparison.

``compare(desired, live)`` answers with the list of differences, empty when applying
``desired`` again would change nothing that gitopsd asks for:

* every field ``desired`` sets must hold the same value in ``live`` (fields only the
  server or other managers set are ignored: defaults, status, injected sidecars);
* every field gitopsd's own Apply owns in ``live`` (its managedFields entry) but
  ``desired`` no longer sets is a difference too: server-side apply would remove it.

Values are compared by meaning where the API server rewrites them: resource
quantities (``500m`` == ``0.5``), Secret ``stringData`` (the server moves it into
``data``), numbers (``1`` == ``1.0``). Lists of objects with a well-known merge key
(containers by name, ports by number, env by name, ...) are matched by that key;
other lists are compared whole, item by item. Whether a difference is real is
finally confirmed by the server (dry-run) in the shell; this module only decides
what to ask.
"""

from __future__ import annotations

import dataclasses
import decimal
import re
from collections.abc import Mapping
from typing import Any

import orjson

MANAGER = "gitopsd"


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()
"""Stands for an absent field in a Difference."""


@dataclasses.dataclass(frozen=True, slots=True)
class Difference:
    """One field that differs: its path (``.spec.replicas``) and both values."""

    path: str
    desired: Any
    live: Any

    def describe(self) -> str:
        """``.spec.replicas: 3 -> 5`` (desired first: what applying would set)."""
        return f"{self.path}: {_short(self.live)} -> {_short(self.desired)}"


# Lists whose items are matched by these keys (the API's merge keys), by field name.
MERGE_KEYS: dict[str, tuple[str, ...]] = {
    "containers": ("name",),
    "initContainers": ("name",),
    "ephemeralContainers": ("name",),
    "volumes": ("name",),
    "env": ("name",),
    "volumeMounts": ("mountPath",),
    "volumeDevices": ("devicePath",),
    "imagePullSecrets": ("name",),
    "hostAliases": ("ip",),
    "topologySpreadConstraints": ("topologyKey", "whenUnsatisfiable"),
    "resourceClaims": ("name",),
    "schedulingGates": ("name",),
    "ownerReferences": ("uid",),
}
_PORT_KEYS = ("containerPort", "port")
_QUANTITY_PARENTS = frozenset({"requests", "limits", "hard", "capacity", "allocatable"})
_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eE][+-]?[0-9]+|[numkMGTPE]i?|Ki)?$")
_SUFFIX: dict[str, int | decimal.Decimal] = {
    "": 1,
    "n": decimal.Decimal("1e-9"),
    "u": decimal.Decimal("1e-6"),
    "m": decimal.Decimal("1e-3"),
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}
# Server-owned or meaningless-to-compare top-level metadata fields.
_METADATA_IGNORED = frozenset(
    {
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "managedFields",
        "selfLink",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    }
)


def compare(desired: Mapping[str, Any], live: Mapping[str, Any]) -> list[Difference]:
    """Differences between what gitopsd applies and the live object (empty: in sync)."""
    want = normalize(desired)
    out: list[Difference] = []
    for key, value in want.items():
        if key in ("status", "apiVersion", "kind"):
            continue
        if key == "metadata":
            _metadata(value, live.get("metadata") or {}, out)
            continue
        _value(value, live.get(key, MISSING), f".{key}", out, field=key, parent="")
    owned = owned_fields(live)
    if owned:
        _removed(owned, want, live, "", out)
    return out


def is_in_sync(desired: Mapping[str, Any], live: Mapping[str, Any]) -> bool:
    """True when ``compare`` finds nothing."""
    return not compare(desired, live)


def normalize(desired: Mapping[str, Any]) -> dict[str, Any]:
    """The desired body as the server will hold it where that changes comparisons.

    Secret ``stringData`` is merged into ``data`` (the digests of redacted values are
    the same in both fields); ``status`` and a null ``creationTimestamp`` are dropped.
    """
    out = dict(desired)
    out.pop("status", None)
    meta = out.get("metadata")
    if isinstance(meta, dict) and "creationTimestamp" in meta:
        out["metadata"] = {k: v for k, v in meta.items() if k != "creationTimestamp"}
    if out.get("kind") == "Secret" and isinstance(out.get("stringData"), dict):
        data = dict(out.get("data") or {})
        data.update(out.pop("stringData"))
        out["data"] = data
    return out


def owned_fields(live: Mapping[str, Any], manager: str = MANAGER) -> dict[str, Any] | None:
    """The FieldsV1 set of ``manager``'s Apply on the main resource, if any."""
    entries = (live.get("metadata") or {}).get("managedFields") or []
    for entry in entries:
        if (
            entry.get("manager") == manager
            and entry.get("operation") == "Apply"
            and not entry.get("subresource")
        ):
            fields = entry.get("fieldsV1")
            return fields if isinstance(fields, dict) else None
    return None


# -- desired ⊆ live --------------------------------------------------------------------


def _metadata(want: Mapping[str, Any], have: Mapping[str, Any], out: list[Difference]) -> None:
    for key, value in want.items():
        if key in _METADATA_IGNORED:
            continue
        _value(value, have.get(key, MISSING), f".metadata.{key}", out, field=key, parent="metadata")


def _value(
    want: Any, have: Any, path: str, out: list[Difference], *, field: str, parent: str
) -> None:
    if want is None:
        if have is not MISSING and have is not None:
            out.append(Difference(path, None, have))
        return
    if isinstance(want, dict):
        if not isinstance(have, dict):
            if want or have is not MISSING:
                out.append(Difference(path, want, have))
            return
        for key, value in want.items():
            _value(value, have.get(key, MISSING), f"{path}.{key}", out, field=key, parent=field)
        return
    if isinstance(want, list):
        _list(want, have, path, field, out)
        return
    if want == have and type(want) is not bool and type(have) is not bool:
        return
    if type(want) is bool or type(have) is bool:
        if want is have:
            return
    elif parent in _QUANTITY_PARENTS and _same_quantity(want, have):
        return
    out.append(Difference(path, want, have))


def _list(want: list[Any], have: Any, path: str, field: str, out: list[Difference]) -> None:
    if not isinstance(have, list):
        if want or (have is not MISSING and have is not None):
            out.append(Difference(path, want, have))
        return
    keys = _merge_keys(field, want)
    if keys is None:
        if len(want) != len(have):
            out.append(Difference(path, want, have))
            return
        for i, (w, h) in enumerate(zip(want, have, strict=True)):
            _value(w, h, f"{path}[{i}]", out, field=field, parent=field)
        return
    index = {_item_key(item, keys): item for item in have if isinstance(item, dict)}
    for item in want:
        ident = _item_key(item, keys)
        label = _render_key(keys, ident)
        _value(item, index.get(ident, MISSING), f"{path}[{label}]", out, field=field, parent=field)


def _merge_keys(field: str, items: list[Any]) -> tuple[str, ...] | None:
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    if field == "ports":
        for key in _PORT_KEYS:
            if all(key in i for i in items):
                return (key, "protocol")
        return None
    keys = MERGE_KEYS.get(field)
    if keys is None or not all(all(k in i for k in keys) for i in items):
        return None
    return keys


def _item_key(item: Mapping[str, Any], keys: tuple[str, ...]) -> tuple[Any, ...]:
    # A port's protocol defaults to TCP on the server (KUBE_API.md §4.3).
    return tuple(item.get(k, "TCP" if k == "protocol" else None) for k in keys)


def _render_key(keys: tuple[str, ...], ident: tuple[Any, ...]) -> str:
    return ",".join(f"{k}={orjson.dumps(v).decode()}" for k, v in zip(keys, ident, strict=True))


def _same_quantity(want: Any, have: Any) -> bool:
    a, b = _quantity(want), _quantity(have)
    return a is not None and a == b


def _quantity(value: Any) -> decimal.Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return decimal.Decimal(str(value))
    if not isinstance(value, str):
        return None
    match = _QUANTITY.match(value)
    if match is None:
        return None
    number, suffix = match.group(1), match.group(2) or ""
    try:
        base = decimal.Decimal(number)
    except decimal.InvalidOperation:
        return None
    if suffix[:1] in ("e", "E"):
        return base * decimal.Decimal(10) ** int(suffix[1:])
    factor = _SUFFIX.get(suffix)
    return None if factor is None else base * decimal.Decimal(factor)


# -- owned by gitopsd, no longer desired -------------------------------------------------


def _removed(
    owned: Mapping[str, Any], want: Any, have: Any, path: str, out: list[Difference]
) -> None:
    """Walk gitopsd's field set: an owned field absent from ``want`` is a difference."""
    for element, children in owned.items():
        if element == ".":
            continue
        if element.startswith("f:"):
            name = element[2:]
            sub_path = f"{path}.{name}"
            if not isinstance(want, dict) or name not in want:
                live_value = have.get(name, MISSING) if isinstance(have, dict) else MISSING
                if live_value is not MISSING:
                    out.append(Difference(sub_path, MISSING, live_value))
                continue
            if children:
                live_next = have.get(name, MISSING) if isinstance(have, dict) else MISSING
                _removed(children, want[name], live_next, sub_path, out)
        elif element.startswith("k:"):
            _removed_item(element, children, want, have, path=path, out=out)
        elif element.startswith("v:"):
            value = orjson.loads(element[2:])
            if (
                isinstance(want, list)
                and isinstance(have, list)
                and value not in want
                and value in have
            ):
                out.append(Difference(f"{path}[{element[2:]}]", MISSING, value))


def _removed_item(
    element: str, children: Any, want: Any, have: Any, *, path: str, out: list[Difference]
) -> None:
    try:
        ident = orjson.loads(element[2:])
    except orjson.JSONDecodeError:
        return
    if not isinstance(ident, dict):
        return

    def matches(item: Any) -> bool:
        return isinstance(item, dict) and all(
            item.get(k, "TCP" if k == "protocol" else None) == v for k, v in ident.items()
        )

    label = ",".join(f"{k}={orjson.dumps(v).decode()}" for k, v in ident.items())
    wanted = next((i for i in want if matches(i)), None) if isinstance(want, list) else None
    live_item = next((i for i in have if matches(i)), None) if isinstance(have, list) else None
    if wanted is None:
        if live_item is not None:
            out.append(Difference(f"{path}[{label}]", MISSING, live_item))
        return
    if children:
        live_next = live_item if live_item is not None else MISSING
        _removed(children, wanted, live_next, f"{path}[{label}]", out)


def _short(value: Any) -> str:
    if value is MISSING:
        return "<absent>"
    text = orjson.dumps(value).decode() if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
