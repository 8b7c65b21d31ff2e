"""What a failed Kubernetes API request said, as typed exceptions the executor can record.

kubernetes_asyncio's ``ApiException.reason`` is the HTTP reason phrase ("Conflict"),
which cannot tell AlreadyExists from Conflict; the Kubernetes ``reason`` lives in the
Status body (KUBE_API.md §2.3, §7). ``from_response`` reads that body, or, for the
answers that are not Status objects (the priority-and-fairness 429 in plain text, the
plain-text 404 of an unknown URL), derives the reason from the code as client-go does.
Every error names the object it was about (``Kind/ns/name``) when there is one.

Retrying is the client's business (``kubeclient``); this module only says whether an
error is worth retrying and for how long the server asked us to wait.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import orjson

RETRYABLE_CODES = frozenset({429, 500, 503, 504})

# client-go's reasons for answers without a Status body (errors.NewGenericServerResponse).
_REASON_BY_CODE = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}
_PLAIN_MESSAGES = {
    404: "the server could not find the requested resource",
    429: "the server has received too many requests and has asked us to try again later",
}
_MAX_PLAIN = 500


@dataclasses.dataclass(frozen=True, slots=True)
class Cause:
    """One entry of a Status's ``details.causes`` (its type is under the JSON key ``reason``)."""

    reason: str
    message: str
    field: str = ""


class KubeError(Exception):
    """A request to a cluster's API that did not succeed."""

    def __init__(
        self,
        *,
        code: int,
        reason: str,
        message: str,
        causes: tuple[Cause, ...] = (),
        object_ref: str = "",
        retry_after: float | None = None,
    ) -> None:
        """``code`` is the HTTP status (0: no answer); ``object_ref`` is ``Kind/ns/name``."""
        self.code = code
        self.reason = reason
        self.message = message
        self.causes = causes
        self.object_ref = object_ref
        self.retry_after = retry_after
        super().__init__(self.describe())

    def describe(self) -> str:
        """``Kind/ns/name: Reason (code): message`` (the object part when there is one)."""
        where = f"{self.object_ref}: " if self.object_ref else ""
        return f"{where}{self.reason} ({self.code}): {self.message}"

    def about(self, object_ref: str) -> KubeError:
        """The same error, naming ``object_ref`` (kept when it already names one)."""
        if self.object_ref or not object_ref:
            return self
        self.object_ref = object_ref
        self.args = (self.describe(),)
        return self

    @property
    def is_retryable(self) -> bool:
        """True for 429, 500, 503, 504 and for no answer at all."""
        return self.code in RETRYABLE_CODES

    @property
    def is_not_found(self) -> bool:
        """404 NotFound."""
        return self.code == 404

    @property
    def is_conflict(self) -> bool:
        """409 Conflict: a stale write, a failed precondition or a server-side apply conflict."""
        return self.code == 409 and self.reason == "Conflict"

    @property
    def is_already_exists(self) -> bool:
        """409 AlreadyExists."""
        return self.code == 409 and self.reason == "AlreadyExists"

    @property
    def is_invalid(self) -> bool:
        """422 Invalid (validation)."""
        return self.code == 422

    @property
    def is_immutable(self) -> bool:
        """A validation error because a field cannot change after creation (recreate to apply)."""
        texts = [self.message, *(c.message for c in self.causes)]
        return self.is_invalid and any("field is immutable" in t for t in texts)


class ApiError(KubeError):
    """The API server answered with an error status."""

    def __init__(self, *, plain: bool = False, **fields: Any) -> None:
        """``plain``: the body was not a Status object (APF 429, unknown-URL 404)."""
        self.plain = plain
        super().__init__(**fields)


class ExpiredError(ApiError):
    """410 Expired: a watch or continue position older than the server's history: relist."""


class UnreachableError(KubeError):
    """No answer from the API server (refused, reset, timed out), after every attempt."""

    def __init__(self, message: str, *, object_ref: str = "") -> None:
        """Code 0, reason ``Unreachable``."""
        super().__init__(code=0, reason="Unreachable", message=message, object_ref=object_ref)

    @property
    def is_retryable(self) -> bool:
        """Always: the next attempt may find the server up."""
        return True


class NoKindMatchError(KubeError):
    """The cluster does not serve this kind in this API version (yet: a CRD may be coming)."""

    def __init__(self, api_version: str, kind: str, *, object_ref: str = "") -> None:
        """404 NoKindMatch, worded as kubectl words it."""
        super().__init__(
            code=404,
            reason="NoKindMatch",
            message=f'no matches for kind "{kind}" in version "{api_version}"',
            object_ref=object_ref,
        )
        self.api_version = api_version
        self.kind = kind


def from_response(
    code: int, headers: Mapping[str, str], body: bytes, *, object_ref: str = ""
) -> ApiError:
    """The error an HTTP answer carries (a Status body, or plain text)."""
    status = _status_of(headers, body)
    header_wait = retry_after_header(headers)
    cls = ExpiredError if code == 410 else ApiError
    if status is None:
        text = body.decode("utf-8", "replace").strip()[:_MAX_PLAIN]
        return cls(
            plain=True,
            code=code,
            reason=_REASON_BY_CODE.get(code, "Unknown"),
            message=_PLAIN_MESSAGES.get(code) or text or f"HTTP {code}",
            object_ref=object_ref,
            retry_after=header_wait,
        )
    return cls(object_ref=object_ref, **status_fields(status, code=code, header_wait=header_wait))


def from_status(status: Mapping[str, Any], *, object_ref: str = "") -> ApiError:
    """The error a watch ERROR event carries (a Status object; its code says which)."""
    code = int(status.get("code") or 500)
    cls = ExpiredError if code == 410 else ApiError
    return cls(object_ref=object_ref, **status_fields(status, code=code, header_wait=None))


def status_fields(
    status: Mapping[str, Any], *, code: int, header_wait: float | None
) -> dict[str, Any]:
    """Keyword fields of a ``KubeError`` read from a Status object."""
    details = status.get("details")
    details = details if isinstance(details, dict) else {}
    raw_causes = details.get("causes")
    causes = tuple(
        Cause(
            reason=str(c.get("reason", "")),
            message=str(c.get("message", "")),
            field=str(c.get("field", "")),
        )
        for c in (raw_causes if isinstance(raw_causes, list) else [])
        if isinstance(c, dict)
    )
    body_wait = details.get("retryAfterSeconds")
    wait = header_wait
    if wait is None and isinstance(body_wait, int | float) and body_wait > 0:
        wait = float(body_wait)
    return {
        "code": code,
        "reason": str(status.get("reason") or _REASON_BY_CODE.get(code, "Unknown")),
        "message": str(status.get("message") or f"HTTP {code}"),
        "causes": causes,
        "retry_after": wait,
    }


def retry_after_header(headers: Mapping[str, str]) -> float | None:
    """``Retry-After`` in seconds (the API server sends whole seconds), or None."""
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None  # an HTTP date: the API server never sends one
    return seconds if seconds >= 0 else None


def _status_of(headers: Mapping[str, str], body: bytes) -> Mapping[str, Any] | None:
    if not headers.get("Content-Type", "").startswith("application/json"):
        return None
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if isinstance(doc, dict) and doc.get("kind") == "Status":
        return doc
    return None
