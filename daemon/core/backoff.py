"""Capped exponential backoff, and when a retry is due, as pure functions of the log."""

from __future__ import annotations

import datetime as dt


def delay(failures: int, *, base: float, cap: float) -> float:
    """Seconds to wait after ``failures`` consecutive failures (0 after none).

    base, 2·base, 4·base, ... never more than ``cap``.
    """
    if failures <= 0:
        return 0.0
    exponent = min(failures - 1, 62)
    return float(min(cap, base * float(2**exponent)))


def retry_due(
    *, failures: int, last_failure_at: dt.datetime | None, base: float, cap: float
) -> dt.datetime | None:
    """When the next retry may start: the last failure's recorded time plus the delay.

    Derived from the log (the time a SyncFinished was recorded), never from a monotonic
    clock, so the remaining wait survives a restart. None when nothing failed.
    """
    if failures <= 0 or last_failure_at is None:
        return None
    return last_failure_at + dt.timedelta(seconds=delay(failures, base=base, cap=cap))
