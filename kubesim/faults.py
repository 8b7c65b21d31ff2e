"""Fault injection (§7): latency, per-verb/per-path errors, 429s, a request rate limit.

Tests and the command line arm faults at run time; the server asks :meth:`Faults.check`
before it serves each request. A rule fires a fixed number of times (or forever) for
requests whose verb and path match. Status-JSON errors are built here; the plain-text
priority-and-fairness 429 is flagged for the server to write (it is not a Status).
Dropping watches and compacting history are store/watch operations, not rules.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from kubesim import status
from kubesim.status import StatusError

APF_BODY = b"Too many requests, please try again later.\n"


@dataclass(kw_only=True)
class Rule:
    """An armed fault: answer ``code`` to matching requests, ``times`` times (-1: always)."""

    code: int
    times: int = 1
    verb: str | None = None  # get, list, watch, create, update, patch, delete, deletecollection
    path: str | None = None  # a regular expression searched in the URL path
    apf: bool = False  # 429 as priority-and-fairness plain text instead of a Status
    retry_after: int = 1
    message: str = ""
    fired: int = 0

    def matches(self, verb: str, path: str) -> bool:
        """Whether this rule applies to a request."""
        if self.times == 0:
            return False
        if self.verb is not None and self.verb != verb:
            return False
        return self.path is None or re.search(self.path, path) is not None


@dataclass(frozen=True, slots=True)
class Injected:
    """What the server must answer instead of serving the request."""

    error: StatusError | None = None
    apf_retry_after: int = 0  # > 0: write the plain-text APF 429 with this Retry-After


@dataclass(kw_only=True)
class Faults:
    """The faults armed on one emulator."""

    latency: float = 0.0  # seconds added before every request is served
    rules: list[Rule] = field(default_factory=list)
    rate_limit: float | None = None  # requests per second (token bucket), None: unlimited
    burst: int = 10
    _tokens: float = 0.0
    _last: float = 0.0

    def inject(
        self,
        code: int,
        *,
        verb: str | None = None,
        path: str | None = None,
        times: int = 1,
        apf: bool = False,
        retry_after: int = 1,
        message: str = "",
    ) -> Rule:
        """Arm an error for matching requests; returns the rule (see ``fired``)."""
        if code not in (429, 500, 503, 504):
            raise ValueError(f"fault code must be 429, 500, 503 or 504, not {code}")
        rule = Rule(
            code=code,
            times=times,
            verb=verb,
            path=path,
            apf=apf,
            retry_after=retry_after,
            message=message,
        )
        self.rules.append(rule)
        return rule

    def clear(self) -> None:
        """Disarm every rule, the latency and the rate limit."""
        self.rules.clear()
        self.latency = 0.0
        self.rate_limit = None

    def set_rate_limit(self, qps: float | None, *, burst: int = 10) -> None:
        """Answer APF 429s to requests beyond ``qps`` per second (burst ``burst``)."""
        self.rate_limit = qps
        self.burst = burst
        self._tokens = float(burst)
        self._last = time.monotonic()

    def check(self, verb: str, path: str) -> Injected | None:
        """The fault this request meets, if any (consumes one firing)."""
        if self.rate_limit is not None and not self._take_token():
            return Injected(apf_retry_after=1)
        for rule in self.rules:
            if rule.matches(verb, path):
                if rule.times > 0:
                    rule.times -= 1
                rule.fired += 1
                return _answer(rule)
        return None

    def _take_token(self) -> bool:
        assert self.rate_limit is not None
        now = time.monotonic()
        self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.rate_limit)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


def _answer(rule: Rule) -> Injected:
    if rule.code == 429 and rule.apf:
        return Injected(apf_retry_after=rule.retry_after)
    if rule.code == 429:
        return Injected(
            error=status.too_many_requests(
                rule.message or "injected fault: too many requests", rule.retry_after
            )
        )
    if rule.code == 500:
        why = rule.message or "injected fault"
        return Injected(
            error=StatusError(
                code=500,
                reason="InternalError",
                message=f"Internal error occurred: {why}",
                causes=[status.Cause(message=why)],
            )
        )
    if rule.code == 503:
        err = status.service_unavailable(rule.message or "injected fault: service unavailable")
        err.headers["Retry-After"] = str(rule.retry_after)
        return Injected(error=err)
    return Injected(
        error=status.timeout(
            rule.message
            or "request did not complete within requested timeout - context deadline exceeded",
            0,
        )
    )
