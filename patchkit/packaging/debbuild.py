"""The Debian package built and proven in containers from the bootstrapped images: dpkg-buildpackage
twice (different paths and times; the .debs compared) and lintian in a builder image with the
Build-Depends preinstalled and no network; then, in a fresh container of the suite that reaches
Debian's archive, apt install, the hierarchy checked, autopkgtest, purge and reinstall."""

from __future__ import annotations

import hashlib
import os
import re
import time
from pathlib import Path
from typing import Any

from patchkit.docker import backend
from patchkit.docker import engine as container
from patchkit.docker.dockerfile import base_image
from patchkit.errors import BuildFailed, TestsFailed
from patchkit.packaging import deb
from patchkit.packaging.debsource import Assembled
from patchkit.ui import Log

BUILDER_REPOSITORY = "patchkit-deb"


def builder_image(client: Any, suite: str, say: Log) -> str:
    backend.ensure_base(client, suite, say)
    text = deb.builder_dockerfile(base_image(suite))
    tag = f"{BUILDER_REPOSITORY}:{suite}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"
    if not container.image_exists(client, tag):
        say(f"building image {tag} (Build-Depends and lintian; once per suite)")
        proxies = {k: v for k, v in os.environ.items() if k in backend.PROXY_VARS}
        container.build_image(client, text, tag, say=say, buildargs=proxies)
    return tag


def _run(client: Any, image: str, script: str, out: Path, *, network: str, say: Log,
         what: str) -> list[str]:
    lines: list[str] = []

    def on_line(line: str) -> None:
        lines.append(line)
        say(f"[{what}] {line}")

    argv = container.then_chown(("sh", "-c", script), container.host_user(), ("/out",))
    spec = container.RunSpec(image=image, argv=argv, user="0:0", workdir="/out",
                             mounts=(container.Mount(host=out.resolve(), target="/out",
                                                     read_only=False),),
                             network=network)
    result = container.run(client, spec, on_line=on_line)
    if result.exit_code != 0:
        cls = TestsFailed if what.startswith("verify") else BuildFailed
        raise cls(f"{what} failed (exit {result.exit_code}): "
                  + "; ".join(lines[-3:]), f"logs in {out}")
    return lines


def build(a: Assembled, out: Path, suite: str, *, say: Log) -> dict[str, Any]:
    """dpkg-source -b, two builds compared, lintian. Returns what it measured."""
    client = container.connect()
    tag = builder_image(client, suite, say)
    t0 = time.monotonic()
    lines = _run(client, tag, deb.build_script(a.source, a.version, a.dir.name, suite), out,
                 network="none", say=say, what=f"build {suite}")
    lint_clean = time.monotonic() - t0
    debs = sorted(str(p) for p in (out / suite).glob("*.deb"))
    repro = [ln.split()[1:] for ln in lines if ln.startswith("reproducible ")]
    seconds = [int(m.group(1)) for ln in lines if (m := re.match(r"built in (\d+) s", ln))]
    return {"suite": suite, "image": tag, "debs": debs, "lintian": (out / suite /
            "lintian.txt").read_text(errors="replace").strip(),
            "reproducible": {n: h for n, h in repro}, "build_seconds": seconds[0] if seconds
            else None, "seconds_to_lint_clean": round(lint_clean, 1)}


def verify(a: Assembled, out: Path, suite: str, *, say: Log) -> dict[str, Any]:
    """Install into a fresh container of the suite and prove it (see verify_script)."""
    client = container.connect()
    backend.ensure_base(client, suite, say)
    t0 = time.monotonic()
    lines = _run(client, base_image(suite), deb.verify_script(a.source, a.version, suite,
                                                              deb.HOME),
                 out, network="bridge", say=say, what=f"verify {suite}")
    return {"checks": [" ".join(ln[len("CHECK "):].split()) for ln in lines
                       if ln.startswith("CHECK ")],
            "seconds_to_verified": round(time.monotonic() - t0, 1),
            "signed_message": str(out / suite / "autopkgtest" / "artifacts" / "signed.eml")}
