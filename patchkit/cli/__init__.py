"""The patchkit command line: click commands that parse, call patchkit.api, and format what it
returns (text, or --json through patchkit.ui.emit). One error rule for all of them here; each
command group lives in its own module below."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

import click

from patchkit import api
from patchkit.cli import build, ci, fuzz, image, install, keys, package, sources
from patchkit.cli.common import Ctx, abs_path
from patchkit.errors import EXIT_CODES, PatchkitError, file_error


class PatchkitGroup(click.Group):
    """The one error rule: a PatchkitError or an OSError prints one line and a hint and exits with
    its own code; anything else is a bug: one line, "rerun with --debug", exit 1. With --debug,
    every error also prints its traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except Exception as e:  # the boundary: every error leaves as one line and a code
            obj = ctx.obj
            if isinstance(obj, Ctx) and obj.debug:
                traceback.print_exc()
            err = as_patchkit_error(e)
            click.secho(f"error: {err.message}", fg="red", err=True)
            if err.hint:
                click.echo(f"hint: {err.hint}", err=True)
            ctx.exit(err.exit_code)


def as_patchkit_error(e: Exception) -> PatchkitError:
    if isinstance(e, PatchkitError):
        return e
    if isinstance(e, OSError):
        return file_error(e)
    first = (str(e).strip().splitlines() or [""])[0]
    return PatchkitError(f"internal error: {type(e).__name__}: {first}",
                         "this is a bug in patchkit: rerun with --debug and report the traceback")


EPILOG = "Exit codes:\n\n\b\n" + "\n".join(f"{k:>3}  {v}" for k, v in sorted(EXIT_CODES.items()))


@click.group(cls=PatchkitGroup, epilog=EPILOG)
@click.option("--distdir", type=abs_path(file_okay=False), envvar="PATCHKIT_DISTDIR",
              help="Download cache [env PATCHKIT_DISTDIR; default ~/.cache/patchkit/distfiles].")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.version_option(package_name="patchkit")
@click.pass_context
def cli(ctx: click.Context, distdir: Path | None, quiet: bool, debug: bool) -> None:
    """Reproducible, tested builds of qmail with DKIM and DomainKeys."""
    ctx.obj = Ctx(distdir or api.default_distdir().absolute(), quiet, debug)


for command in (sources.sources, build.build, build.prepare, build.render, keys.keys_group,
                keys.keygen, image.image_group, image.doctor, image.test, install.install,
                package.package_group, fuzz.fuzz, ci.ci_group, ci.matrix_group):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="patchkit")
