"""Build checks that run each library's own test program against the library just built.

Run as a build step: ``python -m patchkit.build.selftest libdkim|libdomainkeys TREE``. Exit 0
when the library works, 1 with a report when it does not.

- libdkim: libdkimtest signs a fixed message with a test key shipped in patchkit/data/checks,
  verifies it against the key record given as a file (no DNS), and must reject a tampered copy.
- libdomainkeys: upstream's own ``test`` script (119 cases). The cases that look keys up in
  upstream's DNS zone (crynwr.com) cannot pass offline (TC31 expects "no key" where a host with
  no resolver at all gets "temporary failure"); they are listed below and allowed to fail, as is
  TC7, whose expected text is an older glibc's getopt message. Any other failure fails.
"""

from __future__ import annotations

import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from patchkit.resources import PACKAGE
from patchkit.runner import run_merged

DATA = PACKAGE / "data" / "checks"

NEEDS_DNS_OR_OLD_GETOPT = frozenset((
    "TC7", "TC13", "TC13-simple", "TC13-nofws", "TC13-nofws1", "TC13-empty", "TC13-nobody",
    "TC13-nofws-continuation", "TC14-1", "TC14-2", "TC14-3", "TC14-4", "TC27", "TC31", "TC32",
    "TC34", "TC35", "TC36", "TC36-1", "TC36-2", "TC36-3", "TC36-4", "TC36-5", "TC36-6", "TC36-7",
    "TC36-8", "TC36-9", "TC37", "TC43", "TC44", "TC45", "TC46", "TC47", "TC48", "TC49", "TC50",
    "TC51", "TC53",
))

MESSAGE = (
    b"From: Check <check@example.org>\r\nTo: someone@example.net\r\nSubject: build check\r\n"
    b"Date: Mon, 25 Nov 2024 12:00:00 +0000\r\nMessage-ID: <check@example.org>\r\n\r\n"
    b"This message is signed by the library under test.\r\n\r\n"
)


@dataclass(frozen=True, slots=True)
class Ran:
    returncode: int
    stdout: str  # stderr merged in, in order


def _run(argv: list[str], cwd: Path) -> Ran:
    """Run with stderr merged into stdout in order, so a message lands in its own test case."""
    return Ran(*run_merged(argv, cwd, timeout=300))


def check_libdkim(tree: Path) -> list[str]:
    tool = tree / "src" / "libdkimtest"
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        (t / "msg").write_bytes(MESSAGE)
        record = "v=DKIM1; k=rsa; p=" + (DATA / "test-key.pub.b64").read_text().strip()
        (t / "record").write_text(record + "\n")
        sign = _run([str(tool), "-dexample.org", "-ycheck", "msg", str(DATA / "test-key.pem"),
                     "signed"], t)
        if sign.returncode != 0 or not (t / "signed").is_file():
            return [f"libdkimtest could not sign (exit {sign.returncode}): {sign.stdout.strip()}"]
        good = _run([str(tool), "-v", "-rrecord", "signed"], t)
        if good.returncode != 0 or "Success (0)" not in good.stdout:
            problems.append(f"libdkimtest did not verify its own signature: {good.stdout.strip()}")
        tampered = (t / "signed").read_bytes().replace(b"signed by", b"signed BY")
        (t / "tampered").write_bytes(tampered)
        bad = _run([str(tool), "-v", "-rrecord", "tampered"], t)
        if bad.returncode != 1 or "-15" not in bad.stdout:
            problems.append(f"libdkimtest accepted a tampered body: {bad.stdout.strip()}")
    return problems


def check_libdomainkeys(tree: Path) -> list[str]:
    proc = _run(["sh", "test"], tree)
    sections = re.split(r"^------(TC\S+)$", proc.stdout, flags=re.M)
    failed = {sections[i] for i in range(1, len(sections), 2) if sections[i + 1].strip()}
    ran = len(sections) // 2
    if ran < 100:
        return [f"upstream test script ran only {ran} cases"]
    unexpected = sorted(failed - NEEDS_DNS_OR_OLD_GETOPT)
    if unexpected:
        detail = {sections[i]: sections[i + 1].strip()[:300]
                  for i in range(1, len(sections), 2) if sections[i] in unexpected}
        return [f"upstream test case {tc} failed:\n{detail[tc]}" for tc in unexpected]
    return []


CHECKS = {"libdkim": check_libdkim, "libdomainkeys": check_libdomainkeys}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in CHECKS:
        print(f"usage: python -m patchkit.build.selftest {{{'|'.join(CHECKS)}}} TREE",
              file=sys.stderr)
        return 2
    problems = CHECKS[argv[0]](Path(argv[1]).resolve())
    for p in problems:
        print(f"check {argv[0]}: {p}", file=sys.stderr)
    if not problems:
        print(f"check {argv[0]}: ok")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
