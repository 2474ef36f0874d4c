"""Commands for the Docker backend: image bootstrap, doctor, test (locally or in a container).
Registered onto the main group by patchkit.cli; the Docker SDK is imported only inside commands,
through patchkit.container."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from patchkit.ui import say_stderr

SUITE_OPTION = click.option("--suite", type=click.Choice(["bookworm", "trixie"]),
                            default="bookworm", show_default=True,
                            help="Debian suite of the build image.")


def _emit(data: Any, as_json: bool, text: str) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str) if as_json else text)


@click.group("image")
def image_group() -> None:
    """The build image: create its base locally for engines that cannot pull."""


@image_group.command("bootstrap")
@SUITE_OPTION
@click.option("--mirror", help="Debian mirror URL [default: the one this host's apt uses].")
@click.option("--force", is_flag=True, help="Bootstrap even if the base image exists.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def image_bootstrap(c: Any, suite: str, mirror: str | None, force: bool, as_json: bool) -> None:
    """debootstrap a minimal Debian SUITE and import it as patchkit-base:SUITE."""
    from patchkit.docker import engine as container
    from patchkit.docker import image

    client = container.connect()
    ref = image.base_image(suite)
    if not force and container.image_exists(client, ref):
        _emit({"image": ref, "present": True}, as_json, f"{ref} is present (--force to redo)")
        return
    result = image.bootstrap(client, suite, mirror=mirror, say=say_stderr(c.quiet))
    _emit(result, as_json, f"{result['image']}: bootstrapped from {result['mirror']}")


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def doctor(c: Any, as_json: bool) -> None:
    """What this machine has for local and docker builds, each with a fix when missing."""
    from patchkit import doctor as doc

    checks = doc.run_checks(c.cache)
    rows = [ck.as_dict() for ck in checks]
    width = max(len(ck.name) for ck in checks)
    lines = []
    for ck in checks:
        lines.append(f"{ck.name:<{width}}  {'ok ' if ck.ok else 'NO '} {ck.detail}")
        if not ck.ok and ck.fix:
            lines.append(f"{'':<{width}}      fix: {ck.fix}")
    _emit(rows, as_json, "\n".join(lines))


@click.command("test")
@click.option("--base", required=True, help="The base whose build the suite tests.")
@click.option("--backend", type=click.Choice(["local", "docker"]), default="local",
              show_default=True, help="Run the suite here, or in the build image.")
@SUITE_OPTION
@click.option("--junit", type=click.Path(path_type=Path, resolve_path=True, dir_okay=False),
              help="Where to write JUnit XML [default: WORKDIR/junit-BASE-BACKEND.xml].")
@click.option("--workdir", type=click.Path(path_type=Path, resolve_path=True, file_okay=False),
              default=Path("build"),
              show_default=True, help="Where the builds the suite makes live.")
@click.pass_obj
def test(c: Any, base: str, backend: str, suite: str, junit: Path | None, workdir: Path) -> None:
    """Run the integration suite (marked upstream) for BASE; exit 11 if a test fails."""
    from patchkit.testing import integration as st

    junit = junit or workdir / f"junit-{base}-{backend if backend == 'local' else suite}.xml"
    say = say_stderr(c.quiet)
    if backend == "docker":
        from patchkit.docker import backend as dockerbuild

        summary = dockerbuild.test(base, c.cache, workdir, junit, suite=suite, say=say)
    else:
        summary = st.run_local(base, c.cache, workdir, junit, say=say)
    click.echo(st.summary_line(summary))
    st.raise_on_failure(summary)


def register(group: click.Group) -> None:
    """Add this module's commands to the patchkit group."""
    group.add_command(image_group)
    group.add_command(doctor)
    group.add_command(test)
