"""Query parameters and DeleteOptions, parsed and validated as kube-apiserver does (§8.3).

Booleans follow the apimachinery conversion (only ``0``/``false`` are false); option
errors are 422 Invalid on ``CreateOptions``/``ListOptions``/... of ``meta.k8s.io``;
DeleteOptions come from the JSON body when there is one, else from the query. The
server calls these; what the options mean is ``api``'s and ``watch``'s business.
"""

from __future__ import annotations

from collections.abc import Mapping

from kubesim import api as api_mod
from kubesim import auth, bodies, status
from kubesim.status import FieldError, StatusError

_TRUE_FALSE = ("0", "false")


def flag(value: str | None) -> bool:
    """Kubernetes query booleans: false only for ``0``/``false`` (any case); absent is false."""
    if value is None:
        return False
    return value.lower() not in _TRUE_FALSE


def optional_flag(q: Mapping[str, str], key: str) -> bool | None:
    """A boolean parameter, or None when absent."""
    return flag(q[key]) if key in q else None


def getall(q: Mapping[str, str], key: str) -> list[str]:
    """Every value of a repeated parameter (``dryRun`` may repeat)."""
    getall = getattr(q, "getall", None)
    if getall is not None:
        return list(getall(key, []))
    return [q[key]] if key in q else []


def parse_int(text: str, name: str) -> int:
    """An integer parameter; 400 when it is not one."""
    try:
        return int(text)
    except ValueError:
        raise status.bad_request(f"{name}: invalid value {text!r}: must be an integer") from None


def parse_rv(text: str) -> int:
    """A resourceVersion parameter; 400 ``invalid resource version`` when malformed."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise status.bad_request(
            f"invalid resource version: strconv.ParseUint: parsing {text!r}: invalid syntax"
        )
    return value


def options_invalid(kind: str, *errs: FieldError) -> StatusError:
    """422 Invalid on ``<kind>.meta.k8s.io ""`` (CreateOptions, ListOptions, ...)."""
    return status.invalid(kind=kind, group="meta.k8s.io", name="", errors=list(errs))


def write_options(
    q: Mapping[str, str], *, user_agent: str, user: str, options_kind: str
) -> api_mod.WriteOptions:
    """CreateOptions / UpdateOptions / PatchOptions: dryRun, fieldValidation, manager, force."""
    dry = getall(q, "dryRun")
    bad = [d for d in dry if d != "All"]
    if bad:
        raise options_invalid(
            options_kind,
            FieldError(
                type="FieldValueNotSupported",
                field="dryRun",
                value=list(dry),
                has_value=True,
                detail='supported values: "All"',
            ),
        )
    validation = q.get("fieldValidation", "") or "Warn"
    if validation not in ("Ignore", "Warn", "Strict"):
        raise options_invalid(
            options_kind,
            FieldError(
                type="FieldValueNotSupported",
                field="fieldValidation",
                value=validation,
                has_value=True,
                detail='supported values: "Ignore", "Strict", "Warn"',
            ),
        )
    field_manager = q.get("fieldManager", "")
    force = flag(q.get("force")) if "force" in q else False
    return api_mod.WriteOptions(
        manager=auth.manager_for(field_manager, user_agent),
        explicit_manager=bool(field_manager),
        dry_run=bool(dry),
        field_validation=validation,
        force=force,
        user=user,
    )


def list_option_errors(rv: str, match: str, cont: str, q: Mapping[str, str]) -> list[FieldError]:
    """ValidateListOptions for a list (resourceVersionMatch, sendInitialEvents)."""
    errs: list[FieldError] = []
    if match:
        if not rv:
            errs.append(
                forbidden(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden unless resourceVersion is provided",
                )
            )
        if cont:
            errs.append(
                forbidden(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden when continue is provided",
                )
            )
        if match not in ("Exact", "NotOlderThan"):
            errs.append(
                FieldError(
                    type="FieldValueNotSupported",
                    field="resourceVersionMatch",
                    value=match,
                    has_value=True,
                    detail='supported values: "Exact", "NotOlderThan", ""',
                )
            )
        if match == "Exact" and rv == "0":
            errs.append(
                forbidden(
                    "resourceVersionMatch",
                    'resourceVersionMatch "exact" is forbidden for resourceVersion "0"',
                )
            )
    if "sendInitialEvents" in q:
        errs.append(forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list"))
    return errs


def watch_option_errors(match: str, send_initial: bool | None, cont: str) -> list[FieldError]:
    """validateWatchOptions: sendInitialEvents needs resourceVersionMatch=NotOlderThan."""
    errs: list[FieldError] = []
    if send_initial is not None and match != "NotOlderThan":
        errs.append(
            forbidden(
                "resourceVersionMatch",
                "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            )
        )
    if match:
        if send_initial is None:
            errs.append(
                forbidden(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden for watch unless sendInitialEvents "
                    "is provided",
                )
            )
        if match != "NotOlderThan":
            errs.append(
                FieldError(
                    type="FieldValueNotSupported",
                    field="resourceVersionMatch",
                    value=match,
                    has_value=True,
                    detail='supported values: "NotOlderThan"',
                )
            )
        if cont:
            errs.append(
                forbidden(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden when continue is provided",
                )
            )
    return errs


def forbidden(path: str, detail: str) -> FieldError:
    """A Forbidden field error."""
    return FieldError(type="FieldValueForbidden", field=path, detail=detail)


def delete_options(q: Mapping[str, str], raw: bytes) -> api_mod.DeleteOptions:
    """DeleteOptions from the JSON body if there is one (then the query is ignored)."""
    if raw.strip():
        body = bodies.decode_json(raw, what="DeleteOptions")
        if not isinstance(body, dict):
            raise status.bad_request("the body of the request is not a DeleteOptions object")
        pre = body.get("preconditions") or {}
        dry = body.get("dryRun") or []
        orphan = body.get("orphanDependents")
        policy = body.get("propagationPolicy") or ""
        grace = body.get("gracePeriodSeconds")
    else:
        pre = {}
        dry = getall(q, "dryRun")
        orphan = optional_flag(q, "orphanDependents")
        policy = q.get("propagationPolicy", "")
        grace_text = q.get("gracePeriodSeconds")
        grace = parse_int(grace_text, "gracePeriodSeconds") if grace_text else None
    errs: list[FieldError] = []
    if policy and policy not in ("Orphan", "Background", "Foreground"):
        errs.append(
            FieldError(
                type="FieldValueNotSupported",
                field="propagationPolicy",
                value=policy,
                has_value=True,
                detail='supported values: "Foreground", "Background", "Orphan", "nil"',
            )
        )
    if policy and orphan is not None:
        errs.append(
            FieldError(
                type="FieldValueInvalid",
                field="propagationPolicy",
                value=policy,
                has_value=True,
                detail="orphanDependents and deletionPropagation cannot be both set",
            )
        )
    if [d for d in dry if d != "All"]:
        errs.append(
            FieldError(
                type="FieldValueNotSupported",
                field="dryRun",
                value=list(dry),
                has_value=True,
                detail='supported values: "All"',
            )
        )
    if errs:
        raise options_invalid("DeleteOptions", *errs)
    return api_mod.DeleteOptions(
        propagation=policy,
        grace_period=grace,
        precondition_uid=str(pre.get("uid") or ""),
        precondition_rv=str(pre.get("resourceVersion") or ""),
        orphan_dependents=orphan,
        dry_run=bool(dry),
    )
