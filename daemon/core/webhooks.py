"""Webhook deliveries: who sent them, whether they are authentic, which sources they concern.

Three dialects, each checked against the ``webhook_secret`` of the sources it may
concern, in constant time:

* GitHub: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>``; event in
  ``X-GitHub-Event`` (``push`` polls, ``ping`` is answered, anything else ignored).
* GitLab: ``X-Gitlab-Token: <secret>``; event in ``X-Gitlab-Event`` (``Push Hook`` and
  ``Tag Push Hook`` poll).
* generic: ``X-Gitopsd-Signature-256: sha256=<hex HMAC>`` of the body, or
  ``Authorization: Bearer <secret>``; event in ``X-Gitopsd-Event`` (default ``push``).

A delivery is first authenticated against the secrets of the sources named by
``?source=NAME`` in the URL, or else of every source, before its body is parsed: a
forged delivery is refused whatever its body, and only an authentic one is told that its
body is not a JSON object. It then concerns the authenticated sources named in the URL
(or a generic body's ``source``), or else those whose URL matches a repository URL in
the payload (``sources.repo_key``). This module reads bytes and headers handed to it;
the HTTP server is ``shell.httpapi``.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

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
    MALFORMED = "malformed"


@dataclasses.dataclass(frozen=True, slots=True)
class HookSource:
    """A configured source as webhooks see it."""

    name: str
    url: str
    secret: bytes | None


@dataclasses.dataclass(frozen=True, slots=True)
class Decision:
    """The outcome: the verdict, the sources to poll, the event name, what is wrong (MALFORMED)."""

    verdict: Verdict
    sources: tuple[str, ...] = ()
    event: str = ""
    detail: str = ""


def decide(
    dialect: Dialect,
    *,
    headers: Mapping[str, str],
    body: bytes,
    named: Sequence[str],
    configured: Sequence[HookSource],
) -> Decision:
    """Authenticate a delivery, then parse it, and say what it asks for.

    ``headers`` must be case-insensitive (aiohttp's are); ``named`` are the ``?source=``
    names from the URL. The signature or token is checked before the body is parsed, so
    a sender without a secret learns nothing about parsing: it always gets UNAUTHORIZED.
    """
    signed = _signed_by(dialect, headers=headers, body=body, named=named, configured=configured)
    if not signed:
        return Decision(Verdict.UNAUTHORIZED)
    payload, problem = parse_body(body, content_type=headers.get("Content-Type", ""))
    if problem:
        return Decision(Verdict.MALFORMED, detail=problem)
    concerned = {
        c.name for c in _candidates(dialect, payload=payload, named=named, configured=signed)
    }
    verified = tuple(c.name for c in signed if c.name in concerned)
    if not verified:
        return Decision(Verdict.UNAUTHORIZED)
    event = _event(dialect, headers)
    if dialect is Dialect.GITHUB and event == "ping":
        return Decision(Verdict.PING, verified, event)
    if not _is_push(dialect, event):
        return Decision(Verdict.IGNORE, verified, event)
    return Decision(Verdict.POLL, verified, event)


def parse_body(body: bytes, *, content_type: str = "") -> tuple[Any, str]:
    """The JSON object in ``body`` (None for an empty body), or a problem saying what is wrong."""
    if not body:
        return None, ""
    hint = ""
    if content_type.startswith("application/x-www-form-urlencoded"):
        hint = " (the sender posts a form: set the webhook's content type to application/json)"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"body is not UTF-8 (byte 0x{body[exc.start]:02x} at offset {exc.start})"
    try:
        payload = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return None, f"body is not JSON: {exc}{hint}"
    if not isinstance(payload, dict):
        return None, f"body is JSON but not an object (got {_json_kind(payload)})"
    return payload, ""


def _json_kind(value: Any) -> str:
    kinds = ((list, "an array"), (str, "a string"), (bool, "a boolean"), ((int, float), "a number"))
    return next((name for tp, name in kinds if isinstance(value, tp)), "null")


def _signed_by(
    dialect: Dialect,
    *,
    headers: Mapping[str, str],
    body: bytes,
    named: Sequence[str],
    configured: Sequence[HookSource],
) -> list[HookSource]:
    """The sources (those named in the URL, else all) whose secret authenticates the delivery.

    Each distinct secret is tried once, so the cost is one HMAC per distinct secret, not
    per source, whatever the body says.
    """
    names = set(named)
    pool = [
        (c, c.secret) for c in configured if c.secret is not None and (not names or c.name in names)
    ]
    verdicts = {
        secret: _authentic(dialect, headers=headers, body=body, secret=secret)
        for secret in dict.fromkeys(secret for _, secret in pool)
    }
    return [c for c, secret in pool if verdicts[secret]]


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
