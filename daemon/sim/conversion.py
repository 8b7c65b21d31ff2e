"""What decoding a written object into kube-apiserver's Go types does to it.

A real server never stores the JSON a client sent: it decodes it into the versioned Go
struct, converts that to the internal version, and encodes it back on every read. For
built-in kinds that round trip is visible on the wire, and ``decode`` reproduces it on
every write path (create, update, patch, apply, dry-run, status writes):

* ``null`` members disappear (nil pointers, maps and slices are ``omitempty``), and so do
  empty maps and lists, except the few a Go struct serializes without ``omitempty``
  (fields the definition requires, ``Role``/``ClusterRole`` ``rules``, and
  ``metadata.managedFields``, where ``[]`` asks the field manager for a reset);
* map keys come back sorted (Go's JSON encoder sorts map keys);
* resource quantities come back canonical (``quantity``): ``0.5`` -> ``500m``;
* ``[]byte`` fields (Secret ``data``, ConfigMap ``binaryData``, ``caBundle``) must be
  standard base64 and come back re-encoded;
* a Secret's ``stringData`` is merged into ``data`` as base64 (a key in both takes the
  ``stringData`` value) and is never stored or returned (``Convert_v1_Secret_To_core_Secret``
  in ``pkg/apis/core/v1/conversion.go``).

Zero-valued booleans, numbers and strings are left alone: whether Go drops them depends
on pointer-ness, which the OpenAPI schema does not record. Custom resources are stored as
sent (unstructured), so none of this applies to them. ``decode`` works in place on a
private copy; mapping a ``ConversionError`` to the status code of each verb is ``api``'s
business.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from daemon.sim import quantity
from daemon.sim import schema as schema_mod

JSON = dict[str, Any]
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"

# Optional list fields the Go structs serialize without omitempty (an empty list stays),
# and managedFields, whose empty list means "reset them" to the field manager.
_KEEP_EMPTY: dict[str, frozenset[str]] = {
    "io.k8s.api.rbac.v1.Role": frozenset({"rules"}),
    "io.k8s.api.rbac.v1.ClusterRole": frozenset({"rules"}),
    "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": frozenset({"managedFields"}),
}
_B64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_B64_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_STRUCT = schema_mod.Kind.STRUCT
_MAP = schema_mod.Kind.MAP
_LIST = schema_mod.Kind.LIST
_SCALAR = schema_mod.Kind.SCALAR


class ConversionError(ValueError):
    """The body does not decode into the Go type (the message is Go's error text)."""


def decode(obj: JSON, schema: schema_mod.TypeSchema, *, group: str, kind: str) -> None:
    """Turn a private copy of a written built-in object into what the server stores."""
    if schema.kind is not _STRUCT:
        return
    _struct(obj, schema)
    if kind == "Secret" and not group:
        _merge_string_data(obj)


def _struct(obj: JSON, schema: schema_mod.TypeSchema) -> None:
    fields = schema.fields
    keep = schema.required | _KEEP_EMPTY.get(schema.name, frozenset())
    for key in list(obj):
        sub = fields.get(key)
        if sub is None:
            continue  # unknown (pruned later, with its warning) or preserved as is
        value = obj[key]
        if value is None:
            if key in schema.value_fields and sub.kind is _STRUCT:
                obj[key] = {}
            elif not (key in keep and sub.kind in (_LIST, _MAP)):
                del obj[key]
            continue
        kind = sub.kind
        if kind is _STRUCT:
            if isinstance(value, dict):
                _struct(value, sub)
        elif kind is _MAP:
            if isinstance(value, dict):
                if value or key in keep:
                    obj[key] = _map(value, sub)
                else:
                    del obj[key]
        elif kind is _LIST:
            if isinstance(value, list):
                if value or key in keep:
                    _list(value, sub)
                else:
                    del obj[key]
        elif kind is _SCALAR:
            obj[key] = _scalar(value, sub)


def _map(value: JSON, schema: schema_mod.TypeSchema) -> JSON:
    """A map with sorted keys and decoded values (a new dict)."""
    element = schema.element
    keys = sorted(value)
    if element is None or element.kind in (schema_mod.Kind.UNTYPED, schema_mod.Kind.DEDUCED):
        return {k: value[k] for k in keys}
    out: JSON = {}
    for key in keys:
        member = value[key]
        if member is None:
            # Go stores a null map value as the element's zero value.
            member = _zero(element)
        elif element.kind is _SCALAR:
            member = _scalar(member, element)
        elif element.kind is _STRUCT and isinstance(member, dict):
            _struct(member, element)
        elif element.kind is _MAP and isinstance(member, dict):
            member = _map(member, element)
        elif element.kind is _LIST and isinstance(member, list):
            _list(member, element)
        out[key] = member
    return out


def _list(items: list[Any], schema: schema_mod.TypeSchema) -> None:
    element = schema.element
    if element is None:
        return
    kind = element.kind
    for index, item in enumerate(items):
        if kind is _STRUCT and isinstance(item, dict):
            _struct(item, element)
        elif kind is _MAP and isinstance(item, dict):
            items[index] = _map(item, element)
        elif kind is _LIST and isinstance(item, list):
            _list(item, element)
        elif kind is _SCALAR and item is not None:
            items[index] = _scalar(item, element)


def _scalar(value: Any, schema: schema_mod.TypeSchema) -> Any:
    if schema.name == QUANTITY:
        try:
            return quantity.canonical(value)
        except quantity.QuantityError as exc:
            raise ConversionError(str(exc)) from None
    if schema.format == "byte" and isinstance(value, str):
        return base64.b64encode(decode_base64(value)).decode()
    return value


def _zero(schema: schema_mod.TypeSchema) -> Any:
    if schema.name == QUANTITY:
        return "0"
    if schema.kind is _SCALAR:
        return ""
    return None


def _merge_string_data(obj: JSON) -> None:
    """Convert_v1_Secret_To_core_Secret: stringData overwrites data, then vanishes."""
    extra = obj.pop("stringData", None)
    if not isinstance(extra, dict) or not extra:
        return
    data = dict(obj.get("data") or {})
    for key, value in extra.items():
        text = "" if value is None else value
        if not isinstance(text, str):
            raise ConversionError(
                f"json: cannot unmarshal {_json_type(text)} into Go struct field "
                "Secret.stringData of type string"
            )
        data[key] = base64.b64encode(text.encode()).decode()
    obj["data"] = {k: data[k] for k in sorted(data)}


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "array"
    return "object"


def decode_base64(text: str) -> bytes:
    """Go's ``base64.StdEncoding`` decoding (padding required, CR/LF skipped).

    ``ConversionError("illegal base64 data at input byte N")`` names the offset Go names.
    """
    if len(text) % 4 == 0 and _B64.fullmatch(text):
        return base64.b64decode(text)
    offset = _corrupt_offset(text)
    if offset is None:
        return base64.b64decode(text.replace("\r", "").replace("\n", ""))
    raise ConversionError(f"illegal base64 data at input byte {offset}")


def _corrupt_offset(text: str) -> int | None:
    """Where Go's decodeQuantum reports the input corrupt; None when it decodes."""
    si, end = 0, len(text)
    while si < end:
        j = 0
        while j < 4:
            if si == end:
                if j == 0:
                    return None
                return si - j
            char = text[si]
            si += 1
            if char in _B64_ALPHABET:
                j += 1
                continue
            if char in "\r\n":
                continue
            if char != "=" or j < 2:
                return si - 1
            if j == 2:  # a second "=" must follow (newlines may come between)
                while si < end and text[si] in "\r\n":
                    si += 1
                if si == end:
                    return end
                if text[si] != "=":
                    return si - 1
                si += 1
            while si < end and text[si] in "\r\n":
                si += 1
            return si if si < end else None
    return None
