"""diff's fast path (``_in_sync``) agrees with its full walks (``_differences``) on any pair.

``compare`` answers "in sync" from the fast path alone, so the two must never disagree:
property tests over generated desired bodies, live bodies derived from them by random
edits (server defaults added, values changed, fields dropped, bools and numbers mixed
up, lists reordered), and gitopsd-owned field sets taken from an earlier desired body.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.core import diff

# Field names that reach every special case: merge-keyed lists, ports, quantities.
NAMES = ["containers", "env", "ports", "requests", "name", "port", "protocol", "x", "y"]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from([0, 1, 2, 1.0, 0.5, "0.5", "500m", "1Gi", "1024Mi", "TCP", "UDP", "a", ""]),
)


def _json(depth: int = 3) -> st.SearchStrategy[Any]:
    if depth == 0:
        return SCALARS
    child = _json(depth - 1)
    return st.one_of(
        SCALARS,
        st.dictionaries(st.sampled_from(NAMES), child, max_size=4),
        st.lists(child, max_size=3),
        st.lists(
            st.fixed_dictionaries(
                {"name": st.sampled_from(["a", "b"])},
                optional={"port": st.sampled_from([80, 81]), "x": child},
            ),
            max_size=3,
        ),
    )


BODY = st.fixed_dictionaries(
    {"apiVersion": st.just("v1"), "kind": st.just("Thing")},
    optional={
        "metadata": st.dictionaries(st.sampled_from(["name", "labels", "uid"]), _json(1)),
        "spec": _json(),
        "data": st.dictionaries(st.sampled_from(NAMES), SCALARS, max_size=3),
    },
)


# Pairs of values the API server treats as equal in a quantity field, and only there.
EQUIVALENT = [("0.5", "500m"), ("500m", 0.5), ("1Gi", "1024Mi"), ("1024Mi", "1Gi"), (1, "1")]


MERGE_KEY_FIELDS = {"name", "port", "protocol"}


def _edit(value: Any, data: st.DataObject, field: str = "") -> Any:
    """Another version of ``value``: usually equal, sometimes edited at some depth."""
    choice = data.draw(st.integers(0, 39))
    if choice == 0:
        # A merge key stays a scalar: the API rejects an object there.
        return data.draw(SCALARS if field in MERGE_KEY_FIELDS else _json(1))
    if choice == 1 and isinstance(value, bool):
        return int(value)
    if choice == 1 and type(value) is int:
        return float(value) if data.draw(st.booleans()) else bool(value)
    if choice == 2:
        for a, b in EQUIVALENT:
            if type(value) is type(a) and value == a:
                return b
    if isinstance(value, dict):
        out = {k: _edit(v, data, k) for k, v in value.items()}
        if value and data.draw(st.integers(0, 9)) == 0:
            out.pop(data.draw(st.sampled_from(sorted(value))))
        if data.draw(st.integers(0, 4)) == 0:
            out[data.draw(st.sampled_from([*NAMES, "defaulted"]))] = data.draw(SCALARS)
        return out
    if isinstance(value, list):
        out_list = [_edit(v, data) for v in value]
        if out_list and data.draw(st.integers(0, 5)) == 0:
            del out_list[data.draw(st.integers(0, len(out_list) - 1))]
        if len(out_list) > 1 and data.draw(st.integers(0, 7)) == 0:
            out_list.reverse()
        return out_list
    return value


def _fields(value: Any) -> dict[str, Any]:
    """The FieldsV1 set server-side apply would record for ``value``."""
    if isinstance(value, dict):
        return {f"f:{k}": _fields(v) for k, v in value.items()}
    if (
        isinstance(value, list)
        and value
        and all(isinstance(i, dict) and "name" in i for i in value)
    ):
        return {
            "k:" + orjson.dumps({"name": i["name"]}).decode(): {".": {}, **_fields(i)}
            for i in value
        }
    if isinstance(value, list) and all(isinstance(i, str) for i in value):
        return {"v:" + orjson.dumps(i).decode(): {} for i in value}
    return {}


def _body(value: Any) -> dict[str, Any]:
    """``value`` as an API object: a dict whose metadata, if any, is a dict."""
    out = value if isinstance(value, dict) else {}
    if not isinstance(out.get("metadata", {}), dict):
        out["metadata"] = {}
    return out


@settings(max_examples=1000, deadline=None)
@given(applied=BODY, data=st.data())
def test_fast_path_agrees_with_the_full_walks(applied: dict[str, Any], data: st.DataObject) -> None:
    """On any (desired, live) pair the fast path says "in sync" exactly when no difference is found.

    ``applied`` is what gitopsd applied last (its field set is gitopsd's in the live
    object); the desired body and the live one are each ``applied`` or an edit of it.
    """
    desired = _body(_edit(copy.deepcopy(applied), data)) if data.draw(st.booleans()) else applied
    live = _body(_edit(copy.deepcopy(applied), data)) if data.draw(st.booleans()) else applied
    live = copy.deepcopy(live)
    if data.draw(st.booleans()):
        owned = _fields({k: v for k, v in applied.items() if k not in ("apiVersion", "kind")})
        meta = live.setdefault("metadata", {})
        meta["managedFields"] = [{"manager": "gitopsd", "operation": "Apply", "fieldsV1": owned}]
    want = diff.normalize(desired)
    assert diff._in_sync(want, live) == (diff._differences(want, live) == [])


def _owned(fields: dict[str, Any]) -> dict[str, Any]:
    return {"managedFields": [{"manager": "gitopsd", "operation": "Apply", "fieldsV1": fields}]}


NAMED_B = 'k:{"name":"b"}'
CASES: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = [
    (
        "a container gitopsd applied, gone from Git, still live",
        {"spec": {"containers": [{"name": "a"}]}},
        {
            "metadata": _owned({"f:spec": {"f:containers": {NAMED_B: {".": {}}}}}),
            "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
        },
        False,
    ),
    (
        "a field gitopsd applied, gone from Git, still live",
        {"spec": {"x": 1}},
        {"metadata": _owned({"f:spec": {"f:x": {}, "f:y": {}}}), "spec": {"x": 1, "y": 2}},
        False,
    ),
    (
        "equal quantities in requests",
        {"spec": {"requests": {"cpu": "0.5"}}},
        {"spec": {"requests": {"cpu": "500m"}}},
        True,
    ),
    ("quantity forms elsewhere differ", {"spec": {"x": "0.5"}}, {"spec": {"x": "500m"}}, False),
    ("true is not 1", {"spec": {"x": True}}, {"spec": {"x": 1}}, False),
    ("true is not 1, deeper", {"spec": {"x": {"y": True}}}, {"spec": {"x": {"y": 1}}}, False),
    ("true is not 1 in a list", {"spec": {"x": [[True]]}}, {"spec": {"x": [[1]]}}, False),
    ("nor false 0", {"spec": {"x": [{"y": False}]}}, {"spec": {"x": [{"y": 0}]}}, False),
    ("1 is 1.0", {"spec": {"x": 1}}, {"spec": {"x": 1.0}}, True),
    (
        "server defaults beside what gitopsd sets",
        {"spec": {"ports": [{"port": 80}]}},
        {"spec": {"ports": [{"port": 80, "protocol": "TCP"}], "type": "ClusterIP"}},
        True,
    ),
]


@pytest.mark.parametrize(
    ("desired", "live", "in_sync"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_fast_path_on_known_pairs(
    desired: dict[str, Any], live: dict[str, Any], in_sync: bool
) -> None:
    """Removed fields and items, quantities, bools vs numbers, defaults: both walks agree."""
    want = diff.normalize(desired)
    verdicts = (diff._in_sync(want, live), diff._differences(want, live) == [])
    assert verdicts == (in_sync, in_sync)
