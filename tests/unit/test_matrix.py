"""The build matrix with a fake cell runner: order, digests, failures keep going, the table."""

from __future__ import annotations

from typing import Any

import pytest

from patchkit.build.plan import Options
from patchkit.errors import BuildFailed, TestsFailed
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
    cells = matrix.run_matrix(Options(base="-", dkim=True), ["a", "b"], ["bookworm", "trixie"],
                              run, say=lambda _: None)
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
    (cell,) = matrix.run_matrix(Options(base="-"), ["a"], ["bookworm"], run, say=lambda _: None)
    assert cell.result == "tests failed" and "t::x" in cell.detail
    with pytest.raises(TestsFailed, match="a/bookworm"):
        matrix.check([cell])


def test_testable_bases_come_from_the_series() -> None:
    bases = matrix.testable_bases()
    assert "netqmail-1.06" in bases and "jms1-7.08" not in bases
