"""gitsource against real repositories: file://, git daemon, smart HTTP with auth, a black hole."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import asyncssh
import pygit2
import pytest
from gitfixtures import BlackHole, GitDaemon, Upstream, http_git, make_tls, ssh_git

from daemon import settings
from daemon.core import sources
from daemon.shell import gitsource

MAIN = sources.Ref(sources.RefKind.BRANCH, "main")


@pytest.fixture
def short_timeouts() -> Iterator[None]:
    """libgit2 socket timeouts of one second for this test, restored after."""
    connect = pygit2.option(pygit2.enums.Option.GET_SERVER_CONNECT_TIMEOUT)
    io = pygit2.option(pygit2.enums.Option.GET_SERVER_TIMEOUT)
    gitsource.configure_timeouts(connect=1.0, io=1.0)
    yield
    pygit2.option(pygit2.enums.Option.SET_SERVER_CONNECT_TIMEOUT, connect)
    pygit2.option(pygit2.enums.Option.SET_SERVER_TIMEOUT, io)


def _mirror(tmp_path: Path) -> pygit2.Repository:
    return gitsource.open_mirror(gitsource.mirror_path(tmp_path / "state", "src"))


def _sync(mirror: pygit2.Repository, url: str, ref: sources.Ref = MAIN, **kw: object) -> str:
    gitsource.fetch(
        mirror,
        gitsource.Remote(url=url, **kw),
        refspecs=sources.refspecs(ref),
        prune=ref.kind is sources.RefKind.SEMVER,
    )  # type: ignore[arg-type]
    return gitsource.resolve(mirror, ref)[0]


def test_file_fetch_walks_new_commits_oldest_first_with_changed_paths(
    tmp_path: Path, upstream: Upstream
) -> None:
    """Over file://, new commits come oldest first and the tree diff names what changed."""
    c1 = upstream.commit({"apps/web/a.yaml": "a: 1", "apps/api/b.yaml": "b: 1"}, message="one")
    mirror = _mirror(tmp_path)
    first = _sync(mirror, upstream.url)
    c2 = upstream.commit({"apps/web/a.yaml": "a: 2"}, message="two\n\nbody")
    c3 = upstream.commit({"apps/web/c.yaml": "c: 1", "apps/api/b.yaml": None}, message="three")
    head = _sync(mirror, upstream.url)
    commits = gitsource.new_commits(mirror, source="src", head=head, previous=first)
    assert (first, head) == (c1, c3)
    assert [(c.sha, c.parents, c.subject, c.author, c.committed_at) for c in commits] == [
        (c2, (c1,), "two", "Alice", "2023-11-14T22:15:20+00:00"),
        (c3, (c2,), "three", "Alice", "2023-11-14T22:16:20+00:00"),
    ]
    assert gitsource.changed_paths(mirror, first, head) == [
        "apps/api/b.yaml",
        "apps/web/a.yaml",
        "apps/web/c.yaml",
    ]
    assert gitsource.dropped_commits(mirror, head=head, previous=first) == []


def test_first_observation_records_only_the_head(tmp_path: Path, upstream: Upstream) -> None:
    """With nothing recorded yet, only the head commit is described (history is not replayed)."""
    upstream.commit({"a": "1"})
    c2 = upstream.commit({"a": "2"})
    mirror = _mirror(tmp_path)
    head = _sync(mirror, upstream.url)
    assert [
        c.sha for c in gitsource.new_commits(mirror, source="src", head=head, previous=None)
    ] == [c2]


def test_git_daemon_force_push_names_dropped_commits(
    tmp_path: Path, upstream: Upstream, git_daemon: GitDaemon
) -> None:
    """Over git://, a force-push is seen as a head that does not descend from the old one."""
    url = git_daemon.url("repo.git")
    c1 = upstream.commit({"a": "1"})
    c2 = upstream.commit({"a": "2"})
    c3 = upstream.commit({"a": "3"})
    mirror = _mirror(tmp_path)
    old = _sync(mirror, url)
    upstream.set_branch("main", c1)
    x2 = upstream.commit({"b": "x"}, message="rewrite")
    new = _sync(mirror, url)
    assert (old, new) == (c3, x2)
    assert gitsource.dropped_commits(mirror, head=new, previous=old) == [c3, c2]
    assert [c.sha for c in gitsource.new_commits(mirror, source="src", head=new, previous=old)] == [
        x2
    ]


def test_tags_move_and_semver_selects_highest_in_range(
    tmp_path: Path, upstream: Upstream, git_daemon: GitDaemon
) -> None:
    """Tag refs are forced (a moved tag is followed); semver picks over the fetched tags, pruned."""
    url = git_daemon.url("repo.git")
    c1 = upstream.commit({"a": "1"})
    c2 = upstream.commit({"a": "2"})
    c3 = upstream.commit({"a": "3"})
    upstream.tag("v1.0.0", c1)
    upstream.tag("v1.1.0", c2, annotated=True)
    upstream.tag("v2.0.0", c3)
    upstream.tag("stable", c1)
    mirror = _mirror(tmp_path)
    semver = sources.Ref(sources.RefKind.SEMVER, "^1.0")
    stable = sources.Ref(sources.RefKind.TAG, "stable")
    picked = [_sync(mirror, url, semver), _sync(mirror, url, stable)]
    upstream.tag("stable", c3)
    upstream.delete_tag("v1.1.0")
    picked += [_sync(mirror, url, stable), _sync(mirror, url, semver)]
    assert picked == [c2, c1, c3, c1]
    assert gitsource.resolve(mirror, semver)[1] == "refs/tags/v1.0.0"


def test_pinned_commit_and_missing_ref(tmp_path: Path, upstream: Upstream) -> None:
    """A pinned commit resolves once fetched; a branch that does not exist is RefNotFoundError."""
    c1 = upstream.commit({"a": "1"})
    upstream.commit({"a": "2"})
    mirror = _mirror(tmp_path)
    pinned = _sync(mirror, upstream.url, sources.Ref(sources.RefKind.COMMIT, c1))
    with pytest.raises(gitsource.RefNotFoundError, match="refs/heads/nope not found"):
        _sync(mirror, upstream.url, sources.Ref(sources.RefKind.BRANCH, "nope"))
    assert pinned == c1


@pytest.mark.usefixtures("short_timeouts")
@pytest.mark.parametrize("scheme", ["git", "http", "ssh"])
def test_hung_remote_is_cut_off_by_a_timeout(
    tmp_path: Path, black_hole: BlackHole, scheme: str
) -> None:
    """A server that accepts and never answers fails the fetch with FetchTimeout instead of hanging."""
    url = f"{scheme}://127.0.0.1:{black_hole.port}/repo.git"
    (tmp_path / "kh").write_text("")
    key = asyncssh.generate_private_key("ssh-ed25519")
    (tmp_path / "key").write_bytes(key.export_private_key("openssh"))
    auth = settings.AuthConfig(
        ssh_key_file=str(tmp_path / "key"), known_hosts_file=str(tmp_path / "kh")
    )
    with pytest.raises(gitsource.FetchError) as caught:
        _sync(_mirror(tmp_path), url, auth=auth)
    assert caught.value.kind == "FetchTimeout"


def test_total_deadline_aborts_a_fetch_in_progress(tmp_path: Path, upstream: Upstream) -> None:
    """A fetch still transferring past the source's timeout is aborted from the progress callback."""
    upstream.commit({f"f{i}": f"{i}" * 100 for i in range(200)})
    ticks = iter([0.0, *[1000.0] * 10_000])
    with pytest.raises(gitsource.FetchError) as caught:
        gitsource.fetch(
            _mirror(tmp_path),
            gitsource.Remote(url=upstream.url, timeout=5),
            refspecs=sources.refspecs(MAIN),
            clock=lambda: next(ticks),
        )
    assert (caught.value.kind, str(caught.value)) == (
        "FetchTimeout",
        f"fetch from {upstream.url} took longer than 5s",
    )


async def test_http_basic_auth_right_and_wrong_credentials(
    tmp_path: Path, upstream: Upstream
) -> None:
    """Smart HTTP with basic auth: the token file works; a wrong password fails without leaking it."""
    c1 = upstream.commit({"a": "1"})
    token_file = tmp_path / "token"
    token_file.write_text("s3cret-token\n")
    async with http_git(upstream.path.parent, user="bot", password="s3cret-token") as server:
        url = server.url("repo.git")
        good = settings.AuthConfig(username="bot", token_file=str(token_file))
        bad = settings.AuthConfig(username="bot", password=settings.Secret("wrong-pass-123"))
        head = await asyncio.to_thread(_sync, _mirror(tmp_path), url, auth=good)
        with pytest.raises(gitsource.FetchError) as caught:
            await asyncio.to_thread(_sync, _mirror(tmp_path / "other"), url, auth=bad)
        with pytest.raises(gitsource.FetchError) as anonymous:
            await asyncio.to_thread(_sync, _mirror(tmp_path / "anon"), url)
    assert head == c1
    assert (caught.value.kind, str(caught.value)) == (
        "AuthenticationFailed",
        f"http://127.0.0.1:{server.port}/repo.git refused the credentials",
    )
    assert (anonymous.value.kind, "wrong-pass" in str(anonymous.value)) == (
        "AuthenticationFailed",
        False,
    )


def test_display_url_drops_user_information() -> None:
    """URLs in messages never carry user names or passwords."""
    assert [
        gitsource.display_url("https://bot:pw@example.org/r.git"),
        gitsource.display_url("ssh://git@example.org:2222/r.git"),
        gitsource.display_url("git@example.org:org/r.git"),
    ] == ["https://example.org/r.git", "ssh://example.org:2222/r.git", "example.org:org/r.git"]


async def test_ssh_key_auth_with_strict_known_hosts(tmp_path: Path, upstream: Upstream) -> None:
    """Over SSH: the right key and a known host key fetch; an unknown or changed host key, or a wrong client key, fail."""
    c1 = upstream.commit({"a": "1"})
    async with ssh_git(upstream.path.parent, tmp_path / "keys") as server:
        url = server.url("repo.git")
        known = tmp_path / "known_hosts"
        known.write_text(f"# gitopsd test\n{server.known_hosts_line}\n")
        unknown = tmp_path / "unknown_hosts"
        unknown.write_text(
            f"[127.0.0.1]:{server.port + 1} {server.known_hosts_line.split(' ', 1)[1]}\n"
        )
        changed = tmp_path / "changed_hosts"
        other_pub = (server.other_key.parent / "other.pub").read_text().strip()
        changed.write_text(f"[127.0.0.1]:{server.port} {other_pub}\n")

        def attempt(dest: str, key: Path, hosts: Path) -> str:
            auth = settings.AuthConfig(ssh_key_file=str(key), known_hosts_file=str(hosts))
            try:
                return _sync(_mirror(tmp_path / dest), url, auth=auth)
            except gitsource.FetchError as exc:
                return f"{exc.kind}: {exc}"

        outcomes = [
            await asyncio.to_thread(attempt, "ok", server.client_key, known),
            await asyncio.to_thread(attempt, "unknown", server.client_key, unknown),
            await asyncio.to_thread(attempt, "changed", server.client_key, changed),
            await asyncio.to_thread(attempt, "badkey", server.other_key, known),
        ]
    where = f"[127.0.0.1]:{server.port}"
    assert outcomes[:3] == [
        c1,
        f"HostKeyRejected: ssh: {where} is not in the known_hosts file",
        f"HostKeyRejected: ssh: host key of {where} does not match the known_hosts file (possible MITM)",
    ]
    assert outcomes[3].startswith("AuthenticationFailed: ")


@pytest.mark.parametrize("fmt", ["openssh", "pkcs1-pem", "pkcs8-pem"])
def test_rsa_client_keys_are_refused_before_connecting(tmp_path: Path, fmt: str) -> None:
    """An RSA ssh_key_file fails the fetch with UnsupportedKey (it would crash libssh2); ed25519 passes the check."""
    rsa = tmp_path / "rsa"
    rsa.write_bytes(asyncssh.generate_private_key("ssh-rsa", key_size=1024).export_private_key(fmt))
    ed = tmp_path / "ed"
    ed.write_bytes(asyncssh.generate_private_key("ssh-ed25519").export_private_key("openssh"))
    (tmp_path / "kh").write_text("")
    outcomes = []
    for key in (rsa, ed):
        auth = settings.AuthConfig(ssh_key_file=str(key), known_hosts_file=str(tmp_path / "kh"))
        remote = gitsource.Remote(url="ssh://git@127.0.0.1:1/x.git", auth=auth, timeout=5)
        with pytest.raises(gitsource.FetchError) as caught:
            gitsource.fetch(
                _mirror(tmp_path / f"m-{key.name}"), remote, refspecs=sources.refspecs(MAIN)
            )
        outcomes.append(caught.value.kind)
    assert outcomes == ["UnsupportedKey", "RemoteError"]


async def test_https_trusts_a_configured_ca_file(tmp_path: Path, upstream: Upstream) -> None:
    """Over HTTPS with a private CA: refused until the source's ca_file is trusted, then fetched."""
    c1 = upstream.commit({"a": "1"})
    tls, ca_file = make_tls(tmp_path / "tls")
    original = (pygit2.settings.ssl_cert_file, pygit2.settings.ssl_cert_dir)
    auth = settings.AuthConfig(username="bot", password=settings.Secret("pw"))
    try:
        async with http_git(upstream.path.parent, user="bot", password="pw", tls=tls) as server:
            url = server.https_url("repo.git")
            with pytest.raises(gitsource.FetchError) as untrusted:
                await asyncio.to_thread(_sync, _mirror(tmp_path / "a"), url, auth=auth)
            gitsource.configure_trust([str(ca_file)], bundle=tmp_path / "state" / "ca-bundle.pem")
            head = await asyncio.to_thread(_sync, _mirror(tmp_path / "b"), url, auth=auth)
    finally:
        pygit2.settings.set_ssl_cert_locations(*original)
    assert (untrusted.value.kind, head) == ("CertificateRejected", c1)
