"""backoff: capped exponential delays, and a retry due at the recorded failure time plus one."""

from __future__ import annotations

import datetime as dt

import pytest

from daemon.core import backoff

FAILED_AT = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("failures", "expected"),
    [(-1, 0.0), (0, 0.0), (1, 5.0), (2, 10.0), (3, 20.0), (6, 160.0), (7, 300.0), (10**6, 300.0)],
)
def test_delay_doubles_up_to_the_cap(failures: int, expected: float) -> None:
    """base, 2·base, 4·base... capped, and 0 before any failure (huge counts do not overflow)."""
    assert backoff.delay(failures, base=5.0, cap=300.0) == expected


@pytest.mark.parametrize(
    ("failures", "last_failure_at", "expected"),
    [
        pytest.param(0, FAILED_AT, None, id="no-failure"),
        pytest.param(3, None, None, id="no-recorded-time"),
        pytest.param(1, FAILED_AT, FAILED_AT + dt.timedelta(seconds=5), id="first"),
        pytest.param(3, FAILED_AT, FAILED_AT + dt.timedelta(seconds=20), id="third"),
        pytest.param(9, FAILED_AT, FAILED_AT + dt.timedelta(seconds=300), id="capped"),
    ],
)
def test_retry_due_is_the_failure_time_plus_the_delay(
    failures: int, last_failure_at: dt.datetime | None, expected: dt.datetime | None
) -> None:
    """retry_due adds the delay to the recorded time; None when nothing failed or no time."""
    got = backoff.retry_due(failures=failures, last_failure_at=last_failure_at, base=5.0, cap=300.0)
    assert got == expected


def test_retry_due_keeps_fractional_seconds_and_the_zone() -> None:
    """A fractional base gives an exact datetime in the failure's own time zone."""
    tz = dt.timezone(dt.timedelta(hours=2))
    at = dt.datetime(2026, 3, 1, 14, 0, tzinfo=tz)
    got = backoff.retry_due(failures=2, last_failure_at=at, base=0.25, cap=60.0)
    assert (got, got.tzinfo if got else None) == (
        dt.datetime(2026, 3, 1, 14, 0, 0, 500000, tzinfo=tz),
        tz,
    )
