#!/usr/bin/env python3
"""Benchmark: cold build of one base (libdomainkeys, libdkim, qmail) and a repeat build with
nothing changed. Prints wall times, the machine's core count and how many times a compiler ran
(counted by shims for gcc, g++ and cc put first on PATH for both runs).

    .venv/bin/python benchmarks/build_bench.py [--base netqmail-1.06] [--dkim]

Targets (issue 3): cold under 3 minutes on 2 cores; repeat under 5 s with zero compiler runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHIM = """#!/bin/sh
echo "$0 $*" >> "{log}"
exec "{real}" "$@"
"""


def make_shims(d: Path, log: Path) -> None:
    for name in ("gcc", "g++", "cc", "c++"):
        real = shutil.which(name)
        if real is None:
            continue
        p = d / name
        p.write_text(SHIM.format(log=log, real=real))
        p.chmod(0o755)


def run(argv: list[str], env: dict[str, str]) -> tuple[float, dict[str, object]]:
    t0 = time.monotonic()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    dt = time.monotonic() - t0
    if proc.returncode != 0:
        sys.exit(f"build failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return dt, json.loads(proc.stdout)


QUERIES = ("--version", "-dumpversion", "-dumpfullversion", "-dM")


def count(log: Path) -> tuple[int, int]:
    """(compilations and links, toolchain queries such as --version or -E -dM)."""
    lines = log.read_text().splitlines() if log.exists() else []
    queries = sum(1 for ln in lines if any(q in ln.split() for q in QUERIES))
    return len(lines) - queries, queries


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--base", default="netqmail-1.06")
    ap.add_argument("--dkim", action="store_true")
    args = ap.parse_args()
    exe = str(Path(sys.executable).with_name("patchkit"))
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        shims = t / "shims"
        shims.mkdir()
        log = t / "cc.log"
        make_shims(shims, log)
        env = {**os.environ, "PATH": f"{shims}:{os.environ['PATH']}"}
        argv = [exe, "-q", "build", "--base", args.base, "--workdir", str(t / "w"), "--json"]
        if args.dkim:
            argv.append("--dkim")
        cold, _ = run(argv, env)
        cold_cc, cold_q = count(log)
        warm, report2 = run(argv, env)
        total_cc, total_q = count(log)
        warm_cc, warm_q = total_cc - cold_cc, total_q - cold_q
    ran = [s["name"] for s in report2["stage_results"] if not s["skipped"]]  # type: ignore[index]
    print(f"machine: {os.cpu_count()} cores")
    print(f"base: {args.base}{' +dkim' if args.dkim else ''}")
    print(f"cold build: {cold:.1f} s, {cold_cc} compilations/links, {cold_q} toolchain queries "
          "(target < 180 s)")
    print(f"repeat build: {warm:.2f} s, {warm_cc} compilations/links, {warm_q} toolchain queries "
          f"(gcc --version etc.), stages run: {ran or 'none'} (target < 5 s, 0 compilations)")
    print(f"repeat/cold: {warm / cold:.3f}")


if __name__ == "__main__":
    main()
