"""Pure source decisions: semver ranges, recording, fan-out by path, timing, URL keys."""

from __future__ import annotations

import pytest

from daemon.core import events as ev
from daemon.core import sources

TAGS = [
    "v0.9.0",
    "v1.0.0",
    "v1.2.0",
    "v1.2.5",
    "1.3.0",
    "v1.4.0-rc.1",
    "v2.0.0",
    "v2.1.3",
    "release-7",
    "v3.0.0-beta.2",
]


@pytest.mark.parametrize(
    ("constraint", "expected"),
    [
        (">=1.0.0 <2.0.0", "1.3.0"),
        (">=1.0.0, <2.0.0", "1.3.0"),
        ("^1.2", "1.3.0"),
        ("^1.2.3", "1.3.0"),
        ("~1.2", "v1.2.5"),
        ("~1.2.0", "v1.2.5"),
        ("1.2.x", "v1.2.5"),
        ("1.x", "1.3.0"),
        ("2", "v2.1.3"),
        ("*", "v2.1.3"),
        ("<1.0.0", "v0.9.0"),
        ("=1.2.0", "v1.2.0"),
        ("1.0 - 1.2", "v1.2.5"),
        (">1.2", "v2.1.3"),
        ("<=1.2", "v1.2.5"),
        ("^0.9", "v0.9.0"),
        (">=1.4.0-rc.0 <1.5.0", "v1.4.0-rc.1"),
        (">=3.0.0-alpha", "v3.0.0-beta.2"),
        ("^5 || ~2.1", "v2.1.3"),
        (">=9", None),
        (">= 1.0.0 < 1.1", "v1.0.0"),
    ],
)
def test_semver_selection_picks_highest_tag_in_range(constraint: str, expected: str | None) -> None:
    """The highest tag inside the range wins; pre-releases only when the range names one."""
    assert sources.select_tag(TAGS, sources.parse_constraint(constraint)) == expected


def test_semver_tie_prefers_shorter_tag_name() -> None:
    """Two tags naming one version resolve deterministically to the shorter name."""
    assert sources.select_tag(["v1.0.0", "1.0.0"], sources.parse_constraint("1")) == "1.0.0"


@pytest.mark.parametrize("bad", ["", ">=banana", "1.2 ||", "!=1.2", "~>"])
def test_bad_semver_ranges_are_refused(bad: str) -> None:
    """A range that cannot be read raises ValueError naming it."""
    with pytest.raises(ValueError, match="semver range"):
        sources.parse_constraint(bad)


def test_refspecs_per_ref_kind() -> None:
    """Each ref kind fetches exactly the refs it needs, forced so moved tags come along."""
    assert [
        sources.refspecs(sources.Ref(kind, value))
        for kind, value in [
            (sources.RefKind.BRANCH, "main"),
            (sources.RefKind.TAG, "v1"),
            (sources.RefKind.SEMVER, "^1"),
            (sources.RefKind.COMMIT, "abc"),
        ]
    ] == [
        ["+refs/heads/main:refs/heads/main"],
        ["+refs/tags/v1:refs/tags/v1"],
        ["+refs/tags/*:refs/tags/*"],
        ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"],
    ]


def _commit(sha: str, parent: str | None) -> ev.CommitRecorded:
    return ev.CommitRecorded(
        source="s",
        sha=sha,
        parents=(parent,) if parent else (),
        author="A",
        author_email="a@x",
        authored_at="2024-01-01T00:00:00+00:00",
        committer="A",
        committer_email="a@x",
        committed_at="2024-01-01T00:00:00+00:00",
        subject=f"commit {sha}",
    )


def test_recording_fast_forward_commits_oldest_first_then_revision() -> None:
    """A fast-forward records each new commit oldest first, then the new head."""
    seen = sources.Observation(
        source="s",
        ref="branch:main",
        head="c3",
        previous="c1",
        new_commits=[_commit("c2", "c1"), _commit("c3", "c2")],
        dropped=[],
        changed_paths=["b.yaml", "a.yaml"],
    )
    assert sources.recording(seen) == [
        _commit("c2", "c1"),
        _commit("c3", "c2"),
        ev.RevisionObserved(
            source="s",
            ref="branch:main",
            sha="c3",
            previous="c1",
            changed_paths=("a.yaml", "b.yaml"),
        ),
    ]


def test_recording_rewrite_names_dropped_commits_first() -> None:
    """A force-push records HistoryRewritten with the vanished commits before the new ones."""
    seen = sources.Observation(
        source="s",
        ref="branch:main",
        head="x2",
        previous="c3",
        new_commits=[_commit("x2", "c1")],
        dropped=["c3", "c2"],
        changed_paths=None,
    )
    assert sources.recording(seen) == [
        ev.HistoryRewritten(
            source="s", ref="branch:main", old_head="c3", new_head="x2", dropped=("c3", "c2")
        ),
        _commit("x2", "c1"),
        ev.RevisionObserved(
            source="s", ref="branch:main", sha="x2", previous="c3", changed_paths=None
        ),
    ]


def test_recording_unchanged_head_records_nothing_and_huge_diffs_are_elided() -> None:
    """No event for an unchanged head; more than MAX_CHANGED_PATHS paths are left out."""
    same = sources.Observation(
        source="s", ref="r", head="a", previous="a", new_commits=[], dropped=[], changed_paths=[]
    )
    many = sources.Observation(
        source="s",
        ref="r",
        head="b",
        previous="a",
        new_commits=[],
        dropped=[],
        changed_paths=[f"f{i}" for i in range(ev.RevisionObserved.MAX_CHANGED_PATHS + 1)],
    )
    assert (sources.recording(same), sources.recording(many)) == (
        [],
        [ev.RevisionObserved(source="s", ref="r", sha="b", previous="a", changed_paths=None)],
    )


def test_failure_transitions_only_on_change() -> None:
    """SourceFailed when a healthy source fails, SourceRecovered when a failing one works."""
    assert [
        sources.failure_transition(
            source="s", failing=False, error_class="FetchTimeout", message="timed out"
        ),
        sources.failure_transition(
            source="s", failing=True, error_class="FetchTimeout", message="timed out"
        ),
        sources.failure_transition(source="s", failing=True, error_class=None),
        sources.failure_transition(source="s", failing=False, error_class=None),
    ] == [
        ev.SourceFailed(source="s", error_class="FetchTimeout", message="timed out"),
        None,
        ev.SourceRecovered(source="s"),
        None,
    ]


@pytest.mark.parametrize(
    ("path", "inputs", "changed", "expected"),
    [
        ("apps/web", ["apps/web/deploy.yaml"], ["apps/web/deploy.yaml"], True),
        ("apps/web", ["apps/web/deploy.yaml"], ["apps/web/new.yaml"], True),
        ("apps/web", ["apps/web/deploy.yaml"], ["apps/api/deploy.yaml"], False),
        ("apps/web", ["apps/web", "base/common.yaml"], ["base/common.yaml"], True),
        ("apps/web", ["apps/web", "base"], ["base/sub/x.yaml"], True),
        ("apps/web", ["apps/web"], ["apps/webby/x.yaml"], False),
        ("apps/web", None, ["anything"], True),
        ("apps/web", None, [], False),
        (".", ["a.yaml"], ["README.md"], True),
        ("apps/web", ["apps/web"], [], False),
    ],
)
def test_fan_out_by_path(
    path: str, inputs: list[str] | None, changed: list[str], expected: bool
) -> None:
    """Only changes at or under the app's path or its render inputs affect the app."""
    assert sources.is_affected(path=path, inputs=inputs, changed=changed) is expected


def test_next_delay_interval_jitter_and_capped_backoff() -> None:
    """Jitter spreads ±10% around the interval; failures back off exponentially to a cap."""
    assert [
        sources.next_delay(interval=60, failures=0, jitter=0.5),
        sources.next_delay(interval=60, failures=0, jitter=0.0),
        sources.next_delay(interval=60, failures=0, jitter=1.0),
        sources.next_delay(interval=60, failures=1, jitter=0.5),
        sources.next_delay(interval=60, failures=2, jitter=0.5),
        sources.next_delay(interval=60, failures=5, jitter=0.5),
        sources.next_delay(interval=60, failures=50, jitter=0.5),
        sources.next_delay(interval=1, failures=3, jitter=0.5),
    ] == [60.0, 54.0, 66.0, 5.0, 10.0, 80.0, 300.0, 4.0]


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://github.com/Org/Repo.git", "github.com/org/repo"),
        ("https://token@github.com/org/repo/", "github.com/org/repo"),
        ("git@github.com:org/repo.git", "github.com/org/repo"),
        ("ssh://git@github.com:22/org/repo.git", "github.com/org/repo"),
        ("git://127.0.0.1:9418/repo.git", "127.0.0.1/repo"),
        ("file:///srv/git/repo.git", "/srv/git/repo"),
    ],
)
def test_repo_key_matches_url_spellings(url: str, key: str) -> None:
    """Different spellings of one repository URL compare equal."""
    assert sources.repo_key(url) == key
