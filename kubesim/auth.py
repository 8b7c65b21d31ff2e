"""Actors: bearer tokens to users, and the kubeconfig that hands them out.

A request's ``Authorization: Bearer T`` maps to a user (recorded in the request log); a
missing or unknown token is 401 when any token is configured. The field manager of a
write comes from ``fieldManager`` or else the User-Agent up to its first ``/``, as
kube-apiserver does. Writing the kubeconfig file is here too (plain HTTP on loopback).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

import yaml

ANONYMOUS = "system:anonymous"
CLUSTER = "gitopsd-sim"


def parse_tokens(specs: list[str]) -> dict[str, str]:
    """``TOKEN`` or ``USER=TOKEN`` items into {token: user}.

    A bare token's user is ``admin``, then ``user2``, ``user3``... for further bare tokens.
    """
    out: dict[str, str] = {}
    for spec in specs:
        user, sep, token = spec.partition("=")
        if not sep:
            token, user = spec, "admin" if not out else f"user{len(out) + 1}"
        if not token or not user:
            raise ValueError(f"--token {spec!r}: expected TOKEN or USER=TOKEN")
        out[token] = user
    return out


def default_tokens() -> dict[str, str]:
    """One random token for user ``admin`` (when none was given)."""
    return {secrets.token_urlsafe(24): "admin"}


def user_for(tokens: Mapping[str, str], authorization: str | None) -> str | None:
    """The user a request acts as; None means 401. No tokens configured: anonymous."""
    if not tokens:
        return ANONYMOUS
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return tokens.get(token.strip())


def manager_for(field_manager: str, user_agent: str) -> str:
    """``fieldManager``, else the User-Agent up to its first ``/`` (kube-apiserver's rule)."""
    if field_manager:
        return field_manager
    return user_agent.split("/", 1)[0][:128]


def kubeconfig(url: str, tokens: Mapping[str, str]) -> str:
    """A kubeconfig with one user and context per token; the first token's is current."""
    users = []
    contexts = []
    for token, user in tokens.items():
        users.append({"name": user, "user": {"token": token}})
        contexts.append(
            {
                "name": f"{user}@{CLUSTER}",
                "context": {"cluster": CLUSTER, "user": user, "namespace": "default"},
            }
        )
    if not users:
        users.append({"name": "anonymous", "user": {}})
        contexts.append({"name": CLUSTER, "context": {"cluster": CLUSTER, "user": "anonymous"}})
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CLUSTER, "cluster": {"server": url}}],
        "users": users,
        "contexts": contexts,
        "current-context": contexts[0]["name"],
        "preferences": {},
    }
    return yaml.safe_dump(doc, sort_keys=False)


def write_kubeconfig(path: Path, url: str, tokens: Mapping[str, str]) -> None:
    """Write the kubeconfig (mode 0600: it holds tokens)."""
    write_text_private(path, kubeconfig(url, tokens))


def write_text_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (created so: never briefly open)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    path.chmod(0o600)
