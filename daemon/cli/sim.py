"""``gitopsd sim``: the Kubernetes API emulator's own command line under gitopsd's name.

The command is ``kubesim.cli.main`` (what ``python -m kubesim`` runs), registered as it
is, so both take the same options. This module is the one place in the command line
that imports the emulator (the import-linter contract allows exactly this import).
"""

from __future__ import annotations

import click

from kubesim import cli as sim_cli


def register(group: click.Group) -> None:
    """Add the emulator's command to the ``gitopsd`` group as ``sim``."""
    group.add_command(sim_cli.main, name="sim")
