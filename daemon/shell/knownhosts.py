"""OpenSSH ``known_hosts`` files: which host keys a host may present.

Strict host-key checking for SSH sources: a fetch is accepted only when the server's
key (seen as libgit2 hands it over: its SHA-1 and MD5 fingerprints of the raw key
blob) matches an entry for that host (and port) in the source's ``known_hosts`` file.
Supports plain and hashed (``|1|salt|hash``) host names, ``[host]:port``, comma
lists, ``*``/``?`` patterns and ``!`` negation; an ``@revoked`` entry rejects its key;
``@cert-authority`` entries are not supported (certificates are not checked) and are
skipped. Reading the file and deciding is all this module does.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import re
from collections.abc import Iterable


@dataclasses.dataclass(frozen=True, slots=True)
class HostKey:
    """One usable entry: the key type and the fingerprints of its blob."""

    key_type: str
    sha1: bytes
    md5: bytes
    sha256: bytes
    revoked: bool = False


def host_patterns(host: str, port: int) -> list[str]:
    """The names an entry may use for ``host`` at ``port`` (``[host]:port`` off port 22)."""
    return [host] if port == 22 else [f"[{host}]:{port}"]


def keys_for(lines: Iterable[str], *, host: str, port: int) -> list[HostKey]:
    """Entries of a known_hosts text that apply to ``host``:``port``."""
    names = host_patterns(host, port)
    found: list[HostKey] = []
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        marker = ""
        if fields[0].startswith("@"):
            marker, fields = fields[0], fields[1:]
        if len(fields) < 3 or marker == "@cert-authority":
            continue
        hosts, key_type, blob_text = fields[0], fields[1], fields[2]
        if not any(_host_matches(hosts, name) for name in names):
            continue
        try:
            blob = base64.b64decode(blob_text, validate=True)
        except (binascii.Error, ValueError):
            continue
        found.append(
            HostKey(
                key_type=key_type,
                sha1=hashlib.sha1(blob).digest(),  # noqa: S324 - libgit2 reports SHA-1/MD5
                md5=hashlib.md5(blob).digest(),  # noqa: S324
                sha256=hashlib.sha256(blob).digest(),
                revoked=marker == "@revoked",
            )
        )
    return found


def _host_matches(field: str, name: str) -> bool:
    if field.startswith("|1|"):
        return _hashed_matches(field, name)
    matched = False
    for pattern in field.split(","):
        if pattern.startswith("!"):
            if _glob(pattern[1:], name):
                return False
        elif _glob(pattern, name):
            matched = True
    return matched


def _glob(pattern: str, name: str) -> bool:
    """OpenSSH patterns: only ``*`` and ``?`` are special (``[host]:port`` is literal)."""
    regex = "".join(
        ".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern.lower()
    )
    return re.fullmatch(regex, name.lower()) is not None


def _hashed_matches(field: str, name: str) -> bool:
    parts = field.split("|")
    if len(parts) != 4:
        return False
    try:
        salt = base64.b64decode(parts[2])
        want = base64.b64decode(parts[3])
    except (binascii.Error, ValueError):
        return False
    got = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return hmac.compare_digest(got, want)


@dataclasses.dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a presented key is trusted, and why not."""

    trusted: bool
    reason: str = ""


def check(
    keys: list[HostKey], *, sha1: bytes | None, md5: bytes | None, host: str, port: int
) -> Verdict:
    """Decide whether the key with these fingerprints is trusted for ``host``:``port``."""
    where = host_patterns(host, port)[0]

    def same(key: HostKey) -> bool:
        if sha1 is not None:
            return hmac.compare_digest(key.sha1, sha1)
        return md5 is not None and hmac.compare_digest(key.md5, md5)

    if sha1 is None and md5 is None:
        return Verdict(trusted=False, reason=f"no host key fingerprint for {where}")
    if any(k.revoked and same(k) for k in keys):
        return Verdict(trusted=False, reason=f"host key of {where} is marked @revoked")
    usable = [k for k in keys if not k.revoked]
    if not usable:
        return Verdict(trusted=False, reason=f"{where} is not in the known_hosts file")
    if any(same(k) for k in usable):
        return Verdict(trusted=True)
    return Verdict(
        trusted=False,
        reason=f"host key of {where} does not match the known_hosts file (possible MITM)",
    )
