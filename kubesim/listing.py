"""LIST: selectors, ``limit``/``continue`` paging over consistent snapshots, RV rules (§2.4, §3.1).

A :class:`Filter` (namespace + label and field selectors) decides membership for both
lists and watches. Paging keeps every page at the first page's revision by rebuilding
the snapshot from the store's change log; a token older than the retained history is
410 Expired. Serving the objects as the requested version is the caller's concern.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from kubesim import selectors, status
from kubesim.resources import ResourceType
from kubesim.store import Store

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class Filter:
    """Which objects of one resource a list or watch sees."""

    rt: ResourceType
    namespace: str  # "" means every namespace (or a cluster-scoped resource)
    labels: selectors.LabelSelector = ()
    fields: selectors.FieldSelector = ()

    def matches(self, obj: JSON) -> bool:
        """Whether ``obj`` is in scope and satisfies both selectors."""
        meta = obj["metadata"]
        if self.namespace and meta.get("namespace") != self.namespace:
            return False
        if self.labels and not selectors.labels_match(self.labels, obj):
            return False
        return not self.fields or selectors.fields_match(self.fields, obj)

    @property
    def empty(self) -> bool:
        """No selectors (remainingItemCount is only reported then)."""
        return not self.labels and not self.fields


def make_filter(
    rt: ResourceType, namespace: str, *, label_selector: str, field_selector: str
) -> Filter:
    """Parse and check both selectors for ``rt``; 400 on a bad or unsupported one."""
    labels = selectors.parse_labels(label_selector) if label_selector else ()
    fields = selectors.parse_fields(field_selector) if field_selector else ()
    supported = {"metadata.name", *rt.selectable_fields}
    if rt.namespaced:
        supported.add("metadata.namespace")
    selectors.check_fields(fields, supported)
    return Filter(rt=rt, namespace=namespace, labels=labels, fields=fields)


@dataclass(frozen=True, slots=True, kw_only=True)
class Page:
    """One page of a list: items in key order, the list RV and the paging metadata."""

    items: list[JSON]
    rv: int
    continue_token: str = ""
    remaining: int | None = None


def encode_continue(rv: int, next_key: str) -> str:
    """The opaque token: base64url of ``{"v":"meta.k8s.io/v1","rv":N,"start":"<key>NUL"}``."""
    raw = orjson.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": next_key + "\x00"})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, str]:
    """(rv, start key) from a token; 400 ``invalid continue token`` when malformed."""
    prefix = "invalid continue token: continue key is not valid"
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = orjson.loads(raw)
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise status.bad_request(f"{prefix}: {exc}") from None
    if not isinstance(data, dict) or data.get("v") != "meta.k8s.io/v1":
        raise status.bad_request(f"{prefix}: server does not recognize this encoded version")
    rv, start = data.get("rv"), data.get("start")
    if not isinstance(rv, int) or rv == 0:
        raise status.bad_request(
            f"{prefix}: incorrect encoded start resourceVersion (version meta.k8s.io/v1)"
        )
    if not isinstance(start, str) or not start:
        raise status.bad_request(f"{prefix}: encoded start key empty (version meta.k8s.io/v1)")
    return rv, start


def list_page(
    store: Store,
    flt: Filter,
    *,
    at: int | None,
    limit: int,
    continue_token: str,
) -> Page:
    """The page of matching objects, at revision ``at`` (None: now) or the token's."""
    start = ""
    if continue_token:
        at, start = decode_continue(continue_token)
        if at < 0:
            at = None
    rv = store.rv if at is None else at
    if at is None:
        objects = store.items(flt.rt.rid)
    else:
        objects = store.snapshot(flt.rt.rid, at, what="continue" if continue_token else "list")
    keys = sorted(k for k in objects if not start or k >= start)
    if flt.namespace and flt.rt.namespaced:
        prefix = flt.namespace + "/"
        keys = [k for k in keys if k.startswith(prefix)]
    items: list[JSON] = []
    matched_keys: list[str] = []
    for idx, key in enumerate(keys):
        obj = objects[key]
        if not flt.matches(obj):
            continue
        if limit and len(items) == limit:
            remaining = None if not flt.empty else len(keys) - idx
            return Page(
                items=items,
                rv=rv,
                continue_token=encode_continue(rv, matched_keys[-1]),
                remaining=remaining,
            )
        items.append(obj)
        matched_keys.append(key)
    return Page(items=items, rv=rv)


def list_body(rt: ResourceType, page: Page, serve: Callable[[JSON], JSON]) -> JSON:
    """The ``XList`` body; built-in items carry no kind/apiVersion, custom ones do."""
    meta: JSON = {"resourceVersion": str(page.rv)}
    if page.continue_token:
        meta["continue"] = page.continue_token
    if page.remaining is not None:
        meta["remainingItemCount"] = page.remaining
    if rt.custom:
        items = [serve(obj) for obj in page.items]
    else:
        items = [
            {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")} for obj in page.items
        ]
    return {"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta, "items": items}
