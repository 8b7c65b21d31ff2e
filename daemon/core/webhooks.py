"""Webhook deliveries: who sent them, whether they are authentic, which sources they concern.

Three dialects, each checked against the ``webhook_secret`` of the sources it may
concern, in constant time:

* GitHub: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>``; event in
  ``X-GitHub-Event`` (``push`` polls, ``ping`` is answered, anything else ignored).
* GitLab: ``X-Gitlab-Token: <secret>``; event in ``X-Gitlab-Event`` (``Push Hook`` and
  ``Tag Push Hook`` poll).
* generic: ``X-Gitopsd-Signature-256: sha256=<hex HMAC>`` of the body, or
  ``Authorization: Bearer <secret>``; event in ``X-Gitopsd-Event`` (default ``push``).

The sources a delivery may concern are those named by ``?source=NAME`` in the URL, or
else those whose URL matches a repository URL in the payload (``sources.repo_key``).
A delivery is accepted for the candidates whose secret verifies it. This module reads
bytes and headers handed to it; the HTTP server is ``shell.httpapi``.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from typing import Any

from daemon.core import sources

MAX_BODY = 1024 * 1024


class Dialect(enum.StrEnum):
    """Who speaks."""

    GITHUB = "github"
    GITLAB = "gitlab"
    GENERIC = "generic"


class Verdict(enum.StrEnum):
    """What to do with a delivery."""

    POLL = "poll"
    PING = "ping"
    IGNORE = "ignore"
    UNAUTHORIZED = "unauthorized"


@dataclasses.dataclass(frozen=True, slots=True)
class HookSource:
    """A configured source as webhooks see it."""

    name: str
    url: str
    secret: bytes | None


@dataclasses.dataclass(frozen=True, slots=True)
class Decision:
    """The outcome: the verdict, the sources to poll, and the event name for the reply."""

    verdict: Verdict
    sources: tuple[str, ...] = ()
    event: str = ""


def decide(
    dialect: Dialect,
    *,
    headers: Mapping[str, str],
    body: bytes,
    payload: Any,
    named: Sequence[str],
    configured: Sequence[HookSource],
) -> Decision:
    """Authenticate a delivery and say what it asks for.

    ``headers`` must be case-insensitive (aiohttp's are); ``payload`` is the parsed
    JSON body or None; ``named`` the ``?source=`` names from the URL.
    """
    candidates = _candidates(dialect, payload=payload, named=named, configured=configured)
    verified = tuple(
        c.name
        for c in candidates
        if c.secret is not None and _authentic(dialect, headers=headers, body=body, secret=c.secret)
    )
    if not verified:
        return Decision(Verdict.UNAUTHORIZED)
    event = _event(dialect, headers)
    if dialect is Dialect.GITHUB and event == "ping":
        return Decision(Verdict.PING, verified, event)
    if not _is_push(dialect, event):
        return Decision(Verdict.IGNORE, verified, event)
    return Decision(Verdict.POLL, verified, event)


def hmac_hex(secret: bytes, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``body`` (what senders put after ``sha256=``)."""
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def _authentic(dialect: Dialect, *, headers: Mapping[str, str], body: bytes, secret: bytes) -> bool:
    match dialect:
        case Dialect.GITHUB:
            return _signature_ok(headers.get("X-Hub-Signature-256"), body, secret)
        case Dialect.GITLAB:
            return _token_ok(headers.get("X-Gitlab-Token"), secret)
        case Dialect.GENERIC:
            if "X-Gitopsd-Signature-256" in headers:
                return _signature_ok(headers.get("X-Gitopsd-Signature-256"), body, secret)
            auth = headers.get("Authorization", "")
            scheme, _, token = auth.partition(" ")
            return scheme.lower() == "bearer" and _token_ok(token.strip(), secret)


def _signature_ok(header: str | None, body: bytes, secret: bytes) -> bool:
    if not header or not header.startswith("sha256="):
        return False
    want = hmac_hex(secret, body).encode()
    return hmac.compare_digest(want, header[len("sha256=") :].strip().lower().encode())


def _token_ok(token: str | None, secret: bytes) -> bool:
    if not token:
        return False
    return hmac.compare_digest(token.encode(), secret)


def _event(dialect: Dialect, headers: Mapping[str, str]) -> str:
    match dialect:
        case Dialect.GITHUB:
            return headers.get("X-GitHub-Event", "")
        case Dialect.GITLAB:
            return headers.get("X-Gitlab-Event", "")
        case Dialect.GENERIC:
            return headers.get("X-Gitopsd-Event", "push")


def _is_push(dialect: Dialect, event: str) -> bool:
    match dialect:
        case Dialect.GITHUB:
            return event == "push"
        case Dialect.GITLAB:
            return event in {"Push Hook", "Tag Push Hook"}
        case Dialect.GENERIC:
            return event == "push"


_URL_FIELDS: dict[Dialect, tuple[tuple[str, str], ...]] = {
    Dialect.GITHUB: (
        ("repository", "clone_url"),
        ("repository", "ssh_url"),
        ("repository", "git_url"),
        ("repository", "html_url"),
        ("repository", "url"),
    ),
    Dialect.GITLAB: (
        ("project", "git_http_url"),
        ("project", "git_ssh_url"),
        ("project", "web_url"),
        ("repository", "git_http_url"),
        ("repository", "git_ssh_url"),
        ("repository", "url"),
        ("repository", "homepage"),
    ),
    Dialect.GENERIC: (),
}


def repository_urls(dialect: Dialect, payload: Any) -> list[str]:
    """The repository URLs a payload names (empty when it names none)."""
    if not isinstance(payload, dict):
        return []
    urls: list[str] = []
    for section, field in _URL_FIELDS[dialect]:
        value = payload.get(section)
        if isinstance(value, dict) and isinstance(value.get(field), str):
            urls.append(value[field])
    if dialect is Dialect.GENERIC:
        urls.extend(
            payload[field] for field in ("url", "repository") if isinstance(payload.get(field), str)
        )
    return urls


def _candidates(
    dialect: Dialect, *, payload: Any, named: Sequence[str], configured: Sequence[HookSource]
) -> list[HookSource]:
    names = set(named)
    if (
        dialect is Dialect.GENERIC
        and isinstance(payload, dict)
        and isinstance(payload.get("source"), str)
    ):
        names.add(payload["source"])
    if names:
        return [c for c in configured if c.name in names]
    keys = {sources.repo_key(u) for u in repository_urls(dialect, payload)}
    return [c for c in configured if sources.repo_key(c.url) in keys]
