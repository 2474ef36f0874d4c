#!/usr/bin/env python3
"""Benchmark of the docker backend: image bootstrap, cold build of one base in the build image,
a rebuild with nothing changed, and the same base built locally in the same run for the ratio.

    .venv/bin/python benchmarks/docker_build.py [--base netqmail-1.06] [--suite bookworm]
        [--skip-bootstrap] [--cold-image]

--cold-image removes the build image first, so its build (apt, pip) is timed too. Bootstrapping
needs root and re-imports patchkit-base:SUITE (the build image is keyed by its Dockerfile, so it
is not rebuilt for that). Targets (issue 5): rebuild with no compilation, under 10 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PATCHKIT = str(Path(sys.executable).with_name("patchkit"))


def timed(*args: str) -> tuple[float, dict[str, Any]]:
    t0 = time.monotonic()
    proc = subprocess.run([PATCHKIT, "-q", *args], capture_output=True, text=True, check=False)
    dt = time.monotonic() - t0
    if proc.returncode != 0:
        sys.exit(f"patchkit {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return dt, json.loads(proc.stdout) if proc.stdout.strip().startswith(("{", "[")) else {}


def ran(report: dict[str, Any]) -> int:
    return sum(1 for r in report.get("stage_results", []) if not r["skipped"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--base", default="netqmail-1.06")
    ap.add_argument("--suite", default="bookworm", choices=["bookworm", "trixie"])
    ap.add_argument("--skip-bootstrap", action="store_true")
    ap.add_argument("--cold-image", action="store_true")
    a = ap.parse_args()

    from patchkit.docker import backend as dockerbuild
    from patchkit.docker import engine as container
    from patchkit.ui import say_stderr

    client = container.connect()
    print(f"engine {container.engine_version(client)}, {os.cpu_count()} cores, "
          f"base {a.base}, suite {a.suite}")
    if not a.skip_bootstrap:
        dt, _ = timed("image", "bootstrap", "--suite", a.suite, "--force", "--json")
        print(f"image bootstrap (debootstrap + import): {dt:7.1f} s")
    if a.cold_image:
        from patchkit.docker import dockerfile

        text = dockerfile.render(a.suite, reqs=dockerfile.installed_requirements(),
                                 pip_cert=dockerbuild.pip_cert_file() is not None)
        ref = dockerfile.image_tag(a.suite, text)
        if container.image_exists(client, ref):
            container.remove_image(client, ref)
        t0 = time.monotonic()
        dockerbuild.ensure_build_image(client, a.suite, say_stderr(True))
        print(f"build image (apt + pip):              {time.monotonic() - t0:7.1f} s")
    with tempfile.TemporaryDirectory(prefix="patchkit-bench-") as tmp:
        wd = Path(tmp)
        common = ("--base", a.base, "--workdir", str(wd), "--json")
        cold, r1 = timed("build", "--backend", "docker", "--suite", a.suite, *common)
        print(f"cold docker build:                    {cold:7.1f} s  ({ran(r1)} stages run)")
        warm, r2 = timed("build", "--backend", "docker", "--suite", a.suite, *common)
        print(f"rebuild, nothing changed:             {warm:7.1f} s  ({ran(r2)} stages run; "
              f"target 0 stages, < 10 s)")
        local, r3 = timed("build", "--backend", "local", *common)
        print(f"cold local build (this host):         {local:7.1f} s  ({ran(r3)} stages run)")
        print(f"docker / local, cold:                 {cold / local:7.2f}")
        same = r1["outputs"].keys() == r3["outputs"].keys()
        print(f"same output files docker vs local:    {same} ({len(r1['outputs'])} files; "
              f"toolchains {r1['toolchain']['compiler']} / {r3['toolchain']['compiler']})")


if __name__ == "__main__":
    main()
