"""patchkit package deb: qmail with DKIM as a Debian package, built from the pins and proven by
installing it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from patchkit import api
from patchkit.cli.common import Ctx, abs_path, pass_ctx
from patchkit.ui import emit, say_stderr


@click.group("package")
def package_group() -> None:
    """Packages of a base: a Debian source and binary package."""


@package_group.command("deb")
@click.option("--base", required=True, help="netqmail-1.06 or notqmail-1.09.")
@click.option("--suite", type=click.Choice(api.SUITES), default="bookworm", show_default=True)
@click.option("-o", "--output", type=abs_path(file_okay=False), required=True,
              help="Directory for the source package, the .debs and the logs.")
@click.option("--verify/--no-verify", default=True, show_default=True,
              help="Install into a fresh container and prove it (users, modes, autopkgtest, "
                   "purge, reinstall).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_ctx
def deb(c: Ctx, /, base: str, suite: str, output: Path, verify: bool, as_json: bool) -> None:
    """Build the Debian package of BASE on SUITE in containers: lint-clean, reproducible."""
    r = api.package_deb(base, c.cache, output, suite=suite, verify=verify,
                        say=say_stderr(c.quiet))

    def text(r: dict[str, Any]) -> str:
        b = r["build"]
        lines = [f"{r['source']} {r['version']} ({suite}): {', '.join(b['debs'])}",
                 f"lintian-clean after {r['seconds_to_lint_clean']} s; reproducible: "
                 f"{', '.join(b['reproducible']) or 'no'}"]
        if "verify" in r:
            lines += [f"  {ch}" for ch in r["verify"]["checks"]]
            lines.append(f"installed and verified after {r['seconds_to_installed_and_verified']} s")
        return "\n".join(lines)
    emit(r, as_json, text)


@package_group.command("ebuild")
@click.option("--base", required=True, help="netqmail-1.06 or notqmail-1.09.")
@click.option("-o", "--output", type=abs_path(file_okay=False), required=True,
              help="Directory for the overlay (DIR/overlay) and the patchset (DIR/distfiles).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_ctx
def ebuild(c: Ctx, /, base: str, output: Path, as_json: bool) -> None:
    """Write a Gentoo overlay for BASE: EAPI 8 ebuild, metadata.xml, Manifest, README."""
    r = api.package_ebuild(base, c.cache, output, say=say_stderr(c.quiet))
    emit(r, as_json, lambda r: f"{r['ebuild']}\n{len(r['manifest'])} DIST line(s); none for: "
                               f"{', '.join(r['no_dist_line']) or '-'} (see the README)")
