"""patchkit ci github|gitlab (the matrix as a CI pipeline, one job per cell) and patchkit matrix
report (the cells' results, merged into the local matrix's table and exit status)."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import click

from patchkit import api
from patchkit.cli.common import Ctx, pass_ctx
from patchkit.ui import emit


@click.group("ci")
def ci_group() -> None:
    """Write a CI pipeline that runs the build matrix one cell per job."""


def _ci_command(engine: str, what: str) -> click.Command:
    default = api.CI_DEFAULT_OUTPUT[engine]

    @click.command(engine, help=f"Write the {what}: one job per matrix cell (build and test in "
                   "the build image, results as artifacts), then a job that merges them into "
                   "the matrix table.")
    @click.option("--base", "bases", multiple=True, metavar="BASE",
                  help="A base of the matrix (repeatable) [default: every testable base].")
    @click.option("--suite", "suites", multiple=True, type=click.Choice(api.SUITES),
                  help="A Debian suite (repeatable) [default: all].")
    @click.option("--sanitize/--no-sanitize", default=False, show_default=True,
                  help="Build every cell with AddressSanitizer and UBSan.")
    @click.option("-o", "--output", default=str(default), show_default=True,
                  help="Where to write it ('-': standard output).")
    @click.option("--json", "as_json", is_flag=True,
                  help="Print what was written (path, cells, cache key) as JSON.")
    @pass_ctx
    def command(c: Ctx, /, bases: tuple[str, ...], suites: tuple[str, ...], sanitize: bool,
                output: str, as_json: bool) -> None:
        r = api.ci_render(engine, bases=bases, suites=suites, sanitize=sanitize)
        if output == "-":
            sys.stdout.write(r["text"])
            return
        path = Path(output).absolute()
        path.parent.mkdir(parents=True, exist_ok=True)
        api.write_atomic(path, r["text"].encode())
        data: dict[str, Any] = {k: v for k, v in r.items() if k != "text"}
        data["path"] = str(path)
        data["jobs"] = [*(f"cell {cell}" for cell in r["cells"]), "report"]
        emit(data, as_json, lambda d: f"wrote {d['path']}: {len(d['cells'])} cell job(s) and "
             f"a report job (download cache key {d['cache_key']})")

    return command


ci_group.add_command(_ci_command("github", "GitHub Actions workflow"))
ci_group.add_command(_ci_command("gitlab", "GitLab CI pipeline"))


@click.group("matrix")
def matrix_group() -> None:
    """The build matrix's results, from CI jobs that each ran one cell."""


@matrix_group.command("report")
@click.argument("results", type=click.Path(path_type=Path, file_okay=False))
@click.option("--expect", "expect", multiple=True, metavar="BASE/SUITE",
              help="A cell that must have a result (repeatable); one without fails the report.")
@click.option("--json", "as_json", is_flag=True, help="The cells as JSON (as build --matrix).")
def matrix_report(results: Path, expect: tuple[str, ...], as_json: bool) -> None:
    """Merge the cells' cell.json under RESULTS (any depth) into the table `patchkit build
    --matrix` prints, with its exit status: 11 if a cell failed or left no result."""
    cells = api.matrix_report(results.absolute(), [api.parse_cell(e) for e in expect])
    emit([dataclasses.asdict(cell) for cell in cells], as_json, lambda _: api.table(cells))
    api.check_matrix(cells, "each cell's job keeps its logs, build.json and junit.xml "
                            f"in {results}/BASE_SUITE/ (its artifacts)")
