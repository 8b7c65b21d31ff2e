"""The HTTP server: health, and webhooks authenticated per source in three dialects."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Sequence

import aiohttp
import orjson
import pytest
from prometheus_client import CollectorRegistry

from daemon.core import webhooks
from daemon.shell import httpapi

SOURCES = [
    webhooks.HookSource(name="app", url="git@github.com:org/repo.git", secret=b"gh-secret"),
    webhooks.HookSource(name="mirror", url="https://github.com/org/repo", secret=b"other-secret"),
    webhooks.HookSource(
        name="lab", url="https://gitlab.example.org/team/cfg.git", secret=b"lab-token"
    ),
    webhooks.HookSource(name="open", url="https://example.org/open.git", secret=None),
]


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, names: Sequence[str]) -> Sequence[str]:
        self.calls.append(list(names))
        return list(names)


@pytest.fixture
async def served() -> AsyncIterator[tuple[str, _Recorder]]:
    """A server on an ephemeral loopback port with the sources above; yields its base URL."""
    trigger = _Recorder()
    server = httpapi.Server("127.0.0.1:0")
    server.enable_hooks(httpapi.Hooks(sources=SOURCES, trigger=trigger))
    task = asyncio.create_task(server.run())
    await asyncio.wait_for(server.started.wait(), 10)
    assert server.bound is not None
    yield f"http://127.0.0.1:{server.bound[1]}", trigger
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def _github_push(url: str = "https://github.com/Org/Repo.git") -> bytes:
    ssh = url.replace("https://github.com/", "git@github.com:")
    return orjson.dumps(
        {"ref": "refs/heads/main", "repository": {"clone_url": url, "ssh_url": ssh}}
    )


async def _post(base: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, object]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(base + path, data=io.BytesIO(body), headers=headers) as resp,
    ):
        return resp.status, await resp.json()


async def test_healthz(served: tuple[str, _Recorder]) -> None:
    """GET /healthz answers ok."""
    base, _ = served
    async with aiohttp.ClientSession() as session, session.get(base + "/healthz") as resp:
        assert (resp.status, await resp.json()) == (200, {"status": "ok"})


async def test_readyz_reports_the_unready_status_the_probes_name() -> None:
    """/readyz answers 503 with the probes' own unready status (a standby's) and the reason."""

    async def standby() -> tuple[bool, str]:
        return False, "another gitopsd holds the lock"

    server = httpapi.Server("127.0.0.1:0")
    server.enable_probes(
        httpapi.Probes(ready=standby, metrics=CollectorRegistry(), unready="standby")
    )
    task = asyncio.create_task(server.run())
    await asyncio.wait_for(server.started.wait(), 10)
    assert server.bound is not None
    url = f"http://127.0.0.1:{server.bound[1]}/readyz"
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        reply = (resp.status, await resp.json())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert reply == (503, {"status": "standby", "reason": "another gitopsd holds the lock"})


async def test_github_push_with_valid_signature_polls_the_matching_sources(
    served: tuple[str, _Recorder],
) -> None:
    """A signed push polls the sources whose URL matches and whose secret verifies it (not the others)."""
    base, trigger = served
    body = _github_push()
    sig = "sha256=" + webhooks.hmac_hex(b"gh-secret", body)
    reply = await _post(
        base, "/hooks/github", body, {"X-GitHub-Event": "push", "X-Hub-Signature-256": sig}
    )
    assert (reply, trigger.calls) == ((202, {"polling": ["app"]}), [["app"]])


async def test_github_bad_signature_is_401_and_polls_nothing(served: tuple[str, _Recorder]) -> None:
    """A wrong, missing or malformed signature gets 401 and no poll."""
    base, trigger = served
    body = _github_push()
    replies = [
        await _post(
            base,
            "/hooks/github",
            body,
            {"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + "0" * 64},
        ),
        await _post(base, "/hooks/github", body, {"X-GitHub-Event": "push"}),
        await _post(
            base,
            "/hooks/github",
            body,
            {"X-GitHub-Event": "push", "X-Hub-Signature-256": "md5=abc"},
        ),
        await _post(
            base,
            "/hooks/github",
            _github_push("https://github.com/someone/else"),
            {
                "X-GitHub-Event": "push",
                "X-Hub-Signature-256": "sha256="
                + webhooks.hmac_hex(b"gh-secret", _github_push("https://github.com/someone/else")),
            },
        ),
    ]
    unauthorized = (401, {"error": "no configured source accepts this signature or token"})
    assert (replies, trigger.calls) == ([unauthorized] * 4, [])


async def test_github_ping_and_unknown_events_do_not_poll(served: tuple[str, _Recorder]) -> None:
    """Ping is answered, other events are accepted with 202 and ignored."""
    base, trigger = served
    body = _github_push()
    sig = "sha256=" + webhooks.hmac_hex(b"gh-secret", body)
    ping = await _post(
        base, "/hooks/github", body, {"X-GitHub-Event": "ping", "X-Hub-Signature-256": sig}
    )
    issue = await _post(
        base, "/hooks/github", body, {"X-GitHub-Event": "issues", "X-Hub-Signature-256": sig}
    )
    assert (ping, issue, trigger.calls) == (
        (200, {"pong": ["app"]}),
        (202, {"ignored": "issues"}),
        [],
    )


async def test_bodies_over_one_mib_get_413(served: tuple[str, _Recorder]) -> None:
    """A body of 1 MiB + 1 byte is refused with 413 before anything else; 1 MiB is read (and then judged)."""
    base, trigger = served
    over = b"x" * (webhooks.MAX_BODY + 1)
    exact = b'{"pad": "' + b"x" * (webhooks.MAX_BODY - 11) + b'"}'
    assert len(exact) == webhooks.MAX_BODY
    big = await _post(base, "/hooks/github", over, {"X-GitHub-Event": "push"})
    fits = await _post(
        base, "/hooks/generic?source=app", exact, {"Authorization": "Bearer gh-secret"}
    )
    assert (big[0], fits, trigger.calls) == (413, (202, {"polling": ["app"]}), [["app"]])


async def test_gitlab_token(served: tuple[str, _Recorder]) -> None:
    """GitLab's X-Gitlab-Token must equal the source's secret; push and tag push poll, others are ignored."""
    base, trigger = served
    body = orjson.dumps({"project": {"git_http_url": "https://gitlab.example.org/team/cfg.git"}})
    good = {"X-Gitlab-Token": "lab-token"}
    replies = [
        await _post(base, "/hooks/gitlab", body, {**good, "X-Gitlab-Event": "Push Hook"}),
        await _post(base, "/hooks/gitlab", body, {**good, "X-Gitlab-Event": "Tag Push Hook"}),
        await _post(base, "/hooks/gitlab", body, {**good, "X-Gitlab-Event": "Merge Request Hook"}),
        await _post(
            base,
            "/hooks/gitlab",
            body,
            {"X-Gitlab-Token": "lab-token-", "X-Gitlab-Event": "Push Hook"},
        ),
    ]
    assert (replies, trigger.calls) == (
        [
            (202, {"polling": ["lab"]}),
            (202, {"polling": ["lab"]}),
            (202, {"ignored": "Merge Request Hook"}),
            (401, {"error": "no configured source accepts this signature or token"}),
        ],
        [["lab"], ["lab"]],
    )


async def test_generic_bearer_hmac_and_names(served: tuple[str, _Recorder]) -> None:
    """Generic hooks name sources by ?source= or payload; a bearer token or an HMAC header authenticates."""
    base, trigger = served
    body = orjson.dumps({"source": "mirror"})
    replies = [
        await _post(base, "/hooks/generic?source=app", b"", {"Authorization": "Bearer gh-secret"}),
        await _post(
            base,
            "/hooks/generic",
            body,
            {"X-Gitopsd-Signature-256": "sha256=" + webhooks.hmac_hex(b"other-secret", body)},
        ),
        await _post(
            base, "/hooks/generic?source=app", b"", {"Authorization": "Bearer other-secret"}
        ),
        await _post(base, "/hooks/generic?source=open", b"", {"Authorization": "Bearer "}),
        await _post(
            base,
            "/hooks/generic?source=app",
            b"",
            {"Authorization": "Bearer gh-secret", "X-Gitopsd-Event": "tag"},
        ),
    ]
    unauthorized = (401, {"error": "no configured source accepts this signature or token"})
    assert (replies, trigger.calls) == (
        [
            (202, {"polling": ["app"]}),
            (202, {"polling": ["mirror"]}),
            unauthorized,
            unauthorized,
            (202, {"ignored": "tag"}),
        ],
        [["app"], ["mirror"]],
    )


NOT_JSON = "body is not JSON: unexpected character, expected a JSON value: line 1 column 1 (char 0)"
MALFORMED = [
    (b"ref=main", (400, {"error": NOT_JSON})),
    (b"[1, 2]", (400, {"error": "body is JSON but not an object (got an array)"})),
    (b'"push"', (400, {"error": "body is JSON but not an object (got a string)"})),
    (b'{"ref": "caf\xe9"}', (400, {"error": "body is not UTF-8 (byte 0xe9 at offset 12)"})),
]
UNAUTHORIZED = (401, {"error": "no configured source accepts this signature or token"})


async def test_github_signed_body_that_does_not_parse_is_400(served: tuple[str, _Recorder]) -> None:
    """A correctly signed GitHub body that is not a JSON object gets 400 saying why; unsigned, 401."""
    base, trigger = served
    replies = []
    for body, _ in MALFORMED:
        sig = "sha256=" + webhooks.hmac_hex(b"gh-secret", body)
        headers = {"X-GitHub-Event": "push", "X-Hub-Signature-256": sig}
        replies.append(await _post(base, "/hooks/github", body, headers))
        forged = {**headers, "X-Hub-Signature-256": "sha256=" + "0" * 64}
        replies.append(await _post(base, "/hooks/github", body, forged))
    expected = [r for _, reply in MALFORMED for r in (reply, UNAUTHORIZED)]
    assert (replies, trigger.calls) == (expected, [])


async def test_github_form_encoded_body_gets_a_hint(served: tuple[str, _Recorder]) -> None:
    """A signed form-encoded delivery (GitHub's other content type) is told to switch to JSON."""
    base, trigger = served
    body = b"payload=%7B%7D"
    sig = "sha256=" + webhooks.hmac_hex(b"gh-secret", body)
    headers = {
        "X-GitHub-Event": "push",
        "X-Hub-Signature-256": sig,
        "Content-Type": "application/x-www-form-urlencoded",
    }
    hint = "(the sender posts a form: set the webhook's content type to application/json)"
    assert (await _post(base, "/hooks/github", body, headers), trigger.calls) == (
        (400, {"error": f"{NOT_JSON} {hint}"}),
        [],
    )


async def test_gitlab_token_with_body_that_does_not_parse_is_400(
    served: tuple[str, _Recorder],
) -> None:
    """GitLab: the right token and a body that is not a JSON object is 400; a wrong token, 401."""
    base, trigger = served
    replies = []
    for body, _ in MALFORMED:
        for token in ("lab-token", "wrong"):
            headers = {"X-Gitlab-Token": token, "X-Gitlab-Event": "Push Hook"}
            replies.append(await _post(base, "/hooks/gitlab", body, headers))
    expected = [r for _, reply in MALFORMED for r in (reply, UNAUTHORIZED)]
    assert (replies, trigger.calls) == (expected, [])


async def test_generic_authentic_body_that_does_not_parse_is_400(
    served: tuple[str, _Recorder],
) -> None:
    """Generic: bearer or HMAC authentic with a bad body is 400 (named source or not); forged, 401."""
    base, trigger = served
    replies = []
    for body, _ in MALFORMED:
        hmac_header = {"X-Gitopsd-Signature-256": "sha256=" + webhooks.hmac_hex(b"gh-secret", body)}
        replies += [
            await _post(
                base, "/hooks/generic?source=app", body, {"Authorization": "Bearer gh-secret"}
            ),
            await _post(base, "/hooks/generic", body, hmac_header),
            await _post(base, "/hooks/generic?source=app", body, {"Authorization": "Bearer nope"}),
            await _post(base, "/hooks/generic?source=lab", body, hmac_header),
        ]
    expected = [r for _, reply in MALFORMED for r in (reply, reply, UNAUTHORIZED, UNAUTHORIZED)]
    assert (replies, trigger.calls) == (expected, [])


def test_listen_address_defaults_to_loopback() -> None:
    """A bare :port listens on 127.0.0.1; host and IPv6 forms parse; garbage is refused."""
    assert [
        httpapi.parse_listen(":8089"),
        httpapi.parse_listen("0.0.0.0:80"),
        httpapi.parse_listen("[::1]:9"),
    ] == [
        ("127.0.0.1", 8089),
        ("0.0.0.0", 80),
        ("::1", 9),
    ]
    with pytest.raises(ValueError, match="host:port"):
        httpapi.parse_listen("localhost")
