"""The codec round-trips every event; the fold of snapshot + tail equals the fold of all."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.core import codec, fold
from daemon.core import events as ev
from daemon.core import state as core_state

EVENT_TYPES: list[type[Any]] = list(codec.registered_types().values())
EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

# JSON integers are 64-bit in orjson (and PostgreSQL's jsonb is what we store them in).
st.register_type_strategy(int, st.integers(-(2**63), 2**63 - 1))

# Small name pools so generated events touch the same sources and apps repeatedly.
names = st.sampled_from(["web", "api", "db"])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


def event_strategy(cls: type[Any]) -> st.SearchStrategy[Any]:
    overrides: dict[str, st.SearchStrategy[Any]] = {
        f: names for f in ("source", "app", "cluster") if f in cls.__dataclass_fields__
    }
    if "policy" in cls.__dataclass_fields__:
        overrides["policy"] = st.dictionaries(st.text(max_size=8), json_values, max_size=4)
    if "key" in cls.__dataclass_fields__:
        overrides["key"] = st.sampled_from(["apps/Deployment/ns/web", "/ConfigMap/ns/cfg"])
    return st.builds(cls, **overrides)


any_event = st.one_of([event_strategy(cls) for cls in EVENT_TYPES])


def recorded(events: list[Any]) -> list[ev.Recorded]:
    return [
        ev.Recorded(
            position=i + 1,
            stream="x",
            version=i + 1,
            recorded_at=EPOCH,
            event=e,
            meta=ev.EventMeta(),
        )
        for i, e in enumerate(events)
    ]


@given(any_event)
def test_encode_decode_is_identity(event: Any) -> None:
    """decode(encode(e)) == e for every registered event type."""
    type_name, version, data = codec.encode(event)
    assert codec.decode(type_name, version, data) == event


@given(st.lists(any_event, max_size=40), st.data())
def test_snapshot_plus_tail_equals_whole(events: list[Any], data: st.DataObject) -> None:
    """For any split point, fold(snapshot(prefix)) + tail == fold(all)."""
    log = recorded(events)
    split = data.draw(st.integers(min_value=0, max_value=len(log)))
    whole = fold.replay(log)
    prefix = fold.replay(log[:split])
    restored = core_state.from_json(core_state.to_json(prefix))
    assert restored == prefix
    assert restored is not None
    assert fold.replay(log[split:], restored) == whole


def test_every_event_type_is_in_the_fold_union() -> None:
    """Every registered event type is part of AnyEvent, so the fold's match is exhaustive."""
    assert set(EVENT_TYPES) == set(ev.AnyEvent.__args__)


def test_unknown_type_and_bad_payload_raise() -> None:
    """An unknown type or a payload that does not fit its class is an error, never skipped."""
    with pytest.raises(codec.DecodeError, match="unknown event type 'Nope'"):
        codec.decode("Nope", 1, b"{}")
    with pytest.raises(codec.DecodeError, match=r"SourceRecovered v1: .*unknown fields"):
        codec.decode("SourceRecovered", 1, b'{"source": "a", "extra": 1}')
    with pytest.raises(codec.DecodeError, match="payload is not JSON"):
        codec.decode("SourceRecovered", 1, b"{nope")
    with pytest.raises(codec.DecodeError, match="newer than this gitopsd knows"):
        codec.decode("SourceRecovered", 7, b'{"source": "a"}')


def test_payload_over_one_mebibyte_is_refused() -> None:
    """Encoding refuses payloads over 1 MiB, naming the event type."""
    big = ev.SourceFailed(source="a", error_class="E", message="x" * (1024 * 1024))
    with pytest.raises(codec.PayloadTooLargeError, match="event SourceFailed payload is"):
        codec.encode(big)


def test_upcaster_runs_for_old_versions() -> None:
    """A stored payload of an older schema version is upcast before decoding."""

    @dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
    class Renamed(ev.EventBase):
        name: str

    codec.event("TestRenamed", version=2)(Renamed)
    codec.upcaster("TestRenamed", from_version=1)(lambda data: {"name": data["title"]})
    try:
        assert codec.decode("TestRenamed", 1, b'{"title": "x"}') == Renamed(name="x")
        assert codec.decode("TestRenamed", 2, b'{"name": "y"}') == Renamed(name="y")
    finally:
        del codec._REGISTRY["TestRenamed"]
        del codec._UPCASTERS[("TestRenamed", 1)]


# Target events: a few apps' targets, legacy ("") and named, with real policies and times,
# so the fold's per-target routing, pins, removals and sync times are all exercised.
target_names = st.sampled_from(["", "c1", "c2"])
revisions = st.sampled_from(["r1", "r2", "r3"])
object_maps = st.dictionaries(
    st.sampled_from(["/ConfigMap//a", "/ConfigMap//b"]), st.sampled_from(["d1", "d2"]), max_size=2
)
policies = st.sampled_from(
    [
        {"cluster": "c1", "namespace": "web"},
        {"targets": {"c1": "web", "c2": "web-2"}},
        {"targets": {"c2": "web"}},
    ]
)
app_keys = st.sampled_from(["/ConfigMap/web/a", "apps/Deployment/web/b"])
app_names = st.sampled_from(["web", "api"])
sync_ids = st.sampled_from(["s1", "s2"])


def _target_event(cls: type[Any], **fields: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.builds(cls, app=app_names, **fields)


target_events = st.one_of(
    _target_event(ev.AppConfigured, digest=st.sampled_from(["p1", "p2"]), policy=policies),
    _target_event(ev.DesiredStateRendered, revision=revisions, objects=object_maps),
    _target_event(
        ev.TargetAdded, target=target_names, namespace=st.just("web"), state_position=st.just(0)
    ),
    _target_event(
        ev.TargetRemoved, target=target_names, prune=st.booleans(), state_position=st.just(0)
    ),
    _target_event(
        ev.AppPinned, target=target_names, revision=revisions, until_newer_commit=st.booleans()
    ),
    _target_event(ev.AppUnpinned, target=target_names),
    _target_event(ev.AppSuspended, target=target_names),
    _target_event(ev.AppResumed, target=target_names),
    _target_event(ev.SyncRequested, target=target_names),
    _target_event(
        ev.SyncPlanned,
        target=target_names,
        sync_id=sync_ids,
        revision=revisions,
        trigger=st.just("revision"),
        state_position=st.just(0),
        steps=st.just(()),
    ),
    _target_event(
        ev.ObjectApplied,
        target=target_names,
        sync_id=sync_ids,
        key=app_keys,
        created=st.booleans(),
        resource_version=st.sampled_from(["1", "2"]),
        digest=st.sampled_from(["d1", "d2"]),
    ),
    _target_event(ev.ObjectPruned, target=target_names, sync_id=sync_ids, key=app_keys),
    _target_event(
        ev.SyncFinished,
        target=target_names,
        sync_id=sync_ids,
        revision=revisions,
        result=st.sampled_from(list(ev.SyncResult)),
    ),
    _target_event(
        ev.NormalizationGapDetected,
        target=target_names,
        keys=st.lists(app_keys, max_size=2).map(tuple),
        state_position=st.just(0),
    ),
    _target_event(ev.HealthChanged, target=target_names, health=st.sampled_from(list(ev.Health))),
)


@given(
    st.lists(st.tuples(target_events, st.integers(0, 10**6)), max_size=40),
    st.data(),
)
def test_snapshot_plus_tail_equals_whole_with_targets(
    items: list[tuple[Any, int]], data: st.DataObject
) -> None:
    """Target events too: fold(snapshot(prefix)) + tail == fold(all), sync times included."""
    log = [
        ev.Recorded(
            position=i,
            stream="x",
            version=i,
            recorded_at=EPOCH + dt.timedelta(seconds=seconds),
            event=e,
            meta=ev.EventMeta(),
        )
        for i, (e, seconds) in enumerate(items, start=1)
    ]
    split = data.draw(st.integers(min_value=0, max_value=len(log)))
    whole = fold.replay(log)
    prefix = fold.replay(log[:split])
    restored = core_state.from_json(core_state.to_json(prefix))
    assert restored == prefix
    assert restored is not None
    assert fold.replay(log[split:], restored) == whole


@given(any_event)
def test_compiled_decoder_builds_the_real_frozen_class(event: Any) -> None:
    """The replay decoder returns an instance of exactly the event's class, still frozen."""
    type_name, version, data = codec.encode(event)
    codec.decode(type_name, version, data)
    current_version, decode_json = codec.current_decoders()[type_name]
    decoded = decode_json(data)
    assert (current_version, type(decoded), decoded) == (version, type(event), event)
    with pytest.raises(dataclasses.FrozenInstanceError):
        decoded.__setattr__(dataclasses.fields(decoded)[0].name, None)


def test_compiled_decoder_refuses_what_decode_refuses() -> None:
    """The replay decoder raises on unknown or missing fields and bad JSON, as decode does."""
    codec.decode("SourceFailed", 1, b'{"source": "a", "error_class": "E", "message": "m"}')
    _, decode_json = codec.current_decoders()["SourceFailed"]
    for payload in (
        b'{"source": "a", "error_class": "E", "message": "m", "extra": 1}',
        b'{"source": "a", "error_class": "E"}',
        b"{nope",
        b"[1, 2, 3]",
    ):
        with pytest.raises((TypeError, ValueError)):
            decode_json(payload)
        with pytest.raises(codec.DecodeError):
            codec.decode("SourceFailed", 1, payload)
