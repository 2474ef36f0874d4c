"""Integration harness: real builds of real bases from the seeded cache, a qmail home per build
with per-test control files, a stand-in qmail-queue, and an SMTP sink.

Tests marked `upstream` need the upstream files in patchkit's cache. Where they are missing, the
test skips with one line naming what is missing and the command that seeds it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from smtpsink import Sink

from patchkit.build.plan import base_inputs
from patchkit.patching.series import load_series
from patchkit.sources.cache import Cache, default_distdir
from patchkit.sources.manifest import load_manifest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
STANDIN = HERE / "qmail_queue_standin.py"
TESTABLE = tuple(b.name for b in load_series().bases if b.testable)


def workdir() -> Path:
    return Path(os.environ.get("PATCHKIT_TEST_WORKDIR", REPO / ".pytest-build")).resolve()


def missing_inputs(base: str) -> list[str]:
    cache = Cache(default_distdir())
    return [a.name for a in base_inputs(load_series(), load_manifest(), base)
            if not cache.verify(a).usable]


def require_upstream(base: str) -> None:
    missing = missing_inputs(base)
    if missing:
        pytest.skip(f"upstream files not in patchkit's cache: {', '.join(missing)} "
                    "(seed it: patchkit sources fetch; offline: README.md, 'Offline machines')")


@dataclass(frozen=True)
class Built:
    base: str
    out: Path  # output dir with bin/, man/, build.json
    home: Path  # the qmail home compiled in (conf-qmail)
    report: dict[str, object]

    def bin(self, name: str) -> Path:
        return self.out / "bin" / name

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for running the binaries: qmail's users come from the build's nss_wrapper
        files (notqmail looks them up at run time; a real host has them in /etc/passwd)."""
        nss = self.out.parent / "nss"
        return {"PATH": "/usr/bin:/bin", "LD_PRELOAD": "libnss_wrapper.so",
                "NSS_WRAPPER_PASSWD": str(nss / "passwd"), "NSS_WRAPPER_GROUP": str(nss / "group"),
                "ASAN_OPTIONS": "verify_asan_link_order=0:detect_leaks=0", **extra}


def patchkit(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("patchkit")
    proc = subprocess.run([str(exe), "-q", *args], capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"patchkit {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


_built: dict[tuple[str, bool, bool], Built] = {}


def build_base(base: str, *, dkim: bool = False, sanitize: bool = False) -> Built:
    """Build (or reuse: patchkit's own stage keys make a repeat build a no-op) one variant."""
    key = (base, dkim, sanitize)
    if key in _built:
        return _built[key]
    require_upstream(base)
    wd = workdir()
    variant = base + ("+dkim" if dkim else "") + ("+san" if sanitize else "")
    home = wd / "homes" / variant
    args = ["build", "--base", base, "--workdir", str(wd), "--qmail-home", str(home), "--json",
            "--dkim" if dkim else "--no-dkim"]
    if sanitize:
        args.append("--sanitize")
    report = json.loads(patchkit(*args).stdout)
    b = Built(base=base, out=Path(report["output_dir"]), home=home, report=report)
    _built[key] = b
    return b


@dataclass
class QmailHome:
    """A qmail home whose control files a test sets; bin/qmail-queue is the stand-in."""

    root: Path
    queue: Path  # where the stand-in stores N.msg / N.env

    def control(self, name: str, text: str) -> None:
        (self.root / "control" / name).write_text(text)

    def queued(self) -> list[tuple[bytes, bytes]]:
        n = len(list(self.queue.glob("*.msg")))
        return [((self.queue / f"{i}.msg").read_bytes(), (self.queue / f"{i}.env").read_bytes())
                for i in range(1, n + 1)]


def make_home(built: Built, tmp_path: Path) -> QmailHome:
    root = built.home
    if root.exists():
        shutil.rmtree(root)
    (root / "control").mkdir(parents=True)
    (root / "bin").mkdir()
    os.symlink(STANDIN, root / "bin" / "qmail-queue")
    queue = tmp_path / "queue"
    queue.mkdir(parents=True)
    home = QmailHome(root=root, queue=queue)
    home.control("me", "mx.patchkit.test\n")
    return home


# ------------------------------------------------------------------------------ qmail-remote

def remote(built: Built, msg: bytes, sender: str = "alice@example.org",
           rcpt: str = "bob@example.test", tmp: Path | None = None) -> bytes:
    """Run qmail-remote with the message on a seekable file, as qmail-rspawn gives it."""
    assert tmp is not None
    f = tmp / "message"
    f.write_bytes(msg)
    with f.open("rb") as stdin:
        proc = subprocess.run([str(built.bin("qmail-remote")), "example.test", sender, rcpt],
                              stdin=stdin, capture_output=True, timeout=60, check=False,
                              env=built.env())
    assert proc.returncode == 0, proc.stderr
    assert b"runtime error" not in proc.stderr and b"Sanitizer" not in proc.stderr, proc.stderr
    return proc.stdout


def send_signed(built: Built, home: QmailHome, msg: bytes, tmp: Path) -> tuple[bytes, bytes]:
    """(qmail-remote's report, what the SMTP server received with LF line ends)."""
    with Sink() as sink:
        home.control("smtproutes", f"example.test:127.0.0.1:{sink.port}\n")
        report = remote(built, msg, tmp=tmp)
    got = sink.messages[0].content.replace(b"\r\n", b"\n") if sink.messages else b""
    return report, got


def tags(msg: bytes, header: str) -> dict[str, str]:
    m = re.search(rb"^" + header.encode() + rb":(.*?)\n(?![ \t])", msg, re.M | re.S | re.I)
    assert m, f"no {header} in {msg[:500]!r}"
    value = re.sub(rb"\s+", b"", m.group(1)).decode()
    return dict(t.split("=", 1) for t in value.split(";") if "=" in t)
