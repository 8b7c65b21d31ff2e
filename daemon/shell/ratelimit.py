"""A client-side token bucket (``qps`` per second, ``burst`` at once) for API requests.

kubernetes_asyncio has no rate limiter, and a GitOps daemon that syncs hundreds of
objects after a restart would otherwise hit the API server as fast as the event loop
allows, which priority-and-fairness then answers with 429s. This is client-go's
``flowcontrol`` token bucket: the bucket starts full, refills at ``qps`` tokens a
second up to ``burst``, and each request takes one token.

Waiters reserve their token at once (the count may go negative) and then sleep
until it is theirs, so concurrent callers are served in arrival order without a lock
or a queue. The clock and the sleep are injected so tests can step time by hand.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class TokenBucket:
    """``qps`` tokens a second, at most ``burst`` saved up; ``qps <= 0`` disables limiting."""

    def __init__(
        self,
        qps: float,
        burst: int,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        """A full bucket; ``clock`` reads seconds, ``sleep`` waits (both injectable)."""
        if burst < 1:
            raise ValueError(f"rate limit burst must be at least 1, not {burst}")
        self.qps = qps
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._last = clock()

    def reserve(self) -> float:
        """Take a token now; returns how many seconds the caller must wait before using it."""
        if self.qps <= 0:
            return 0.0
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
        self._last = now
        self._tokens -= 1.0
        if self._tokens >= 0:
            return 0.0
        return -self._tokens / self.qps

    async def acquire(self) -> float:
        """Wait for a token; returns the seconds waited (0 when one was available)."""
        delay = self.reserve()
        if delay > 0:
            await self._sleep(delay)
        return delay
