"""`patchkit build --matrix`: every testable base on every suite, each cell a docker build plus the
integration suite for that base, ending with a table (cell, result, time, output digest). What a
CI pipeline regression-testing qmail patches runs. The cell runner is passed in: unit tests pass a
fake; patchkit.api.matrix passes one that builds and tests in the build image (docker backend)."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from patchkit.build.plan import Options
from patchkit.errors import PatchkitError, TestsFailed
from patchkit.patching.series import load_series
from patchkit.ui import Log


@dataclass(frozen=True, slots=True, kw_only=True)
class Cell:
    base: str
    suite: str
    result: str  # "ok", "build failed", "tests failed", ...
    seconds: float
    digest: str  # of the output files' digests; "" if the build failed
    detail: str = ""  # the error's message, or the test summary

    @property
    def ok(self) -> bool:
        return self.result == "ok"


def outputs_digest(outputs: dict[str, str]) -> str:
    """12 hex digits naming a build's output set: equal digests, byte-identical outputs."""
    blob = json.dumps(outputs, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def testable_bases() -> tuple[str, ...]:
    return tuple(b.name for b in load_series().bases if b.testable)


CellRunner = Callable[[Options, str], tuple[dict[str, Any], dict[str, Any] | None]]


def run_matrix(template: Options, bases: Sequence[str], suites: Sequence[str],
               run_cell: CellRunner, *, say: Log) -> list[Cell]:
    """Every (base, suite) cell in order; a failing cell does not stop the others."""
    from patchkit.testing.junit import raise_on_failure, summary_line

    cells = []
    for suite in suites:
        for base in bases:
            opts = replace(template, base=base)
            say(f"matrix: {base} on {suite}")
            t0 = time.monotonic()
            digest, result, detail = "", "ok", ""
            try:
                report, summary = run_cell(opts, suite)
                digest = outputs_digest(report.get("outputs", {}))
                if summary is not None:
                    detail = summary_line(summary)
                    raise_on_failure(summary)
            except TestsFailed as e:
                result, detail = "tests failed", e.message
            except PatchkitError as e:
                result, detail = f"failed (exit {e.exit_code})", e.message
            cells.append(Cell(base=base, suite=suite, result=result, digest=digest,
                              seconds=round(time.monotonic() - t0, 1), detail=detail))
    return cells


def table(cells: Sequence[Cell]) -> str:
    rows = [("cell", "result", "time", "outputs")]
    rows += [(f"{c.base} / {c.suite}", c.result, f"{c.seconds:.1f}s", c.digest or "-")
             for c in cells]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip()
             for r in rows]
    failed = [c for c in cells if not c.ok]
    lines.append(f"{len(cells) - len(failed)} of {len(cells)} cells passed")
    lines += [f"  {c.base} / {c.suite}: {c.detail}" for c in failed]
    return "\n".join(lines)


def as_json(cells: Sequence[Cell]) -> list[dict[str, Any]]:
    return [asdict(c) for c in cells]


def check(cells: Sequence[Cell]) -> None:
    """Non-zero exit if any cell failed: TestsFailed (11), naming the cells."""
    failed = [f"{c.base}/{c.suite}" for c in cells if not c.ok]
    if failed:
        raise TestsFailed(f"{len(failed)} matrix cell(s) failed: {', '.join(failed)}",
                          "each cell's log is under WORKDIR/docker-SUITE/BASE/out/logs")
