"""Field sets: what a manager owns, in the FieldsV1 shape (KUBE_API.md §4.2).

The job: build the set an object (or an applied configuration) owns, diff two objects
into added / modified / removed sets, do set algebra, remove a set's fields from an
object, encode and decode ``fieldsV1`` with structured-merge-diff's exact ordering, and
render paths for conflict messages. Semantics follow SMD's ``typed/tofieldset.go``,
``typed/compare.go``, ``typed/remove.go`` and ``fieldpath/{set,element,serialize}.go``.

Representation: a set is a ``Tree`` - exactly the decoded ``fieldsV1`` JSON. Keys are
serialized path elements (``f:name``, ``k:{"name":"x"}``, ``v:"fin"``, ``i:0``); a node
``{}`` is an owned leaf, a node with children is owned itself only if it also has
``".": {}``. The root tree is never itself a member. Trees are never mutated after they
are built; operations return new trees and may share unchanged sub-trees (or return an
operand itself when nothing changes).

Left to neighbours: the schema (``schema``), merging and manager bookkeeping (``apply``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import orjson

from kubesim import schema as schema_mod
from kubesim.schema import Kind, TypeSchema

Tree = dict[str, Any]
_ABSENT: Any = object()  # a field that is not there at all (null is None)


class FieldPathError(ValueError):
    """A value that cannot be addressed in an associative list, or a bad fieldsV1."""


# ---------------------------------------------------------------- path elements


def _go_json(value: Any) -> str:
    """JSON as Go's encoding/json writes it: compact, sorted keys, HTML-safe escapes."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    if "<" in text or ">" in text or "&" in text or "\u2028" in text or "\u2029" in text:
        text = (
            text.replace("<", "\\u003c")
            .replace(">", "\\u003e")
            .replace("&", "\\u0026")
            .replace("\u2028", "\\u2028")
            .replace("\u2029", "\\u2029")
        )
    return text


def field_element(name: str) -> str:
    """The path element of struct field or map key ``name``."""
    return "f:" + name


def item_element(item: Any, list_schema: TypeSchema) -> str:
    """The path element of one item of an associative list (``k:{...}`` or ``v:...``)."""
    if list_schema.keys:
        if not isinstance(item, dict):
            if item is None:
                raise FieldPathError("associative list with keys may not have a null element")
            raise FieldPathError("associative list with keys may not have non-map elements")
        parts: list[str] = []
        for key in sorted(list_schema.keys):
            if key in item:
                parts.append(_go_json(key) + ":" + _go_json(item[key]))
            elif key in list_schema.key_defaults:
                parts.append(_go_json(key) + ":" + _go_json(list_schema.key_defaults[key]))
        if not parts:
            keys = "[" + " ".join(_go_quote(k) for k in list_schema.keys) + "]"
            raise FieldPathError(
                f"associative list with keys has an element that omits all key fields {keys}"
                " (and doesn't have default values for any key fields)"
            )
        return "k:{" + ",".join(parts) + "}"
    if isinstance(item, dict):
        raise FieldPathError("associative list without keys has an element that's a map type")
    if isinstance(item, list):
        raise FieldPathError("not supported: associative list with lists as elements")
    if item is None:
        raise FieldPathError("associative list without keys has an element that's an explicit null")
    return "v:" + _go_json(item)


def _go_quote(text: str) -> str:
    """Go's ``%q`` of a string (strconv.Quote)."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif not ch.isprintable() and code > 0x7F:
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


_GO_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def _go_value_string(value: Any) -> str:
    """SMD's ``value.ToString``: strings quoted, numbers and booleans bare."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, str):
        return _go_quote(value)
    if isinstance(value, list):
        return "[" + ",".join(_go_value_string(v) for v in value) + "]"
    if isinstance(value, dict):
        return "".join(f"{k}={_go_value_string(v)}" for k, v in value.items())
    return "{{undefined}}"


def _go_float(value: float) -> str:
    # Go's %v of a float64 (strconv 'g', shortest): positional below 1e21 for the
    # integral values a key can sensibly hold; other floats keep Python's repr.
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


def render_element(pe: str) -> str:
    """A path element as a conflict message prints it: ``.name``, ``[name="x"]``, ``[="v"]``."""
    kind, body = pe[:2], pe[2:]
    if kind == "f:":
        return "." + body
    if kind == "k:":
        fields = orjson.loads(body)
        return "[" + ",".join(f"{k}={_go_value_string(v)}" for k, v in fields.items()) + "]"
    if kind == "v:":
        return "[=" + _go_value_string(orjson.loads(body)) + "]"
    if kind == "i:":
        return "[" + body + "]"
    return "{{invalid path element}}"


def render_path(path: tuple[str, ...] | list[str]) -> str:
    """A whole path as SMD prints it: ``.spec.template.spec.containers[name="nginx"].image``."""
    return "".join(render_element(pe) for pe in path)


# ---------------------------------------------------------------- set algebra


def is_member(node: Tree) -> bool:
    """Whether a (non-root) node is owned itself."""
    return not node or "." in node


def _node(children: Tree, *, member: bool) -> Tree | None:
    """A node from its membership and children (never mutates ``children``)."""
    if not children:
        return {} if member else None
    if member:
        out = dict(children)
        out["."] = {}
        return out
    return children


def union(a: Tree, b: Tree) -> Tree:
    """Every path in ``a`` or ``b``."""
    if not b or a is b:
        return a
    if not a:
        return b
    out = {k: v for k, v in a.items() if k != "."}
    for key, y in b.items():
        if key == ".":
            continue
        x = out.get(key)
        out[key] = y if x is None else _union_node(x, y)
    return out


def _union_node(x: Tree, y: Tree) -> Tree:
    if x is y:
        return x
    node = _node(union(_children(x), _children(y)), member=is_member(x) or is_member(y))
    return {} if node is None else node


def difference(a: Tree, b: Tree) -> Tree:
    """The paths of ``a`` that ``b`` does not own (SMD ``Set.Difference``)."""
    if not b or not a:
        return a
    out: Tree = {}
    changed = False
    for key, x in a.items():
        if key == ".":
            continue
        y = b.get(key)
        if y is None:
            out[key] = x
            continue
        changed = True
        node = _node(
            difference(_children(x), _children(y)), member=is_member(x) and not is_member(y)
        )
        if node is not None:
            out[key] = node
    return out if changed else a


def intersection(a: Tree, b: Tree) -> Tree:
    """The paths owned in both ``a`` and ``b``."""
    if not a or not b:
        return {}
    out: Tree = {}
    small, big = (a, b) if len(a) <= len(b) else (b, a)
    for key, x in small.items():
        if key == ".":
            continue
        y = big.get(key)
        if y is None:
            continue
        node = _node(intersection(_children(x), _children(y)), member=is_member(x) and is_member(y))
        if node is not None:
            out[key] = node
    return out


def recursive_difference(a: Tree, b: Tree) -> Tree:
    """``a`` without the paths of ``b`` and everything below them (SMD filter)."""
    if not b or not a:
        return a
    out: Tree = {}
    for key, x in a.items():
        if key == ".":
            continue
        y = b.get(key)
        if y is None:
            out[key] = x
        elif not is_member(y):
            node = _node(recursive_difference(_children(x), _children(y)), member=is_member(x))
            if node is not None:
                out[key] = node
    return out


def _children(node: Tree) -> Tree:
    if "." not in node:
        return node
    return {k: v for k, v in node.items() if k != "."}


def is_empty(tree: Tree) -> bool:
    """Whether the set owns nothing."""
    return not tree


def paths(tree: Tree) -> list[tuple[str, ...]]:
    """The owned paths in SMD's iteration order (members of a level, then its children)."""
    out: list[tuple[str, ...]] = []
    _iterate(tree, (), out)
    return out


def _iterate(tree: Tree, prefix: tuple[str, ...], out: list[tuple[str, ...]]) -> None:
    keys = sorted((k for k in tree if k != "."), key=_sort_key)
    out.extend((*prefix, key) for key in keys if is_member(tree[key]))
    for key in keys:
        node = tree[key]
        if node and any(k != "." for k in node):
            _iterate(node, (*prefix, key), out)


def from_paths(path_list: list[tuple[str, ...]]) -> Tree:
    """A set owning exactly ``path_list`` (a helper for tables and tests)."""
    root: dict[str, list[Any]] = {}
    for path in path_list:
        level = root
        for pe in path[:-1]:
            level = level.setdefault(pe, [False, {}])[1]
        level.setdefault(path[-1], [False, {}])[0] = True
    return _from_levels(root)


def _from_levels(level: dict[str, list[Any]]) -> Tree:
    out: Tree = {}
    for pe, (member, below) in level.items():
        node = _node(_from_levels(below), member=member)
        if node is not None:
            out[pe] = node
    return out


# ---------------------------------------------------------------- FieldsV1 encoding


def _value_key(value: Any) -> tuple[Any, ...]:
    """An orderable key that sorts like SMD's ``value.Compare``."""
    if isinstance(value, bool):
        return (2, value)
    if isinstance(value, int | float):
        return (0, value)
    if isinstance(value, str):
        return (1, value.encode())
    if isinstance(value, list):
        return (3, tuple(_value_key(v) for v in value))
    if isinstance(value, dict):
        return (4, tuple(sorted((k.encode(), _value_key(v)) for k, v in value.items())))
    return (5,)


def _sort_key(pe: str) -> tuple[Any, ...]:
    kind = pe[:2]
    if kind == "f:":
        return (0, pe[2:].encode())
    if kind == "k:":
        fields = orjson.loads(pe[2:])
        return (1, tuple((k.encode(), _value_key(v)) for k, v in sorted(fields.items())))
    if kind == "v:":
        return (2, _value_key(orjson.loads(pe[2:])))
    if kind == "i:":
        return (3, int(pe[2:]))
    return (4, pe)


def encode(tree: Tree) -> Tree:
    """The set as ``fieldsV1``: ``"."`` first, then fields by name, ``k:``, ``v:``, ``i:``."""
    out: Tree = {}
    if "." in tree:
        out["."] = {}
    keys = [k for k in tree if k != "."]
    if len(keys) > 1:
        keys.sort(key=_sort_key)
    for key in keys:
        node = tree[key]
        out[key] = encode(node) if node else {}
    return out


def decode(fields_v1: Any) -> Tree:
    """A ``fieldsV1`` object as a set; unknown element kinds are dropped as SMD does."""
    if not isinstance(fields_v1, dict):
        raise FieldPathError("fieldsV1 must be a JSON object")
    out = _decode_children(fields_v1)
    out.pop(".", None)
    return out


def _decode_children(node: dict[str, Any]) -> Tree:
    out: Tree = {}
    for key, child in node.items():
        if key == ".":
            out["."] = {}
            continue
        if len(key) < 2 or key[1] != ":":
            raise FieldPathError(f"invalid path element {key!r}")
        if key[0] not in "fkvi":
            continue  # a future element kind: SMD drops what it does not understand
        if key[0] in "kv":
            try:
                orjson.loads(key[2:])
            except orjson.JSONDecodeError as exc:
                raise FieldPathError(f"invalid path element {key!r}") from exc
        if not isinstance(child, dict):
            raise FieldPathError(f"the value of {key!r} must be an object")
        out[key] = _decode_children(child) if child else {}
    if "." in out and len(out) == 1:
        return {}
    return out


# ---------------------------------------------------------------- sets from objects


def from_object(obj: Any, schema: TypeSchema) -> Tree:
    """The set an applied configuration owns (SMD ``ToFieldSet``), as ``tofieldset.go``.

    Scalars, atomic lists/maps/structs, empty maps and nulls are owned leaves; items of
    associative lists are owned themselves (with their children); keys of granular maps
    are owned. Keys of list-map items a config omits get their defaults (``protocol``).
    """
    node = _owned(obj, schema)
    if node is None:
        return {}
    node.pop(".", None)
    return node


def _owned(value: Any, schema: TypeSchema) -> Tree | None:
    """The children owned under ``value`` (None: nothing; the caller decides membership)."""
    kind = schema.kind
    if kind is Kind.STRUCT or kind is Kind.MAP or kind is Kind.DEDUCED:
        if schema.atomic or not isinstance(value, dict):
            return None
        out: Tree = {}
        struct = kind is Kind.STRUCT
        for key, member in value.items():
            sub = schema.child(key)
            if sub is None:
                sub = schema_mod.UNTYPED
            child = _owned(member, sub)
            leaf = member is None or (isinstance(member, dict) and not member)
            leaf = leaf or _is_leaf(member, sub)
            if not leaf and struct and key not in schema.fields:
                leaf = True  # SMD owns keys it does not find among the declared fields
            if not leaf and not struct:
                leaf = True  # keys of granular maps
            if child:
                if leaf:
                    child["."] = {}
                out["f:" + key] = child
            elif leaf:
                out["f:" + key] = {}
        return out
    if kind is Kind.LIST and schema.is_associative and isinstance(value, list):
        return _owned_items(value, schema)
    return None


def _is_leaf(value: Any, schema: TypeSchema) -> bool:
    kind = schema.kind
    if kind is Kind.SCALAR or kind is Kind.UNTYPED or schema.atomic:
        return True
    if kind is Kind.LIST:
        return not schema.is_associative or not isinstance(value, list)
    if kind is Kind.DEDUCED:
        return not isinstance(value, dict)
    return not isinstance(value, dict)


def _owned_items(items: list[Any], schema: TypeSchema) -> Tree:
    element = schema.element
    assert element is not None
    out: Tree = {}
    seen: dict[str, int] = {}
    elements = [item_element(item, schema) for item in items]
    for pe in elements:
        seen[pe] = seen.get(pe, 0) + 1
    for pe, item in zip(elements, items, strict=True):
        if seen[pe] > 1:
            out[pe] = {}  # duplicates are owned as a whole, never descended into
            continue
        child = _owned(item, element)
        if child:
            child["."] = {}
            out[pe] = child
        else:
            out[pe] = {}
    return out


# ---------------------------------------------------------------- comparing objects


@dataclass(frozen=True, slots=True)
class Comparison:
    """What changed from an old object to a new one (SMD ``typed.Comparison``)."""

    added: Tree
    modified: Tree
    removed: Tree

    @property
    def is_same(self) -> bool:
        """Whether nothing changed."""
        return not self.added and not self.modified and not self.removed


class _Diff:
    """The three sets one level of a comparison fills."""

    __slots__ = ("added", "modified", "removed")

    def __init__(self) -> None:
        self.added: Tree = {}
        self.modified: Tree = {}
        self.removed: Tree = {}

    def put(self, pe: str, result: tuple[Tree | None, Tree | None, Tree | None]) -> None:
        a, m, r = result
        if a is not None:
            self.added[pe] = a
        if m is not None:
            self.modified[pe] = m
        if r is not None:
            self.removed[pe] = r


def compare(old: Any, new: Any, schema: TypeSchema) -> Comparison:
    """Diff two objects (both present) into added, modified and removed sets."""
    diff = _Diff()
    _cmp_members(old, new, schema, diff)
    return Comparison(diff.added, diff.modified, diff.removed)


def _equal(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if type(a) is not type(b):
        if isinstance(a, bool) or isinstance(b, bool):
            return False
        if isinstance(a, int | float) and isinstance(b, int | float):
            return bool(a == b) and not (isinstance(a, float) and math.isnan(a))
        return False
    return bool(a == b)


def _cmp(old: Any, new: Any, schema: TypeSchema) -> tuple[Tree | None, Tree | None, Tree | None]:
    """(added, modified, removed) nodes for one value; either side may be ``_ABSENT``."""
    if _is_leaf_pair(old, new, schema):
        if old is _ABSENT:
            return {}, None, None
        if new is _ABSENT:
            return None, None, {}
        if _equal(old, new):
            return None, None, None
        return None, {}, None
    diff = _Diff()
    if schema.kind is Kind.LIST:
        _cmp_items(old, new, schema, diff)
    else:
        _cmp_members(old, new, schema, diff)
    a: Tree | None = diff.added or None
    m: Tree | None = diff.modified or None
    r: Tree | None = diff.removed or None
    if old is _ABSENT:
        a = _node(diff.added, member=True)  # a newly created map or list is owned itself
    elif new is _ABSENT:
        r = _node(diff.removed, member=True)
    return a, m, r


def _is_leaf_pair(old: Any, new: Any, schema: TypeSchema) -> bool:
    kind = schema.kind
    if kind is Kind.SCALAR or kind is Kind.UNTYPED or schema.atomic:
        return True
    if kind is Kind.LIST:
        if not schema.is_associative:
            return True
        old_list = old if isinstance(old, list) else None
        new_list = new if isinstance(new, list) else None
        if (old is not _ABSENT and old is not None and old_list is None) or (
            new is not _ABSENT and new is not None and new_list is None
        ):
            return True  # not a list at all: compared as a value
        return not old_list and not new_list
    old_map = old if isinstance(old, dict) else None
    new_map = new if isinstance(new, dict) else None
    if (old is not _ABSENT and old is not None and old_map is None) or (
        new is not _ABSENT and new is not None and new_map is None
    ):
        return True
    return not old_map and not new_map


def _cmp_members(old: Any, new: Any, schema: TypeSchema, diff: _Diff) -> None:
    old_map: dict[str, Any] = old if isinstance(old, dict) else {}
    new_map: dict[str, Any] = new if isinstance(new, dict) else {}
    value_fields = schema.value_fields
    old_present = old is not _ABSENT
    new_present = new is not _ABSENT
    for key, old_value in old_map.items():
        sub = schema.child(key) or schema_mod.UNTYPED
        new_value = new_map.get(key, _ABSENT)
        if new_value is _ABSENT and key in value_fields and new_present:
            new_value = {}  # Go serializes a value struct even when it is empty
        if new_value is old_value:
            continue
        diff.put("f:" + key, _cmp(old_value, new_value, sub))
    for key, new_value in new_map.items():
        if key in old_map:
            continue
        sub = schema.child(key) or schema_mod.UNTYPED
        old_value = {} if (key in value_fields and old_present) else _ABSENT
        diff.put("f:" + key, _cmp(old_value, new_value, sub))


def _cmp_items(old: Any, new: Any, schema: TypeSchema, diff: _Diff) -> None:
    element = schema.element
    assert element is not None
    old_items = _index(old if isinstance(old, list) else [], schema)
    new_items = _index(new if isinstance(new, list) else [], schema)
    for pe, old_values in old_items.items():
        new_values = new_items.get(pe) or []
        if len(old_values) > 1 or len(new_values) > 1:
            _cmp_duplicates(pe, old_values, new_values, element, diff)
            continue
        new_value = new_values[0] if new_values else _ABSENT
        if new_value is not old_values[0]:
            diff.put(pe, _cmp(old_values[0], new_value, element))
    for pe, new_values in new_items.items():
        if pe in old_items:
            continue
        if len(new_values) > 1:
            _cmp_duplicates(pe, [], new_values, element, diff)
        else:
            diff.put(pe, _cmp(_ABSENT, new_values[0], element))


def _cmp_duplicates(
    pe: str, old_values: list[Any], new_values: list[Any], element: TypeSchema, diff: _Diff
) -> None:
    # compare.go: duplicates on both sides are compared as an atomic list; duplicates
    # appearing mark the item added, duplicates disappearing mark it removed.
    if len(old_values) > 1 and len(new_values) > 1:
        if len(old_values) != len(new_values) or not all(
            _equal(a, b) for a, b in zip(old_values, new_values, strict=True)
        ):
            diff.modified[pe] = {}
    elif len(old_values) > 1:
        if new_values:
            diff.put(pe, _cmp(_ABSENT, new_values[0], element))
        diff.removed[pe] = {}
    else:
        if old_values:
            diff.put(pe, _cmp(old_values[0], _ABSENT, element))
        diff.added[pe] = {}


def _index(items: list[Any], schema: TypeSchema) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for item in items:
        pe = item_element(item, schema)
        found = out.get(pe)
        if found is None:
            out[pe] = [item]
        else:
            found.append(item)
    return out


# ---------------------------------------------------------------- removing fields


def remove(obj: Any, tree: Tree, schema: TypeSchema) -> Any:
    """``obj`` without the owned paths of ``tree`` (SMD ``RemoveItems``).

    A member path is removed with everything below it; containers that end up empty are
    left out (the typed server drops them). Copy-on-write: untouched sub-trees are shared.
    """
    if not tree:
        return obj
    kind = schema.kind
    if schema.atomic or kind in (Kind.SCALAR, Kind.UNTYPED):
        return obj
    if kind is Kind.LIST:
        return _remove_items(obj, tree, schema) if isinstance(obj, list) else obj
    if not isinstance(obj, dict):
        return obj
    out: dict[str, Any] | None = None
    for key, value in obj.items():
        node = tree.get("f:" + key)
        if node is None:
            continue
        if out is None:
            out = dict(obj)
        if is_member(node):
            del out[key]
            continue
        sub = schema.child(key) or schema_mod.UNTYPED
        new = remove(value, node, sub)
        if _emptied(value, new):
            del out[key]
        else:
            out[key] = new
    return obj if out is None else out


def _emptied(old: Any, new: Any) -> bool:
    return new is not old and isinstance(new, dict | list) and not new


def _remove_items(items: list[Any], tree: Tree, schema: TypeSchema) -> list[Any]:
    element = schema.element
    assert element is not None
    if not schema.is_associative:
        return items
    out: list[Any] = []
    changed = False
    for item in items:
        node = tree.get(item_element(item, schema))
        if node is None:
            out.append(item)
            continue
        changed = True
        if is_member(node):
            continue
        new = remove(item, node, element)
        if not _emptied(item, new):
            out.append(new)
    return out if changed else items
