"""patchkit install: what qmail's `make setup check` does, for a built variant, on this system
(--root) or staged for a package (--destdir)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from patchkit import api
from patchkit.cli.build import build_options, options_from
from patchkit.cli.common import Ctx, abs_path, pass_ctx
from patchkit.ui import emit, say_stderr


@click.command()
@build_options
@click.option("--root", type=abs_path(file_okay=False),
              help="Install live into this system (/ for this one), as root: qmail's users "
                   "are created when missing, owners and set-id modes as hier.c says, then "
                   "qmail's instcheck.")
@click.option("--destdir", type=abs_path(file_okay=False),
              help="Stage the tree under DIR as any user (modes, no owners, no users), with a "
                   "manifest of owners and modes beside it.")
@click.option("--manifest", type=abs_path(dir_okay=False),
              help="Where --destdir writes its manifest [default: DESTDIR.manifest].")
@click.option("--ids-from", type=abs_path(file_okay=False),
              help="With --destdir, for a base that compiles user IDs in: the system whose "
                   "etc/passwd and etc/group give them [default: /].")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_ctx
def install(c: Ctx, /, root: Path | None, destdir: Path | None, manifest: Path | None,
            ids_from: Path | None, as_json: bool, **kw: Any) -> None:
    """Install a built base: qmail's hierarchy, owners, modes and queue (make setup check)."""
    if (root is None) == (destdir is None):
        raise click.UsageError("give exactly one of --root DIR (live, as root) and "
                               "--destdir DIR (staged, as any user)")
    report = api.install(options_from(kw), c.cache, kw["workdir"], root=root, destdir=destdir,
                         manifest=manifest, ids_from=ids_from, say=say_stderr(c.quiet))

    def text(r: dict[str, Any]) -> str:
        where = r.get("root") or r["destdir"]
        lines = [f"installed {r['variant']}: {r['entries']} entries of {r['home']} under {where}"]
        if r["created"]:
            lines.append(f"created: {', '.join(r['created'])}")
        if "instcheck" in r:
            lines.append(f"instcheck: {r['instcheck']}")
        if "manifest" in r:
            lines.append(f"manifest: {r['manifest']}")
        return "\n".join(lines)
    emit(report, as_json, text)
