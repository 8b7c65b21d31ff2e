"""known_hosts matching for strict SSH host-key checking."""

from __future__ import annotations

import base64
import hashlib
import hmac

from daemon.shell import knownhosts

KEY_A = b"\x00\x00\x00\x0bssh-ed25519" + b"A" * 36
KEY_B = b"\x00\x00\x00\x0bssh-ed25519" + b"B" * 36


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _hashed(name: str, salt: bytes = b"0123456789abcdefghij") -> str:
    digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return f"|1|{_b64(salt)}|{_b64(digest)}"


def _check(
    lines: list[str], key: bytes, host: str = "git.example.org", port: int = 22
) -> knownhosts.Verdict:
    keys = knownhosts.keys_for(lines, host=host, port=port)
    return knownhosts.check(keys, sha1=hashlib.sha1(key).digest(), md5=None, host=host, port=port)


def test_known_key_is_trusted_in_every_host_spelling() -> None:
    """Plain, comma-listed, wildcard, hashed and [host]:port entries all match their host."""
    assert [
        _check([f"git.example.org ssh-ed25519 {_b64(KEY_A)}"], KEY_A).trusted,
        _check([f"other,git.example.org ssh-ed25519 {_b64(KEY_A)}"], KEY_A).trusted,
        _check([f"*.example.org ssh-ed25519 {_b64(KEY_A)}"], KEY_A).trusted,
        _check([f"{_hashed('git.example.org')} ssh-ed25519 {_b64(KEY_A)}"], KEY_A).trusted,
        _check([f"[git.example.org]:2222 ssh-ed25519 {_b64(KEY_A)}"], KEY_A, port=2222).trusted,
        _check(
            [f"{_hashed('[git.example.org]:2222')} ssh-ed25519 {_b64(KEY_A)}"], KEY_A, port=2222
        ).trusted,
    ] == [True] * 6


def test_unknown_host_wrong_key_negation_and_revoked_are_refused() -> None:
    """Strict checking: no entry, another key, a negated pattern or a revoked key all refuse."""
    assert [
        _check([f"elsewhere ssh-ed25519 {_b64(KEY_A)}"], KEY_A),
        _check([f"git.example.org ssh-ed25519 {_b64(KEY_A)}"], KEY_B),
        _check([f"*.example.org,!git.example.org ssh-ed25519 {_b64(KEY_A)}"], KEY_A),
        _check(
            [
                f"git.example.org ssh-ed25519 {_b64(KEY_A)}",
                f"@revoked git.example.org ssh-ed25519 {_b64(KEY_A)}",
            ],
            KEY_A,
        ),
        _check([f"git.example.org ssh-ed25519 {_b64(KEY_A)}"], KEY_A, port=2222),
    ] == [
        knownhosts.Verdict(trusted=False, reason="git.example.org is not in the known_hosts file"),
        knownhosts.Verdict(
            trusted=False,
            reason="host key of git.example.org does not match the known_hosts file (possible MITM)",
        ),
        knownhosts.Verdict(trusted=False, reason="git.example.org is not in the known_hosts file"),
        knownhosts.Verdict(trusted=False, reason="host key of git.example.org is marked @revoked"),
        knownhosts.Verdict(
            trusted=False, reason="[git.example.org]:2222 is not in the known_hosts file"
        ),
    ]


def test_comments_blank_lines_and_cert_authorities_are_skipped() -> None:
    """Comments, blanks, malformed lines and @cert-authority entries contribute no key."""
    lines = [
        "# comment",
        "",
        "git.example.org",
        f"@cert-authority git.example.org ssh-ed25519 {_b64(KEY_A)}",
    ]
    assert knownhosts.keys_for(lines, host="git.example.org", port=22) == []
