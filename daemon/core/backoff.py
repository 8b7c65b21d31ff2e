"""Capped exponential backoff, as a pure function of the failure count."""

from __future__ import annotations


def delay(failures: int, *, base: float, cap: float) -> float:
    """Seconds to wait after ``failures`` consecutive failures (0 after none).

    base, 2·base, 4·base, ... never more than ``cap``.
    """
    if failures <= 0:
        return 0.0
    exponent = min(failures - 1, 62)
    return float(min(cap, base * float(2**exponent)))
