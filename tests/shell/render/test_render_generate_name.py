"""Rendering hooks named by ``metadata.generateName``: allowed on hooks only, keyed by prefix."""

from __future__ import annotations

import pytest
from rendertest import config

from daemon.core import ids
from daemon.shell import render

PRESYNC_JOB = """
apiVersion: batch/v1
kind: Job
metadata:
  generateName: upgrade-sql-schema-
  annotations: {argocd.argoproj.io/hook: PreSync}
spec: {template: {spec: {restartPolicy: Never, containers: [{name: u, image: alpine}]}}}
"""


def test_hook_with_generate_name_renders(git_tree) -> None:
    """A PreSync Job with only generateName renders, keyed by its prefix and the marker."""
    tree = git_tree({"app/hooks.yaml": PRESYNC_JOB})
    result = render.render(tree, path="app", config=config())
    assert [ids.key_of(o) for o in result.objects] == ["batch/Job//upgrade-sql-schema-*"]
    assert result.objects[0]["metadata"] == {
        "generateName": "upgrade-sql-schema-",
        "annotations": {"argocd.argoproj.io/hook": "PreSync"},
    }


def test_every_hook_phase_may_use_generate_name(git_tree) -> None:
    """Sync and SyncFail hooks (either annotation) may be unnamed as well as PreSync/PostSync."""
    files = {
        f"app/{phase.lower()}.yaml": (
            "{apiVersion: batch/v1, kind: Job, metadata: {generateName: "
            f"{phase.lower()}-, annotations: {{{annotation}: {phase}}}}}}}"
        )
        for phase, annotation in [
            ("PreSync", "gitopsd.io/hook"),
            ("Sync", "argocd.argoproj.io/hook"),
            ("PostSync", "gitopsd.io/hook"),
            ("SyncFail", "argocd.argoproj.io/hook"),
        ]
    }
    result = render.render(git_tree(files), path="app", config=config())
    assert sorted(ids.key_of(o) for o in result.objects) == [
        "batch/Job//postsync-*",
        "batch/Job//presync-*",
        "batch/Job//sync-*",
        "batch/Job//syncfail-*",
    ]


def test_generate_name_on_a_non_hook_is_refused_clearly(git_tree) -> None:
    """An ordinary object needs a name: the error says generateName is only for hooks."""
    tree = git_tree(
        {"app/x.yaml": "{apiVersion: batch/v1, kind: Job, metadata: {generateName: j-}}"}
    )
    with pytest.raises(render.RenderError) as err:
        render.render(tree, path="app", config=config())
    assert str(err.value) == (
        "app/x.yaml:1: Job has no metadata.name: metadata.generateName ('j-') is only allowed "
        "on hooks (annotation argocd.argoproj.io/hook or gitopsd.io/hook: PreSync, Sync, "
        "PostSync or SyncFail); give it a metadata.name"
    )


def test_invalid_generate_name_and_bad_hook_annotation_are_refused(git_tree) -> None:
    """The prefix follows the kind's naming rule (a trailing '-' allowed); a bad hook is named."""
    cases = {
        "{apiVersion: batch/v1, kind: Job, metadata: {generateName: Bad_, "
        "annotations: {gitopsd.io/hook: PreSync}}}": (
            "app/x.yaml:1: Job generateName 'Bad_' is invalid: must be a DNS-1123 subdomain "
            "(lowercase letters, digits, '-', '.', at most 253)"
        ),
        "{apiVersion: batch/v1, kind: Job, metadata: {generateName: j-, "
        "annotations: {gitopsd.io/hook: Later}}}": (
            "app/x.yaml:1: Job 'j-*': hook annotation 'Later': use PreSync, Sync, PostSync, "
            "SyncFail or Skip"
        ),
    }
    for text, expected in cases.items():
        with pytest.raises(render.RenderError) as err:
            render.render(git_tree({"app/x.yaml": text}), path="app", config=config())
        assert str(err.value) == expected


def test_two_hooks_with_one_generate_name_are_duplicates_naming_both_files(git_tree) -> None:
    """Two hooks with the same generateName in one app are refused, naming both origins."""
    tree = git_tree({"app/a.yaml": PRESYNC_JOB, "app/b.yaml": "---\n" + PRESYNC_JOB})
    with pytest.raises(render.RenderError) as err:
        render.render(tree, path="app", config=config())
    assert str(err.value) == (
        "app/b.yaml:3: duplicate object Job/upgrade-sql-schema-*: also defined in app/a.yaml:2"
    )
