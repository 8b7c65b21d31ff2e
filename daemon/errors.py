"""Errors a user can act on, shared by every layer.

Each error's message says what was wrong and where (file:line, stream, position,
``Kind/ns/name``). The command line maps ``UsageError`` subclasses to exit code 2.
"""

from __future__ import annotations


class GitopsdError(Exception):
    """Base of every error gitopsd raises on purpose."""


class UsageError(GitopsdError):
    """Bad input from the user (configuration, arguments): exit code 2."""


class ConfigError(UsageError):
    """The configuration file is invalid; carries every problem found, not just the first."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class NotFoundError(UsageError):
    """A request names something that does not exist (an app, a target): HTTP 404."""


class ConflictError(UsageError):
    """A request that does not fit the current state was not carried out: HTTP 409.

    A suspended target asked to sync, or an app that kept changing while it was decided.
    """
