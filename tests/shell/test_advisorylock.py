"""The database's "active gitopsd" lock: exclusive per database, named, released with its session."""

from __future__ import annotations

import asyncpg

from daemon.shell import advisorylock


async def test_one_session_holds_the_lock_and_is_named_until_it_ends(database_url: str) -> None:
    """A second session cannot take the lock; the holder is named; closing releases it."""
    first = await advisorylock.SessionLock.connect(database_url, instance="host-a:1:aaaa")
    second = await advisorylock.SessionLock.connect(database_url, instance="host-b:2:bbbb")
    try:
        assert (await first.try_acquire(), await second.try_acquire()) == (True, False)
        holder = await second.holder()
        assert holder is not None
        assert (holder.pid, holder.instance, holder.describe()) == (
            first.pid,
            "host-a:1:aaaa",
            "gitopsd (instance host-a:1:aaaa)",
        )
        assert (await first.is_held(timeout=5), await second.is_held(timeout=5)) == (True, False)
        await first.close()
        assert await second.try_acquire()
        holder = await second.holder()
        assert holder is not None
        assert holder.instance == "host-b:2:bbbb"
    finally:
        await first.close()
        await second.close()


async def test_the_query_in_the_module_docstring_finds_the_holder(database_url: str) -> None:
    """The SQL documented for operators names the session that holds the lock."""
    doc = advisorylock.__doc__ or ""
    start = doc.index("SELECT a.application_name")
    query = doc[start : doc.index(";", start)]
    lock = await advisorylock.SessionLock.connect(database_url, instance="host-c:3:cccc")
    conn = await asyncpg.connect(database_url)
    try:
        assert await lock.try_acquire()
        rows = await conn.fetch(query)
        assert [row["application_name"] for row in rows] == ["gitopsd host-c:3:cccc"]
    finally:
        await conn.close()
        await lock.close()


def test_the_session_name_fits_postgresqls_limit() -> None:
    """A long instance id is cut to the 63 bytes PostgreSQL keeps, never mid-character."""
    name = advisorylock.application_name("h" * 60 + "é" * 5)
    assert (name, len(name.encode())) == ("gitopsd " + "h" * 55, 63)
    assert advisorylock.application_name("a" * 53 + "é") == "gitopsd " + "a" * 53 + "é"
