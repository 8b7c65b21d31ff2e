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
  in ``pkg/apis/core/v1/conversion.go``);
* ``false``, ``0`` and ``""`` vanish from value-typed ``omitempty`` fields (``omitzero``
  lists them: ``paused``, ``readOnly``, ``initialDelaySeconds``...); pointer fields such
  as ``replicas`` keep their zero;
* fields the type does not declare are dropped (their paths are returned, for the
  ``fieldValidation`` warning or Strict rejection), in the same walk.

Custom resources are stored as sent (unstructured), so none of this applies to them.
``decode`` works in place on a private copy; mapping a ``ConversionError`` to the status
code of each verb is ``api``'s business.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from kubesim import quantity
from kubesim import schema as schema_mod

JSON = dict[str, Any]
_B64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_B64_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_STRUCT = schema_mod.Kind.STRUCT
_MAP = schema_mod.Kind.MAP
_LIST = schema_mod.Kind.LIST
_SCALAR = schema_mod.Kind.SCALAR
_OPAQUE = (schema_mod.Kind.UNTYPED, schema_mod.Kind.DEDUCED)


class ConversionError(ValueError):
    """The body does not decode into the Go type (the message is Go's error text)."""


def decode(obj: JSON, schema: schema_mod.TypeSchema, *, group: str, kind: str) -> list[str]:
    """Turn a private copy of a written built-in object into what the server stores.

    Fields the schema does not declare are dropped too; their paths come back, worded as
    the strict decoder words them (``spec.foo``, ``spec.containers[0].bar``), for the
    ``fieldValidation`` warning or rejection.
    """
    unknown: list[str] = []
    if schema.kind is _STRUCT:
        _struct(obj, schema, "", unknown)
        if kind == "Secret" and not group:
            _merge_string_data(obj)
    return unknown


def _struct(obj: JSON, schema: schema_mod.TypeSchema, path: str, unknown: list[str]) -> None:
    fields = schema.fields
    keep = schema.keep_empty
    for key in list(obj):
        sub = fields.get(key)
        if sub is None:
            if not schema.preserve_unknown:
                unknown.append(f"{path}.{key}" if path else key)
                del obj[key]
            continue
        value = obj[key]
        kind = sub.kind
        if value is None:
            if kind is _STRUCT and key in schema.value_fields:
                obj[key] = {}
            elif not (key in keep and (kind is _LIST or kind is _MAP)):
                del obj[key]
        elif kind is _SCALAR:
            if key in schema.omit_zero and _is_zero(value):
                del obj[key]
            elif sub.format:
                obj[key] = _scalar(value, sub)
        elif kind is _STRUCT:
            if isinstance(value, dict):
                _struct(value, sub, f"{path}.{key}" if path else key, unknown)
        elif kind is _MAP:
            if isinstance(value, dict):
                if value or key in keep:
                    obj[key] = _map(value, sub, f"{path}.{key}" if path else key, unknown)
                else:
                    del obj[key]
        elif kind is _LIST and isinstance(value, list):
            if value or key in keep:
                _list(value, sub, f"{path}.{key}" if path else key, unknown)
            else:
                del obj[key]


def _map(value: JSON, schema: schema_mod.TypeSchema, path: str, unknown: list[str]) -> JSON:
    """A map with sorted keys and decoded values (a new dict)."""
    element = schema.element
    keys = sorted(value)
    if element is None or element.kind in _OPAQUE:
        return {k: value[k] for k in keys}
    kind = element.kind
    if kind is _SCALAR and not element.format:
        # The common case (labels, annotations, data): only nulls change.
        return {k: "" if value[k] is None else value[k] for k in keys}
    out: JSON = {}
    for key in keys:
        member = value[key]
        if member is None:
            member = _zero(element)  # Go stores a null map value as the zero value
        elif kind is _SCALAR:
            member = _scalar(member, element)
        elif kind is _STRUCT and isinstance(member, dict):
            _struct(member, element, f"{path}[{key}]", unknown)
        elif kind is _MAP and isinstance(member, dict):
            member = _map(member, element, f"{path}[{key}]", unknown)
        elif kind is _LIST and isinstance(member, list):
            _list(member, element, f"{path}[{key}]", unknown)
        out[key] = member
    return out


def _list(items: list[Any], schema: schema_mod.TypeSchema, path: str, unknown: list[str]) -> None:
    element = schema.element
    if element is None:
        return
    kind = element.kind
    if kind is _SCALAR:
        if element.format:
            for index, item in enumerate(items):
                if item is not None:
                    items[index] = _scalar(item, element)
        return
    for index, item in enumerate(items):
        if kind is _STRUCT and isinstance(item, dict):
            _struct(item, element, f"{path}[{index}]", unknown)
        elif kind is _MAP and isinstance(item, dict):
            items[index] = _map(item, element, f"{path}[{index}]", unknown)
        elif kind is _LIST and isinstance(item, list):
            _list(item, element, f"{path}[{index}]", unknown)


def _scalar(value: Any, schema: schema_mod.TypeSchema) -> Any:
    if schema.format == "quantity":
        try:
            return quantity.canonical(value)
        except quantity.QuantityError as exc:
            raise ConversionError(str(exc)) from None
    if schema.format == "byte" and isinstance(value, str):
        return base64.b64encode(decode_base64(value)).decode()
    return value


def _is_zero(value: Any) -> bool:
    """Go's zero value of a bool, number or string (``False == 0`` aside)."""
    if value is False or value == "":
        return True
    return type(value) in (int, float) and value == 0


def _zero(schema: schema_mod.TypeSchema) -> Any:
    if schema.format == "quantity":
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
