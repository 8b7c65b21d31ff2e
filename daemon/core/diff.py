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
import functools
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
    if _in_sync(want, live):
        return []
    return _differences(want, live)


def _differences(want: Mapping[str, Any], live: Mapping[str, Any]) -> list[Difference]:
    """Every difference, described (the full walks)."""
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


def normalize(desired: Mapping[str, Any]) -> Mapping[str, Any]:
    """The desired body as the server will hold it where that changes comparisons.

    Secret ``stringData`` is merged into ``data`` (the digests of redacted values are
    the same in both fields). ``status`` and ``metadata.creationTimestamp`` need no
    rewriting: the comparisons skip them. Anything else is returned as is (no copy:
    this runs for every object of every plan).
    """
    if desired.get("kind") != "Secret" or not isinstance(desired.get("stringData"), dict):
        return desired
    out = {k: v for k, v in desired.items() if k != "stringData"}
    data = dict(desired.get("data") or {})
    data.update(desired["stringData"])
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
    if have is MISSING and _is_zero(want):
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
    # Plain loops, no generators: this runs for every list of every object compared.
    if not items:
        return None
    for item in items:
        if not isinstance(item, dict):
            return None
    if field == "ports":
        for key in _PORT_KEYS:
            for item in items:
                if key not in item:
                    break
            else:
                return _unique((key, "protocol"), items)
        return None
    keys = MERGE_KEYS.get(field)
    if keys is None:
        return None
    for item in items:
        for key in keys:
            if key not in item:
                return None
    return _unique(keys, items)


def _unique(keys: tuple[str, ...], items: list[Any]) -> tuple[str, ...] | None:
    """``keys`` when they tell the items apart; None (compare item by item) when not.

    Two env entries with the same name are invalid for the API but possible in Git;
    matching by key would pair both with one live item and report a false difference.
    """
    if len(items) == 1:
        return keys
    seen = {_item_key(item, keys) for item in items}
    return keys if len(seen) == len(items) else None


def _item_key(item: Mapping[str, Any], keys: tuple[str, ...]) -> tuple[Any, ...]:
    # A port's protocol defaults to TCP on the server (KUBE_API.md §4.3).
    if len(keys) == 1:
        return (item.get(keys[0], "TCP" if keys[0] == "protocol" else None),)
    return tuple([item.get(k, "TCP" if k == "protocol" else None) for k in keys])


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


# -- the fast path: the same walks, answering only "is anything different?" ---------------
#
# Most objects are in sync on most looks. These mirror ``_value``/``_list``/``_removed``
# exactly, without building paths, labels or Differences, and stop at the first
# difference; ``compare`` then runs the full walks to describe every difference.
# (tests/core/test_diff_fastpath.py checks that both always agree.)

_LEAVES = frozenset({str, int, float, bool, type(None)})


def _in_sync(want: Mapping[str, Any], live: Mapping[str, Any]) -> bool:
    """True exactly when the full walks of ``compare`` would find no difference."""
    for key, value in want.items():
        if key in ("status", "apiVersion", "kind"):
            continue
        if key == "metadata":
            have = live.get("metadata") or {}
            for name, item in value.items():
                sub = have.get(name, MISSING)
                cls = item.__class__
                if cls is sub.__class__ and (
                    (cls in _LEAVES and item == sub)
                    or (cls is dict and _dict_covers(item, sub, name))
                ):
                    continue
                if name not in _METADATA_IGNORED and not _covers(item, sub, name, "metadata"):
                    return False
            continue
        have = live.get(key, MISSING)
        if value.__class__ is dict and have.__class__ is dict:
            if not _dict_covers(value, have, key):
                return False
        elif not _covers(value, have, key, ""):
            return False
    owned = owned_fields(live)
    return not owned or _keeps(owned, want, live)


def _is_zero(value: Any) -> bool:
    """false, 0 or "": what the API server leaves out of a value field (Go's omitempty).

    Applying ``paused: false`` to an object whose ``paused`` is absent changes nothing;
    a pointer field keeps its zero on the server (``replicas: 0`` stays), so an absent
    live field with a zero desired value only happens where they mean the same.
    """
    return value is False or value == "" or (type(value) in (int, float) and value == 0)


def _covers(want: Any, have: Any, field: str, parent: str) -> bool:
    """``_value`` would report nothing."""
    if want is None:
        return have is MISSING or have is None
    if isinstance(want, dict):
        if not isinstance(have, dict):
            return not want and have is MISSING
        return _dict_covers(want, have, field)
    if isinstance(want, list):
        return _list_covers(want, have, field)
    if have is MISSING and _is_zero(want):
        return True
    if want == have and type(want) is not bool and type(have) is not bool:
        return True
    if type(want) is bool or type(have) is bool:
        return want is have
    return parent in _QUANTITY_PARENTS and _same_quantity(want, have)


def _dict_covers(want: Mapping[str, Any], have: Mapping[str, Any], field: str) -> bool:
    """``_value`` would report nothing on the fields of dict ``want`` (``have`` a dict)."""
    for key, value in want.items():
        sub = have.get(key, MISSING)
        cls = value.__class__
        if cls is sub.__class__:  # the common cases, dispatched without a call
            if cls is dict:
                if _dict_covers(value, sub, key):
                    continue
                return False
            if cls is list:
                if _list_covers(value, sub, key):
                    continue
                return False
            if cls in _LEAVES and value == sub:
                continue
        if not _covers(value, sub, key, field):
            return False
    return True


def _list_covers(want: list[Any], have: Any, field: str) -> bool:
    """``_list`` would report nothing."""
    if not isinstance(have, list):
        return not want and (have is MISSING or have is None)
    keys = _merge_keys(field, want) if field in _KEYED_FIELDS else None
    if keys is None:
        if len(want) != len(have):
            return False
        for w, h in zip(want, have, strict=True):
            cls = w.__class__
            if cls is h.__class__:
                if cls is dict:
                    if _dict_covers(w, h, field):
                        continue
                    return False
                if cls in _LEAVES and w == h:
                    continue
            if not _covers(w, h, field, field):
                return False
        return True
    index = {_item_key(item, keys): item for item in have if isinstance(item, dict)}
    for item in want:
        live_item = index.get(_item_key(item, keys), MISSING)
        if live_item.__class__ is dict:
            if not _dict_covers(item, live_item, field):
                return False
        elif not _covers(item, live_item, field, field):
            return False
    return True


_KEYED_FIELDS = frozenset({*MERGE_KEYS, "ports"})
"""Fields whose lists ``_merge_keys`` may match by key (any other: item by item)."""


def _keeps(owned: Mapping[str, Any], want: Any, have: Any) -> bool:
    """``_removed`` would report nothing."""
    fields = want if isinstance(want, dict) else None
    live = have if isinstance(have, dict) else None
    for element, children in owned.items():
        prefix = element[:2]
        if prefix == "f:":
            name = element[2:]
            if fields is None or name not in fields:
                if live is not None and name in live:
                    return False
                continue
            if children:
                live_next = live.get(name, MISSING) if live is not None else MISSING
                # Equal values have the same fields: none was removed under them.
                sub = fields[name]
                if sub != live_next and not _keeps(children, sub, live_next):
                    return False
        elif prefix == "k:":
            if not _keeps_item(element, children, want, have):
                return False
        elif prefix == "v:":
            value = orjson.loads(element[2:])
            if (
                isinstance(want, list)
                and isinstance(have, list)
                and value not in want
                and value in have
            ):
                return False
    return True


def _keeps_item(element: str, children: Any, want: Any, have: Any) -> bool:
    """``_removed_item`` would report nothing."""
    ident = _ident(element)
    if ident is None:
        return True
    wanted = _first_match(want, ident) if isinstance(want, list) else None
    live_item = _first_match(have, ident) if isinstance(have, list) else None
    if wanted is None:
        return live_item is None
    if children and wanted != live_item:
        return _keeps(children, wanted, live_item if live_item is not None else MISSING)
    return True


@functools.lru_cache(maxsize=4096)
def _ident(element: str) -> tuple[tuple[str, Any], ...] | None:
    """The merge-key fields of a ``k:{...}`` element (the same few recur in every object)."""
    try:
        ident = orjson.loads(element[2:])
    except orjson.JSONDecodeError:
        return None
    return tuple(ident.items()) if isinstance(ident, dict) else None


def _first_match(items: list[Any], ident: tuple[tuple[str, Any], ...]) -> Any:
    for item in items:
        if not isinstance(item, dict):
            continue
        for k, v in ident:
            if item.get(k, "TCP" if k == "protocol" else None) != v:
                break
        else:
            return item
    return None


def _short(value: Any) -> str:
    if value is MISSING:
        return "<absent>"
    text = orjson.dumps(value).decode() if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
