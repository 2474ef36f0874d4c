"""`patchkit build --matrix`: every testable base on every suite, each cell a docker build plus the
integration suite for that base, ending with a table (cell, result, time, output digest). What a
CI pipeline regression-testing qmail patches runs. The cell runner is passed in: unit tests pass a
fake; patchkit.api.matrix passes one that builds and tests in the build image (docker backend).

The matrix definition (Definition: bases x suites, and the sanitizer) is the one the local run and
the emitted CI pipelines (patchkit.ci) share; a CI job runs one cell of it (`--only BASE/SUITE`)
and records it (cell.json) in a results directory, from which `patchkit matrix report` makes the
same table and exit status the local run prints."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from patchkit.build.plan import Options
from patchkit.errors import ConfigError, PatchkitError, TestsFailed
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


@dataclass(frozen=True, slots=True, kw_only=True, order=True)
class CellId:
    """One cell of the matrix: a base built and tested on a Debian suite."""

    base: str
    suite: str

    def __str__(self) -> str:
        return f"{self.base}/{self.suite}"

    @property
    def slug(self) -> str:
        """The cell as one path component and CI artifact name (no slash)."""
        return f"{self.base}_{self.suite}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Definition:
    """The matrix: bases x suites, every cell with the same options (the sanitizer among them).
    Cells run suite by suite, bases in series order."""

    bases: tuple[str, ...]
    suites: tuple[str, ...]
    sanitize: bool = False

    def cells(self) -> tuple[CellId, ...]:
        return tuple(CellId(base=b, suite=s) for s in self.suites for b in self.bases)


def definition(bases: Sequence[str] = (), suites: Sequence[str] = (), *,
               known_suites: Sequence[str], sanitize: bool = False) -> Definition:
    """The matrix for these bases and suites (default: every testable base, every suite), in
    the series' and the suites' own order whatever order they were named in."""
    known_bases = testable_bases()
    for b in bases:
        if b not in known_bases:
            raise ConfigError(f"{b!r} is not a base the matrix tests",
                              f"testable bases: {', '.join(known_bases)}")
    for s in suites:
        if s not in known_suites:
            raise ConfigError(f"unknown suite {s!r}", f"suites: {', '.join(known_suites)}")
    return Definition(bases=tuple(b for b in known_bases if not bases or b in bases),
                      suites=tuple(s for s in known_suites if not suites or s in suites),
                      sanitize=sanitize)


def parse_cell(text: str, *, known_suites: Sequence[str]) -> CellId:
    """BASE/SUITE (what --only and --expect take), checked against the matrix definition."""
    base, sep, suite = text.strip().partition("/")
    if not sep or not base or not suite or "/" in suite:
        raise ConfigError(f"{text!r} is not a matrix cell",
                          "write it BASE/SUITE, e.g. netqmail-1.06/bookworm")
    definition([base], [suite], known_suites=known_suites)
    return CellId(base=base, suite=suite)


def outputs_digest(outputs: dict[str, str]) -> str:
    """12 hex digits naming a build's output set: equal digests, byte-identical outputs."""
    blob = json.dumps(outputs, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def testable_bases() -> tuple[str, ...]:
    return tuple(b.name for b in load_series().bases if b.testable)


CellRunner = Callable[[Options, str], tuple[dict[str, Any], dict[str, Any] | None]]


def run_matrix(template: Options, cells: Sequence[CellId], run_cell: CellRunner, *,
               say: Log) -> list[Cell]:
    """Every cell in order; a failing cell does not stop the others."""
    from patchkit.testing.junit import raise_on_failure, summary_line

    out = []
    for cell in cells:
        opts = replace(template, base=cell.base)
        say(f"matrix: {cell.base} on {cell.suite}")
        t0 = time.monotonic()
        digest, result, detail = "", "ok", ""
        try:
            report, summary = run_cell(opts, cell.suite)
            digest = outputs_digest(report.get("outputs", {}))
            if summary is not None:
                detail = summary_line(summary)
                raise_on_failure(summary)
        except TestsFailed as e:
            result, detail = "tests failed", e.message
        except PatchkitError as e:
            result, detail = f"failed (exit {e.exit_code})", e.message
        out.append(Cell(base=cell.base, suite=cell.suite, result=result, digest=digest,
                        seconds=round(time.monotonic() - t0, 1), detail=detail))
    return out


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


def check(cells: Sequence[Cell],
          hint: str = "each cell's log is under WORKDIR/docker-SUITE/BASE/out/logs") -> None:
    """Non-zero exit if any cell failed: TestsFailed (11), naming the cells."""
    failed = [f"{c.base}/{c.suite}" for c in cells if not c.ok]
    if failed:
        raise TestsFailed(f"{len(failed)} matrix cell(s) failed: {', '.join(failed)}", hint)


# --- results of cells run one per CI job ------------------------------------------------------

RECORD = "cell.json"
RECORD_FORMAT = "patchkit-matrix-cell/1"
NO_RESULT = "no result"


def record(cell: Cell) -> dict[str, Any]:
    """What a cell's job leaves in its results directory (RECORD) for the merge job."""
    return {"format": RECORD_FORMAT, "cell": asdict(cell)}


def cell_from_record(data: Any, origin: str) -> Cell:
    names = {f.name for f in fields(Cell)}
    body = data.get("cell") if isinstance(data, dict) else None
    if (not isinstance(data, dict) or data.get("format") != RECORD_FORMAT
            or not isinstance(body, dict) or set(body) != names):
        raise ConfigError(f"{origin} is not a matrix cell record ({RECORD_FORMAT})",
                          "it is written by patchkit build --matrix --results DIR; was it "
                          "made by another patchkit version?")
    try:
        return Cell(base=str(body["base"]), suite=str(body["suite"]),
                    result=str(body["result"]), seconds=float(body["seconds"]),
                    digest=str(body["digest"]), detail=str(body["detail"]))
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{origin}: a field has the wrong type ({e})",
                          "it is written by patchkit build --matrix --results DIR") from e


def read_results(results: Path) -> list[Cell]:
    """Every cell record under results (at any depth: CI engines nest artifacts by job)."""
    if not results.is_dir():
        raise ConfigError(f"{results} is not a directory",
                          "give the directory the cells' artifacts were put in")
    cells: dict[CellId, tuple[Cell, Path]] = {}
    for path in sorted(results.rglob(RECORD)):
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise ConfigError(f"{path} is not JSON ({e})",
                              "the cell's job was cut short? rerun it") from e
        cell = cell_from_record(data, str(path))
        key = CellId(base=cell.base, suite=cell.suite)
        if key in cells:
            raise ConfigError(f"two results for {key}: {cells[key][1]} and {path}",
                              "keep one (each cell's job writes its own directory)")
        cells[key] = (cell, path)
    return [c for c, _ in cells.values()]


def merge(found: Sequence[Cell], expected: Sequence[CellId]) -> list[Cell]:
    """The cells in matrix order: the expected ones first (one that left no record is a failed
    cell, NO_RESULT: its job died or never ran), then any others found, by suite, then in the
    series' order of bases."""
    by_id: dict[CellId, Cell | None] = {CellId(base=c.base, suite=c.suite): c for c in found}
    out = [by_id.pop(e, None) or Cell(base=e.base, suite=e.suite, result=NO_RESULT, seconds=0.0,
                                      digest="", detail=f"its job left no {RECORD}")
           for e in expected]
    rest = {k: c for k, c in by_id.items() if c is not None}
    order = {b: i for i, b in enumerate(testable_bases())}
    return out + [rest[k] for k in sorted(rest, key=lambda k: (k.suite, order.get(k.base, -1),
                                                                 k.base))]
