"""What every command module shares: the context (cache, quiet, debug) and path options made
absolute where they enter."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from patchkit import api


class Ctx:
    def __init__(self, distdir: Path, quiet: bool, debug: bool) -> None:
        self.cache = api.Cache(distdir)
        self.quiet = quiet
        self.debug = debug

    @property
    def interactive(self) -> bool:
        return not self.quiet and sys.stderr.isatty()


pass_ctx = click.make_pass_decorator(Ctx)


def abs_path(**kw: Any) -> click.Path:
    """A path option, made absolute where it enters: paths reach programs that run in other
    directories (make in a build tree, qmail-remote in its home), never as relative text."""
    return click.Path(path_type=Path, resolve_path=True, **kw)
