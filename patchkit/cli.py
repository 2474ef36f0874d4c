"""The patchkit command line: thin click commands over patchkit.api, one error handler that maps
PatchkitError to its exit code, text or --json output."""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from patchkit import api
from patchkit.build.plan import Options
from patchkit.dkim.keygen import BITS
from patchkit.dkim.keygen import keygen as make_key
from patchkit.dkim.spec import (
    DEFAULT_SIGN_HEADERS,
    DK_CANONS,
    DKIM_ALGORITHMS,
    DKIM_CANONS,
    RenderOptions,
)
from patchkit.errors import EXIT_CODES, PatchkitError, file_error
from patchkit.sources.cache import Cache, Verdict, default_distdir
from patchkit.sources.manifest import Artifact
from patchkit.ui import say_stderr, terminal_progress


class Ctx:
    def __init__(self, distdir: Path, quiet: bool, debug: bool) -> None:
        self.cache = Cache(distdir)
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
    ctx.obj = Ctx(distdir or default_distdir().absolute(), quiet, debug)


def emit(data: Any, as_json: bool, text: Callable[[Any], str]) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
    else:
        click.echo(text(data))


def verdict_json(a: Artifact, v: Verdict) -> dict[str, Any]:
    return {
        "name": a.name, "file": a.filename, "kind": a.kind, "version": a.version,
        "status": v.status, "verified_by": v.how or None, "detail": v.detail or None,
        "path": str(v.path) if v.path else None, "pinned": a.pinned,
        "problem": api.verdict_is_problem(a, v),
    }


def verdict_lines(rows: list[dict[str, Any]]) -> str:
    width = max((len(r["name"]) for r in rows), default=0)
    lines = []
    for r in rows:
        how = f" ({r['verified_by']})" if r["verified_by"] else ""
        state = {"ok": "ok", "unverified": "UNVERIFIED", "missing": "missing", "bad": "BAD"}[
            r["status"]]
        extra = f": {r['detail']}" if r["detail"] else ""
        if r["status"] == "missing" and not r["pinned"]:
            extra = ": no checksum known; used only if you supply it (--trust-on-first-use)"
        lines.append(f"{r['name']:<{width}}  {state}{how}{extra}")
    return "\n".join(lines)


@cli.group()
def sources() -> None:
    """Upstream inputs: list, verify, fetch, and seed the cache offline."""


@sources.command("list")
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def sources_list(c: Ctx, names: tuple[str, ...], as_json: bool) -> None:
    """Every artifact and whether a verified copy is cached."""
    rows = [verdict_json(a, v) for a, v in api.sources_list(c.cache, names)]
    emit(rows, as_json, verdict_lines)


@sources.command("verify")
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def sources_verify(c: Ctx, names: tuple[str, ...], as_json: bool) -> None:
    """Re-verify the cache; exit non-zero if a pinned artifact is missing or fails its pin."""
    pairs = api.sources_list(c.cache, names)
    rows = [verdict_json(a, v) for a, v in pairs]
    emit(rows, as_json, verdict_lines)
    bad = [r["name"] for r in rows if r["problem"]]
    if bad:
        from patchkit.errors import VerificationError

        raise VerificationError(
            f"{len(bad)} artifact(s) missing or not matching their pins: {', '.join(bad)}",
            "patchkit sources fetch, or seed offline with patchkit sources add / add-git",
        )


@sources.command("fetch")
@click.argument("names", nargs=-1)
@click.option("--trust-on-first-use", is_flag=True,
              help="Accept an artifact with no known checksum and record what was served.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def sources_fetch(c: Ctx, names: tuple[str, ...], trust_on_first_use: bool,
                  as_json: bool) -> None:
    """Download what is missing from the cache (all pinned artifacts, or NAMES)."""
    progress = (lambda a: terminal_progress(a.filename)) if c.interactive else None
    verdicts = api.sources_fetch(c.cache, names, progress_for=progress,
                                 trust_on_first_use=trust_on_first_use)
    warn_tofu(verdicts)
    by_name = {a.name: a for a, _ in api.sources_list(c.cache, names)}
    emit([verdict_json(by_name[v.name], v) for v in verdicts], as_json, verdict_lines)


def warn_tofu(verdicts: list[Verdict]) -> None:
    for v in verdicts:
        if v.status == "unverified":
            click.secho(
                f"WARNING: {v.name} is NOT verified against a known checksum; {v.detail}. "
                "Anyone who could alter the file before you got it could alter your build.",
                fg="yellow", err=True,
            )


@sources.command("add")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--as", "name", help="Artifact name, when the file name is not the published one.")
@click.option("--trust-on-first-use", is_flag=True,
              help="For an artifact with no known checksum: record this copy's sha256.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def sources_add(c: Ctx, path: Path, name: str | None, trust_on_first_use: bool,
                as_json: bool) -> None:
    """Verify a local file against its pin, then put it in the cache."""
    v = api.sources_add(c.cache, path, name=name, trust_on_first_use=trust_on_first_use)
    warn_tofu([v])
    emit({"name": v.name, "status": v.status, "verified_by": v.how, "path": str(v.path)},
         as_json, lambda d: f"{d['name']}: {d['status']} ({d['verified_by']}) -> {d['path']}")


@sources.command("add-git")
@click.argument("gitdir", type=click.Path(path_type=Path, exists=True))
@click.argument("ref")
@click.option("--as", "name", required=True, help="Artifact the tree stands for.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def sources_add_git(c: Ctx, gitdir: Path, ref: str, name: str, as_json: bool) -> None:
    """Cache the tree of a local git repository at REF, if its tree digest matches the pin."""
    v = api.sources_add_git(c.cache, gitdir, ref, name)
    emit({"name": v.name, "status": v.status, "verified_by": v.how, "path": str(v.path)},
         as_json, lambda d: f"{d['name']}: {d['status']} ({d['verified_by']}) -> {d['path']}")


dkim_options = [
    click.option("--dkim-sign/--no-dkim-sign", default=True, show_default=True,
                 help="qmail-remote adds a DKIM-Signature (libdkim)."),
    click.option("--dk-sign/--no-dk-sign", default=True, show_default=True,
                 help="qmail-remote adds a DomainKey-Signature (libdomainkeys)."),
    click.option("--dkim-algorithm", type=click.Choice(DKIM_ALGORITHMS), default="rsa-sha256",
                 show_default=True),
    click.option("--dkim-canon", type=click.Choice(DKIM_CANONS), default="relaxed/relaxed",
                 show_default=True, help="DKIM header/body canonicalization."),
    click.option("--dk-canon", type=click.Choice(DK_CANONS), default="nofws", show_default=True,
                 help="DomainKeys canonicalization."),
    click.option("--sign-headers", default=":".join(DEFAULT_SIGN_HEADERS), show_default=False,
                 help="Colon-separated header names to sign (default: From, Subject, Date, "
                      "Message-ID, To, Cc, MIME and list headers...)."),
    click.option("--authserv-id", default="",
                 help="authserv-id of Authentication-Results [default: control/me at run time]."),
]


def render_options_from(kw: dict[str, Any]) -> RenderOptions:
    return RenderOptions(
        dkim_sign=kw["dkim_sign"], dk_sign=kw["dk_sign"], dkim_algorithm=kw["dkim_algorithm"],
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
        click.option("--workdir", type=abs_path(file_okay=False), default=Path("build"),
                     show_default=True, help="Where trees are unpacked and built."),
        *dkim_options,
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def options_from(kw: dict[str, Any]) -> Options:
    if not kw["base"]:
        raise click.UsageError("--base is required")
    return Options(base=kw["base"], qmail_home=kw["qmail_home"], dkim=kw["dkim"],
                   sanitize=kw["sanitize"], cc=kw["cc"], cxx=kw["cxx"], jobs=kw["jobs"],
                   optimize=kw["optimize"], render=render_options_from(kw))


@cli.command()
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
    tmp = output.with_name(output.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, output)
    if not c.quiet:
        click.echo(f"wrote {output} ({len(data)} bytes; apply with patch -p1 in the prepared "
                   "tree)", err=True)


@cli.command()
@click.argument("domain")
@click.option("--selector", default="default", show_default=True)
@click.option("--bits", type=click.Choice([str(b) for b in BITS]), default="2048",
              show_default=True)
@click.option("--keydir", type=abs_path(file_okay=False), default=Path("/etc/domainkeys"),
              show_default=True, help="control/dksign then names KEYDIR/%/SELECTOR.")
@click.option("--force", is_flag=True, help="Replace an existing key.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def keygen(domain: str, selector: str, bits: str, keydir: Path, force: bool,
           as_json: bool) -> None:
    """Make a signing key for DOMAIN and the DNS TXT records to publish (like dknewkey)."""
    k = make_key(domain, selector=selector, bits=int(bits), keydir=keydir, force=force)
    if k.note:
        click.secho(k.note, fg="yellow", err=True)
    emit({"private_key": str(k.private), "public_records": str(k.public),
          "dkim_record": k.dkim_record, "domainkeys_record": k.dk_record, "note": k.note or None},
         as_json,
         lambda d: f"private key: {d['private_key']}\nDNS records: {d['public_records']}\n"
                   + k.public.read_text())


@cli.command()
@build_options
@pass_ctx
def prepare(c: Ctx, /, **kw: Any) -> None:
    """Unpack and patch a base and the libraries, write conf-*, and stop (for inspection)."""
    tree = api.prepare(options_from(kw), c.cache, kw["workdir"], say=say_stderr(c.quiet))
    click.echo(str(tree))


@cli.command()
@build_options
@click.option("--backend", type=click.Choice(["local", "docker"]), default="local",
              show_default=True, help="Where to build: this machine, or a container.")
@click.option("--suite", type=click.Choice(["bookworm", "trixie"]), default="bookworm",
              show_default=True, help="Debian suite of the build image (docker backend).")
@click.option("-o", "--output", type=abs_path(file_okay=False),
              help="Output directory [default: WORKDIR/VARIANT/out].")
@click.option("--json", "as_json", is_flag=True, help="Print build.json to stdout.")
@click.option("--matrix", is_flag=True,
              help="Every testable base on bookworm and trixie, each built and tested in a "
                   "container; a table at the end, exit 11 if a cell failed.")
@pass_ctx
def build(c: Ctx, /, backend: str, suite: str, output: Path | None, as_json: bool,
          matrix: bool, **kw: Any) -> None:
    """Build a base: libraries into a private prefix, then qmail; outputs and build.json."""
    if matrix:
        from patchkit.testing import matrix as mx

        say = say_stderr(c.quiet)
        cells = mx.run_matrix(options_from({**kw, "base": kw["base"] or "-"}),
                              mx.testable_bases(), mx.SUITES,
                              mx.docker_cell(c.cache, kw["workdir"], say=say), say=say)
        emit(mx.as_json(cells), as_json, lambda _: mx.table(cells))
        mx.check(cells)
        return
    if backend == "docker":
        from patchkit.docker import backend as dockerbuild  # the SDK is imported only there

        report = dockerbuild.build(options_from(kw), c.cache, kw["workdir"], output, suite=suite,
                                   say=say_stderr(c.quiet))
    else:
        report = api.build(options_from(kw), c.cache, kw["workdir"], output,
                           say=say_stderr(c.quiet))
    built = [r for r in report["stage_results"] if not r["skipped"]]

    def text(r: dict[str, Any]) -> str:
        return (f"built {r['variant']}: {len(r['outputs'])} files in {r['output_dir']} "
                f"({len(built)} stage(s) run, {len(r['stage_results']) - len(built)} up to date)")
    emit(report, as_json, text)


def _register_extensions() -> None:
    """Command groups that live in their own modules (imported lazily inside their commands)."""
    from patchkit import cli_docker

    cli_docker.register(cli)


_register_extensions()


def main() -> None:
    cli(prog_name="patchkit")
