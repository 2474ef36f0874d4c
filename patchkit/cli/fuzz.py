"""patchkit fuzz: the libFuzzer targets (verify, sign) built, replayed on the kept inputs and run
for a bounded time, with libFuzzer's figures per target."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from patchkit import api
from patchkit.cli.common import Ctx, abs_path, pass_ctx
from patchkit.ui import emit, say_stderr


@click.command()
@click.option("--base", default="netqmail-1.06", show_default=True,
              help="The base whose DKIM code is fuzzed (our code is the same on every base).")
@click.option("--seconds", type=click.IntRange(min=0), default=60, show_default=True,
              help="How long each target runs (0: only replay the kept inputs).")
@click.option("--seeds", type=abs_path(file_okay=False, exists=True), multiple=True,
              help="A directory of messages (one a file) to start from; repeatable.")
@click.option("--regressions", type=abs_path(file_okay=False, exists=True),
              help="Kept inputs, TARGET/FILE, each replayed first (tests/fuzz-regressions).")
@click.option("--target", "targets", multiple=True, type=click.Choice(api.FUZZ_TARGETS),
              help="Only this target; repeatable [default: all].")
@click.option("--workdir", type=abs_path(file_okay=False), default=Path("build"),
              show_default=True, help="Where the instrumented tree is built (WORKDIR/fuzz).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_ctx
def fuzz(c: Ctx, /, base: str, seconds: int, seeds: tuple[Path, ...], regressions: Path | None,
         targets: tuple[str, ...], workdir: Path, as_json: bool) -> None:
    """Fuzz our DKIM verifier and signer with libFuzzer under ASan+UBSan (clang)."""
    report = api.fuzz(base, c.cache, workdir, seconds=seconds, seeds=seeds,
                      regressions=regressions, targets=targets or api.FUZZ_TARGETS,
                      say=say_stderr(c.quiet))

    def text(r: dict[str, Any]) -> str:
        lines = [f"{'target':<8} {'seeds':>6} {'kept':>5} {'execs':>9} {'exec/s':>7} "
                 f"{'cov':>6} {'ft':>6} {'corpus':>7} findings"]
        for name, t in r["targets"].items():
            lines.append(f"{name:<8} {t['seeds']:>6} {t['regressions']:>5} "
                         f"{t.get('execs', '-'):>9} {t.get('exec_per_s', '-'):>7} "
                         f"{t.get('cov', '-'):>6} {t.get('ft', '-'):>6} "
                         f"{t.get('corpus', '-'):>7} {len(t.get('findings', []))}")
        for name, t in r["targets"].items():
            edges = ", ".join(f"{c} {e['covered']}/{e['total']} "
                              f"({100 * e['covered'] // max(e['total'], 1)}%)"
                              for c, e in t.get("edges", {}).items())
            if edges:
                lines.append(f"{name} edges covered by its corpus: {edges}")
        lines.append(f"{r['seconds']} s per target; logs and corpus under {r['workdir']}")
        return "\n".join(lines)
    emit(report, as_json, text)
