"""Git through pygit2: bare mirrors, fetches with credentials and timeouts, history and diffs.

Every function here blocks; the runtime calls them in worker threads (never on the
event loop). One bare mirror per source lives at ``state_dir/git/<source>.git``; a
fetch brings only the refs the source follows (``core.sources.refspecs``) and writes
no FETCH_HEAD and no auto-followed tags.

Credentials reach libgit2 through callbacks, never through URLs (a URL with a password
is refused by the settings), never on a command line, and error messages are scrubbed
of every secret value before they leave this module.

Timeouts: libgit2's own socket timeouts (``configure_timeouts``: connect and
per-read/write inactivity, process-wide) cut off a remote that accepts and then says
nothing, over git://, http(s):// and ssh:// alike; the per-source total ``timeout`` is
checked in the progress callbacks, which abort a fetch that still trickles data past
its deadline.

SSH host keys are checked strictly against the source's ``known_hosts`` file
(``knownhosts``) by a certificate callback of our own, because pygit2's hands Python
no key. HTTPS trusts the system CAs plus every configured ``ca_file``
(``configure_trust``: libgit2's trust store is process-wide).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pygit2
from pygit2.callbacks import git_fetch_options, git_proxy_options
from pygit2.enums import FetchPrune, Option, SortMode
from pygit2.ffi import C, ffi
from pygit2.utils import StrArray

from daemon import settings
from daemon.core import events as ev
from daemon.core import sources
from daemon.shell import knownhosts

DEFAULT_SSH_USER = "git"
TOKEN_USER = "x-access-token"  # noqa: S105 - a user name, not a password
"""Username sent with a bare token (GitHub, Gitea; GitLab accepts any name with a token)."""


class FetchError(Exception):
    """A fetch failed; ``kind`` names the class of failure for ``SourceFailed``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class RefNotFoundError(Exception):
    """The followed ref does not exist in the mirror after a fetch."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Remote:
    """Where and how to fetch: URL, credentials, and the per-fetch deadline in seconds."""

    url: str
    auth: settings.AuthConfig | None = None
    timeout: float = 60.0


def remote_of(source: settings.SourceConfig) -> Remote:
    """The fetch parameters of a configured source."""
    return Remote(url=source.url, auth=source.auth, timeout=float(source.timeout))


def ref_of(source: settings.SourceConfig) -> sources.Ref:
    """The ref a configured source follows (a branch ``main`` when none is set)."""
    if source.tag is not None:
        return sources.Ref(sources.RefKind.TAG, source.tag)
    if source.semver is not None:
        return sources.Ref(sources.RefKind.SEMVER, source.semver)
    if source.commit is not None:
        return sources.Ref(sources.RefKind.COMMIT, source.commit)
    return sources.Ref(sources.RefKind.BRANCH, source.branch or "main")


# -- process-wide libgit2 settings ------------------------------------------------------


def configure_timeouts(*, connect: float, io: float) -> None:
    """Set libgit2's socket connect and read/write inactivity timeouts (whole process)."""
    pygit2.option(Option.SET_SERVER_CONNECT_TIMEOUT, max(1, int(connect * 1000)))
    pygit2.option(Option.SET_SERVER_TIMEOUT, max(1, int(io * 1000)))


def configure_trust(ca_files: Sequence[str], *, bundle: Path) -> None:
    """Trust the system CAs plus ``ca_files`` for HTTPS (writes ``bundle``, whole process)."""
    if not ca_files:
        return
    system = pygit2.settings.ssl_cert_file
    parts: list[bytes] = []
    if isinstance(system, str | bytes) and Path(os.fsdecode(system)).is_file():
        parts.append(Path(os.fsdecode(system)).read_bytes())
    parts.extend(Path(f).read_bytes() for f in ca_files)
    bundle.parent.mkdir(parents=True, exist_ok=True)
    bundle.write_bytes(b"\n".join(parts))
    pygit2.settings.set_ssl_cert_locations(str(bundle), pygit2.settings.ssl_cert_dir)


# -- mirrors --------------------------------------------------------------------------


def mirror_path(state_dir: Path, source: str) -> Path:
    """Where the bare mirror of ``source`` lives."""
    return state_dir / "git" / f"{source}.git"


Repository = pygit2.Repository
"""A Git repository (pygit2's), for callers outside the Git adapter."""
GitError = pygit2.GitError
"""libgit2's error (pygit2's), for callers outside the Git adapter."""


def open_repository(path: Path) -> Repository:
    """Open the existing repository at ``path`` (``GitError`` if there is none)."""
    return pygit2.Repository(str(path))


def peel_commit(repo: Repository, revision: str) -> str:
    """The sha of the commit ``revision`` names (``KeyError``/``ValueError``/``GitError``)."""
    return str(repo.revparse_single(revision).peel(pygit2.Commit).id)


def open_mirror(path: Path) -> pygit2.Repository:
    """Open the bare mirror at ``path``, creating an empty one on first use."""
    if (path / "HEAD").exists():
        return pygit2.Repository(str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    return pygit2.init_repository(str(path), bare=True)


# -- fetching -------------------------------------------------------------------------


def fetch(
    repo: pygit2.Repository,
    remote: Remote,
    *,
    refspecs: Sequence[str],
    prune: bool = False,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Fetch ``refspecs`` from ``remote`` into ``repo``; returns the objects received.

    Raises ``FetchError`` (kind: ``FetchTimeout``, ``AuthenticationFailed``,
    ``HostKeyRejected``, ``CertificateRejected``, ``RemoteError``) with a message that
    names the remote without credentials.
    """
    callbacks = _Callbacks(remote, deadline=clock() + remote.timeout, clock=clock)
    secrets = _secret_values(remote.auth)
    _refuse_rsa_key(remote)
    try:
        git_remote = repo.remotes.create_anonymous(remote.url)
        with _host_key_check(callbacks, remote):
            stats = _fetch(git_remote, callbacks, refspecs=refspecs, prune=prune)
    except FetchError as exc:
        raise FetchError(exc.kind, _scrub(str(exc), secrets)) from None
    except (pygit2.GitError, OSError, ValueError, KeyError) as exc:
        if callbacks.failure is not None:
            raise FetchError(
                callbacks.failure.kind, _scrub(str(callbacks.failure), secrets)
            ) from None
        raise _classify(exc, remote, secrets) from None
    return int(stats.received_objects)


def _fetch(
    git_remote: pygit2.Remote, callbacks: _Callbacks, *, refspecs: Sequence[str], prune: bool
) -> Any:
    """``Remote.fetch`` with options pygit2 does not expose.

    No FETCH_HEAD, no auto-followed tags, and our own certificate callback (pygit2's
    passes Python no SSH host key).
    """
    with git_fetch_options(callbacks) as payload:
        opts = payload.fetch_options
        opts.prune = FetchPrune.PRUNE if prune else FetchPrune.NO_PRUNE
        opts.update_fetchhead = 0
        opts.download_tags = C.GIT_REMOTE_DOWNLOAD_TAGS_NONE
        if callbacks.certificate_cb is not None:
            opts.callbacks.certificate_check = callbacks.certificate_cb
        with git_proxy_options(git_remote, opts.proxy_opts, None), StrArray(list(refspecs)) as arr:
            err = C.git_remote_fetch(git_remote._remote, arr.ptr, opts, ffi.NULL)  # noqa: SLF001
            payload.check_error(err)
    return pygit2.remotes.TransferProgress(C.git_remote_stats(git_remote._remote))  # noqa: SLF001


class _Callbacks(pygit2.RemoteCallbacks):
    """Credentials from the source's auth, and the total deadline checked on progress."""

    def __init__(self, remote: Remote, *, deadline: float, clock: Callable[[], float]) -> None:
        super().__init__()
        self._remote = remote
        self._deadline = deadline
        self._clock = clock
        self._asked = 0
        self.failure: FetchError | None = None
        self.certificate_cb: Any = None

    def _check_deadline(self) -> None:
        if self._clock() > self._deadline:
            self.failure = FetchError(
                "FetchTimeout",
                f"fetch from {display_url(self._remote.url)} took longer than "
                f"{self._remote.timeout:g}s",
            )
            raise self.failure

    def credentials(
        self,
        url: str,  # noqa: ARG002 - libgit2's signature
        username_from_url: str | None,
        allowed_types: pygit2.enums.CredentialType,
    ) -> pygit2.Username | pygit2.UserPass | pygit2.Keypair:
        """Hand libgit2 the configured credentials once; a second ask means they were refused."""
        self._check_deadline()
        self._asked += 1
        where = display_url(self._remote.url)
        if self._asked > 1:
            self.failure = FetchError("AuthenticationFailed", f"{where} refused the credentials")
            raise self.failure
        creds = _credentials(self._remote.auth, username_from_url, allowed_types)
        if creds is None:
            self.failure = FetchError(
                "AuthenticationFailed", f"{where} asks for credentials and the source has none"
            )
            raise self.failure
        return creds

    def transfer_progress(self, stats: pygit2.remotes.TransferProgress) -> None:  # noqa: ARG002
        """Abort a transfer that runs past the deadline."""
        self._check_deadline()

    def sideband_progress(self, string: str) -> None:  # noqa: ARG002
        """Abort while the server is still counting objects past the deadline."""
        self._check_deadline()

    def update_tips(self, refname: str, old: pygit2.Oid, new: pygit2.Oid) -> None:
        """Nothing to do per ref; the caller reads the refs afterwards."""


def _credentials(
    auth: settings.AuthConfig | None,
    username_from_url: str | None,
    allowed: pygit2.enums.CredentialType,
) -> pygit2.Username | pygit2.UserPass | pygit2.Keypair | None:
    if auth is None:
        return None
    kinds = pygit2.enums.CredentialType
    if allowed & kinds.SSH_KEY and auth.ssh_key_file:
        user = auth.username or username_from_url or DEFAULT_SSH_USER
        key = auth.ssh_key_file
        pub = f"{key}.pub" if Path(f"{key}.pub").exists() else None
        passphrase = _read_secret(auth.password, auth.password_file) or ""
        return pygit2.Keypair(user, pub, key, passphrase)
    if allowed & kinds.USERPASS_PLAINTEXT:
        token = _read_secret(auth.token, auth.token_file)
        if token:
            return pygit2.UserPass(auth.username or TOKEN_USER, token)
        password = _read_secret(auth.password, auth.password_file)
        if password is not None and auth.username:
            return pygit2.UserPass(auth.username, password)
    if allowed & kinds.USERNAME and (auth.username or username_from_url):
        return pygit2.Username(auth.username or username_from_url or DEFAULT_SSH_USER)
    return None


def _read_secret(value: settings.Secret | None, file: str | None) -> str | None:
    """A secret from the config (``${ENV}``) or from a file, read at each fetch (rotation)."""
    if value is not None:
        return value.reveal()
    if file:
        return Path(file).read_text(encoding="utf-8").strip()
    return None


def _secret_values(auth: settings.AuthConfig | None) -> list[str]:
    if auth is None:
        return []
    values = []
    for value, file in ((auth.token, auth.token_file), (auth.password, auth.password_file)):
        try:
            secret = _read_secret(value, file)
        except OSError:
            secret = None
        if secret:
            values.append(secret)
    return values


def _scrub(message: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        message = message.replace(secret, "***")
    return message


_TIMEOUT = re.compile(r"timed out|timeout", re.IGNORECASE)
_AUTH = re.compile(r"authenticat|401|403|credential|permission denied", re.IGNORECASE)
_CERT = re.compile(r"certificate|ssl|tls", re.IGNORECASE)


def _classify(exc: BaseException, remote: Remote, secrets: Sequence[str]) -> FetchError:
    text = str(exc) or type(exc).__name__
    where = display_url(remote.url)
    if _TIMEOUT.search(text):
        kind = "FetchTimeout"
    elif _AUTH.search(text):
        kind = "AuthenticationFailed"
    elif _CERT.search(text):
        kind = "CertificateRejected"
    else:
        kind = "RemoteError"
    return FetchError(kind, _scrub(f"fetch from {where} failed: {text}", secrets))


def display_url(url: str) -> str:
    """``url`` without any user information (safe to log)."""
    if "://" not in url:
        return re.sub(r"^[^@/]+@", "", url)
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return parts._replace(netloc=netloc).geturl()


# -- SSH keys ------------------------------------------------------------------------------

_RSA_OID = bytes.fromhex("06092a864886f70d010101")


def _refuse_rsa_key(remote: Remote) -> None:
    """Refuse RSA client keys: the libssh2 in pygit2's wheels corrupts its heap with them.

    Seen with pygit2 1.21 (libgit2 1.9.7): the second SSH session signed with an RSA key
    aborts the process ("malloc(): unaligned tcache chunk"); ed25519 and ECDSA keys work.
    Failing the fetch with a clear message beats taking the daemon down.
    """
    key_file = remote.auth.ssh_key_file if remote.auth else None
    if not key_file or _ssh_host_port(remote.url)[0] is None:
        return
    try:
        text = Path(key_file).read_text(encoding="ascii", errors="replace")
    except OSError as exc:
        raise FetchError(
            "AuthenticationFailed", f"cannot read ssh_key_file {key_file}: {exc.strerror}"
        ) from None
    if _is_rsa_key(text):
        raise FetchError(
            "UnsupportedKey",
            f"{key_file} is an RSA key, which crashes the SSH library gitopsd uses; "
            "use an ed25519 or ECDSA key (ssh-keygen -t ed25519)",
        )


def _is_rsa_key(text: str) -> bool:
    if "BEGIN RSA PRIVATE KEY" in text:
        return True
    body = "".join(line for line in text.splitlines() if line and not line.startswith("-----"))
    try:
        der = base64.b64decode(body)
    except (binascii.Error, ValueError):
        return False
    if "BEGIN OPENSSH PRIVATE KEY" in text:
        return b"\x00\x00\x00\x07ssh-rsa" in der[:200]
    return "BEGIN PRIVATE KEY" in text and _RSA_OID in der[:64]


# -- SSH host keys ------------------------------------------------------------------------


@contextmanager
def _host_key_check(callbacks: _Callbacks, remote: Remote) -> Iterator[None]:
    """Install a certificate callback that checks SSH host keys against known_hosts."""
    host, port = _ssh_host_port(remote.url)
    if host is None:
        yield
        return
    known = remote.auth.known_hosts_file if remote.auth else None
    keys = knownhosts.keys_for(_lines(known), host=host, port=port) if known else []

    def check(cert: Any, valid: int, _host: Any, _payload: Any) -> int:
        try:
            if cert.cert_type != C.GIT_CERT_HOSTKEY_LIBSSH2:
                return 0 if valid else C.GIT_ECERTIFICATE
            sha1, md5 = _hostkey_hashes(cert)
            verdict = (
                knownhosts.check(keys, sha1=sha1, md5=md5, host=host, port=port)
                if known
                else knownhosts.Verdict(trusted=False, reason="the source has no known_hosts_file")
            )
        except Exception as exc:  # a callback must never raise into C
            verdict = knownhosts.Verdict(trusted=False, reason=f"host key check failed: {exc}")
        if verdict.trusted:
            return 0
        callbacks.failure = FetchError("HostKeyRejected", f"ssh: {verdict.reason}")
        return int(C.GIT_ECERTIFICATE)

    callbacks.certificate_cb = ffi.callback("int(git_cert *, int, const char *, void *)", check)
    try:
        yield
    finally:
        callbacks.certificate_cb = None


# libgit2's git_cert_hostkey begins {int cert_type; int type; md5[16]; sha1[20]; sha256[32]}
# in every release since 1.0; pygit2 declares a shorter struct than the library has, so
# cffi refuses the cast and the fingerprints are read at their fixed offsets instead.
_HOSTKEY_PREFIX = 76
_SSH_MD5, _SSH_SHA1 = 1, 2


def _hostkey_hashes(cert: Any) -> tuple[bytes | None, bytes | None]:
    """SHA-1 and MD5 fingerprints libgit2 reports for an SSH host key (None when absent)."""
    raw = bytes(ffi.buffer(ffi.cast("unsigned char *", cert), _HOSTKEY_PREFIX))
    kinds = int.from_bytes(raw[4:8], byteorder=sys.byteorder)
    md5 = raw[8:24] if kinds & _SSH_MD5 else None
    sha1 = raw[24:44] if kinds & _SSH_SHA1 else None
    return sha1, md5


def _lines(path: str) -> list[str]:
    try:
        return Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise FetchError(
            "HostKeyRejected", f"cannot read known_hosts file {path}: {exc.strerror}"
        ) from None


def _ssh_host_port(url: str) -> tuple[str | None, int]:
    if url.startswith(("ssh://", "ssh+git://", "git+ssh://")):
        parts = urlsplit(url)
        return parts.hostname, parts.port or 22
    scp = re.match(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?!//)", url)
    if scp and "://" not in url:
        return scp["host"], 22
    return None, 0


# -- refs and history -------------------------------------------------------------------


def resolve(repo: pygit2.Repository, ref: sources.Ref) -> tuple[str, str]:
    """The commit ``ref`` points at in the mirror, and the full ref name (or the sha)."""
    match ref.kind:
        case sources.RefKind.BRANCH:
            name = f"refs/heads/{ref.value}"
        case sources.RefKind.TAG:
            name = f"refs/tags/{ref.value}"
        case sources.RefKind.SEMVER:
            tags = [
                r.removeprefix("refs/tags/") for r in repo.references if r.startswith("refs/tags/")
            ]
            chosen = sources.select_tag(tags, sources.parse_constraint(ref.value))
            if chosen is None:
                raise RefNotFoundError(f"no tag matches semver range {ref.value!r}")
            name = f"refs/tags/{chosen}"
        case sources.RefKind.COMMIT:
            return _peel(repo, ref.value, what=f"commit {ref.value}"), ref.value
    return _peel(repo, name, what=name), name


def has_commit(repo: pygit2.Repository, sha: str) -> bool:
    """True when the mirror holds commit ``sha``."""
    try:
        obj = repo.revparse_single(sha)
    except (KeyError, ValueError, pygit2.GitError):
        return False
    return isinstance(obj, pygit2.Commit)


def _peel(repo: pygit2.Repository, spec: str, *, what: str) -> str:
    try:
        obj = repo.revparse_single(spec)
        return str(obj.peel(pygit2.Commit).id)
    except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError) as exc:
        raise RefNotFoundError(f"{what} not found in the repository") from exc


def new_commits(
    repo: pygit2.Repository, *, source: str, head: str, previous: str | None
) -> list[ev.CommitRecorded]:
    """Commits reachable from ``head`` but not from ``previous``, oldest first.

    With no ``previous`` (first observation), or one the mirror no longer holds, only
    ``head`` itself: a source's earlier history is not replayed into the log.
    """
    if previous is None or not has_commit(repo, previous):
        return [commit_event(source, _commit(repo, head))]
    walker = repo.walk(head, SortMode.TOPOLOGICAL | SortMode.REVERSE)
    walker.hide(previous)
    return [commit_event(source, c) for c in walker]


def dropped_commits(repo: pygit2.Repository, *, head: str, previous: str | None) -> list[str]:
    """Commits reachable from ``previous`` and not from ``head`` (empty on a fast-forward)."""
    if previous is None:
        return []
    if not has_commit(repo, previous):
        return [previous]
    if previous == head or repo.descendant_of(head, previous):
        return []
    walker = repo.walk(previous, SortMode.TOPOLOGICAL)
    walker.hide(head)
    return [str(c.id) for c in walker]


def changed_paths(repo: pygit2.Repository, old: str | None, new: str) -> list[str] | None:
    """Paths that differ between the trees of ``old`` and ``new`` (None when ``old`` is unknown)."""
    if old is None or not has_commit(repo, old):
        return None
    diff = _commit(repo, old).tree.diff_to_tree(_commit(repo, new).tree)
    paths: set[str] = set()
    for delta in diff.deltas:
        paths.add(delta.old_file.path)
        paths.add(delta.new_file.path)
    return sorted(paths)


def _commit(repo: pygit2.Repository, sha: str) -> pygit2.Commit:
    return repo.revparse_single(sha).peel(pygit2.Commit)


def commit_event(source: str, commit: pygit2.Commit) -> ev.CommitRecorded:
    """A ``CommitRecorded`` describing ``commit``."""
    return ev.CommitRecorded(
        source=source,
        sha=str(commit.id),
        parents=tuple(str(p) for p in commit.parent_ids),
        author=commit.author.name,
        author_email=commit.author.email,
        authored_at=_when(commit.author),
        committer=commit.committer.name,
        committer_email=commit.committer.email,
        committed_at=_when(commit.committer),
        subject=(commit.message.splitlines() or [""])[0][:500],
    )


def _when(signature: pygit2.Signature) -> str:
    tz = dt.timezone(dt.timedelta(minutes=signature.offset))
    return dt.datetime.fromtimestamp(signature.time, tz).isoformat()
