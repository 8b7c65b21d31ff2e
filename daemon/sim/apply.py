"""Server-side apply and managedFields bookkeeping (KUBE_API.md §4.2-§4.5).

WORK IN PROGRESS: this commit fixes the API so the server can be written against it; the
functions raise NotImplementedError until a later commit says otherwise.

The job: given the live object, an applied configuration and the managedFields, compute the
merged object and the new managedFields exactly as structured-merge-diff's
``Updater.Apply`` / ``Updater.Update`` and apimachinery's field-manager chain do
(``merge/update.go``, ``managedfields/internal/*``). Pure and synchronous: time is an
argument, nothing is stored, nothing is logged. Inputs are never mutated; results may
share unchanged sub-trees with ``live`` and ``config`` (treat stored objects as immutable).

Left to the server: HTTP parsing (YAML/JSON body -> dict), defaulting (run
``defaults.apply_defaults`` on ``ApplyResult.object`` afterwards, as the real server does
after SMD's merge), strategies (status reset, generation), validation, storage, the no-op
decision (compare the final object with the stored one) and the RV.

API (all keyword arguments after the first two):

``apply(live, config, *, manager, force, schema, api_version, now, subresource=None,
reset_fields=()) -> ApplyResult``
    ``live``: the stored object (with its ``metadata.managedFields``) or ``None`` to create.
    ``config``: the parsed apply body (ownership passes to this function).
    ``manager``: the ``fieldManager`` query parameter (the server checks it is present).
    ``schema``: ``schema.for_kind(...)`` or ``schema.from_openapi(...)``.
    ``api_version``: the endpoint's ``group/version`` (``v1`` for core).
    ``now``: RFC 3339 UTC to the second, e.g. ``"2026-01-01T00:00:00Z"``.
    ``subresource``: ``None`` for the main resource, ``"status"`` for ``/status``.
    ``reset_fields``: paths the strategy resets (``reset_fields_for(...)`` computes them).
    Raises ``ApplyInvalid`` (400: wrong apiVersion/kind, managedFields in the config, a
    duplicate key in an associative list) and ``ApplyConflict`` (409).

``update_managed_fields(old, new, *, manager, schema, api_version, now, subresource=None,
reset_fields=()) -> list[dict] | None``
    For create (``old=None``), update and non-apply patch: the managedFields the written
    object carries (``None`` = leave the field out). Operation ``Update``; never conflicts.
    ``new`` is the defaulted object about to be stored; its own ``metadata.managedFields``
    (if the client sent some) are honoured as the real server does.

``reset_fields_for(*, group, kind, subresource, has_status) -> tuple[tuple[str, ...], ...]``

``ApplyResult``: ``object`` (merged, with ``metadata.managedFields`` set, not defaulted),
``managed_fields`` (the same list), ``changed`` (the object apart from managedFields differs
from ``live``).

``ApplyConflict``: ``.conflicts`` (list of ``Conflict(manager, path)`` display strings),
``.message``, ``.status()`` -> the full 409 Status dict of §4.5.
``ApplyInvalid``: ``.code`` (400), ``.reason`` (``BadRequest``), ``.message``, ``.status()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from daemon.sim import schema as schema_mod

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Conflict:
    """One conflicting field: the other manager as the server prints it, and the path."""

    manager: str  # '"kubectl-edit" using apps/v1'
    path: str  # '.spec.replicas'


class ApplyConflict(Exception):  # noqa: N818 - named after apimachinery's error
    """409: the apply changes fields other managers own (and force was not set)."""

    code = 409
    reason = "Conflict"

    def __init__(self, conflicts: list[Conflict], message: str) -> None:
        super().__init__(message)
        self.conflicts = conflicts
        self.message = message

    def status(self) -> JSON:
        """The Status body of the 409 answer."""
        causes = [
            {
                "reason": "FieldManagerConflict",
                "message": f"conflict with {c.manager}",
                "field": c.path,
            }
            for c in self.conflicts
        ]
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": "Conflict",
            "details": {"causes": causes},
            "code": 409,
        }


class ApplyInvalid(Exception):  # noqa: N818 - named after the Status reason it becomes
    """400 BadRequest: the apply body itself is not acceptable."""

    code = 400
    reason = "BadRequest"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def status(self) -> JSON:
        """The Status body of the 400 answer."""
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": "BadRequest",
            "code": 400,
        }


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """What an apply produced."""

    object: JSON
    managed_fields: list[JSON]
    changed: bool


def apply(
    live: JSON | None,
    config: JSON,
    *,
    manager: str,
    force: bool,
    schema: schema_mod.TypeSchema,
    api_version: str,
    now: str,
    subresource: str | None = None,
    reset_fields: tuple[tuple[str, ...], ...] = (),
) -> ApplyResult:
    """Server-side apply (work in progress)."""
    raise NotImplementedError


def update_managed_fields(
    old: JSON | None,
    new: JSON,
    *,
    manager: str,
    schema: schema_mod.TypeSchema,
    api_version: str,
    now: str,
    subresource: str | None = None,
    reset_fields: tuple[tuple[str, ...], ...] = (),
) -> list[JSON] | None:
    """The managedFields after an Update-operation write (work in progress)."""
    raise NotImplementedError
