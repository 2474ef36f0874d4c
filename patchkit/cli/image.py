"""patchkit image bootstrap, doctor and test: the build image's base, what this machine has,
and the integration suite (here or in the build image)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from patchkit import api
from patchkit.cli.common import Ctx, abs_path, pass_ctx
from patchkit.ui import emit, say_stderr

SUITE_OPTION = click.option("--suite", type=click.Choice(api.SUITES), default="bookworm",
                            show_default=True, help="Debian suite of the build image.")


@click.group("image")
def image_group() -> None:
    """The build image: create its base locally for engines that cannot pull."""


@image_group.command("bootstrap")
@SUITE_OPTION
@click.option("--mirror", help="Debian mirror URL [default: the one this host's apt uses].")
@click.option("--force", is_flag=True, help="Bootstrap even if the base image exists.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def image_bootstrap(c: Ctx, suite: str, mirror: str | None, force: bool, as_json: bool) -> None:
    """debootstrap a minimal Debian SUITE and import it as patchkit-base:SUITE."""
    result = api.image_bootstrap(suite, mirror=mirror, force=force, say=say_stderr(c.quiet))
    emit(result, as_json, lambda r: f"{r['image']} is present (--force to redo)"
         if r.get("present") else f"{r['image']}: bootstrapped from {r['mirror']}")


def doctor_lines(rows: list[dict[str, Any]]) -> str:
    width = max(len(r["name"]) for r in rows)
    lines = []
    for r in rows:
        lines.append(f"{r['name']:<{width}}  {'ok ' if r['ok'] else 'NO '} {r['detail']}")
        if not r["ok"] and r["fix"]:
            lines.append(f"{'':<{width}}      fix: {r['fix']}")
    return "\n".join(lines)


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def doctor(c: Ctx, as_json: bool) -> None:
    """What this machine has for local and docker builds, each with a fix when missing."""
    emit([f.as_dict() for f in api.doctor(c.cache)], as_json, doctor_lines)


@click.command("test")
@click.option("--base", required=True, help="The base whose build the suite tests.")
@click.option("--backend", type=click.Choice(["local", "docker"]), default="local",
              show_default=True, help="Run the suite here, or in the build image.")
@SUITE_OPTION
@click.option("--junit", type=abs_path(dir_okay=False),
              help="Where to write JUnit XML [default: WORKDIR/junit-BASE-BACKEND.xml].")
@click.option("--workdir", type=abs_path(file_okay=False), default=Path("build"),
              show_default=True, help="Where the builds the suite makes live.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_ctx
def test(c: Ctx, base: str, backend: str, suite: str, junit: Path | None, workdir: Path,
         as_json: bool) -> None:
    """Run the integration suite (marked upstream) for BASE; exit 11 if a test fails."""
    junit = junit or workdir / f"junit-{base}-{backend if backend == 'local' else suite}.xml"
    summary = api.test(base, c.cache, workdir, junit, backend=backend, suite=suite,
                       say=say_stderr(c.quiet))
    emit(summary, as_json, api.summary_line)
    api.raise_on_failure(summary)
