"""Running the integration suite for one base and reading its result: the pytest command line and
the JUnit XML summary are pure; run_local() runs pytest on this machine (the docker backend runs
the same command line in the build image, see patchkit.docker.backend)."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from patchkit.errors import ConfigError, TestsFailed
from patchkit.patching.series import load_series
from patchkit.resources import PACKAGE
from patchkit.sources.cache import Cache
from patchkit.sources.manifest import load_manifest
from patchkit.ui import Log

# The suite's tests that need the upstream files; the docker-marked ones drive an engine, and
# there is none inside the build image.
MARKER = "upstream and not docker"


def pytest_argv(python: str, base: str, junit: str) -> list[str]:
    """The suite selects a base with -k (its tests are parametrized by base name)."""
    return [python, "-m", "pytest", "tests/integration", "-m", MARKER, "-k", base,
            f"--junitxml={junit}", "-p", "no:cacheprovider", "-q", "-ra"]


def checkout() -> Path:
    """The checkout patchkit runs from: the suite lives in its tests/ directory."""
    root = PACKAGE.parent
    if not (root / "tests" / "integration").is_dir():
        raise ConfigError(f"no test suite next to {PACKAGE} (tests/integration is missing)",
                          "run patchkit test from a checkout (pip install -e .)")
    return root


def require_base_inputs(base: str, cache: Cache) -> None:
    """Fail before any work if one of the base's inputs is not in the cache (names the fix)."""
    series, manifest = load_series(), load_manifest()
    b = series.base(base)
    for name in (b.tree, *b.upstream, *(c.artifact for c in series.components)):
        cache.require(manifest.get(name))


def junit_summary(xml_text: str, base: str) -> dict[str, Any]:
    """Counts, time and the names of failed tests from pytest's JUnit XML."""
    root = ET.fromstring(xml_text)
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    seconds = 0.0
    failed: list[str] = []
    skips: list[str] = []
    for s in suites:
        for k in counts:
            counts[k] += int(s.get(k, "0"))
        seconds += float(s.get("time", "0") or 0)
        for case in s.iter("testcase"):
            name = f"{case.get('classname', '')}::{case.get('name', '')}"
            if case.find("failure") is not None or case.find("error") is not None:
                failed.append(name)
            sk = case.find("skipped")
            if sk is not None:
                skips.append(sk.get("message", ""))
    passed = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    return {"base": base, "passed": passed, **counts, "seconds": round(seconds, 2),
            "failed": failed, "skip_reasons": sorted(set(skips))}


def summary_line(s: dict[str, Any]) -> str:
    return (f"{s['base']}: {s['passed']} passed, {s['failures']} failed, {s['errors']} errors, "
            f"{s['skipped']} skipped in {s['seconds']:.1f}s"
            + (f" [{s['backend']}]" if s.get("backend") else "")
            + (f"; JUnit XML: {s['junit']}" if s.get("junit") else ""))


def raise_on_failure(s: dict[str, Any]) -> None:
    if s["failures"] or s["errors"]:
        shown = ", ".join(s["failed"][:5]) + (" ..." if len(s["failed"]) > 5 else "")
        raise TestsFailed(f"{s['failures'] + s['errors']} test(s) failed for {s['base']}: {shown}",
                          f"details in {s.get('junit') or 'the JUnit XML'}")
    if s["passed"] == 0:
        why = "; ".join(s["skip_reasons"][:2]) or "no test matched"
        raise TestsFailed(f"no test ran for {s['base']}: {why}",
                          "patchkit sources verify; patchkit doctor")


def read_result(junit: Path, base: str, exit_code: int, tail: str) -> dict[str, Any]:
    """The summary from junit, or TestsFailed with the end of pytest's output if it wrote none."""
    if not junit.is_file():
        raise TestsFailed(f"pytest exited {exit_code} for {base} without writing {junit}",
                          f"last lines of its output:\n{tail}")
    s = junit_summary(junit.read_text(), base)
    s["junit"] = str(junit)
    s["exit_code"] = exit_code
    return s


def run_local(base: str, cache: Cache, workdir: Path, junit: Path, *, say: Log) -> dict[str, Any]:
    """pytest on this machine, output to the terminal's stderr, JUnit XML to junit."""
    require_base_inputs(base, cache)
    root = checkout()
    junit = junit.resolve()
    junit.parent.mkdir(parents=True, exist_ok=True)
    junit.unlink(missing_ok=True)
    argv = pytest_argv(sys.executable, base, str(junit))
    # the suite's builds go under workdir, not the checkout's shared .pytest-build
    env = {**os.environ, "PATCHKIT_DISTDIR": str(cache.root.resolve()),
           "PATCHKIT_TEST_WORKDIR": str((workdir / "tests-local").resolve())}
    say(f"running the suite for {base} here: {' '.join(argv[1:])}")
    proc = subprocess.run(argv, cwd=root, env=env, stdout=sys.stderr, stderr=subprocess.STDOUT,
                          stdin=subprocess.DEVNULL, check=False)
    s = read_result(junit, base, proc.returncode, "(see above)")
    s["backend"] = "local"
    return s
