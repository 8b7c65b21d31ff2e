"""The ``--state PATH`` file: objects that survive an emulator restart.

Saves the global revision and every live object as JSON (atomically, via a temporary
file and rename); loading puts them back, serves the CRDs that were established, and
moves the Service IP allocator past the addresses in use. History does not survive:
a watch resumed across a restart gets 410, as after an etcd compaction.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import orjson

from kubesim import api as api_mod

FORMAT = "gitopsd-sim-state/1"


def save(api: api_mod.Api, path: Path) -> None:
    """Write the store to ``path`` atomically."""
    rv, objects = api.store.dump()
    doc = {"format": FORMAT, "resourceVersion": rv, "objects": objects}
    tmp = path.with_name(path.name + ".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_bytes(orjson.dumps(doc))
    tmp.replace(path)


def load(api: api_mod.Api, path: Path) -> None:
    """Replace the store's content with the file's; raise ValueError if it is not ours."""
    try:
        doc: Any = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{path}: not an emulator state file: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"{path}: not an emulator state file (format {FORMAT!r} expected)")
    api.store.load(rv=int(doc["resourceVersion"]), objects=doc["objects"])
    for crd in api.store.items("customresourcedefinitions.apiextensions.k8s.io").values():
        conditions = (crd.get("status") or {}).get("conditions") or []
        if any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
            api.catalog.serve_crd(crd)
    highest = api.alloc.next_ip - 1
    for svc in api.store.items("services").values():
        ip = (svc.get("spec") or {}).get("clusterIP") or ""
        try:
            highest = max(highest, int(ipaddress.IPv4Address(ip)))
        except ValueError:
            continue
    api.alloc.next_ip = highest + 1
