#!/usr/bin/env python3
"""Benchmark of packaging: for each base and suite, time to a lint-clean Debian package (assemble,
two builds compared, lintian) and time to installed-and-verified (plus a fresh container: apt
install, hierarchy check, autopkgtest, purge, reinstall); and patchkit install --destdir.

    .venv/bin/python benchmarks/package_bench.py [--base netqmail-1.06 ...] [--suite bookworm ...]

One line per measurement, e.g.
    deb netqmail-1.06 bookworm: lint-clean 212.4 s, installed-and-verified 390.1 s
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PATCHKIT = str(Path(sys.executable).with_name("patchkit"))


def run(*args: str) -> dict[str, object]:
    proc = subprocess.run([PATCHKIT, "-q", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"patchkit {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    out: dict[str, object] = json.loads(proc.stdout)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", action="append", default=[])
    ap.add_argument("--suite", action="append", default=[])
    ap.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "patchkit-bench"))
    a = ap.parse_args()
    for base in a.base or ["netqmail-1.06", "notqmail-1.09"]:
        t0 = time.monotonic()
        run("install", "--base", base, "--workdir", a.workdir, "--destdir",
            f"{a.workdir}/stage-{base}", "--json")
        print(f"install --destdir {base}: {time.monotonic() - t0:.1f} s (build included)")
        for suite in a.suite or ["bookworm"]:
            r = run("package", "deb", "--base", base, "--suite", suite, "-o",
                    f"{a.workdir}/deb-{base}-{suite}", "--json")
            print(f"deb {base} {suite}: lint-clean {r['seconds_to_lint_clean']} s, "
                  f"installed-and-verified {r['seconds_to_installed_and_verified']} s")


if __name__ == "__main__":
    main()
