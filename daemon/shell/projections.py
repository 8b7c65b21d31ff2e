"""SQL projections: tables derived from the event log, for people and their queries.

Each handler receives a batch of recorded events and a connection inside the
transaction that also moves the projection's position (``EventStore.project``), so
rows are written exactly once. Handlers ignore event types they do not project.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from daemon.core import events as ev
from daemon.shell.eventstore import Connection, ProjectionHandler


async def commits(conn: Connection, batch: Sequence[ev.Recorded]) -> None:
    """``commits``: one row per CommitRecorded."""
    rows = [
        (
            e.source,
            e.sha,
            list(e.parents),
            e.author,
            e.author_email,
            dt.datetime.fromisoformat(e.authored_at),
            e.committer,
            dt.datetime.fromisoformat(e.committed_at),
            e.subject,
            item.position,
        )
        for item in batch
        if isinstance(e := item.event, ev.CommitRecorded)
    ]
    if rows:
        await conn.executemany(
            "INSERT INTO commits (source, sha, parents, author, author_email, authored_at, "
            "committer, committed_at, subject, position) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
            rows,
        )


ALL: dict[str, ProjectionHandler] = {"commits": commits}
