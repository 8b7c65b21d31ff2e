"""Repeated applies answered from memory give exactly what the full apply path gives."""

from __future__ import annotations

from typing import Any

from simclient import Raw

from kubesim import applymemo
from kubesim.emulator import Emulator

DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"


def web(image: str = "nginx:1.27", cpu: str = "0.5") -> dict[str, Any]:
    """A Deployment config as gitopsd applies it (a non-canonical quantity included)."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"gitopsd.io/app": "a"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "web", "image": image, "resources": {"requests": {"cpu": cpu}}}
                    ]
                },
            },
        },
    }


async def apply(
    raw: Raw, body: dict[str, Any], *, manager: str = "gitopsd", query: str = ""
) -> tuple[int, dict[str, Any]]:
    """Server-side apply of ``body`` with force."""
    resp = await raw(
        "PATCH",
        f"{DEPLOYS}/web?fieldManager={manager}&force=true{query}",
        body=body,
        content_type="application/apply-patch+yaml",
    )
    return resp.status, resp.json()


async def test_remembered_repeat_equals_the_full_path(raw: Raw, sim: Emulator) -> None:
    """A repeat answered from memory is byte-for-byte the full path's answer, with no write."""
    sim.knobs.paused.add("deployment")
    await apply(raw, web())
    mark = sim.resource_version
    remembered = await apply(raw, web())
    sim.api.memo = applymemo.ApplyMemo()  # forget: the next repeat runs the whole merge
    computed = await apply(raw, web())
    assert (remembered, sim.resource_version) == (computed, mark)
    assert remembered[0] == 200


async def test_a_change_by_someone_else_is_reverted_by_the_next_apply(
    raw: Raw, sim: Emulator
) -> None:
    """After another writer's change the same apply runs again and takes the field back."""
    sim.knobs.paused.add("deployment")
    await apply(raw, web())
    edit = await raw(
        "PATCH",
        f"{DEPLOYS}/web?fieldManager=kubectl-edit",
        body={"spec": {"replicas": 5}},
        content_type="application/merge-patch+json",
    )
    code, again = await apply(raw, web())
    assert (edit.json()["spec"]["replicas"], code, again["spec"]["replicas"]) == (5, 200, 2)
    assert int(again["metadata"]["resourceVersion"]) == sim.resource_version


async def test_dry_run_is_not_remembered(raw: Raw, sim: Emulator) -> None:
    """A dry-run of a new config stores nothing, so the real apply that follows writes."""
    sim.knobs.paused.add("deployment")
    await apply(raw, web())
    _, preview = await apply(raw, web(image="nginx:1.28"), query="&dryRun=All")
    mark = sim.resource_version
    _, applied = await apply(raw, web(image="nginx:1.28"))
    image = applied["spec"]["template"]["spec"]["containers"][0]["image"]
    assert (preview["metadata"]["resourceVersion"], image, sim.resource_version) == (
        str(mark),
        "nginx:1.28",
        mark + 1,
    )


async def test_another_manager_with_the_same_config_runs_the_merge(raw: Raw, sim: Emulator) -> None:
    """The memory is per manager: the same config from another one becomes a co-owner."""
    sim.knobs.paused.add("deployment")
    await apply(raw, web())
    _, other = await apply(raw, web(), manager="argocd")
    assert [e["manager"] for e in other["metadata"]["managedFields"]] == ["argocd", "gitopsd"]


async def test_a_recreated_object_is_applied_again(raw: Raw, sim: Emulator) -> None:
    """After delete and re-create the same apply is a real one (new uid, new RV)."""
    sim.knobs.paused.add("deployment")
    _, first = await apply(raw, web())
    await raw("DELETE", f"{DEPLOYS}/web")
    code, second = await apply(raw, web())
    assert (code, second["metadata"]["uid"] != first["metadata"]["uid"]) == (201, True)
