"""Kubernetes ``Status`` errors, worded as kube-apiserver words them (KUBE_API.md §2.3).

Every failure the emulator answers with JSON is a :class:`StatusError`; the server turns
it into a response body. The constructors mirror apimachinery's ``errors.New*`` so the
messages, reasons and ``details`` match a real cluster byte for byte. Plain-text answers
(unknown URL 404, priority-and-fairness 429) are not Status objects and live in the server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class Cause:
    """One ``details.causes[]`` entry; ``reason`` is the CauseType (its JSON key is reason)."""

    reason: str = ""
    message: str = ""
    field: str = ""

    def to_json(self) -> JSON:
        """The cause as the wire shows it, with empty members omitted."""
        out: JSON = {}
        if self.reason:
            out["reason"] = self.reason
        if self.message:
            out["message"] = self.message
        if self.field:
            out["field"] = self.field
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldError:
    """A validation error on one field (apimachinery ``field.Error``)."""

    type: str  # FieldValueInvalid, FieldValueRequired, ...
    field: str
    detail: str = ""
    value: Any = None
    has_value: bool = False

    def body(self) -> str:
        """The error without its field, as ``field.Error.ErrorBody`` renders it."""
        text = _FIELD_TEXT.get(self.type, self.type)
        if self.has_value:
            text = f"{text}: {_render_value(self.value)}"
        if self.detail:
            text = f"{text}: {self.detail}"
        return text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"


_FIELD_TEXT = {
    "FieldValueInvalid": "Invalid value",
    "FieldValueRequired": "Required value",
    "FieldValueNotFound": "Not found",
    "FieldValueDuplicate": "Duplicate value",
    "FieldValueNotSupported": "Unsupported value",
    "FieldValueForbidden": "Forbidden",
    "FieldValueTooLong": "Too long",
    "FieldValueTooMany": "Too many",
    "FieldValueTypeInvalid": "Invalid value",
}


@dataclass(frozen=True, slots=True)
class GoSyntax:
    """A value as Go's ``%#v`` prints it (``v1.LabelSelector{...}``), shown verbatim."""

    text: str


def _render_value(value: Any) -> str:
    # Go renders strings with %q, simple scalars with %v, structs with %#v (GoSyntax) and
    # everything else here as JSON.
    if isinstance(value, GoSyntax):
        return value.text
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(value).decode()


@dataclass(kw_only=True)
class StatusError(Exception):
    """A failure answered as a ``Status`` JSON body with HTTP ``code``."""

    code: int
    message: str = ""
    reason: str = ""
    name: str = ""
    group: str = ""
    kind: str = ""
    uid: str = ""
    causes: list[Cause] = field(default_factory=list)
    retry_after: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    has_details: bool = True
    raw: JSON | None = None  # a complete Status body built elsewhere, sent as is

    def __str__(self) -> str:
        return f"{self.code} {self.reason}: {self.message}"

    def to_json(self) -> JSON:
        """The Status object, with zero-valued members omitted as Go's ``omitempty`` does."""
        if self.raw is not None:
            return self.raw
        return failure_status(
            code=self.code,
            message=self.message,
            reason=self.reason,
            details=self.details() if self.has_details else None,
        )

    def details(self) -> JSON | None:
        """The ``details`` member, or None when every part of it is empty."""
        out: JSON = {}
        if self.name:
            out["name"] = self.name
        if self.group:
            out["group"] = self.group
        if self.kind:
            out["kind"] = self.kind
        if self.uid:
            out["uid"] = self.uid
        if self.causes:
            out["causes"] = [c.to_json() for c in self.causes]
        if self.retry_after:
            out["retryAfterSeconds"] = self.retry_after
        return out or None


def failure_status(*, code: int, message: str, reason: str, details: JSON | None = None) -> JSON:
    """A ``status: Failure`` Status object (also used inside watch ERROR events)."""
    out: JSON = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure"}
    if message:
        out["message"] = message
    if reason:
        out["reason"] = reason
    if details is not None:  # a non-nil *StatusDetails is sent even when empty
        out["details"] = details
    out["code"] = code
    return out


def qualified(resource: str, group: str) -> str:
    """``GroupResource.String()``: ``deployments.apps``, or ``configmaps`` for the core group."""
    return f"{resource}.{group}" if group else resource


def not_found(*, resource: str, group: str, name: str) -> StatusError:
    """404 NotFound for a missing object."""
    return StatusError(
        code=404,
        reason="NotFound",
        message=f'{qualified(resource, group)} "{name}" not found',
        name=name,
        group=group,
        kind=resource,
    )


def already_exists(*, resource: str, group: str, name: str) -> StatusError:
    """409 AlreadyExists when a create hits a taken name."""
    return StatusError(
        code=409,
        reason="AlreadyExists",
        message=f'{qualified(resource, group)} "{name}" already exists',
        name=name,
        group=group,
        kind=resource,
    )


def conflict(*, resource: str, group: str, name: str, why: str = "") -> StatusError:
    """409 Conflict for a stale resourceVersion or a failed precondition."""
    why = why or (
        "the object has been modified; please apply your changes to the latest version "
        "and try again"
    )
    return StatusError(
        code=409,
        reason="Conflict",
        message=f'Operation cannot be fulfilled on {qualified(resource, group)} "{name}": {why}',
        name=name,
        group=group,
        kind=resource,
    )


def apply_conflict(*, message: str, causes: list[Cause]) -> StatusError:
    """409 Conflict from server-side apply; details hold only the causes."""
    return StatusError(code=409, reason="Conflict", message=message, causes=causes)


def forbidden(*, resource: str, group: str, name: str, why: str) -> StatusError:
    """403 Forbidden (for example a create into a terminating namespace)."""
    target = qualified(resource, group)
    message = f'{target} "{name}" is forbidden: {why}' if name else f"{target} is forbidden: {why}"
    return StatusError(
        code=403, reason="Forbidden", message=message, name=name, group=group, kind=resource
    )


def invalid(*, kind: str, group: str, name: str, errors: list[FieldError]) -> StatusError:
    """422 Invalid with one cause per field error, as ``errors.NewInvalid``."""
    target = f"{kind}.{group}" if group else kind
    if not errors:
        message = f'{target} "{name}" is invalid'
    elif len(errors) == 1:
        message = f'{target} "{name}" is invalid: {errors[0]}'
    else:
        message = f'{target} "{name}" is invalid: [{", ".join(str(e) for e in errors)}]'
    causes = [Cause(reason=e.type, message=e.body(), field=e.field) for e in errors]
    return StatusError(
        code=422,
        reason="Invalid",
        message=message,
        name=name,
        group=group,
        kind=kind,
        causes=causes,
    )


def bad_request(message: str) -> StatusError:
    """400 BadRequest with the parser's message."""
    return StatusError(code=400, reason="BadRequest", message=message)


def expired(message: str) -> StatusError:
    """410 Expired (not Gone): a too-old resourceVersion or continue token."""
    return StatusError(code=410, reason="Expired", message=message)


def internal(message: str) -> StatusError:
    """500 with no reason: an untyped storage error passes through as is."""
    return StatusError(code=500, message=message)


def unsupported_media_type(accepted: list[str]) -> StatusError:
    """415 for a PATCH whose Content-Type is not an accepted patch type."""
    return StatusError(
        code=415,
        reason="UnsupportedMediaType",
        message="the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(accepted),
    )


def method_not_supported(*, resource: str, group: str, action: str) -> StatusError:
    """405 for a verb the resource does not serve."""
    target = qualified(resource, group)
    return StatusError(
        code=405,
        reason="MethodNotAllowed",
        message=f'{action} is not supported on resources of kind "{target}"',
        group=group,
        kind=resource,
    )


def too_many_requests(message: str, retry_after: int) -> StatusError:
    """429 TooManyRequests as a Status object (not the plain-text APF answer)."""
    return StatusError(
        code=429,
        reason="TooManyRequests",
        message=message,
        retry_after=retry_after,
        headers={"Retry-After": str(retry_after)} if retry_after else {},
    )


def timeout(message: str, retry_after: int, causes: list[Cause] | None = None) -> StatusError:
    """504 Timeout (for example a resourceVersion newer than the server's)."""
    return StatusError(
        code=504,
        reason="Timeout",
        message=f"Timeout: {message}",
        retry_after=retry_after,
        causes=causes or [],
    )


def unauthorized() -> StatusError:
    """401 for a missing or unknown bearer token."""
    return StatusError(code=401, reason="Unauthorized", message="Unauthorized")


def entity_too_large(limit: int) -> StatusError:
    """413 for a request body over the limit."""
    return StatusError(
        code=413,
        reason="RequestEntityTooLarge",
        message=f"Request entity too large: limit is {limit}",
    )


def service_unavailable(message: str) -> StatusError:
    """503 ServiceUnavailable."""
    return StatusError(code=503, reason="ServiceUnavailable", message=message)


def success(*, name: str, group: str, kind: str, uid: str) -> JSON:
    """The ``status: Success`` body of a DELETE that removed the object at once (no code)."""
    details: JSON = {"name": name}
    if group:
        details["group"] = group
    details["kind"] = kind
    if uid:
        details["uid"] = uid
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    }
