#!/usr/bin/env python3
"""Benchmark: what DKIM costs per message in the patched binaries, measured in one run.

- signing in qmail-remote: a 4 KiB message delivered to a local SMTP sink, signed (DKIM and
  DomainKeys, one 2048-bit key) vs unsigned; the difference is the cost of signing, compared
  with the crypto floor (two RSA-2048 signatures, measured with `openssl speed` in this run);
- verification in qmail-smtpd: a dkimpy-signed 4 KiB message with DKVERIFY set vs unset, the
  key served by a local DNS server; the DNS round trip is measured separately and subtracted;
- a per-message Perl Mail::DKIM signer (the recipe's alternative: a wrapper that runs a Perl
  script per message), for comparison.

    .venv/bin/python benchmarks/dkim_bench.py [--base netqmail-1.06] [-n 200]

Needs a patchkit build with --dkim (made if missing), root (for the resolver namespace), and the
test peers (scripts/setup --test). It prints signing cost as a ratio to the crypto floor.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "integration"))

from dnsserver import DNSServer  # noqa: E402
from harness import build_base, make_home  # noqa: E402
from netns import resolver_argv  # noqa: E402
from peers import PERL_DIR, dkim_txt, dkimpy_sign, rsa_key  # noqa: E402
from smtpsink import Sink  # noqa: E402


def message(size: int = 4096) -> bytes:
    head = (b"From: Alice <alice@example.org>\nTo: Bob <bob@example.test>\n"
            b"Subject: benchmark\nDate: Mon, 25 Nov 2024 12:00:00 +0000\n"
            b"Message-ID: <bench@example.org>\n\n")
    line = b"The quick brown fox jumps over the lazy dog, again and again and again.\n"
    body = line * ((size - len(head)) // len(line) + 1)
    return head + body[: size - len(head) - 1] + b"\n"


def timed(fn, n: int) -> float:  # type: ignore[no-untyped-def]
    """Median wall seconds per call over n calls (after 3 warm-up calls)."""
    return timed_both(fn, n)[0]


def timed_both(fn, n: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(median wall seconds, mean CPU seconds of the child processes) per call. CPU time is what
    resolves a 1-2 ms difference inside a ~50 ms delivery on a noisy machine; wall time is what a
    user waits."""
    for _ in range(3):
        fn()
    samples = []
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu1.ru_utime - cpu0.ru_utime + cpu1.ru_stime - cpu0.ru_stime) / n
    return statistics.median(samples), cpu


def rsa_sign_seconds() -> float:
    out = subprocess.run(["openssl", "speed", "-seconds", "3", "rsa2048"], capture_output=True,
                         text=True, check=True).stdout
    m = re.search(r"^rsa 2048 bits\s+([\d.]+)s\s+([\d.]+)s", out, re.M)
    if not m:
        sys.exit(f"cannot read openssl speed output:\n{out}")
    return float(m.group(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--base", default="netqmail-1.06")
    ap.add_argument("-n", type=int, default=200)
    args = ap.parse_args()
    os.environ.setdefault("PATCHKIT_TEST_WORKDIR", str(REPO / ".pytest-build"))
    built = build_base(args.base, dkim=True)
    key = rsa_key(2048)
    msg = message()
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        home = make_home(built, t)
        keyfile = t / "keys" / "example.org" / "default"
        keyfile.parent.mkdir(parents=True)
        keyfile.write_bytes(key.pem)
        (t / "m").write_bytes(msg)

        with Sink() as sink:
            home.control("smtproutes", f"example.test:127.0.0.1:{sink.port}\n")

            def deliver() -> None:
                with (t / "m").open("rb") as f:
                    out = subprocess.run([str(built.bin("qmail-remote")), "example.test",
                                          "alice@example.org", "bob@example.test"], stdin=f,
                                         capture_output=True, env=built.env(), check=False)
                if b"\0K" not in out.stdout:
                    sys.exit(f"delivery failed: {out.stdout!r}")

            home.control("dksign", "")
            unsigned, unsigned_cpu = timed_both(deliver, args.n)
            home.control("dksign", f"{t}/keys/%/default\n")
            signed, signed_cpu = timed_both(deliver, args.n)
            assert b"DKIM-Signature" in sink.messages[-1].content

        perl_key = t / "perl.pem"
        perl_key.write_bytes(key.pem)

        def perl_sign() -> None:
            subprocess.run(["perl", str(PERL_DIR / "dkim-sign.pl"), "--domain", "example.org",
                            "--selector", "default", "--key", str(perl_key)], input=msg,
                           capture_output=True, check=True)

        perl = timed(perl_sign, max(args.n // 4, 20))

        with DNSServer() as dns:
            dns.txt("default._domainkey.example.org", dkim_txt(key))
            resolv = dns.resolv_conf(t)
            signed_msg = dkimpy_sign(msg, "example.org", "default", key.pem)
            data = (b"HELO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n"
                    + signed_msg.replace(b"\n", b"\r\n") + b".\r\nQUIT\r\n")
            argv = resolver_argv([str(built.bin("qmail-smtpd"))], resolv)

            def receive(dkverify: str | None) -> None:
                env = built.env(PK_QUEUE_DIR=str(home.queue), TCPREMOTEIP="192.0.2.7")
                if dkverify is not None:
                    env["DKVERIFY"] = dkverify
                subprocess.run(argv, input=data, capture_output=True, env=env, check=True)
                for f in home.queue.iterdir():
                    f.unlink()

            plain_rx, plain_rx_cpu = timed_both(lambda: receive(None), args.n)
            verify_rx, verify_rx_cpu = timed_both(lambda: receive(""), args.n)
            resq = [sys.executable, str(REPO / "tests" / "integration" / "resquery.py"),
                    "default._domainkey.example.org"]
            lookups = [json.loads(subprocess.run(resolver_argv(resq, resolv), capture_output=True,
                                                 check=True).stdout)["elapsed"]
                       for _ in range(20)]
            dns_rt = statistics.median(lookups)  # res_query's own time, in the C resolver
    rsa = rsa_sign_seconds()
    floor = 2 * rsa  # one RSA-2048 signature each for DKIM-Signature and DomainKey-Signature
    sign_cost = signed - unsigned
    print(f"machine: {os.cpu_count()} cores; base {args.base}; message {len(msg)} bytes; "
          f"2048-bit key; median of {args.n}")
    print(f"RSA-2048 sign (openssl speed, this run): {rsa * 1000:.2f} ms; "
          f"crypto floor for 2 signatures: {floor * 1000:.2f} ms")
    print(f"qmail-remote unsigned delivery: {unsigned * 1000:.2f} ms")
    print(f"qmail-remote signed delivery:   {signed * 1000:.2f} ms")
    print(f"  signing cost, wall: {sign_cost * 1000:.2f} ms = {sign_cost / floor:.2f}x the crypto "
          "floor (noisy: the delivery itself is mostly waiting)")
    cpu_cost = signed_cpu - unsigned_cpu
    print(f"  signing cost, CPU (qmail-remote user+sys, mean): {cpu_cost * 1000:.2f} ms = "
          f"{cpu_cost / floor:.2f}x the crypto floor (target <= 1.5x)")
    dns_cost = dns_rt
    print(f"qmail-smtpd receive, no verification: {plain_rx * 1000:.2f} ms")
    print(f"qmail-smtpd receive, DKVERIFY set:    {verify_rx * 1000:.2f} ms "
          f"(one key lookup ~{dns_cost * 1000:.2f} ms)")
    print(f"  verification cost, wall minus the lookup: "
          f"{(verify_rx - plain_rx - dns_cost) * 1000:.2f} ms (noisy)")
    print(f"  verification cost, CPU (qmail-smtpd user+sys, mean; waiting for DNS is not CPU): "
          f"{(verify_rx_cpu - plain_rx_cpu) * 1000:.2f} ms")
    print(f"per-message Perl Mail::DKIM signer (one DKIM signature): {perl * 1000:.2f} ms = "
          f"{perl / max(sign_cost, 1e-9):.1f}x our signing cost")


if __name__ == "__main__":
    main()
