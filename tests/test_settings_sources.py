"""Source settings: URL schemes, no credentials in URLs, semver ranges, SSH needs known_hosts."""

from __future__ import annotations

import textwrap

import pytest

from daemon import settings
from daemon.errors import ConfigError


def _problems(sources_yaml: str) -> list[str]:
    text = "sources:\n" + textwrap.indent(textwrap.dedent(sources_yaml), "  ")
    with pytest.raises(ConfigError) as info:
        settings.loads(text, filename="g.yaml", environ={"PW": "hunter2"})
    return info.value.problems


def test_valid_source_spellings_load() -> None:
    """HTTPS with a token, git://, file://, scp-like and ssh:// with key and known_hosts all load."""
    config = settings.loads(
        textwrap.dedent(
            """\
            sources:
              - {name: a, url: "https://git.example.org/a.git", auth: {token: "${PW}"}}
              - {name: b, url: "git://127.0.0.1:9418/b.git", semver: "^1.2"}
              - {name: c, url: "file:///srv/c.git", tag: v1}
              - {name: d, url: "git@github.com:org/d.git", auth: {ssh_key_file: /k, known_hosts_file: /kh}}
              - {name: e, url: "ssh://git@host:2222/e.git", auth: {ssh_key_file: /k, known_hosts_file: /kh}}
            """
        ),
        filename="g.yaml",
        environ={"PW": "hunter2"},
    )
    assert [s.name for s in config.sources] == ["a", "b", "c", "d", "e"]


def test_source_problems_name_line_and_never_echo_secrets() -> None:
    """Bad schemes, credentials in URLs, bad ranges and SSH without known_hosts are refused by line."""
    found = _problems(
        """\
        - {name: a, url: "ftp://x/a.git"}
        - {name: b, url: "https://bot:${PW}@git.example.org/b.git"}
        - {name: c, url: "https://x/c.git", semver: ">=banana"}
        - {name: d, url: "git@github.com:org/d.git"}
        - {name: e, url: "ssh://git@h/e.git", auth: {ssh_key_file: /k}}
        - {name: f, url: "https://x/f.git", auth: {token: t, token_file: /t}}
        """
    )
    assert found == [
        "g.yaml:2: sources[0].url: use an https://, ssh://, git://, file:// or user@host:path URL",
        (
            "g.yaml:3: sources[1].url: credentials do not belong in the URL (they would show in logs "
            "and events): move them to auth (token, token_file, username, password, password_file)"
        ),
        "g.yaml:4: sources[2].semver: semver range '>=banana': 'banana' is not a version",
        (
            "g.yaml:5: sources[3]: an SSH source needs auth.ssh_key_file and auth.known_hosts_file "
            "(host keys are checked strictly)"
        ),
        (
            "g.yaml:6: sources[4].auth: an SSH source needs ssh_key_file and known_hosts_file "
            "(host keys are checked strictly)"
        ),
        "g.yaml:7: sources[5].auth: set token or token_file, not both",
    ]
    assert "hunter2" not in "\n".join(found)
