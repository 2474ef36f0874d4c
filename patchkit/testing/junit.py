"""Reading the suite's result: pytest's JUnit XML as a summary (counts, time, failed tests,
skip reasons), its one-line form, and the rule that a run which ran nothing is no pass. Pure."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from patchkit.errors import TestsFailed


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
