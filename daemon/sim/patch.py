"""JSON patch, JSON merge patch and strategic merge patch, as kube-apiserver applies them.

WORK IN PROGRESS: this commit fixes the API; the functions raise NotImplementedError
until a later commit says otherwise.

The job (KUBE_API.md §4.1): turn (current object, parsed patch document) into the patched
object or a ``PatchError`` carrying the Status the real server answers with. Semantics
follow the libraries the apiserver uses: ``gopkg.in/evanphx/json-patch.v4`` for RFC 6902
and RFC 7386, and apimachinery's ``strategicpatch`` for strategic merge patch, whose list
strategies and merge keys come from the schema (``schema.TypeSchema``). Pure: inputs are
never mutated, results may share unchanged sub-trees with them.

Left to the server: choosing the function by Content-Type (415 for unknown types and for
strategic merge on custom resources), decoding the body (invalid JSON -> 400), the 404 when
the object is missing, dropping unknown fields afterwards (``schema.prune_unknown``),
defaulting, managedFields (``apply.update_managed_fields``), validation and storage.

API:

``json_patch(doc, ops, *, field_validation="Warn") -> dict``
    ``ops`` is the decoded body. Not a list -> 400 ``error decoding patch: json: cannot
    unmarshal object into Go value of type []handlers.jsonPatchOp`` (the Go wording for
    the JSON type found). More than 10000 operations -> 413. A failing ``test`` or a
    missing path -> 422 ``the server rejected our request due to an error in our request``
    with ``details: {}``. A result that is not an object -> 422 Invalid on ``patch``.
``merge_patch(doc, patch) -> dict``
    RFC 7386 as json-patch.v4's ``MergePatch``. A non-object body -> 400.
``strategic_merge_patch(doc, patch, schema) -> dict``
    Directives ``$patch: replace|delete|merge``, ``$deleteFromPrimitiveList/<f>``,
    ``$setElementOrder/<f>``, ``$retainKeys``; merge lists by ``patchMergeKey``, union
    primitive merge lists (``finalizers``), replace the rest. Errors as the apiserver
    maps them: 400 for malformed directives, 422 for lists of lists, 500 otherwise
    (e.g. an item without its merge key).

``PatchError``: ``.code``, ``.reason`` (``""`` when the real Status has none),
``.message``, ``.details`` (dict or ``None``) and ``.status()`` -> the Status dict.
"""

from __future__ import annotations

from typing import Any

from daemon.sim import schema as schema_mod

JSON = dict[str, Any]


class PatchError(Exception):
    """A patch the server refuses, with the Status it answers."""

    def __init__(
        self, code: int, reason: str, message: str, *, details: JSON | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> JSON:
        """The Status body of the error answer."""
        body: JSON = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
        }
        if self.reason:
            body["reason"] = self.reason
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def json_patch(doc: JSON, ops: Any, *, field_validation: str = "Warn") -> JSON:
    """RFC 6902 (work in progress)."""
    raise NotImplementedError


def merge_patch(doc: JSON, patch: Any) -> JSON:
    """RFC 7386 (work in progress)."""
    raise NotImplementedError


def strategic_merge_patch(doc: JSON, patch: Any, schema: schema_mod.TypeSchema) -> JSON:
    """Strategic merge patch (work in progress)."""
    raise NotImplementedError
