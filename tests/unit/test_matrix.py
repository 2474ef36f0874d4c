"""The build matrix with a fake cell runner: order, digests, failures keep going, the table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from patchkit.build.plan import Options
from patchkit.errors import BuildFailed, ConfigError, TestsFailed
from patchkit.testing import matrix


def fake_runner(fail: dict[tuple[str, str], Exception]) -> Any:
    calls: list[tuple[str, str, bool]] = []

    def run(opts: Options, suite: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
        calls.append((opts.base, suite, opts.dkim))
        if (opts.base, suite) in fail:
            raise fail[(opts.base, suite)]
        summary = {"base": opts.base, "passed": 8, "failures": 0, "errors": 0, "skipped": 0,
                   "seconds": 1.0, "failed": [], "skip_reasons": []}
        return {"outputs": {"bin/qmail-smtpd": suite}}, summary
    run.calls = calls  # type: ignore[attr-defined]
    return run


def test_every_cell_runs_and_a_failure_does_not_stop_the_rest() -> None:
    run = fake_runner({("b", "trixie"): BuildFailed("step 'qmail: make' failed")})
    todo = matrix.Definition(bases=("a", "b"), suites=("bookworm", "trixie")).cells()
    cells = matrix.run_matrix(Options(base="-", dkim=True), todo, run, say=lambda _: None)
    assert run.calls == [("a", "bookworm", True), ("b", "bookworm", True),
                         ("a", "trixie", True), ("b", "trixie", True)]
    assert [c.result for c in cells] == ["ok", "ok", "ok", "failed (exit 8)"]
    assert cells[0].digest == cells[1].digest != cells[2].digest  # same outputs, same digest
    assert cells[3].digest == "" and "qmail: make" in cells[3].detail
    text = matrix.table(cells)
    assert text.splitlines()[0].split() == ["cell", "result", "time", "outputs"]
    assert "b / trixie    failed (exit 8)  0.0s  -" in text
    assert "3 of 4 cells passed" in text
    with pytest.raises(TestsFailed, match="1 matrix cell"):
        matrix.check(cells)


def test_failed_tests_fail_the_cell() -> None:
    def run(opts: Options, suite: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
        return {"outputs": {}}, {"base": opts.base, "passed": 7, "failures": 1, "errors": 0,
                                 "skipped": 0, "seconds": 1.0, "failed": ["t::x"],
                                 "skip_reasons": []}
    (cell,) = matrix.run_matrix(Options(base="-"), [matrix.CellId(base="a", suite="bookworm")],
                                run, say=lambda _: None)
    assert cell.result == "tests failed" and "t::x" in cell.detail
    with pytest.raises(TestsFailed, match="a/bookworm"):
        matrix.check([cell])


def test_testable_bases_come_from_the_series() -> None:
    bases = matrix.testable_bases()
    assert "netqmail-1.06" in bases and "jms1-7.08" not in bases


# --- the one definition, --only, and the report over CI jobs' results ---------------------------

SUITES = ("bookworm", "trixie")


def test_definition_defaults_to_every_testable_base_on_every_suite() -> None:
    d = matrix.definition(known_suites=SUITES)
    assert d.cells()[0] == matrix.CellId(base=matrix.testable_bases()[0], suite="bookworm")
    assert len(d.cells()) == len(matrix.testable_bases()) * 2
    picked = matrix.definition(["notqmail-1.09", "qmail-1.03"], ["trixie"], known_suites=SUITES)
    assert [str(c) for c in picked.cells()] == ["qmail-1.03/trixie", "notqmail-1.09/trixie"]


@pytest.mark.parametrize("text,message,hint", [
    ("netqmail-1.06", "is not a matrix cell", "BASE/SUITE"),
    ("netqmail-1.06/", "is not a matrix cell", "BASE/SUITE"),
    ("/bookworm", "is not a matrix cell", "BASE/SUITE"),
    ("a/b/c", "is not a matrix cell", "BASE/SUITE"),
    ("jms1-7.08/bookworm", "not a base the matrix tests", "testable bases: "),
    ("netqmail-1.06/sid", "unknown suite 'sid'", "suites: bookworm, trixie"),
])
def test_parse_cell_refuses_with_a_hint(text: str, message: str, hint: str) -> None:
    with pytest.raises(ConfigError, match=message) as e:
        matrix.parse_cell(text, known_suites=SUITES)
    assert hint in e.value.hint and e.value.exit_code == 3


def test_parse_cell() -> None:
    cell = matrix.parse_cell(" netqmail-1.06/trixie ", known_suites=SUITES)
    assert cell == matrix.CellId(base="netqmail-1.06", suite="trixie")
    assert str(cell) == "netqmail-1.06/trixie" and cell.slug == "netqmail-1.06_trixie"


def cell(base: str, suite: str, result: str = "ok") -> matrix.Cell:
    return matrix.Cell(base=base, suite=suite, result=result, seconds=61.5,
                       digest="" if result != "ok" else "0123456789ab", detail="8 passed")


def write(results: Path, c: matrix.Cell, sub: str = "") -> None:
    d = results / sub / matrix.CellId(base=c.base, suite=c.suite).slug
    d.mkdir(parents=True)
    (d / matrix.RECORD).write_text(json.dumps(matrix.record(c)))


def test_records_round_trip_at_any_depth_and_merge_in_matrix_order(tmp_path: Path) -> None:
    a, b = cell("qmail-1.03", "bookworm"), cell("netqmail-1.06", "trixie", "tests failed")
    write(tmp_path, a, "cell-qmail-1.03_bookworm")  # GitHub nests each artifact in a directory
    write(tmp_path, b)
    found = matrix.read_results(tmp_path)
    assert sorted(found, key=str) == sorted([a, b], key=str)
    expected = [matrix.CellId(base="qmail-1.03", suite="bookworm"),
                matrix.CellId(base="notqmail-1.09", suite="bookworm"),
                matrix.CellId(base="netqmail-1.06", suite="trixie")]
    merged = matrix.merge(found, expected)
    assert [(c.base, c.suite, c.result) for c in merged] == [
        ("qmail-1.03", "bookworm", "ok"), ("notqmail-1.09", "bookworm", matrix.NO_RESULT),
        ("netqmail-1.06", "trixie", "tests failed")]
    assert "notqmail-1.09 / bookworm: its job left no cell.json" in matrix.table(merged)
    with pytest.raises(TestsFailed, match=r"notqmail-1\.09/bookworm, netqmail-1\.06/trixie"):
        matrix.check(merged)


@pytest.mark.parametrize("text", ["{", '{"format": "other", "cell": {}}', "[]",
                                  '{"format": "patchkit-matrix-cell/1", "cell": {"base": "x"}}'])
def test_a_bad_record_is_a_config_error(tmp_path: Path, text: str) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / matrix.RECORD).write_text(text)
    with pytest.raises(ConfigError, match=str(tmp_path / "x" / matrix.RECORD)):
        matrix.read_results(tmp_path)


def test_two_records_of_one_cell_are_refused(tmp_path: Path) -> None:
    write(tmp_path, cell("qmail-1.03", "bookworm"), "one")
    write(tmp_path, cell("qmail-1.03", "bookworm", "tests failed"), "two")
    with pytest.raises(ConfigError, match=r"two results for qmail-1\.03/bookworm"):
        matrix.read_results(tmp_path)


def report(*args: str) -> Any:
    from click.testing import CliRunner

    from patchkit.cli import cli
    return CliRunner().invoke(cli, ["matrix", "report", *args])


def test_matrix_report_prints_the_local_table_and_exit_status(tmp_path: Path) -> None:
    cells = [cell("qmail-1.03", "bookworm"), cell("netqmail-1.06", "bookworm")]
    for c in cells:
        write(tmp_path, c)
    r = report(str(tmp_path), "--expect", "qmail-1.03/bookworm", "--expect",
               "netqmail-1.06/bookworm")
    assert r.exit_code == 0, r.output
    assert r.stdout == matrix.table(cells) + "\n"
    r = report(str(tmp_path), "--json")
    assert r.exit_code == 0
    assert sorted(json.loads(r.stdout), key=str) == sorted(matrix.as_json(cells), key=str)

    r = report(str(tmp_path), "--expect", "qmail-1.03/trixie")
    assert r.exit_code == TestsFailed.exit_code
    assert "1 matrix cell(s) failed: qmail-1.03/trixie" in r.stderr
    assert r.stdout.splitlines()[1:4] == [
        "qmail-1.03 / trixie       no result  0.0s   -",
        "qmail-1.03 / bookworm     ok         61.5s  0123456789ab",
        "netqmail-1.06 / bookworm  ok         61.5s  0123456789ab"]


def test_matrix_report_on_nothing_fails(tmp_path: Path) -> None:
    r = report(str(tmp_path))
    assert r.exit_code == ConfigError.exit_code and "no cell results" in r.stderr
    r = report(str(tmp_path / "absent"))
    assert r.exit_code == ConfigError.exit_code and "is not a directory" in r.stderr
    r = report(str(tmp_path), "--expect", "nope")
    assert r.exit_code == ConfigError.exit_code and "BASE/SUITE" in r.stderr


def test_build_only_needs_matrix_and_valid_cells(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from patchkit.cli import cli
    wd = ["--workdir", str(tmp_path / "wd")]
    r = CliRunner().invoke(cli, ["build", "--only", "qmail-1.03/bookworm", *wd])
    assert r.exit_code == 2 and "go with --matrix" in r.stderr
    r = CliRunner().invoke(cli, ["build", "--matrix", "--base", "qmail-1.03", *wd])
    assert r.exit_code == 2 and "--only BASE/SUITE" in r.stderr
    r = CliRunner().invoke(cli, ["build", "--matrix", "--only", "qmail-1.03/sid", *wd])
    assert r.exit_code == ConfigError.exit_code and "unknown suite 'sid'" in r.stderr
    assert not (tmp_path / "wd").exists()  # refused before any work


def test_only_cells_keep_their_order_once_each() -> None:
    from patchkit.cli.build import only_cells
    assert [str(c) for c in only_cells(("netqmail-1.06/trixie", "qmail-1.03/bookworm",
                                        "netqmail-1.06/trixie"))] == [
        "netqmail-1.06/trixie", "qmail-1.03/bookworm"]


def test_api_matrix_leaves_each_cells_record_and_files(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """What a CI cell's job keeps (api.matrix with results), with the docker backend faked: a
    built and tested cell leaves cell.json, build.json, junit.xml; a failed build its logs."""
    from patchkit import api
    from patchkit.docker import backend

    wd = tmp_path / "wd"

    def build(opts: Options, cache: object, workdir: Path, outdir: object, *, suite: str,
              say: object) -> dict[str, Any]:
        out = backend.state_dir(workdir, suite) / opts.variant / "out"
        (out / "logs").mkdir(parents=True)
        (out / "logs" / "qmail.log").write_text("cc: error\n")
        if opts.base == "netqmail-1.06":
            raise BuildFailed("step 'qmail: make' failed")
        (out / "build.json").write_text('{"outputs": {}}')
        return {"outputs": {"bin/qmail-smtpd": opts.base}, "output_dir": str(out)}

    def test(base: str, cache: object, workdir: Path, junit: Path, *, suite: str,
             say: object) -> dict[str, Any]:
        junit.write_text("<testsuite tests='1'/>")
        return {"base": base, "passed": 1, "failures": 0, "errors": 0, "skipped": 0,
                "seconds": 1.0, "failed": [], "skip_reasons": []}

    monkeypatch.setattr(backend, "build", build)
    monkeypatch.setattr(backend, "test", test)
    results = tmp_path / "results"
    stale = results / "qmail-1.03_bookworm" / "old.txt"
    stale.parent.mkdir(parents=True)
    stale.write_text("from an earlier run")
    cells = [api.parse_cell("qmail-1.03/bookworm"), api.parse_cell("netqmail-1.06/bookworm")]
    done = api.matrix(Options(base="-"), api.Cache(tmp_path / "dd"), wd, say=lambda _: None,
                      cells=cells, results=results)
    assert [c.result for c in done] == ["ok", "failed (exit 8)"]
    ok, failed = results / "qmail-1.03_bookworm", results / "netqmail-1.06_bookworm"
    assert sorted(p.name for p in ok.iterdir()) == ["build.json", "cell.json", "junit.xml"]
    assert sorted(p.name for p in failed.iterdir()) == ["cell.json", "logs"]
    assert (failed / "logs" / "qmail.log").read_text() == "cc: error\n"
    assert api.matrix_report(results, cells) == done  # the records say what the run said
