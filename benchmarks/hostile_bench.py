#!/usr/bin/env python3
"""Benchmark: CPU time of qmail-smtpd verifying and qmail-remote signing the adversarial corpus
(tests/integration/hostile.py), against a plain message of the same size, and qmail-smtpd's peak
RSS receiving 1, 10 and 50 MB with DKVERIFY unset and set, in one run.

    .venv/bin/python benchmarks/hostile_bench.py [--base netqmail-1.06] [--bin DIR] [--json]

--bin DIR measures other binaries (e.g. an older build's out/bin) with this run's inputs, which is
how a before/after table is made. Each figure is the median CPU time (user+sys of the child) of
--repeat runs. Needs root (the resolver namespace), the test peers and the upstream cache.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "integration"))

from dnsserver import DNSServer  # noqa: E402
from harness import build_base, make_home  # noqa: E402
from hostile import CORPUS  # noqa: E402
from netns import resolver_argv  # noqa: E402
from peers import dkim_txt, dkimpy_sign, rsa_key  # noqa: E402
from smtpsink import Sink  # noqa: E402


def child_cpu(fn) -> float:  # type: ignore[no-untyped-def]
    """CPU seconds (user+sys) of the child processes one call of fn starts."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    fn()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def cpu_pair(case, plain, repeat: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Median CPU seconds of case and of plain, their runs interleaved so that the noise of a
    shared machine falls on both alike."""
    a: list[float] = []
    b: list[float] = []
    for _ in range(repeat):
        a.append(child_cpu(case))
        b.append(child_cpu(plain))
    return statistics.median(a), statistics.median(b)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--base", default="netqmail-1.06")
    ap.add_argument("--bin", type=Path, help="binaries to measure [default: this build's]")
    ap.add_argument("--home", type=Path,
                    help="the qmail home --bin was built with (conf-qmail) [default: this build's]")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("PATCHKIT_TEST_WORKDIR", str(REPO / ".pytest-build"))
    built = build_base(args.base, dkim=True)
    bindir = args.bin or built.out / "bin"
    if args.home:
        built = dataclasses.replace(built, home=args.home)
    key = rsa_key(2048)
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp, DNSServer() as dns:
        t = Path(tmp)
        home = make_home(built, t)
        dns.txt("default._domainkey.example.org", dkim_txt(key))
        resolv = dns.resolv_conf(t)

        def verify(msg: bytes) -> None:
            data = (b"HELO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.test>\r\n"
                    b"DATA\r\n" + msg.replace(b"\n", b"\r\n") + b".\r\nQUIT\r\n")
            env = built.env(PK_QUEUE_DIR=str(home.queue), TCPREMOTEIP="192.0.2.7",
                            DKVERIFY="")
            subprocess.run(resolver_argv([str(bindir / "qmail-smtpd")], resolv), input=data,
                           capture_output=True, env=env, check=True, timeout=3600)
            for f in home.queue.iterdir():
                f.unlink()

        keyfile = t / "keys" / "example.org" / "default"
        keyfile.parent.mkdir(parents=True)
        keyfile.write_bytes(key.pem)
        home.control("dksign", f"{t}/keys/%/default\n")

        def sign(msg: bytes) -> None:
            (t / "m").write_bytes(msg)
            with Sink() as sink:
                home.control("smtproutes", f"example.test:127.0.0.1:{sink.port}\n")
                with (t / "m").open("rb") as f:
                    subprocess.run([str(bindir / "qmail-remote"), "example.test",
                                    "alice@example.org", "bob@example.test"], stdin=f,
                                   capture_output=True, env=built.env(), check=False,
                                   timeout=3600)

        mb = 1 << 20

        def signed(msg: bytes, headers: list[str] | None = None) -> bytes:
            return dkimpy_sign(msg, "example.org", "default", key.pem, headers=headers)

        def resigned(msg: bytes, n: int) -> bytes:
            for _ in range(n):
                msg = signed(msg)
            return msg

        cases: list[tuple[str, str, bytes]] = [
            ("verify", "plain 1 MB", signed(CORPUS["plain"](mb)))]
        for n, h in ((2000, 2000), (4000, 4000), (8000, 8000), (8000, 250)):
            cases.append(("verify", f"h= x{h} over {n} copies",
                          signed(CORPUS["many-copies"](n), ["From", *["X-A"] * h])))
        cases.append(("verify", "one 4 MB header line", signed(CORPUS["long-header-line"](4 * mb))))
        for name in ("many-fields", "deep-fold", "blank-lines", "whitespace-runs", "bare-cr-body"):
            cases.append(("verify", f"{name} 1 MB", signed(CORPUS[name](mb))))
        cases.append(("verify", "50 signatures, 4 KB", resigned(CORPUS["plain"](4096), 50)))
        cases += [("sign", "plain 1 MB", CORPUS["plain"](mb)),
                  ("sign", "plain 4 MB", CORPUS["plain"](4 * mb)),
                  ("sign", "one 4 MB body line", CORPUS["long-body-line"](4 * mb))]
        for name in ("many-copies", "many-fields", "deep-fold", "blank-lines", "whitespace-runs",
                     "bare-cr-body"):
            size = 8000 if name == "many-copies" else mb
            cases.append(("sign", f"{name} {'x8000' if size == 8000 else '1 MB'}",
                          CORPUS[name](size)))

        def peak_rss_kb(msg: bytes, dkverify: str | None) -> int:
            """qmail-smtpd's peak RSS (KiB) receiving msg (GNU time's %M)."""
            data = (b"HELO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.test>\r\n"
                    b"DATA\r\n" + msg.replace(b"\n", b"\r\n") + b".\r\nQUIT\r\n")
            env = built.env(PK_QUEUE_DIR=str(home.queue), TCPREMOTEIP="192.0.2.7")
            if dkverify is not None:
                env["DKVERIFY"] = dkverify
            # GNU time forks from a small process: a child forked from this one would carry
            # this process's own (large) resident set into its peak until it execs
            report = t / "maxrss"
            with tempfile.TemporaryFile() as fin:
                fin.write(data)
                fin.seek(0)
                subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(report),
                                *resolver_argv([str(bindir / "qmail-smtpd")], resolv)],
                               stdin=fin, stdout=subprocess.DEVNULL, env=env, check=True)
            return int(report.read_text().split()[-1])

        # the peak covers the children qmail-smtpd waited for: while measuring, the queue is a
        # shell that only drains its two pipes
        qq = home.root / "bin" / "qmail-queue"
        saved = qq.with_name("qmail-queue.standin")
        qq.rename(saved)
        qq.write_text("#!/bin/sh\ncat >/dev/null && cat <&1 >/dev/null\n")
        qq.chmod(0o755)
        rss_rows: list[dict[str, object]] = []
        for size_mb in (1, 10, 50):
            msg = dkimpy_sign(CORPUS["plain"](size_mb * mb), "example.org", "default", key.pem)
            unset = peak_rss_kb(msg, None)
            setv = peak_rss_kb(msg, "")
            rss_rows.append({"message_mb": size_mb, "rss_kb_unset": unset, "rss_kb_dkverify": setv,
                             "extra_kb": setv - unset})
        qq.unlink()
        saved.rename(qq)

        for what, name, msg in cases:
            run = verify if what == "verify" else sign
            # the same work on an ordinary message of the same size: what a sender gets for
            # free, so the ratio is what the hostile form of those bytes buys
            size = len(msg)
            same = signed(CORPUS["plain"](size)) if what == "verify" else CORPUS["plain"](size)
            seconds, plain_s = cpu_pair(lambda m=msg, f=run: f(m),  # type: ignore[misc]
                                        lambda m=same, f=run: f(m), args.repeat)
            rows.append({"what": what, "case": name, "bytes": size,
                         "cpu_s": round(seconds, 4),
                         "cpu_s_per_mb": round(seconds / (size / mb), 4),
                         "plain_same_size_cpu_s": round(plain_s, 4),
                         "x_plain_same_size": round(seconds / max(plain_s, 1e-9), 2)})
    if args.json:
        print(json.dumps({"base": args.base, "bin": str(bindir), "rows": rows, "rss": rss_rows},
                         indent=2))
        return
    print(f"base {args.base}, binaries {bindir}, median CPU of {args.repeat} runs")
    print("x plain = CPU of the case / CPU of a plain message of the same size (target <= 3);"
          " no message up to 1 MB may cost over 0.5 s")
    print(f"{'what':<7} {'case':<28} {'KB':>8} {'CPU s':>9} {'s/MB':>8} {'plain s':>9} "
          f"{'x plain':>8}")
    for r in rows:
        kb = int(r["bytes"]) // 1024  # type: ignore[call-overload]
        print(f"{r['what']:<7} {r['case']:<28} {kb:>8} {r['cpu_s']:>9} {r['cpu_s_per_mb']:>8} "
              f"{r['plain_same_size_cpu_s']:>9} {r['x_plain_same_size']:>8}")
    print()
    print("qmail-smtpd peak RSS (KiB) receiving a signed message, DKVERIFY unset and set")
    print(f"{'message':>8} {'unset':>8} {'DKVERIFY':>9} {'extra':>7}")
    for r in rss_rows:
        print(f"{r['message_mb']:>6}MB {r['rss_kb_unset']:>8} {r['rss_kb_dkverify']:>9} "
              f"{r['extra_kb']:>7}")


if __name__ == "__main__":
    main()
