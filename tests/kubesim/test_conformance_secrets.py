"""Secrets: ``stringData`` is write-only and lands in ``data`` as base64 on every write path.

Expected behaviour from kubernetes' ``pkg/apis/core/v1/conversion.go``
(``Convert_v1_Secret_To_core_Secret``: each stringData key overwrites ``data``; reads never
show ``stringData``), the v1 Secret API docs ("It is never output when reading from the
API"), apimachinery's structured-merge field manager (an apply owns the fields of its
configuration, so ``f:stringData``, while the stored object only has ``data``), and
kubernetes/kubernetes#108008 (a key dropped from an applied ``stringData`` stays in
``data``). ``data`` values are Go ``[]byte``: standard base64 with padding, re-encoded on
the way out.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.dynamic import DynamicClient
from simclient import Raw, read_lines

from kubesim.emulator import Emulator

SECRETS = "/api/v1/namespaces/default/secrets"
HUNTER2 = base64.b64encode(b"hunter2").decode()  # aHVudGVyMg==


def b64(text: str) -> str:
    """Standard base64 of a UTF-8 string."""
    return base64.b64encode(text.encode()).decode()


def creds(**fields: Any) -> dict[str, Any]:
    """The Secret manifest of sim-bugs.md #1, with other top-level fields."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds", "namespace": "default"},
    } | fields


async def apply(
    core: client.CoreV1Api, body: dict[str, Any], *, dry_run: bool = False
) -> tuple[int, dict[str, Any]]:
    """Server-side apply as gitopsd sends it (manager gitopsd, force), through the typed client."""
    query: dict[str, Any] = {"field_manager": "gitopsd", "force": True}
    if dry_run:
        query["dry_run"] = "All"
    resp = await core.patch_namespaced_secret(
        body["metadata"]["name"],
        "default",
        body,
        _content_type="application/apply-patch+yaml",
        _preload_content=False,
        **query,
    )
    if resp.status >= 400:
        exc = ApiException(status=resp.status, reason=resp.reason)
        exc.body = await resp.text()
        raise exc
    return resp.status, await resp.json()


def shown(obj: dict[str, Any]) -> tuple[Any, ...]:
    """What a Secret shows of its payload: data, stringData (absent: None), type."""
    return obj.get("data"), obj.get("stringData"), obj.get("type")


async def test_applied_string_data_is_stored_as_data(
    core: client.CoreV1Api, raw: Raw, sim: Emulator
) -> None:
    """sim-bugs #1: an applied stringData is answered, read, listed and watched as base64 data."""
    mark = sim.resource_version
    code, made = await apply(core, creds(stringData={"password": "hunter2"}))
    expected = ({"password": HUNTER2}, None, "Opaque")
    assert (code, shown(made)) == (201, expected)
    assert made["metadata"]["managedFields"] == [
        {
            "manager": "gitopsd",
            "operation": "Apply",
            "apiVersion": "v1",
            "time": made["metadata"]["creationTimestamp"],
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:stringData": {"f:password": {}}},
        }
    ]
    got = (await raw("GET", f"{SECRETS}/creds")).json()
    listed = (await raw("GET", SECRETS)).json()["items"]
    events = await read_lines(raw, f"{SECRETS}?watch=1&resourceVersion={mark}", 1)
    typed = await core.read_namespaced_secret("creds", "default")
    assert (shown(got), [shown(i) for i in listed], [shown(e["object"]) for e in events]) == (
        expected,
        [expected],
        [expected],
    )
    assert (typed.data, typed.string_data) == ({"password": HUNTER2}, None)


async def test_reapplying_string_data_is_a_no_op(core: client.CoreV1Api, sim: Emulator) -> None:
    """The same stringData applied again changes nothing: same RV, no event (no hot loop)."""
    _, made = await apply(core, creds(stringData={"password": "hunter2"}))
    mark = sim.resource_version
    code, again = await apply(core, creds(stringData={"password": "hunter2"}))
    assert (code, again, sim.resource_version) == (200, made, mark)


async def test_string_data_wins_over_data_on_create(core: client.CoreV1Api) -> None:
    """POST: every stringData key overwrites data; the updater owns data keys, never stringData."""
    body = creds(data={"a": b64("old"), "b": b64("keep")}, stringData={"a": "new", "c": "more"})
    made = await core.create_namespaced_secret("default", body, _preload_content=False)
    obj = await made.json()
    assert (made.status, shown(obj)) == (
        201,
        ({"a": b64("new"), "b": b64("keep"), "c": b64("more")}, None, "Opaque"),
    )
    [entry] = obj["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"], entry["fieldsV1"]) == (
        "OpenAPI-Generator",
        "Update",
        {"f:data": {".": {}, "f:a": {}, "f:b": {}, "f:c": {}}, "f:type": {}},
    )


async def test_update_and_every_patch_type_merge_string_data(
    core: client.CoreV1Api, raw: Raw
) -> None:
    """PUT, merge, strategic and JSON patches: stringData merges into the data they produce."""
    await core.create_namespaced_secret("default", creds(data={"a": b64("1")}))
    current = await core.read_namespaced_secret("creds", "default")
    put = creds(data={"a": b64("1")}, stringData={"b": "2"})
    put["metadata"]["resourceVersion"] = current.metadata.resource_version
    replaced = (await raw("PUT", f"{SECRETS}/creds", body=put)).json()
    merged = await raw(
        "PATCH",
        f"{SECRETS}/creds",
        body={"stringData": {"c": "3"}},
        content_type="application/merge-patch+json",
    )
    strategic = await raw(
        "PATCH",
        f"{SECRETS}/creds",
        body={"stringData": {"a": "one"}},
        content_type="application/strategic-merge-patch+json",
    )
    jsonpatch = await raw(
        "PATCH",
        f"{SECRETS}/creds",
        body=[{"op": "add", "path": "/stringData", "value": {"d": "4"}}],
        content_type="application/json-patch+json",
    )
    assert [shown(replaced), shown(merged.json()), shown(strategic.json())] == [
        ({"a": b64("1"), "b": b64("2")}, None, "Opaque"),
        ({"a": b64("1"), "b": b64("2"), "c": b64("3")}, None, "Opaque"),
        ({"a": b64("one"), "b": b64("2"), "c": b64("3")}, None, "Opaque"),
    ]
    assert (jsonpatch.status, shown(jsonpatch.json())) == (
        200,
        ({"a": b64("one"), "b": b64("2"), "c": b64("3"), "d": b64("4")}, None, "Opaque"),
    )


async def test_dry_run_answers_data_and_stores_nothing(
    core: client.CoreV1Api, raw: Raw, sim: Emulator
) -> None:
    """dryRun=All create and apply answer the merged data, without stringData, and store nothing."""
    mark = sim.resource_version
    created = await raw(
        "POST", f"{SECRETS}?dryRun=All", body=creds(stringData={"password": "hunter2"})
    )
    code, applied = await apply(core, creds(stringData={"password": "hunter2"}), dry_run=True)
    missing = await raw("GET", f"{SECRETS}/creds")
    assert (created.status, shown(created.json()), code, shown(applied)) == (
        201,
        ({"password": HUNTER2}, None, "Opaque"),
        201,
        ({"password": HUNTER2}, None, "Opaque"),
    )
    assert (missing.status, sim.resource_version) == (404, mark)


async def test_dry_run_apply_over_a_live_secret(core: client.CoreV1Api, sim: Emulator) -> None:
    """A dry-run apply of a changed stringData shows the would-be data at the old RV."""
    _, made = await apply(core, creds(stringData={"password": "hunter2"}))
    mark = sim.resource_version
    _, preview = await apply(core, creds(stringData={"password": "s3cret"}), dry_run=True)
    live = await core.read_namespaced_secret("creds", "default")
    assert (shown(preview), preview["metadata"]["resourceVersion"]) == (
        ({"password": b64("s3cret")}, None, "Opaque"),
        made["metadata"]["resourceVersion"],
    )
    assert (live.data, sim.resource_version) == ({"password": HUNTER2}, mark)


async def test_key_dropped_from_applied_string_data_stays(core: client.CoreV1Api) -> None:
    """kubernetes#108008: apply owns f:stringData, not the data it became, so nothing is pruned."""
    await apply(core, creds(stringData={"username": "admin", "password": "t0p"}))
    _, after = await apply(core, creds(stringData={"username1": "admin", "password": "t0p"}))
    assert (shown(after), after["metadata"]["managedFields"][0]["fieldsV1"]) == (
        (
            {"password": b64("t0p"), "username": b64("admin"), "username1": b64("admin")},
            None,
            "Opaque",
        ),
        {"f:stringData": {"f:password": {}, "f:username1": {}}},
    )


async def test_dynamic_client_apply_shows_data(dyn: DynamicClient) -> None:
    """The DynamicClient's server_side_apply sees data only, as on a real cluster."""
    secrets = await dyn.resources.get(api_version="v1", kind="Secret")
    made = await dyn.server_side_apply(
        secrets,
        body=creds(stringData={"password": "hunter2"}),
        namespace="default",
        field_manager="gitopsd",
    )
    got = await secrets.get(name="creds", namespace="default")
    assert (
        made.to_dict().get("stringData"),
        got.data.to_dict(),
        got.to_dict().get("stringData"),
    ) == (
        None,
        {"password": HUNTER2},
        None,
    )


async def test_data_is_returned_as_canonical_base64(raw: Raw) -> None:
    """Secret data and ConfigMap binaryData decode as Go []byte: line breaks go, spare bits are dropped."""
    secret = await raw(
        "POST", SECRETS, body=creds(data={"wrapped": "aHVu\ndGVy\r\nMg==", "bits": "YR=="})
    )
    config = await raw(
        "POST",
        "/api/v1/namespaces/default/configmaps",
        body={"metadata": {"name": "bin"}, "binaryData": {"blob": "AAEC\n"}},
    )
    assert (secret.json()["data"], config.json()["binaryData"]) == (
        {"bits": "YQ==", "wrapped": HUNTER2},
        {"blob": "AAEC"},
    )


@pytest.mark.parametrize(
    ("value", "offset"),
    [("not base64!", 3), ("aGk", 0), ("aGk=x", 4), ("aG=x", 2), ("a===", 1)],
)
async def test_bad_base64_on_create_is_400(raw: Raw, value: str, offset: int) -> None:
    """A data value Go's base64 decoder refuses is 400, naming the byte it stopped at."""
    resp = await raw("POST", SECRETS, body=creds(data={"k": value}))
    assert (resp.status, resp.json()) == (
        400,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": 'Secret in version "v1" cannot be handled as a Secret: '
            f"illegal base64 data at input byte {offset}",
            "reason": "BadRequest",
            "code": 400,
        },
    )


async def test_bad_base64_through_patch_and_apply(raw: Raw, core: client.CoreV1Api) -> None:
    """A merge patch that yields bad base64 is 422 on ``patch``; an apply is the field manager's 500."""
    await core.create_namespaced_secret("default", creds(data={"a": b64("1")}))
    patched = await raw(
        "PATCH",
        f"{SECRETS}/creds",
        body={"data": {"b": "%%%"}},
        content_type="application/merge-patch+json",
    )
    body = patched.json()
    cause = body["details"]["causes"][0]
    assert (patched.status, body["reason"], cause["reason"], cause["field"]) == (
        422,
        "Invalid",
        "FieldValueInvalid",
        "patch",
    )
    assert body["message"].startswith(' "" is invalid: patch: Invalid value: "{')
    assert body["message"].endswith('": illegal base64 data at input byte 0')
    with pytest.raises(ApiException) as info:
        await apply(core, creds(data={"b": "%%%"}))
    assert (info.value.status, json.loads(info.value.body)) == (
        500,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "failed to convert new object (default/creds; /v1, Kind=Secret) to proper "
            "version: illegal base64 data at input byte 0",
            "code": 500,
        },
    )


async def test_non_string_string_data_is_400(raw: Raw) -> None:
    """A stringData value that is not a string does not decode into map[string]string."""
    resp = await raw("POST", SECRETS, body=creds(stringData={"port": 5432}))
    assert (resp.status, resp.json()["message"]) == (
        400,
        (
            'Secret in version "v1" cannot be handled as a Secret: json: cannot unmarshal number '
            "into Go struct field Secret.stringData of type string"
        ),
    )
