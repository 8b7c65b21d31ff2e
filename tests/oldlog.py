"""The old event log fixture (tests/fixtures/oldlog): a log recorded by gitopsd at 8652aec.

``load`` writes it into a fresh, migrated database exactly as it was stored (types,
schema versions, payloads, recorded_at, meta and positions), with raw SQL rather than
``EventStore.append``, so that reading it back goes through the codec's upcasters just
as an old database would. How the fixture was made: tests/fixtures/oldlog/record.py.

Imported by tests as ``import oldlog`` (tests/ is on sys.path via its conftest).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import orjson

from daemon.core import codec
from daemon.shell import eventstore

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "oldlog"


def rows() -> list[dict[str, Any]]:
    """The fixture's events, one dict per stored row, in position order."""
    lines = (FIXTURE / "events.jsonl").read_bytes().splitlines()
    return [orjson.loads(line) for line in lines if line]


def blobs() -> dict[str, Any]:
    """The fixture's blob bodies by digest."""
    lines = (FIXTURE / "blobs.jsonl").read_bytes().splitlines()
    return {doc["digest"]: doc["body"] for doc in map(orjson.loads, lines) if doc}


async def load(store: eventstore.EventStore) -> int:
    """Insert the fixture's events and blobs into ``store``'s empty log; returns the last position."""
    events = rows()
    records = [
        (
            e["position"],
            e["stream"],
            e["version"],
            e["type"],
            e["schema_version"],
            dt.datetime.fromisoformat(e["recorded_at"]),
            orjson.dumps(e["data"]),
            orjson.dumps(e["meta"]),
        )
        for e in events
    ]
    bodies = {digest: codec.dumps(body) for digest, body in blobs().items()}
    async with store.pool.acquire() as conn, conn.transaction():
        if await conn.fetchval("SELECT count(*) FROM events"):
            raise ValueError("the old-log fixture goes into an empty event log only")
        await conn.executemany(
            "INSERT INTO events"
            " (position, stream, version, type, schema_version, recorded_at, data, meta)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            records,
        )
    await store.put_blobs(bodies)
    last: int = events[-1]["position"]
    return last
