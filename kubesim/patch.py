"""JSON patch, JSON merge patch and strategic merge patch, as kube-apiserver applies them.

The job (KUBE_API.md §4.1): turn (current object, decoded patch document) into the patched
object or a ``PatchError`` carrying the Status the real server answers with. Semantics
follow the libraries the apiserver uses: ``gopkg.in/evanphx/json-patch.v4`` for RFC 6902
and RFC 7386 (including its quirks: negative array indices, ``replace`` of a missing object
key adds it, ``copy`` from a missing key copies ``null``), and apimachinery's
``strategicpatch`` for strategic merge patch, whose list strategies and merge keys come
from the schema (``schema.TypeSchema``). Pure: inputs are never mutated.

Left to the server: choosing the function by Content-Type (415 for unknown types and for
strategic merge on custom resources), decoding the body (invalid JSON -> 400), the 404 when
the object is missing, dropping unknown fields afterwards (``schema.prune_unknown``),
defaulting, managedFields (``apply.update_managed_fields``), validation and storage.

API:

``json_patch(doc, ops, *, field_validation="Warn") -> dict``
    ``ops`` is the decoded body. Not a list -> 400 ``error decoding patch: json: cannot
    unmarshal object into Go value of type []handlers.jsonPatchOp`` (the JSON type found;
    with ``field_validation="Ignore"`` the json-patch library's own wording). More than
    10000 operations -> 413. A failing ``test``, a missing path or an unknown op -> 422
    ``the server rejected our request due to an error in our request`` with
    ``details: {}``. A result that is not an object -> 422 Invalid on ``patch``.
``merge_patch(doc, patch, *, field_validation="Warn") -> dict``
    RFC 7386 as json-patch.v4's ``MergePatch``: maps merge, ``null`` deletes, everything
    else (lists included) is replaced. A non-object body -> 400; ``null`` -> 400 ``Invalid
    JSON Patch``.
``strategic_merge_patch(doc, patch, schema) -> dict``
    Lists whose field has ``patchStrategy=merge`` merge (maps by ``patchMergeKey``,
    primitives as a union, e.g. ``finalizers``); other lists and ``patchStrategy=replace``
    maps are replaced. Directives ``$patch: replace|delete`` (maps and list items),
    ``$deleteFromPrimitiveList/<f>``, ``$setElementOrder/<f>``, ``$retainKeys``. Errors as
    the apiserver maps them: 400 for malformed directives, 422 for lists of lists, 500
    (no reason) for the rest, e.g. an item without its merge key.

``PatchError``: ``.code``, ``.reason`` (``""`` when the real Status has none),
``.message``, ``.details`` (dict or ``None``) and ``.status()`` -> the Status dict.
"""

from __future__ import annotations

from typing import Any

import orjson

from kubesim import schema as schema_mod
from kubesim import status as status_mod
from kubesim.schema import Kind, TypeSchema

JSON = dict[str, Any]

MAX_JSON_PATCH_OPERATIONS = 10000
_REJECTED = "the server rejected our request due to an error in our request"


class PatchError(Exception):
    """A patch the server refuses, with the Status it answers."""

    def __init__(
        self, code: int, reason: str, message: str, *, details: JSON | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> JSON:
        """The Status body of the error answer."""
        return status_mod.failure_status(
            code=self.code, message=self.message, reason=self.reason, details=self.details
        )


def _bad_request(message: str) -> PatchError:
    return PatchError(400, "BadRequest", message)


def _rejected() -> PatchError:
    # NewGenericServerResponse(422, ...): the library's text is dropped, details are empty.
    return PatchError(422, "Invalid", _REJECTED, details={})


def _internal(message: str) -> PatchError:
    # A plain Go error reaches the client as a 500 Status without a reason.
    return PatchError(500, "", message)


def _copy(value: Any) -> Any:
    """A deep copy of decoded JSON (orjson round trip: fast and exact for JSON values)."""
    return orjson.loads(orjson.dumps(value))


def _json_type(value: Any) -> str:
    """The JSON type word Go's decoder uses in its errors."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _not_an_object(patched: Any) -> PatchError:
    text = orjson.dumps(patched).decode()
    return PatchError(
        422,
        "Invalid",
        f' "" is invalid: patch: Invalid value: {_go_quote(text)}: json: cannot unmarshal'
        f" {_json_type(patched)} into Go value of type map[string]interface {{}}",
        details={
            "causes": [
                {
                    "reason": "FieldValueInvalid",
                    "message": f"Invalid value: {_go_quote(text)}: json: cannot unmarshal"
                    f" {_json_type(patched)} into Go value of type map[string]interface {{}}",
                    "field": "patch",
                }
            ]
        },
    )


def _go_quote(text: str) -> str:
    from kubesim import fieldpath  # noqa: PLC0415 - only on an error path

    return fieldpath._go_quote(text)  # noqa: SLF001 - one quoting routine for the package


# ---------------------------------------------------------------- RFC 6902


def json_patch(doc: JSON, ops: Any, *, field_validation: str = "Warn") -> JSON:
    """RFC 6902 with json-patch.v4's behaviour; raises ``PatchError``."""
    _decode_ops(ops, field_validation=field_validation)
    if ops is None:
        return doc  # `null` decodes to an empty patch
    if len(ops) > MAX_JSON_PATCH_OPERATIONS:
        raise PatchError(
            413,
            "RequestEntityTooLarge",
            "Request entity too large: The allowed maximum operations in a JSON patch is"
            f" {MAX_JSON_PATCH_OPERATIONS}, got {len(ops)}",
        )
    root: Any = _copy(doc)
    try:
        for op in ops:
            root = _apply_op(root, op)
    except _OpFailedError:
        raise _rejected() from None
    if not isinstance(root, dict):
        raise _not_an_object(root)
    return root


def _decode_ops(ops: Any, *, field_validation: str) -> None:
    """The decoding errors the handler reports before applying anything (400)."""
    strict = field_validation in ("Strict", "Warn")
    if ops is None:
        return
    if not isinstance(ops, list):
        if strict:
            raise _bad_request(
                f"error decoding patch: json: cannot unmarshal {_json_type(ops)} into Go value"
                " of type []handlers.jsonPatchOp"
            )
        raise _bad_request(
            f"json: cannot unmarshal {_json_type(ops)} into Go value of type jsonpatch.Patch"
        )
    for op in ops:
        if op is None:
            continue
        if not isinstance(op, dict):
            if strict:
                raise _bad_request(
                    f"error decoding patch: json: cannot unmarshal {_json_type(op)} into Go"
                    " value of type handlers.jsonPatchOp"
                )
            raise _bad_request(
                f"json: cannot unmarshal {_json_type(op)} into Go value of type jsonpatch.Operation"
            )
        if strict:
            for name in ("op", "path", "from"):
                value = op.get(name)
                if value is not None and not isinstance(value, str):
                    raise _bad_request(
                        f"error decoding patch: json: cannot unmarshal {_json_type(value)} into"
                        f" Go struct field jsonPatchOp.{name} of type string"
                    )


class _OpFailedError(Exception):
    """One operation did not apply (the handler answers 422 without details)."""


_MISSING: Any = object()


def _apply_op(root: Any, op: Any) -> Any:
    if not isinstance(op, dict):
        raise _OpFailedError
    kind = op.get("op")
    if kind == "add":
        _container(root, _path(op, "path")).add(_value(op))
    elif kind == "remove":
        _container(root, _path(op, "path")).remove()
    elif kind == "replace":
        return _replace(root, op)
    elif kind == "move":
        source = _container(root, _path(op, "from"))
        value = source.get()
        source.remove()
        _container(root, _path(op, "path")).add(value)
    elif kind == "copy":
        value = _container(root, _path(op, "from")).get()
        _container(root, _path(op, "path")).add(None if value is _MISSING else _copy(value))
    elif kind == "test":
        _test(root, op)
    else:
        raise _OpFailedError
    return root


def _path(op: JSON, name: str) -> str:
    value = op.get(name)
    if not isinstance(value, str):
        raise _OpFailedError
    return value


def _value(op: JSON) -> Any:
    # A missing "value" adds null, as json-patch.v4 does.
    return _copy(op["value"]) if "value" in op else None


def _replace(root: Any, op: JSON) -> Any:
    path = _path(op, "path")
    if path == "":
        value = op.get("value")
        if not isinstance(value, dict | list):
            raise _OpFailedError
        return _copy(value)
    slot = _container(root, path)
    if isinstance(slot.parent, list):
        slot.get()
    slot.set(_value(op))  # a missing object key is simply set (json-patch.v4)
    return root


def _test(root: Any, op: JSON) -> None:
    path = _path(op, "path")
    if path == "":
        if not _json_equal(root, op.get("value", _MISSING)):
            raise _OpFailedError
        return
    current = _container(root, path).get()
    expected = op.get("value", _MISSING)
    if current is _MISSING or current is None:
        if expected is _MISSING or expected is None:
            return
        raise _OpFailedError
    if expected is _MISSING or not _json_equal(current, expected):
        raise _OpFailedError


def _json_equal(a: Any, b: Any) -> bool:
    """json-patch's lazyNode.equal: structural, scalars by their JSON text."""
    if isinstance(a, dict):
        if not isinstance(b, dict) or len(a) != len(b):
            return False
        return all(k in b and _json_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        if not isinstance(b, list) or len(a) != len(b):
            return False
        return all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if b is _MISSING:
        return False
    return type(a) is type(b) and a == b


class _Slot:
    """Where a JSON pointer's last token lands: a parent container and a key."""

    __slots__ = ("key", "parent")

    def __init__(self, parent: Any, key: str) -> None:
        self.parent = parent
        self.key = key

    def _index(self, *, for_add: bool) -> int:
        items = self.parent
        assert isinstance(items, list)
        try:
            index = int(self.key)
        except ValueError:
            raise _OpFailedError from None
        size = len(items) + (1 if for_add else 0)
        if index >= size or index < -size:
            raise _OpFailedError
        return index + size if index < 0 else index

    def get(self) -> Any:
        """The value (``_MISSING`` for an absent object key; errors for a bad index)."""
        if isinstance(self.parent, list):
            return self.parent[self._index(for_add=False)]
        return self.parent.get(self.key, _MISSING)

    def add(self, value: Any) -> None:
        if isinstance(self.parent, list):
            if self.key == "-":
                self.parent.append(value)
            else:
                self.parent.insert(self._index(for_add=True), value)
        else:
            self.parent[self.key] = value

    def set(self, value: Any) -> None:
        if isinstance(self.parent, list):
            self.parent[self._index(for_add=False)] = value
        else:
            self.parent[self.key] = value

    def remove(self) -> None:
        if isinstance(self.parent, list):
            del self.parent[self._index(for_add=False)]
        elif self.key in self.parent:
            del self.parent[self.key]
        else:
            raise _OpFailedError


def _container(root: Any, path: str) -> _Slot:
    """json-patch.v4 findObject: walk all but the last token (no leading-slash check)."""
    tokens = path.split("/")
    if len(tokens) < 2:
        raise _OpFailedError
    node = root
    for token in tokens[1:-1]:
        node = _step(node, _unescape(token))
    if not isinstance(node, dict | list):
        raise _OpFailedError
    return _Slot(node, _unescape(tokens[-1]))


def _step(node: Any, key: str) -> Any:
    if isinstance(node, dict):
        child = node.get(key)
    elif isinstance(node, list):
        try:
            index = int(key)
        except ValueError:
            raise _OpFailedError from None
        if index < 0:
            index += len(node)
        if not 0 <= index < len(node):
            raise _OpFailedError
        child = node[index]
    else:
        raise _OpFailedError
    if not isinstance(child, dict | list):
        raise _OpFailedError  # missing, null or a scalar: the path does not exist
    return child


def _unescape(token: str) -> str:
    # strings.NewReplacer("~1", "/", "~0", "~"): one left-to-right pass.
    if "~" not in token:
        return token
    out: list[str] = []
    i = 0
    while i < len(token):
        pair = token[i : i + 2]
        if pair == "~1":
            out.append("/")
            i += 2
        elif pair == "~0":
            out.append("~")
            i += 2
        else:
            out.append(token[i])
            i += 1
    return "".join(out)


# ---------------------------------------------------------------- RFC 7386


def merge_patch(doc: JSON, patch: Any, *, field_validation: str = "Warn") -> JSON:
    """RFC 7386 as json-patch.v4 ``MergePatch``; raises ``PatchError``."""
    if patch is None:
        raise _bad_request("Invalid JSON Patch")
    if not isinstance(patch, dict):
        if field_validation in ("Strict", "Warn"):
            raise _bad_request(
                f"error decoding patch: json: cannot unmarshal {_json_type(patch)} into Go"
                " value of type map[string]interface {}"
            )
        if isinstance(patch, list):
            raise _not_an_object(_prune_nulls(_copy(patch)))
        raise _bad_request("Invalid JSON Patch")
    return _merge_docs(doc, patch)


def _merge_docs(doc: JSON, patch: JSON) -> JSON:
    out = dict(doc)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
            continue
        current = out.get(key)
        if current is None or not isinstance(current, dict):
            out[key] = _prune_nulls(_copy(value))
        elif not isinstance(value, dict):
            out[key] = _copy(value)  # merge() returns a non-object patch unpruned
        else:
            out[key] = _merge_docs(current, value)
    return out


def _prune_nulls(value: Any) -> Any:
    """pruneNulls: drop null members of objects, recursively (list items stay)."""
    if isinstance(value, dict):
        return {k: _prune_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [v if v is None else _prune_nulls(v) for v in value]
    return value


# ---------------------------------------------------------------- strategic merge patch

_DIRECTIVE = "$patch"
_DELETE_PREFIX = "$deleteFromPrimitiveList"
_ORDER_PREFIX = "$setElementOrder"
_RETAIN_KEYS = "$retainKeys"

_ERR_BAD_PRIMITIVE_LIST = "invalid patch format of primitive list"
_ERR_BAD_RETAIN_KEYS = "invalid patch format of retainKeys"
_ERR_BAD_ORDER_LIST = "invalid patch format of setElementOrder list"
_ERR_NO_LIST_OF_LISTS = "lists of lists are not supported"


class _SMPError(Exception):
    """A strategic merge failure; ``kind`` picks the Status as the handler maps it."""

    def __init__(self, message: str, kind: str = "internal") -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind


def strategic_merge_patch(doc: JSON, patch: Any, schema: TypeSchema) -> JSON:
    """Strategic merge patch of a built-in object; raises ``PatchError``."""
    if patch is None:
        return doc
    if not isinstance(patch, dict):
        raise _bad_request(
            f"json: cannot unmarshal {_json_type(patch)} into Go value of type"
            " map[string]interface {}"
        )
    try:
        merged = _merge_map(_copy(doc), _copy(patch), schema)
    except _SMPError as exc:
        if exc.kind == "bad":
            raise _bad_request(exc.message) from None
        if exc.kind == "invalid":
            raise _rejected() from None
        raise _internal(exc.message) from None
    return merged


def _merge_map(original: JSON | None, patch: JSON, schema: TypeSchema) -> JSON:
    """Strategicpatch mergeMap (MergeParallelList, IgnoreUnmatchedNulls); mutates both."""
    if _DIRECTIVE in patch:
        directive = patch[_DIRECTIVE]
        if directive == "replace":
            del patch[_DIRECTIVE]
            return patch
        if directive == "delete":
            return {}
        raise _SMPError(f"unknown patch type: {_go_v(directive)} in map: {_go_v(patch)}")
    if original is None:
        original = {}
    _apply_retain_keys(original, patch)
    _merge_ordered_lists(original, patch, schema)
    for key, patch_value in list(patch.items()):
        name, is_delete_list = key, False
        if key.startswith(_DELETE_PREFIX):
            name, is_delete_list = _extract_key(key, _DELETE_PREFIX, _ERR_BAD_PRIMITIVE_LIST), True
        if patch_value is None:
            original.pop(name, None)
            continue
        if name not in original or _go_type(original[name]) != _go_type(patch_value):
            if not is_delete_list:
                _discard_nulls(patch_value)
                value, keep = _remove_directives(patch_value)
                if keep:
                    original[name] = value
                else:
                    original.pop(name, None)
            continue
        current = original[name]
        if isinstance(current, dict):
            sub = _lookup_struct(schema, name)
            if _strategy(sub.patch_strategy) != "replace":
                original[name] = _merge_map(current, patch_value, sub)
            else:
                original[name] = patch_value
        elif isinstance(current, list):
            sub = _lookup_struct(schema, name)
            original[name] = _merge_slice_handler(
                current, patch_value, sub, is_delete_list=is_delete_list
            )
        else:
            value, keep = _remove_directives(patch_value)
            if keep:
                original[name] = value
            else:
                original.pop(name, None)
    return original


def _lookup_struct(schema: TypeSchema, name: str) -> TypeSchema:
    """LookupPatchMetadataForStruct: the member's schema, or the Go error for no field."""
    if schema.kind is Kind.STRUCT:
        found = schema.fields.get(name)
        if found is None:
            for field_name, sub in schema.fields.items():
                if field_name.lower() == name.lower():
                    return sub
            if schema.preserve_unknown:
                return schema_mod.DEDUCED
            struct_name = schema.name.rsplit(".", 1)[-1]
            raise _SMPError(
                f"unable to find api field in struct {struct_name} for the json field"
                f" {_go_quote(name)}"
            )
        return found
    if schema.kind is Kind.MAP and schema.element is not None:
        return schema.element
    return schema_mod.DEDUCED


def _strategy(strategies: tuple[str, ...]) -> str:
    """extractRetainKeysPatchStrategy: the strategy other than retainKeys."""
    if len(strategies) > 2:
        raise _SMPError(f"unexpected patch strategy: {_go_v(list(strategies))}")
    rest = [s for s in strategies if s != "retainKeys"]
    if len(strategies) == 2 and len(rest) != 1:
        raise _SMPError(f"unexpected patch strategy: {_go_v(list(strategies))}")
    return rest[0] if rest else ""


def _merge_slice_handler(
    original: list[Any], patch: Any, schema: TypeSchema, *, is_delete_list: bool
) -> list[Any]:
    if not isinstance(patch, list):
        raise _SMPError(f"expected a []interface {{}}, but received a {_go_reflect_type(patch)}")
    if _strategy(schema.patch_strategy) == "merge" or is_delete_list:
        element = schema.element or schema_mod.DEDUCED
        return _merge_slice(original, patch, element, schema.merge_key, is_delete_list)
    return patch


def _merge_slice(
    original: list[Any],
    patch: list[Any],
    element: TypeSchema,
    merge_key: str,
    is_delete_list: bool,
) -> list[Any]:
    if not original and not patch:
        return original
    is_map = _element_kind(original, patch) == "map"
    if not is_map:
        if is_delete_list:
            return _delete_from_slice(original, patch)
        merged = _deduplicate_scalars(original + patch)
    else:
        if not merge_key:
            raise _SMPError(f"cannot merge lists without merge key for {element.name}")
        original, patch = _merge_special_items(original, patch, merge_key)
        merged = _merge_plain_items(original, patch, merge_key, element)
    if not merge_key:
        in_patch, server_only = _partition_primitives(merged, patch)
    else:
        in_patch, server_only = _partition_maps(merged, patch, merge_key)
    return _normalize_element_order(
        in_patch,
        server_only,
        patch_order=patch,
        server_order=original,
        merge_key=merge_key,
        is_map=is_map,
    )


def _element_kind(*lists: list[Any]) -> str:
    """sliceElementType: one Go type for every item, never a list."""
    seen: str | None = None
    for items in lists:
        for item in items:
            current = _go_type(item)
            if seen is None:
                if current == "list":
                    raise _SMPError(_ERR_NO_LIST_OF_LISTS, "invalid")
                seen = current
            elif current != seen:
                raise _SMPError(
                    "list element types are not identical: "
                    "[" + " ".join(_go_v(items2) for items2 in lists) + "]"
                )
    if seen is None:
        raise _SMPError("no elements in any of the given slices")
    return seen


def _merge_special_items(
    original: list[Any], patch: list[Any], merge_key: str
) -> tuple[list[Any], list[Any]]:
    """mergeSliceWithSpecialElements: apply ``$patch: delete|replace`` list items."""
    plain: list[Any] = []
    replace = False
    for item in patch:
        if _DIRECTIVE not in item:
            plain.append(item)
            continue
        directive = item[_DIRECTIVE]
        if directive == "delete":
            if merge_key not in item:
                raise _SMPError(_no_merge_key(item, merge_key))
            original = [
                o
                for o in original
                if not (_is_map_with(o, merge_key) and _go_eq(o[merge_key], item[merge_key]))
            ]
            for o in original:
                if not isinstance(o, dict):
                    raise _SMPError("value for key 0 is not a map")
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise _SMPError("merging lists cannot yet be specified in the patch")
        else:
            raise _SMPError(f"unknown patch type: {_go_v(directive)} in map: {_go_v(item)}")
    if replace:
        return plain, []
    return original, plain


def _is_map_with(value: Any, key: str) -> bool:
    return isinstance(value, dict) and key in value


def _merge_plain_items(
    original: list[Any], patch: list[Any], merge_key: str, element: TypeSchema
) -> list[Any]:
    """mergeSliceWithoutSpecialElements: merge items with the same key, append the rest."""
    out = list(original)
    for item in patch:
        if merge_key not in item:
            raise _SMPError(_no_merge_key(item, merge_key))
        index = _find_by_key(out, merge_key, item[merge_key])
        if index is None:
            _discard_nulls(item)
            value, _keep = _remove_directives(item)
            out.append(value)
        else:
            out[index] = _merge_map(out[index], item, element)
    return out


def _find_by_key(items: list[Any], key: str, value: Any) -> int | None:
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise _SMPError(f"value for key {index} is not a map")
        if key in item and _go_eq(item[key], value):
            return index
    return None


def _delete_from_slice(current: list[Any], to_delete: list[Any]) -> list[Any]:
    return [v for v in current if not any(_go_eq(v, d) for d in to_delete)]


def _deduplicate_scalars(items: list[Any]) -> list[Any]:
    """deduplicateScalars, with its order (a duplicate's slot takes the last item)."""
    s = list(items)
    length = len(s) - 1
    i = 0
    while i < length:
        j = i + 1
        while j <= length:
            if _go_eq(s[i], s[j]):
                s[j] = s[length]
                s = s[:length]
                length -= 1
                j -= 1
            j += 1
        i += 1
    return s


def _partition_primitives(merged: list[Any], by: list[Any]) -> tuple[list[Any], list[Any]]:
    in_patch = [v for v in merged if any(_go_eq(v, p) for p in by)]
    server_only = [v for v in merged if not any(_go_eq(v, p) for p in by)]
    return in_patch, server_only


def _partition_maps(
    merged: list[Any], by: list[Any], merge_key: str
) -> tuple[list[Any], list[Any]]:
    in_patch: list[Any] = []
    server_only: list[Any] = []
    for item in merged:
        if not isinstance(item, dict):
            raise _SMPError(
                f"expected a map[string]interface {{}}, but received a {_go_reflect_type(item)}"
            )
        if merge_key not in item:
            raise _SMPError(_no_merge_key(item, merge_key))
        found = _find_by_key(by, merge_key, item[merge_key]) is not None
        (in_patch if found else server_only).append(item)
    return in_patch, server_only


def _normalize_element_order(
    patch: list[Any],
    server_only: list[Any],
    *,
    patch_order: list[Any],
    server_order: list[Any],
    merge_key: str,
    is_map: bool,
) -> list[Any]:
    patch = _normalize_slice_order(patch, patch_order, merge_key, is_map)
    server_only = _normalize_slice_order(server_only, server_order, merge_key, is_map)
    return _merge_sorted(server_only, patch, server_order, merge_key, is_map)


def _normalize_slice_order(
    to_sort: list[Any],
    order: list[Any],
    merge_key: str,
    is_map: bool,
) -> list[Any]:
    to_delete: list[Any] = []
    if is_map:
        for items in (to_sort, order):
            for item in items:
                if not isinstance(item, dict):
                    raise _SMPError(
                        "expected a map[string]interface {}, but received a"
                        f" {_go_reflect_type(item)}"
                    )
                if merge_key not in item:
                    raise _SMPError(_no_merge_key(item, merge_key))
        keep = [v for v in to_sort if v.get(_DIRECTIVE) != "delete"]
        to_delete = [v for v in to_sort if v.get(_DIRECTIVE) == "delete"]
        to_sort = keep
    else:
        to_sort = list(to_sort)

    def less(a: Any, b: Any) -> bool:
        ia = _index_of(order, a, merge_key, is_map)
        if ia >= 0:
            ib = _index_of(order, b, merge_key, is_map)
            if ib >= 0:
                return ia < ib
        return True

    # sort.SliceStable with this (inconsistent) less: its insertion sort, step for step.
    for i in range(1, len(to_sort)):
        j = i
        while j > 0 and less(to_sort[j], to_sort[j - 1]):
            to_sort[j], to_sort[j - 1] = to_sort[j - 1], to_sort[j]
            j -= 1
    return to_sort + to_delete


def _merge_sorted(
    left: list[Any],
    right: list[Any],
    server_order: list[Any],
    merge_key: str,
    is_map: bool,
) -> list[Any]:
    """mergeSortedSlice: interleave server-only items into the patch items by live order."""
    out: list[Any] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if i >= len(left):
            out.append(right[j])
            j += 1
        elif j >= len(right):
            out.append(left[i])
            i += 1
        else:
            li = _index_of(server_order, left[i], merge_key, is_map)
            ri = _index_of(server_order, right[j], merge_key, is_map)
            if li >= 0 and ri >= 0 and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out


def _index_of(items: list[Any], value: Any, merge_key: str, is_map: bool) -> int:
    def key_of(item: Any) -> Any:
        if is_map:
            return item.get(merge_key) if isinstance(item, dict) else None
        return item

    wanted = key_of(value)
    for index, item in enumerate(items):
        if _go_eq(key_of(item), wanted):
            return index
    return -1


def _apply_retain_keys(original: JSON, patch: JSON) -> None:
    """applyRetainKeysDirective: clear the original's keys the list does not retain."""
    if _RETAIN_KEYS not in patch:
        return
    retained = patch.pop(_RETAIN_KEYS)
    if not isinstance(retained, list):
        raise _SMPError(_ERR_BAD_RETAIN_KEYS, "bad")
    keys = {item for item in retained if isinstance(item, str)}
    for key, value in patch.items():
        if value is None or key.startswith((_DELETE_PREFIX, _ORDER_PREFIX)):
            continue
        if key not in keys:
            raise _SMPError(_ERR_BAD_RETAIN_KEYS, "bad")
    for key in list(original):
        if key not in keys:
            del original[key]


def _merge_ordered_lists(original: JSON, patch: JSON, schema: TypeSchema) -> None:
    """mergePatchIntoOriginal: ``$setElementOrder/<f>`` lists and the lists they order."""
    for key in [k for k in patch if k.startswith(_ORDER_PREFIX)]:
        order = patch.pop(key)
        if not isinstance(order, list):
            raise _SMPError(
                f"expected a []interface {{}}, but received a {_go_reflect_type(order)}"
            )
        name = _extract_key(key, _ORDER_PREFIX, _ERR_BAD_ORDER_LIST)
        found_original, found_patch = name in original, name in patch
        original_list = original.get(name)
        patch_list = patch.get(name)
        if found_original and not isinstance(original_list, list):
            raise _SMPError(
                f"expected a []interface {{}}, but received a {_go_reflect_type(original_list)}"
            )
        if found_patch and not isinstance(patch_list, list):
            raise _SMPError(
                f"expected a []interface {{}}, but received a {_go_reflect_type(patch_list)}"
            )
        sub = _lookup_struct(schema, name)
        _strategy(sub.patch_strategy)  # validates the strategy, as the Go code does here
        merge_key = sub.merge_key
        _validate_order(patch_list or [], order, merge_key)
        if found_original and not found_patch:
            merged = list(original_list or [])
        elif found_patch and not found_original:
            value, _keep = _remove_directives(patch_list)
            merged = value
        elif found_original and found_patch:
            merged = _merge_slice_handler(
                original_list or [], patch_list, sub, is_delete_list=False
            )
        else:
            continue
        if merge_key:
            in_patch, server_only = _partition_maps(merged, order, merge_key)
        else:
            in_patch, server_only = _partition_primitives(merged, order)
        is_map = _element_kind(original_list or [], patch_list or []) == "map"
        original[name] = _normalize_element_order(
            in_patch,
            server_only,
            patch_order=order,
            server_order=original_list or [],
            merge_key=merge_key,
            is_map=is_map,
        )
        patch.pop(name, None)


def _validate_order(patch_list: list[Any], order: list[Any], merge_key: str) -> None:
    """validatePatchWithSetOrderList: the patch's items appear in the order list, in order."""
    if not order or not patch_list:
        return
    items = [i for i in patch_list if not (isinstance(i, dict) and i.get(_DIRECTIVE) == "delete")]
    if not merge_key:
        items = list(patch_list)
    p = s = 0
    while p < len(items) and s < len(order):
        if isinstance(items[p], dict) and _DIRECTIVE in items[p]:
            p += 1
            continue
        if merge_key:
            for value in (items[p], order[s]):
                if not isinstance(value, dict):
                    raise _SMPError(
                        "expected a map[string]interface {}, but received a"
                        f" {_go_reflect_type(value)}"
                    )
                if merge_key not in value:
                    raise _SMPError(_no_merge_key(value, merge_key))
            same = _go_eq(items[p][merge_key], order[s][merge_key])
        else:
            same = _go_eq(items[p], order[s])
        if same:
            p += 1
        s += 1
    if p < len(items) and s >= len(order):
        raise _SMPError(
            f"The order in patch list:\n{_go_v(patch_list)}\n doesn't match"
            f" {_ORDER_PREFIX} list:\n{_go_v(order)}\n"
        )


def _extract_key(key: str, prefix: str, error: str) -> str:
    head, sep, rest = key.partition("/")
    if not sep or head != prefix:
        raise _SMPError(error, "bad")
    return rest


def _remove_directives(value: Any) -> tuple[Any, bool]:
    """removeDirectives: drop maps carrying ``$patch`` (and their slots)."""
    if isinstance(value, dict):
        if _DIRECTIVE in value:
            return None, False
        for key in list(value):
            new, keep = _remove_directives(value[key])
            if keep:
                value[key] = new
            else:
                del value[key]
        return value, True
    if isinstance(value, list):
        out = []
        for item in value:
            new, keep = _remove_directives(item)
            if keep:
                out.append(new)
        return out, True
    return value, True


def _discard_nulls(value: Any) -> None:
    """discardNullValuesFromPatch: drop null members everywhere (in place)."""
    if isinstance(value, dict):
        for key in list(value):
            if value[key] is None:
                del value[key]
            else:
                _discard_nulls(value[key])
    elif isinstance(value, list):
        for item in value:
            _discard_nulls(item)


# ---------------------------------------------------------------- Go-isms


def _go_type(value: Any) -> str:
    """reflect.TypeOf of a decoded JSON value, as a word."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    return "map"


def _go_reflect_type(value: Any) -> str:
    return {
        "nil": "%!s(<nil>)",
        "bool": "bool",
        "int64": "int64",
        "float64": "float64",
        "string": "string",
        "list": "[]interface {}",
        "map": "map[string]interface {}",
    }[_go_type(value)]


def _go_eq(a: Any, b: Any) -> bool:
    """Go's ``==`` on interface{} values (same dynamic type and value)."""
    if _go_type(a) != _go_type(b):
        return False
    if isinstance(a, dict | list):
        return False  # comparing maps or slices panics in Go; they never match here
    return bool(a == b)


def _go_v(value: Any) -> str:
    """Go's ``%v`` of a decoded JSON value: ``map[a:1 b:[x y]]``."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if not value.is_integer() else str(int(value))
    if isinstance(value, int | str):
        return str(value)
    if isinstance(value, list):
        return "[" + " ".join(_go_v(v) for v in value) + "]"
    return "map[" + " ".join(f"{k}:{_go_v(v)}" for k, v in sorted(value.items())) + "]"


def _no_merge_key(item: Any, merge_key: str) -> str:
    return f"map: {_go_v(item)} does not contain declared merge key: {merge_key}"
