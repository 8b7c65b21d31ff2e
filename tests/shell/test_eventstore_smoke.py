from daemon.core import events as ev
from daemon.shell import eventstore


async def test_append_then_read_back(store: eventstore.EventStore) -> None:
    """An appended event reads back equal, at position 1, version 1."""
    event = ev.SourceRecovered(source="a")
    assert await store.append("source/a", 0, [event]) == [1]
    (item,) = await store.read_stream("source/a")
    assert (item.position, item.version, item.event) == (1, 1, event)
