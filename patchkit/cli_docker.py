"""Commands for the Docker backend: image bootstrap, doctor, test in a container.
Registered onto the main group by patchkit.cli; the Docker SDK is imported only inside commands."""

from __future__ import annotations

import click


def register(group: click.Group) -> None:
    """Add this module's commands to the patchkit group."""
