"""Decisions about Git sources that need no I/O.

What to fetch for a followed ref (``refspecs``), which tag a ``semver`` range selects
(``select_tag``, with the constraint grammar in ``parse_constraint``), which events a
poll records (``recording``), which apps a tree diff touches (``is_affected``), how
long to wait before the next poll (``next_delay``) and whether a webhook's repository
is a configured source (``repo_key``).

Fetching, walking history and diffing trees are ``shell.gitsource``'s job; the poll
loop and its clock are ``runtime.poller``'s. Randomness (jitter) comes in as a number.
"""

from __future__ import annotations

import dataclasses
import enum
import posixpath
import re
from collections.abc import Collection, Iterable, Sequence

import semver

from daemon.core import events as ev


class RefKind(enum.StrEnum):
    """What a source follows."""

    BRANCH = "branch"
    TAG = "tag"
    SEMVER = "semver"
    COMMIT = "commit"


@dataclasses.dataclass(frozen=True, slots=True)
class Ref:
    """A followed ref: a branch or tag name, a semver range, or a commit sha."""

    kind: RefKind
    value: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


def refspecs(ref: Ref) -> list[str]:
    """Fetch refspecs that bring ``ref`` into a bare mirror (forced: tags may move)."""
    match ref.kind:
        case RefKind.BRANCH:
            return [f"+refs/heads/{ref.value}:refs/heads/{ref.value}"]
        case RefKind.TAG:
            return [f"+refs/tags/{ref.value}:refs/tags/{ref.value}"]
        case RefKind.SEMVER:
            return ["+refs/tags/*:refs/tags/*"]
        case RefKind.COMMIT:
            # A server need not serve a bare sha (uploadpack.allowAnySHA1InWant); fetch
            # every branch and tag once, the commit is among them or does not exist.
            return ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"]


# -- semver ranges ---------------------------------------------------------------------

_PARTIAL = re.compile(
    r"^v?(?P<major>\d+|[xX*])(?:\.(?P<minor>\d+|[xX*]))?(?:\.(?P<patch>\d+|[xX*]))?"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+(?P<build>[0-9A-Za-z.-]+))?$"
)
_COMPARATOR = re.compile(r"^(?P<op>>=|<=|!=|~>|==|=|>|<|~|\^)?\s*(?P<version>\S+)$")
_HYPHEN = re.compile(r"^(?P<low>\S+)\s+-\s+(?P<high>\S+)$")
_WILDCARDS = frozenset("xX*")


@dataclasses.dataclass(frozen=True, slots=True)
class Bound:
    """One comparison: ``op`` is one of ``>= > <= < = !=``."""

    op: str
    version: semver.Version

    def allows(self, version: semver.Version) -> bool:
        """True when ``version`` satisfies this comparison."""
        order = version.compare(self.version)
        match self.op:
            case ">=":
                return order >= 0
            case ">":
                return order > 0
            case "<=":
                return order <= 0
            case "<":
                return order < 0
            case "=":
                return order == 0
            case _:
                return order != 0


@dataclasses.dataclass(frozen=True, slots=True)
class Constraint:
    """A semver range: any of ``alternatives`` (``||``), each a conjunction of bounds."""

    text: str
    alternatives: tuple[tuple[Bound, ...], ...]
    prereleases: bool
    """Whether pre-release versions may match (only when the range names one)."""

    def allows(self, version: semver.Version) -> bool:
        """True when ``version`` is in the range."""
        if version.prerelease and not self.prereleases:
            return False
        return any(all(b.allows(version) for b in group) for group in self.alternatives)


def parse_constraint(text: str) -> Constraint:
    """Parse a range such as ``>=1.2.0 <2.0.0``, ``^1.4``, ``~2.1``, ``1.x`` or ``1.0 - 1.5``.

    Comparators in a group are separated by spaces or commas (all must hold); groups
    are separated by ``||`` (any may hold). Raises ``ValueError`` naming the bad part.
    """
    groups: list[tuple[Bound, ...]] = []
    for raw_group in text.split("||"):
        group = raw_group.strip().replace(",", " ")
        if not group:
            raise ValueError(f"semver range {text!r} has an empty alternative")
        hyphen = _HYPHEN.match(group)
        if hyphen:
            low = _expand(">=", hyphen["low"], text)
            high = _expand("<=", hyphen["high"], text)
            groups.append((*low, *high))
            continue
        bounds: list[Bound] = []
        for token in _tokens(group):
            bounds.extend(_comparator(token, text))
        groups.append(tuple(bounds))
    return Constraint(text=text, alternatives=tuple(groups), prereleases="-" in text)


def _tokens(group: str) -> list[str]:
    """Split a group into comparators, gluing an operator to a version after a space."""
    out: list[str] = []
    pending = ""
    for word in group.split():
        if re.fullmatch(r">=|<=|!=|~>|==|=|>|<|~|\^", word):
            pending += word
            continue
        out.append(pending + word)
        pending = ""
    if pending:
        out.append(pending)
    return out


def _comparator(token: str, text: str) -> list[Bound]:
    match = _COMPARATOR.match(token)
    if match is None:
        raise ValueError(f"semver range {text!r}: cannot read {token!r}")
    return _expand(match["op"] or "=", match["version"], text)


def _expand(op: str, version_text: str, text: str) -> list[Bound]:
    """Turn one comparator (maybe partial, maybe ``^``/``~``) into plain bounds."""
    match = _PARTIAL.match(version_text)
    if match is None:
        raise ValueError(f"semver range {text!r}: {version_text!r} is not a version")
    parts = [match["major"], match["minor"], match["patch"]]
    given = 0
    for part in parts:
        if part is None or part in _WILDCARDS:
            break
        given += 1
    nums = [int(p) if i < given and p is not None else 0 for i, p in enumerate(parts)]
    pre = match["pre"] if given == 3 else None
    base = semver.Version(major=nums[0], minor=nums[1], patch=nums[2], prerelease=pre)
    if given == 0:  # "*", "x": every version, or none for a strict comparison
        return [Bound("<", semver.Version(0, 0, 0))] if op in {">", "<", "!="} else []
    op = {"==": "=", "~>": "~"}.get(op, op)
    upper = _next_after(nums, given)
    match op:
        case "^":
            return [Bound(">=", base), Bound("<", _caret_upper(nums, given))]
        case "~":
            return [Bound(">=", base), Bound("<", _next_after(nums, min(given, 2) or 1))]
        case "=" if given < 3:
            return [Bound(">=", base), Bound("<", upper)]
        case ">" if given < 3:
            return [Bound(">=", upper)]
        case "<=" if given < 3:
            return [Bound("<", upper)]
        case "!=" if given < 3:
            # "!= 1.2" excludes a whole range, which one conjunction cannot express.
            raise ValueError(
                f"semver range {text!r}: != needs a full version, got {version_text!r}"
            )
        case _:
            return [Bound(op, base)]


def _next_after(nums: list[int], given: int) -> semver.Version:
    """The first version after every version matching the first ``given`` parts."""
    if given >= 3:
        return semver.Version(nums[0], nums[1], nums[2] + 1)
    if given == 2:
        return semver.Version(nums[0], nums[1] + 1, 0)
    return semver.Version(nums[0] + 1, 0, 0)


def _caret_upper(nums: list[int], given: int) -> semver.Version:
    """``^``: changes that do not modify the left-most non-zero part."""
    if nums[0] > 0 or given == 1:
        return semver.Version(nums[0] + 1, 0, 0)
    if nums[1] > 0 or given == 2:
        return semver.Version(0, nums[1] + 1, 0)
    return semver.Version(0, 0, nums[2] + 1)


def parse_tag_version(tag: str) -> semver.Version | None:
    """The semantic version a tag names (``v1.2.3`` or ``1.2.3``); None when it names none."""
    try:
        return semver.Version.parse(tag[1:] if tag[:1] in {"v", "V"} else tag)
    except ValueError:
        return None


def select_tag(tags: Iterable[str], constraint: Constraint) -> str | None:
    """The tag with the highest version inside ``constraint`` (ties: the shortest name)."""
    best: tuple[semver.Version, str] | None = None
    for tag in tags:
        version = parse_tag_version(tag)
        if version is None or not constraint.allows(version):
            continue
        if best is None or _better(version, tag, best):
            best = (version, tag)
    return None if best is None else best[1]


def _better(version: semver.Version, tag: str, best: tuple[semver.Version, str]) -> bool:
    order = version.compare(best[0])
    if order != 0:
        return order > 0
    return (len(tag), tag) < (len(best[1]), best[1])


# -- recording -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Observation:
    """What one poll found: the new head and how it relates to the last one recorded."""

    source: str
    ref: str
    head: str
    previous: str | None
    new_commits: Sequence[ev.CommitRecorded]
    """Commits reachable from ``head`` and not from ``previous``, oldest first."""
    dropped: Sequence[str]
    """Commits reachable from ``previous`` and no longer from ``head`` (a rewrite)."""
    changed_paths: Sequence[str] | None


def recording(seen: Observation) -> list[ev.AnyEvent]:
    """The events one poll appends to ``source/<name>`` (nothing when the head is unchanged).

    Order: ``HistoryRewritten`` first (the old line vanished), then the new commits
    oldest first, then ``RevisionObserved``. They go in one append, so a crash records
    all of them or none, and the next poll starts again from the last recorded head.
    """
    if seen.head == seen.previous:
        return []
    out: list[ev.AnyEvent] = []
    if seen.previous is not None and seen.dropped:
        out.append(
            ev.HistoryRewritten(
                source=seen.source,
                ref=seen.ref,
                old_head=seen.previous,
                new_head=seen.head,
                dropped=tuple(seen.dropped),
            )
        )
    out.extend(seen.new_commits)
    paths = seen.changed_paths
    if paths is not None and len(paths) > ev.RevisionObserved.MAX_CHANGED_PATHS:
        paths = None
    out.append(
        ev.RevisionObserved(
            source=seen.source,
            ref=seen.ref,
            sha=seen.head,
            previous=seen.previous,
            changed_paths=None if paths is None else tuple(sorted(paths)),
        )
    )
    return out


def failure_transition(
    *, source: str, failing: bool, error_class: str | None, message: str = ""
) -> ev.SourceFailed | ev.SourceRecovered | None:
    """``SourceFailed``/``SourceRecovered`` only when the state changes, else None.

    ``error_class`` is None when the poll worked.
    """
    if error_class is not None and not failing:
        return ev.SourceFailed(source=source, error_class=error_class, message=message)
    if error_class is None and failing:
        return ev.SourceRecovered(source=source)
    return None


# -- fan-out by path -------------------------------------------------------------------


def is_affected(*, path: str, inputs: Collection[str] | None, changed: Iterable[str]) -> bool:
    """True when a changed repository path may change what an app renders.

    ``path`` is the app's path; ``inputs`` every path its last render read (None when
    unknown: never rendered or the last render failed, so any change counts). A changed
    path matters when it lies at or beneath the app's path or one of the inputs.
    Directories in ``inputs`` (listed by the render) catch files added to them.
    """
    changed = list(changed)
    if inputs is None:
        return bool(changed)
    roots = {_clean(path), *(_clean(p) for p in inputs)}
    if "" in roots:
        return bool(changed)
    for item in changed:
        current = _clean(item)
        while current:
            if current in roots:
                return True
            current = posixpath.dirname(current)
    return False


def _clean(path: str) -> str:
    normal = posixpath.normpath(path.strip("/")) if path.strip("/") else ""
    return "" if normal == "." else normal


# -- timing ----------------------------------------------------------------------------


JITTER_FRACTION = 0.1
RETRY_BASE = 5.0
RETRY_CAP = 300.0


def next_delay(*, interval: float, failures: int, jitter: float) -> float:
    """Seconds until the next poll: the interval, or capped exponential backoff after failures.

    ``jitter`` is a number in [0, 1) drawn by the caller; it spreads polls by up to
    ±``JITTER_FRACTION`` so many sources with one interval do not poll in lockstep.
    Backoff starts at ``min(interval, RETRY_BASE)`` and doubles per consecutive failure
    up to ``max(interval, RETRY_CAP)``.
    """
    if failures <= 0:
        base = interval
    else:
        start = min(interval, RETRY_BASE)
        base = min(start * 2 ** min(failures - 1, 30), max(interval, RETRY_CAP))
    return base * (1.0 + JITTER_FRACTION * (2.0 * jitter - 1.0))


# -- webhooks ----------------------------------------------------------------------------

_SCP_LIKE = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>[^/].*)$")
_URL = re.compile(
    r"^[a-zA-Z][a-zA-Z0-9+.-]*://(?:[^@/]*@)?(?P<host>[^/:]+)(?::\d+)?(?P<path>/.*)?$"
)


def repo_key(url: str) -> str:
    """A comparable form of a repository URL: ``host/path`` lowercased, without ``.git``.

    ``https://github.com/Org/Repo.git``, ``git@github.com:org/repo`` and
    ``ssh://git@github.com/org/repo.git`` all give ``github.com/org/repo``; ``file://``
    URLs give their path. Used to match a webhook's repository to configured sources.
    """
    text = url.strip()
    if text.startswith("file://"):
        path = text[len("file://") :]
        host = ""
    elif match := _URL.match(text):
        host, path = match["host"], match["path"] or ""
    elif match := _SCP_LIKE.match(text):
        host, path = match["host"], "/" + match["path"]
    else:
        host, path = "", text
    path = path.rstrip("/")
    path = path.removesuffix(".git").rstrip("/")
    return f"{host.lower()}{path.lower()}"
