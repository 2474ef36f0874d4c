"""patchkit build, prepare and render: the options every backend shares, parsed into one
api.Options value."""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from patchkit import api
from patchkit.cli.common import Ctx, abs_path, pass_ctx
from patchkit.ui import emit, say_stderr

dkim_options = [
    click.option("--dkim-sign/--no-dkim-sign", default=True, show_default=True,
                 help="qmail-remote adds a DKIM-Signature (libdkim)."),
    click.option("--dk-sign/--no-dk-sign", default=True, show_default=True,
                 help="qmail-remote adds a DomainKey-Signature (libdomainkeys)."),
    click.option("--dkim-canon", type=click.Choice(api.DKIM_CANONS), default="relaxed/relaxed",
                 show_default=True, help="DKIM header/body canonicalization."),
    click.option("--dk-canon", type=click.Choice(api.DK_CANONS), default="nofws", show_default=True,
                 help="DomainKeys canonicalization."),
    click.option("--sign-headers", default=":".join(api.DEFAULT_SIGN_HEADERS), show_default=False,
                 help="Colon-separated header names to sign (default: From, Subject, Date, "
                      "Message-ID, To, Cc, MIME and list headers...)."),
    click.option("--authserv-id", default="",
                 help="authserv-id of Authentication-Results [default: control/me at run time]."),
]


def render_options_from(kw: dict[str, Any]) -> api.RenderOptions:
    return api.RenderOptions(
        dkim_sign=kw["dkim_sign"], dk_sign=kw["dk_sign"],
        dkim_canon=kw["dkim_canon"], dk_canon=kw["dk_canon"],
        sign_headers=tuple(h.strip() for h in kw["sign_headers"].split(":") if h.strip()),
        authserv_id=kw["authserv_id"],
    ).validate()


def build_options(f: Callable[..., Any]) -> Callable[..., Any]:
    opts = [
        click.option("--base", help="qmail base: qmail-1.03, jms1-7.10, jms1-7.08, "
                     "netqmail-1.06, notqmail-1.09."),
        click.option("--qmail-home", default="/var/qmail", show_default=True,
                     help="conf-qmail: where qmail will live."),
        click.option("--dkim/--no-dkim", default=True, show_default=True,
                     help="Compile the DKIM/DomainKeys code (-DDKIM); --no-dkim: plain qmail."),
        click.option("--sanitize/--no-sanitize", default=False,
                     help="Build with AddressSanitizer and UBSan (for tests)."),
        click.option("--cc", default="gcc", show_default=True, help="C compiler."),
        click.option("--cxx", default="g++", show_default=True, help="C++ compiler (libdkim)."),
        click.option("-j", "--jobs", type=int, default=os.cpu_count() or 1, show_default=True),
        click.option("--optimize", default="-O2", show_default=True,
                     help="Optimisation flag for qmail and the libraries."),
        click.option("--dkim-crypto", type=click.Choice(api.CRYPTO_CHOICES), default="direct",
                     show_default=True,
                     help="direct: OpenSSL's low-level SHA/RSA code and getrandom(2) for RSA "
                          "blinding (cheap in a fresh process); evp: OpenSSL's EVP/provider "
                          "path, its DRBG and openssl.cnf."),
        click.option("--workdir", type=abs_path(file_okay=False), default=Path("build"),
                     show_default=True, help="Where trees are unpacked and built."),
        *dkim_options,
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def only_cells(only: tuple[str, ...]) -> list[api.CellId]:
    """--only values as cells, in the order given, each named once."""
    cells: list[api.CellId] = []
    for text in only:
        cell = api.parse_cell(text)
        if cell not in cells:
            cells.append(cell)
    return cells


def options_from(kw: dict[str, Any]) -> api.Options:
    if not kw["base"]:
        raise click.UsageError("--base is required")
    return api.Options(base=kw["base"], qmail_home=kw["qmail_home"], dkim=kw["dkim"],
                   sanitize=kw["sanitize"], cc=kw["cc"], cxx=kw["cxx"], jobs=kw["jobs"],
                   optimize=kw["optimize"], crypto=kw["dkim_crypto"],
                   render=render_options_from(kw))


@click.command()
@build_options
@click.option("-o", "--output", type=abs_path(dir_okay=False),
              help="Write the patch here [default: standard output].")
@pass_ctx
def render(c: Ctx, /, output: Path | None, **kw: Any) -> None:
    """Render the DKIM/DomainKeys patch for a base against its prepared tree."""
    text = api.render_patch(options_from(kw), c.cache, kw["workdir"], say=say_stderr(c.quiet))
    data = text.encode("latin-1")
    if output is None:
        sys.stdout.buffer.write(data)
        return
    api.write_atomic(output, data)
    if not c.quiet:
        click.echo(f"wrote {output} ({len(data)} bytes; apply with patch -p1 in the prepared "
                   "tree)", err=True)


@click.command()
@build_options
@pass_ctx
def prepare(c: Ctx, /, **kw: Any) -> None:
    """Unpack and patch a base and the libraries, write conf-*, and stop (for inspection)."""
    tree = api.prepare(options_from(kw), c.cache, kw["workdir"], say=say_stderr(c.quiet))
    click.echo(str(tree))


@click.command()
@build_options
@click.option("--backend", type=click.Choice(["local", "docker"]), default="local",
              show_default=True, help="Where to build: this machine, or a container.")
@click.option("--suite", type=click.Choice(api.SUITES), default="bookworm",
              show_default=True, help="Debian suite of the build image (docker backend).")
@click.option("-o", "--output", type=abs_path(file_okay=False),
              help="Output directory [default: WORKDIR/VARIANT/out].")
@click.option("--json", "as_json", is_flag=True, help="Print build.json to stdout.")
@click.option("--matrix", is_flag=True,
              help="Every testable base on bookworm and trixie, each built and tested in a "
                   "container; a table at the end, exit 11 if a cell failed.")
@click.option("--only", "only", multiple=True, metavar="BASE/SUITE",
              help="With --matrix: run only this cell (repeatable); what a CI job runs.")
@click.option("--results", type=abs_path(file_okay=False),
              help="With --matrix: leave each cell's cell.json, build.json, junit.xml (and "
                   "logs of a failed build) in DIR/BASE_SUITE/ for `patchkit matrix report`.")
@pass_ctx
def build(c: Ctx, /, backend: str, suite: str, output: Path | None, as_json: bool,
          matrix: bool, only: tuple[str, ...], results: Path | None, **kw: Any) -> None:
    """Build a base: libraries into a private prefix, then qmail; outputs and build.json."""
    say = say_stderr(c.quiet)
    if (only or results) and not matrix:
        raise click.UsageError("--only and --results go with --matrix")
    if matrix:
        if kw["base"]:
            raise click.UsageError("--matrix runs every base: choose cells with --only "
                                   "BASE/SUITE instead of --base")
        cells = api.matrix(options_from({**kw, "base": "-"}), c.cache, kw["workdir"], say=say,
                           cells=only_cells(only), results=results)
        emit([dataclasses.asdict(cell) for cell in cells], as_json, lambda _: api.table(cells))
        api.check_matrix(cells)
        return
    report = api.build_with(options_from(kw), c.cache, kw["workdir"], output, backend=backend,
                            suite=suite, say=say)
    built = [r for r in report["stage_results"] if not r["skipped"]]

    def text(r: dict[str, Any]) -> str:
        return (f"built {r['variant']}: {len(r['outputs'])} files in {r['output_dir']} "
                f"({len(built)} stage(s) run, {len(r['stage_results']) - len(built)} up to date)")
    emit(report, as_json, text)


