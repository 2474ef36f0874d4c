"""patchkit sources: list, verify, fetch, and seed the cache offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from patchkit import api
from patchkit.cli.common import Ctx, pass_ctx
from patchkit.ui import emit, terminal_progress


def verdict_json(a: api.Artifact, v: api.Verdict) -> dict[str, Any]:
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


@click.group()
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


def warn_tofu(verdicts: list[api.Verdict]) -> None:
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




@sources.command("import")
@click.argument("seed", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def sources_import(c: Ctx, seed: Path, as_json: bool) -> None:
    """Seed the cache from a directory of upstream files (e.g. another machine's distdir):
    each pinned file found there is verified and added; then the cache's state is shown."""
    rows = [verdict_json(a, v) for a, v in api.sources_import(c.cache, seed)]
    emit(rows, as_json, verdict_lines)
