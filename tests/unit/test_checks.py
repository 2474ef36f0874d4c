"""patchkit.build.selftest against fake library trees: a `test` script printing libdomainkeys-style
sections, and a fake libdkimtest."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from patchkit.build import selftest as checks

pytestmark = pytest.mark.spawns  # the self-tests run programs

ALLOWED = sorted(checks.NEEDS_DNS_OR_OLD_GETOPT)


def case_names(n: int) -> list[str]:
    """n case names, like upstream's: TC1, TC2, ..., with the allowed ones among them."""
    names = [f"TC{i}" for i in range(1, n + 1)]
    return names


def fake_dk_tree(tmp: Path, cases: list[str], fail: dict[str, str] | None = None,
                 stderr_cases: tuple[str, ...] = ()) -> Path:
    """A tree whose `test` prints ------NAME per case, followed by diff text when it fails."""
    fail = fail or {}
    tmp.mkdir(parents=True, exist_ok=True)
    lines = ["#!/bin/sh"]
    for c in cases:
        target = " >&2" if c in stderr_cases else ""
        lines.append(f"echo '------{c}'{target}")
        if c in fail:
            for out in fail[c].splitlines():
                lines.append(f"echo '{out}'{target}")
    (tmp / "test").write_text("\n".join(lines) + "\n")
    return tmp


def test_all_cases_pass(tmp_path: Path) -> None:
    tree = fake_dk_tree(tmp_path, case_names(119))
    assert checks.check_libdomainkeys(tree) == []


def test_allowed_failures_are_ignored(tmp_path: Path) -> None:
    cases = case_names(100) + [c for c in ALLOWED if c not in case_names(100)]
    fail = {c: "2c2\n< expected\n---\n> got" for c in ALLOWED}
    tree = fake_dk_tree(tmp_path, cases, fail)
    assert checks.check_libdomainkeys(tree) == []


def test_unexpected_failure_is_a_problem(tmp_path: Path) -> None:
    fail = {"TC2": "1c1\n< dk.c: OK\n---\n> dk.c: BADSIG", "TC7": "getopt says something else"}
    tree = fake_dk_tree(tmp_path, case_names(119), fail)
    problems = checks.check_libdomainkeys(tree)
    assert len(problems) == 1
    assert problems[0].startswith("upstream test case TC2 failed:")
    assert "> dk.c: BADSIG" in problems[0]


def test_several_unexpected_failures_sorted(tmp_path: Path) -> None:
    tree = fake_dk_tree(tmp_path, case_names(119), {"TC9": "x", "TC10": "y", "TC100": "z"})
    problems = checks.check_libdomainkeys(tree)
    assert [p.split()[3] for p in problems] == ["TC10", "TC100", "TC9"]


def test_failure_on_stderr_counts(tmp_path: Path) -> None:
    tree = fake_dk_tree(tmp_path, case_names(119), {"TC3": "segfault"}, stderr_cases=("TC3",))
    problems = checks.check_libdomainkeys(tree)
    assert len(problems) == 1 and "TC3" in problems[0]


def test_long_failure_detail_is_cut(tmp_path: Path) -> None:
    tree = fake_dk_tree(tmp_path, case_names(119), {"TC5": "\n".join(["x" * 50] * 20)})
    (problem,) = checks.check_libdomainkeys(tree)
    assert len(problem) < 400


@pytest.mark.parametrize("n", [0, 1, 50, 99])
def test_too_few_cases_is_a_problem(tmp_path: Path, n: int) -> None:
    tree = fake_dk_tree(tmp_path, case_names(n))
    assert checks.check_libdomainkeys(tree) == [f"upstream test script ran only {n} cases"]


def test_exactly_100_cases_is_enough(tmp_path: Path) -> None:
    assert checks.check_libdomainkeys(fake_dk_tree(tmp_path, case_names(100))) == []


def test_missing_test_script(tmp_path: Path) -> None:
    problems = checks.check_libdomainkeys(tmp_path)
    assert problems == ["upstream test script ran only 0 cases"]


# --------------------------------------------------------------------------- libdkim

FAKE_LIBDKIMTEST = r"""#!/bin/sh
# sign:   libdkimtest -dDOMAIN -ySELECTOR IN KEY OUT
# verify: libdkimtest -v -rRECORD FILE
if [ "$1" = "-v" ]; then
  if grep -q "signed BY" "$3" && [ "$MODE" != accept-all ]; then
    echo "verify result: -15"; exit 1
  fi
  if [ "$MODE" = reject-all ]; then echo "verify result: -3"; exit 1; fi
  echo "Success (0)"; exit 0
fi
[ "$MODE" = cannot-sign ] && { echo "no key" >&2; exit 2; }
{ echo "DKIM-Signature: fake"; cat "$3"; } > "$5"
"""


def fake_dkim_tree(tmp: Path) -> Path:
    (tmp / "src").mkdir(parents=True)
    tool = tmp / "src" / "libdkimtest"
    tool.write_text(FAKE_LIBDKIMTEST)
    tool.chmod(0o755)
    return tmp


@pytest.mark.parametrize(("mode", "needle"), [
    ("", None),
    ("accept-all", "accepted a tampered body"),
    ("reject-all", "did not verify its own signature"),
    ("cannot-sign", "could not sign (exit 2): no key"),
])
def test_check_libdkim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str,
                       needle: str | None) -> None:
    monkeypatch.setenv("MODE", mode)
    problems = checks.check_libdkim(fake_dkim_tree(tmp_path))
    if needle is None:
        assert problems == []
    else:
        assert len(problems) == 1 and needle in problems[0]


# --------------------------------------------------------------------------- main


@pytest.mark.parametrize("argv", [[], ["libdomainkeys"], ["bogus", "."],
                                  ["libdkim", ".", "extra"]])
def test_main_usage(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert checks.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: python -m patchkit.build.selftest {libdkim|libdomainkeys} TREE")


def test_main_ok_and_failure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = fake_dk_tree(tmp_path / "good", case_names(119))
    assert checks.main(["libdomainkeys", str(good)]) == 0
    assert capsys.readouterr().out == "check libdomainkeys: ok\n"
    bad = fake_dk_tree(tmp_path / "bad", case_names(119), {"TC1": "oops"})
    assert checks.main(["libdomainkeys", str(bad)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("check libdomainkeys: upstream test case TC1 failed:")


def test_module_entry_point(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "patchkit.build.selftest"], capture_output=True,
                          text=True, check=False, timeout=60)
    assert proc.returncode == 2 and "usage:" in proc.stderr
    tree = fake_dk_tree(tmp_path, case_names(119))
    proc = subprocess.run([sys.executable, "-m", "patchkit.build.selftest", "libdomainkeys", "."],
                          cwd=tree, capture_output=True, text=True, check=False, timeout=60)
    assert proc.returncode == 0 and proc.stdout == "check libdomainkeys: ok\n"


def test_stderr_output_is_blamed_on_its_own_case(tmp_path: Path) -> None:
    tree = fake_dk_tree(tmp_path, case_names(119))
    script = (tree / "test").read_text().replace(
        "echo '------TC3'\n", "echo '------TC3'\necho 'Segmentation fault' >&2\n")
    (tree / "test").write_text(script)
    problems = checks.check_libdomainkeys(tree)
    assert len(problems) == 1 and problems[0].startswith("upstream test case TC3 failed")
