"""Strategic merge patches with kustomize's (kyaml's) exact semantics.

kustomize does not use Kubernetes' strategic merge code but its own walker, and its
quirks show in output, so they are reproduced here:

* maps merge key by key (keys visited in sorted order); a ``null`` in the patch
  deletes; ``$patch: delete``/``replace``/``merge`` directives on maps and lists;
* a list merges by key only when the built-in Kubernetes v1.21 schema gives it a
  ``merge`` patch strategy (``mergeschema``); every other list — custom resources
  included — is replaced by the patch's;
* merged lists put the patch's elements first ("prepend"); with a single merge key an
  existing element keeps the patch's position, with several keys (ports:
  ``containerPort``+``protocol``) existing elements go back in their original order
  after new ones; a patch element missing one of several keys only matches when the
  missing key's value is empty everywhere (kustomize's #3620 behaviour);
* a ``null`` already in the resource that the patch does not touch survives when it was
  written out (``null``, ``~``) and goes when it was written with no text (``key:``),
  wherever the walk reaches: every map of the resource and the elements of merged
  lists, not the insides of replaced lists (kyaml's ``VisitMap`` on an empty node).

Values are JSON-like Python values; ``MISSING`` stands for an absent field. The nulls
written with no text are named by (id of their map, key), as ``Resource`` records them.
"""

from __future__ import annotations

from typing import Any, Final

from daemon.shell.render import yamlsafe
from daemon.shell.render.kustomize import mergeschema
from daemon.shell.render.result import RenderError


class _Sentinel:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


MISSING: Final = _Sentinel("MISSING")
CLEAR: Final = _Sentinel("CLEAR")
_FOUND: Final = _Sentinel("FOUND")
_DIRECTIVE = "$patch"

Schema = tuple[str, ...] | None
"""("type", name) | ("list", items type or "", strategy, *keys) | ("map", type) | ("opaque",).

None means no schema at all (kustomize then looks for an embedded apiVersion/kind)."""


def schema_for(api_version: Any, kind: Any) -> Schema:
    """The schema of a resource type, None for types kustomize does not know."""
    name = mergeschema.RESOURCES.get((api_version, kind)) if isinstance(kind, str) else None
    return ("type", name) if name else None


_OPAQUE: Final = ("opaque",)
"""A field of a known type that holds no merge list: lists in it are replaced."""


def _field(schema: Schema, key: str) -> Schema:
    if schema is None:
        return None
    if schema[0] == "map":
        return ("type", schema[1])
    if schema[0] != "type":
        return _OPAQUE
    fields = mergeschema.TYPES.get(schema[1], {})
    entry = fields.get(key)
    if entry is not None:
        target, strategy, keys = entry
        if strategy is None:
            return ("type", target) if target else _OPAQUE
        return ("list", target or "", strategy, *keys)
    mapped = fields.get(f"{key}/*")
    if mapped is not None and mapped[0]:
        return ("map", mapped[0])
    return _OPAQUE


def _elements(schema: Schema) -> Schema:
    if schema is None:
        return None
    if schema[0] != "list" or not schema[1]:
        return _OPAQUE
    return ("type", schema[1])


def _strategy_keys(schema: Schema) -> tuple[str, list[str]]:
    if schema is None or schema[0] != "list":
        return "", []
    return schema[2], list(schema[3:])


def _is_associative(schema: Schema) -> bool:
    return "merge" in _strategy_keys(schema)[0].split(",")


def text(value: Any) -> str:
    """A scalar's text as kyaml compares it (maps, lists and null read as empty)."""
    if value is None or isinstance(value, (dict, list)) or value is MISSING:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


Places = frozenset[tuple[int, str]]
"""(id of a map in the resource, key) of the nulls there written with no text."""


def merge(
    target: dict[str, Any], patch: dict[str, Any], *, empty_nulls: Places = frozenset()
) -> dict[str, Any] | None:
    """Apply ``patch`` to ``target`` (both mutated); None when the patch deletes it."""
    result = _walk(target, patch, None, [], empty_nulls)
    if result is CLEAR or result is MISSING or result is None:
        return None
    assert isinstance(result, dict)
    return result


def _category(value: Any) -> str | None:
    if value is MISSING or value is None:
        return None
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "list"
    return "scalar"


def _walk(dest: Any, origin: Any, schema: Schema, path: list[str], empty: Places) -> Any:
    if schema is None:
        schema = _embedded_schema(dest, origin)
    kinds = {_category(v) for v in (dest, origin)} - {None}
    if len(kinds) > 1:
        raise RenderError(
            f"strategic merge patch: field {'.'.join(path) or '(root)'} is a "
            f"{_category(dest)} in the resource but a {_category(origin)} in the patch"
        )
    kind = kinds.pop() if kinds else None
    if kind is None:
        # Both absent or null: a null already in the resource is kept, one from the patch clears.
        return None if origin is MISSING else CLEAR
    if kind == "map":
        return _walk_map(dest, origin, schema, path, empty)
    if kind == "list":
        if _is_associative(schema):
            return _walk_associative(dest, origin, schema, path, empty)
        return _override(dest, origin)
    return _override(dest, origin)


def _embedded_schema(dest: Any, origin: Any) -> Schema:
    for value in (dest, origin):
        if isinstance(value, dict) and value.get("apiVersion") and value.get("kind"):
            return schema_for(value.get("apiVersion"), value.get("kind"))
    return None


def _override(dest: Any, origin: Any) -> Any:
    if origin is not MISSING:
        return CLEAR if origin is None else origin
    return dest


def _map_directive(origin: Any) -> str:
    if not isinstance(origin, dict) or _DIRECTIVE not in origin:
        return "merge"
    value = text(origin[_DIRECTIVE])
    if value not in ("delete", "replace", "merge"):
        raise RenderError(f"unknown patch strategy '{value}'")
    del origin[_DIRECTIVE]
    return value


def _list_directive(origin: Any) -> str:
    if not isinstance(origin, list):
        return "merge"
    holder = next((e for e in origin if isinstance(e, dict) and _DIRECTIVE in e), None)
    if holder is None or len(holder) > 1:
        return "merge"
    value = text(holder[_DIRECTIVE])
    if value not in ("delete", "replace", "merge"):
        raise RenderError(f"unknown patch strategy '{value}'")
    origin[:] = [
        e
        for e in origin
        if not (isinstance(e, dict) and _DIRECTIVE in e and text(e[_DIRECTIVE]) == value)
    ]
    return value


def _visit_map(dest: Any, origin: Any) -> Any:
    if dest is MISSING or dest is None:
        if isinstance(origin, dict) and _map_directive(origin) == "delete":
            return CLEAR
        return origin
    if origin is None:
        return CLEAR
    match _map_directive(origin):
        case "delete":
            return CLEAR
        case "replace":
            return origin
        case _:
            return dest


def _walk_map(dest: Any, origin: Any, schema: Schema, path: list[str], empty: Places) -> Any:
    merged = _visit_map(dest, origin)
    if merged is CLEAR or merged is MISSING or merged is None:
        return CLEAR
    assert isinstance(merged, dict)
    patch = origin if isinstance(origin, dict) else {}
    for key in sorted({*merged, *patch}):
        if key not in patch and (id(merged), key) in empty and merged.get(key) is None:
            del merged[key]  # an untouched null with no text: kyaml's walker drops it
            continue
        value = _walk(
            merged.get(key, MISSING),
            patch.get(key, MISSING),
            _field(schema, key),
            [*path, key],
            empty,
        )
        if value is CLEAR or value is MISSING:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def _walk_associative(
    dest: Any, origin: Any, schema: Schema, path: list[str], empty: Places
) -> Any:
    if dest is MISSING or dest is None:
        merged = origin
    elif origin is None:
        return CLEAR
    else:
        match _list_directive(origin):
            case "delete":
                return CLEAR
            case "replace":
                merged = origin
            case _:
                merged = dest
    assert isinstance(merged, list)
    _, keys = _strategy_keys(schema)
    sources = [origin, merged]  # the patch's elements come first ("prepend")
    values = _element_values(keys, sources)
    if not values and not keys:
        values, keys = _primitive_values(sources), [""]
    return _set_elements(
        values, keys, dest=merged, origin=origin, schema=schema, path=path, empty=empty
    )


def _element_values(keys: list[str], sources: list[Any]) -> list[list[str]]:
    out: list[list[str]] = []
    for source in sources:
        if not isinstance(source, list):
            continue
        for element in source:
            values = [text(element.get(key)) if isinstance(element, dict) else "" for key in keys]
            if values and values not in out:
                out.append(values)
    return out


def _primitive_values(sources: list[Any]) -> list[list[str]]:
    out: list[list[str]] = []
    seen: set[str] = set()
    for source in sources:
        if not isinstance(source, list):
            continue
        for element in source:
            value = text(element)
            if value not in seen:
                seen.add(value)
                out.append([value])
    return out


def _set_elements(
    values_list: list[list[str]],
    keys: list[str],
    *,
    dest: list[Any],
    origin: Any,
    schema: Schema,
    path: list[str],
    empty: Places,
) -> Any:
    items: list[Any] = []
    element_schema = _elements(schema)
    if len(keys) > 1:
        _merge_values(values_list)
    valid_keys: list[str] = []
    valid_values: list[str] = []
    for values in values_list:
        if not values:
            continue
        valid_keys, valid_values = _validate_keys(values_list, values, keys)
        pair = [_element_in(source, valid_keys, valid_values) for source in (dest, origin)]
        value = _walk(pair[0], pair[1], element_schema, [*path, "[]"], empty)
        if value is CLEAR or value is MISSING or value is None or value == {}:
            _set_element(dest, None, valid_keys, valid_values)
            continue
        if isinstance(value, dict):
            for index, key in enumerate(valid_keys):
                if key not in value and index < len(valid_values) and valid_values[index]:
                    value[key] = yamlsafe.resolve_plain(valid_values[index])
        _set_element(items, value, valid_keys, valid_values)
    if values_list:
        return _append_list(items, dest, valid_keys)
    return dest


def _merge_values(values_list: list[list[str]]) -> None:
    for i in range(len(values_list)):
        first = values_list[i]
        for j in range(len(values_list)):
            matched, merged = _match(first, values_list[j])
            if matched:
                values_list[i] = merged
                values_list[j] = merged


def _match(first: list[str], second: list[str]) -> tuple[bool, list[str]]:
    if len(first) != len(second):
        return False, []
    common = False
    out: list[str] = []
    for a, b in zip(first, second, strict=True):
        if a == b:
            common = True
            out.append(a)
        elif a and b:
            return False, []
        else:
            out.append(a or b)
    return common, out


def _validate_keys(
    values_list: list[list[str]], values: list[str], keys: list[str]
) -> tuple[list[str], list[str]]:
    valid = {keys[i] for each in values_list for i, v in enumerate(each) if v and i < len(keys)}
    if not valid:
        return keys, values
    return (
        [k for k in keys if k in valid],
        [v for i, v in enumerate(values) if v or (i < len(keys) and keys[i] in valid)],
    )


def _element_in(source: Any, keys: list[str], values: list[str]) -> Any:
    """The first element of ``source`` whose key fields equal ``values`` (MISSING if none)."""
    keys, values = _validate_keys([values], values, keys)
    if not isinstance(source, list):
        return MISSING
    if not keys or not keys[0]:
        wanted = values[0] if values else ""
        return next((e for e in source if text(e) == wanted), MISSING)
    if len(keys) != len(values):
        return MISSING
    for element in source:
        if isinstance(element, dict) and all(
            key in element and text(element[key]) == value
            for key, value in zip(keys, values, strict=True)
        ):
            return element
    return MISSING


def _field_matches(element: Any, name: str, wanted: str) -> Any:
    """Kyaml's FieldMatcher with a string value ("" matches any value of a present field)."""
    if element is None:
        return None
    if name == "":
        if isinstance(element, (dict, list)):
            raise RenderError("strategic merge patch: a list mixes scalars and maps")
        return _FOUND if text(element) == wanted else None
    if not isinstance(element, dict):
        raise RenderError(f"strategic merge patch: expected a map with {name!r} in a list")
    if name in element and (not wanted or text(element[name]) == wanted):
        return _FOUND
    return None


def _set_element(items: list[Any], element: Any, keys: list[str], values: list[str]) -> None:
    """Kyaml's ElementSetter: replace the matching elements, delete them, or append."""
    keys = keys or [""]
    mapping_setter = bool(keys[0]) and bool(values) and bool(values[0])
    kept: list[Any] = []
    matched = False
    for existing in items:
        if existing is None or existing == {}:
            continue
        if not isinstance(existing, dict) and mapping_setter:
            kept.append(existing)
            continue
        found: Any = None
        for index, key in enumerate(keys):
            if index < len(values):
                found = _field_matches(existing, key, values[index])
            if found is None:
                break
        if found is None:
            if values:
                kept.append(existing)
            continue
        matched = True
        if element is not None:
            kept.append(element)
    items[:] = kept
    if element is not None and not matched:
        items.append(element)


def _append_list(items: list[Any], source: list[Any], keys: list[str]) -> list[Any]:
    for element in source:
        if not keys or keys[0] == "":
            _set_element(items, element, [""], [text(element)])
            continue
        if not isinstance(element, dict):
            raise RenderError("strategic merge patch: expected maps in a keyed list")
        values: list[str] = []
        for key in keys:
            if key not in element:
                items.append(element)
                continue
            values.append(text(element[key]))
        if len(keys) > 1:
            _set_element(items, None, keys, values)
        _set_element(items, element, keys, values)
    return items
