#!/usr/bin/env python3
"""Benchmark: what DKIM costs per message in the patched binaries, measured in one run.

Every figure is CPU time (user + system) of the measured process itself, taken from wait4(2)
per process (or from /proc for the long-lived milter), as the median over interleaved rounds:
each round runs every case once, in an order shuffled per round (fixed seed), so the noise of a
shared machine, and what ran just before, fall on all cases alike.

- the crypto floor: `openssl speed` RSA-2048 and Ed25519 signing, at the start and the end of
  the run (their mean);
- qmail-remote delivering a 4 KiB message to a local SMTP sink: not signing, signing with one
  2048-bit RSA key (DKIM-Signature + DomainKey-Signature: two RSA signatures), signing with one
  Ed25519 key (one signature); sign_added_ms = signing minus not signing, sign_ratio = that over
  the floor of the signatures made;
- OpenDKIM's long-lived milter (Debian opendkim, Mode s, the same key) signing the same message
  for a milter client of our own (the milter protocol over TCP): its CPU per message;
- qmail-smtpd receiving a dkimpy-signed message of 4 KiB and of 10 MiB, with DKVERIFY set and
  unset, the key served by a local DNS server; for 4 KiB the difference is the cost of
  verifying (it includes the CPU of the key lookup; the lookup's wait is not CPU); for 10 MiB
  the throughput is taken from DKVERIFY set with the signed message minus DKVERIFY set with the
  same message unsigned (the same spool and queue path: canonicalization and hashing), and the
  set-minus-unset difference is reported beside it;
- optionally (--before OUT) the same cases for another build's out/ directory (e.g. main's), and
  (--static-remote BIN) a qmail-remote linked against static libcrypto, for the no-sign cost.

    .venv/bin/python benchmarks/dkim_bench.py [--base netqmail-1.06] [-n 41] [--json]

Needs a patchkit build with --dkim (made if missing), root (a private mount namespace for the
resolver), opendkim, and the test peers (scripts/setup --test).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import random
import re
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "integration"))

from dnsserver import DNSServer  # noqa: E402
from harness import Built, build_base  # noqa: E402
from peers import dkim_txt, dkimpy_sign, ed25519_key, rsa_key  # noqa: E402
from smtpsink import Sink  # noqa: E402

BIG = 10 * 1024 * 1024

# a qmail-queue that reads what qmail-smtpd gives it and exits 0: the Python stand-in the tests
# use costs more CPU than what is measured here
QUEUE_C = r"""
#include <unistd.h>
int main(void)
{
  char b[65536];
  while (read(0,b,sizeof b) > 0) ;
  while (read(1,b,sizeof b) > 0) ;
  return 0;
}
"""


def message(size: int = 4096) -> bytes:
    head = (b"From: Alice <alice@example.org>\nTo: Bob <bob@example.test>\n"
            b"Subject: benchmark\nDate: Mon, 25 Nov 2024 12:00:00 +0000\n"
            b"Message-ID: <bench@example.org>\n\n")
    line = b"The quick brown fox jumps over the lazy dog, again and again and again.\n"
    body = line * ((size - len(head)) // len(line) + 1)
    return head + body[: size - len(head) - 1] + b"\n"


def run_cpu(argv: list[str], stdin: Path, env: dict[str, str]) -> tuple[float, bytes]:
    """(CPU seconds of the process and the children it waited for, its stdout)."""
    with stdin.open("rb") as f:
        p = subprocess.Popen(argv, stdin=f, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             env=env)
        assert p.stdout is not None
        out = p.stdout.read()
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
    return ru.ru_utime + ru.ru_stime, out


def private_resolver(resolv_conf: Path) -> None:
    """This process (and so every child) sees resolv_conf as /etc/resolv.conf: a private mount
    namespace, made before any thread starts (unshare(CLONE_NEWNS) refuses a threaded process)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x00020000) != 0:  # CLONE_NEWNS
        sys.exit(f"unshare(CLONE_NEWNS): {os.strerror(ctypes.get_errno())} (run as root)")
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)
    subprocess.run(["mount", "--bind", str(resolv_conf), "/etc/resolv.conf"], check=True)


def speed(alg: str) -> float:
    """Seconds per signature, from openssl speed's sign/s column."""
    out = subprocess.run(["openssl", "speed", "-seconds", "2", alg], capture_output=True,
                         text=True, check=True).stdout
    pat = (r"^rsa 2048 bits\s+\S+s\s+\S+s\s+([\d.]+)" if alg == "rsa2048"
           else r"^\s*253 bits EdDSA \(Ed25519\)\s+\S+s\s+\S+s\s+([\d.]+)")
    m = re.search(pat, out, re.M)
    if not m:
        sys.exit(f"cannot read openssl speed {alg} output:\n{out}")
    return 1 / float(m.group(1))


# --- OpenDKIM's milter, driven over the milter protocol -----------------------------------

class Milter:
    """A minimal MTA side of the milter protocol (version 6): one connection, one SMTP
    session, messages one after another (MAIL ... EOM, then the next MAIL)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        # OPTNEG: version 6, every action, no protocol steps left out
        self.send(b"O", struct.pack("!III", 6, 0x1FF, 0))
        cmd, _ = self.recv()
        if cmd != b"O":
            raise RuntimeError(f"milter refused negotiation: {cmd!r}")
        self.ask(b"C", b"localhost\0" + b"4" + struct.pack("!H", 25) + b"127.0.0.1\0")
        self.ask(b"H", b"localhost\0")

    def send(self, cmd: bytes, data: bytes) -> None:
        self.sock.sendall(struct.pack("!I", len(data) + 1) + cmd + data)

    def recv(self) -> tuple[bytes, bytes]:
        head = self._exact(4)
        body = self._exact(struct.unpack("!I", head)[0])
        return body[:1], body[1:]

    def _exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise RuntimeError("milter closed the connection")
            buf += chunk
        return buf

    def ask(self, cmd: bytes, data: bytes) -> None:
        self.send(cmd, data)
        r, _ = self.recv()
        if r != b"c":
            raise RuntimeError(f"milter answered {r!r} to {cmd!r}")

    def sign(self, msg: bytes) -> bytes:
        """One message through the milter; the header field it adds."""
        head, _, body = msg.replace(b"\n", b"\r\n").partition(b"\r\n\r\n")
        self.ask(b"M", b"<alice@example.org>\0")
        self.ask(b"R", b"<bob@example.test>\0")
        for field in re.split(rb"\r\n(?![ \t])", head):
            name, _, value = field.partition(b":")
            self.ask(b"L", name + b"\0" + value.lstrip(b" ") + b"\0")
        self.ask(b"N", b"")
        for i in range(0, len(body) + 2, 65535):
            self.ask(b"B", (body + b"\r\n")[i:i + 65535])
        self.send(b"E", b"")
        added = b""
        while True:
            r, data = self.recv()
            if r in (b"h", b"i"):
                added = data
            elif r in (b"a", b"c"):
                return added
            elif r not in (b"p",):  # progress
                raise RuntimeError(f"milter answered {r!r} at end of message")


def proc_cpu(pid: int) -> float:
    """CPU seconds of every live thread of pid (schedstat: nanoseconds run)."""
    total = 0
    for t in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((t / "schedstat").read_text().split()[0])
        except (OSError, IndexError):
            continue
    return total / 1e9


@dataclass
class Case:
    name: str
    run: Callable[[], float]  # CPU seconds per message
    samples: list[float]

    def median_ms(self) -> float:
        return statistics.median(self.samples) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="netqmail-1.06")
    ap.add_argument("-n", type=int, default=41, help="rounds (each runs every case once)")
    ap.add_argument("--milter-batch", type=int, default=10,
                    help="messages through the milter per round (its CPU is read per batch)")
    ap.add_argument("--before", type=Path, help="out/ directory of another build to measure "
                    "beside this one (its qmail home must be the one it was built for)")
    ap.add_argument("--static-remote", type=Path,
                    help="a qmail-remote of this build linked with static libcrypto")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root: a private mount namespace for the resolver")
    os.environ.setdefault("PATCHKIT_TEST_WORKDIR", str(REPO / ".pytest-build"))

    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        (t / "resolv.conf").write_text("")
        private_resolver(t / "resolv.conf")  # filled in once the DNS server has its address
        builds: dict[str, Built] = {"after": build_base(args.base, dkim=True)}
        if args.before:
            rep = json.loads((args.before / "build.json").read_text())
            home = Path(rep.get("qmail_home") or rep["options"]["qmail_home"])
            builds["before"] = Built(base=args.base, out=args.before, home=home, report=rep)
        key = rsa_key(2048)
        edkey = ed25519_key()
        subprocess.run(["cc", "-O2", "-x", "c", "-o", str(t / "queue"), "-"],
                       input=QUEUE_C.encode(), check=True)
        (t / "keys" / "example.org").mkdir(parents=True)
        (t / "keys" / "example.org" / "rsa").write_bytes(key.pem)
        (t / "keys" / "example.org" / "ed").write_bytes(edkey.pem)
        msg = message()
        (t / "m4k").write_bytes(msg)
        big = message(BIG)

        dns = DNSServer()
        dns.__enter__()
        dns.txt("rsa._domainkey.example.org", dkim_txt(key))
        (t / "resolv.conf").write_text(f"nameserver {dns.address}\noptions timeout:1 "
                                       "attempts:1\n")
        for name, m in (("4k", msg), ("10m", big), ("10m_unsigned", big)):
            signed = m if "unsigned" in name else dkimpy_sign(m, "example.org", "rsa", key.pem)
            (t / f"smtp{name}").write_bytes(
                b"HELO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n"
                + signed.replace(b"\n", b"\r\n") + b".\r\nQUIT\r\n")

        sink = Sink()
        sink.__enter__()
        cases: list[Case] = []
        for label, built in builds.items():
            home = built.home
            for d in ("control", "bin"):
                (home / d).mkdir(parents=True, exist_ok=True)
            q = home / "bin" / "qmail-queue"
            q.unlink(missing_ok=True)
            q.symlink_to(t / "queue")
            (home / "control" / "me").write_text("mx.patchkit.test\n")
            (home / "control" / "smtproutes").write_text(
                f"example.test:127.0.0.1:{sink.port}\n")

            def remote(built: Built = built, exe: Path | None = None,
                       dksign: str = "") -> Callable[[], float]:
                def go() -> float:
                    (built.home / "control" / "dksign").write_text(dksign)
                    cpu, out = run_cpu([str(exe or built.bin("qmail-remote")), "example.test",
                                        "alice@example.org", "bob@example.test"],
                                       t / "m4k", built.env())
                    if b"\0K" not in out:
                        sys.exit(f"delivery failed: {out!r}")
                    if dksign and b"DKIM-Signature" not in sink.messages[-1].content:
                        sys.exit("qmail-remote did not sign")
                    return cpu
                return go

            def smtpd(built: Built = built, size: str = "4k",
                      verify: bool = False) -> Callable[[], float]:
                env = built.env(TCPREMOTEIP="192.0.2.7")
                if verify:
                    env["DKVERIFY"] = ""
                def go() -> float:
                    cpu, out = run_cpu([str(built.bin("qmail-smtpd"))], t / f"smtp{size}", env)
                    if b"\r\n250 ok" not in out:
                        sys.exit(f"qmail-smtpd did not accept the message: {out[-300:]!r}")
                    return cpu
                return go

            keys = f"{t}/keys/%/"
            cases += [Case(f"{label}:remote_nosign", remote(), []),
                      Case(f"{label}:remote_rsa", remote(dksign=keys + "rsa\n"), []),
                      Case(f"{label}:remote_ed25519", remote(dksign=keys + "ed\n"), []),
                      Case(f"{label}:smtpd_4k", smtpd(), []),
                      Case(f"{label}:smtpd_4k_verify", smtpd(verify=True), []),
                      Case(f"{label}:smtpd_10m", smtpd(size="10m"), []),
                      Case(f"{label}:smtpd_10m_verify", smtpd(size="10m", verify=True), []),
                      Case(f"{label}:smtpd_10m_unsigned_verify",
                           smtpd(size="10m_unsigned", verify=True), [])]
            if label == "after" and args.static_remote:
                cases += [Case("after:remote_nosign_static",
                               remote(exe=args.static_remote), []),
                          Case("after:remote_rsa_static",
                               remote(exe=args.static_remote, dksign=keys + "rsa\n"), [])]

        # OpenDKIM's milter, long-lived, signing with the same key
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        (t / "opendkim.conf").write_text(
            "Mode s\nSyslog no\nBackground no\nDomain example.org\nSelector rsa\n"
            f"KeyFile {t}/keys/example.org/rsa\nRequireSafeKeys no\n"
            "Canonicalization relaxed/relaxed\nSignatureAlgorithm rsa-sha256\n"
            f"Socket inet:{port}@127.0.0.1\nPidFile {t}/opendkim.pid\n")
        od = subprocess.Popen(["/usr/sbin/opendkim", "-f", "-x", str(t / "opendkim.conf")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(100):
            try:
                milter = Milter(port)
                break
            except OSError:
                time.sleep(0.05)
        else:
            sys.exit("opendkim did not come up")
        if b"DKIM-Signature" not in milter.sign(msg) and b"v=1" not in milter.sign(msg):
            sys.exit("OpenDKIM's milter did not sign")

        def opendkim() -> float:
            c0 = proc_cpu(od.pid)
            for _ in range(args.milter_batch):
                if not milter.sign(msg):
                    sys.exit("OpenDKIM's milter did not sign")
            return float(proc_cpu(od.pid) - c0) / args.milter_batch
        cases.append(Case("opendkim_milter", opendkim, []))

        floors_rsa = [speed("rsa2048")]
        floors_ed = [speed("ed25519")]
        for c in cases:  # warm-up: page cache, the sink, the milter's threads
            c.run()
        # each round in its own order (seeded, so every run uses the same orders): with one
        # fixed order a case always followed the same one (not signing came right after the
        # milter batch or a 10 MiB receive), a position effect the medians kept
        order = random.Random(13)
        for _ in range(args.n):
            todo = list(cases)
            order.shuffle(todo)
            for c in todo:
                c.samples.append(c.run())
        floors_rsa.append(speed("rsa2048"))
        floors_ed.append(speed("ed25519"))
        od.terminate()
        od.wait()
        sink.__exit__(None, None, None)
        dns.__exit__(None, None, None)

    rsa = statistics.mean(floors_rsa)
    ed = statistics.mean(floors_ed)
    med = {c.name: c.median_ms() for c in cases}
    res: dict[str, object] = {
        "base": args.base, "rounds": args.n, "cores": os.cpu_count(),
        "rsa2048_sign_ms": round(rsa * 1000, 4), "ed25519_sign_ms": round(ed * 1000, 4),
        "floor_ms": round(2 * rsa * 1000, 4), "floor_ed25519_ms": round(ed * 1000, 4),
        "opendkim_milter_ms": round(med["opendkim_milter"], 4),
    }
    for label in builds:
        pre = "" if label == "after" else "before_"
        g = {k.split(":", 1)[1]: v for k, v in med.items() if k.startswith(label + ":")}
        sign = g["remote_rsa"] - g["remote_nosign"]
        signed = g["remote_ed25519"] - g["remote_nosign"]
        v4 = g["smtpd_4k_verify"] - g["smtpd_4k"]
        # canonicalization and hashing of 10 MiB: DKVERIFY set, signed minus unsigned (the same
        # bytes take the same spool and queue path in both; without DKVERIFY they reach the
        # queue in other writes, which costs more or less than that path depending on the
        # build, so that difference is reported beside it, not used for the throughput)
        v10 = g["smtpd_10m_verify"] - g["smtpd_10m_unsigned_verify"]
        r10 = g["smtpd_10m_verify"] - g["smtpd_10m"]
        res.update({
            f"{pre}nosign_ms": round(g["remote_nosign"], 4),
            f"{pre}sign_added_ms": round(sign, 4),
            f"{pre}sign_ratio": round(sign / (2 * rsa * 1000), 3),
            f"{pre}sign_ed25519_added_ms": round(signed, 4),
            f"{pre}sign_ed25519_ratio": round(signed / (ed * 1000), 3),
            f"{pre}verify_4k_ms": round(v4, 4),
            f"{pre}verify_10m_ms": round(v10, 4),
            f"{pre}verify_mb_per_s": round(BIG / 1e6 / (v10 / 1000), 1) if v10 > 0 else None,
            f"{pre}receive_10m_dkverify_added_ms": round(r10, 4),
        })
        if label == "after" and args.static_remote:
            res["nosign_static_ms"] = round(g["remote_nosign_static"], 4)
            res["sign_added_static_ms"] = round(g["remote_rsa_static"]
                                                - g["remote_nosign_static"], 4)
    res["medians_ms"] = {k: round(v, 4) for k, v in med.items()}
    if args.json:
        print(json.dumps(res, indent=2))
        return
    print(f"machine: {os.cpu_count()} cores; base {args.base}; 4 KiB and 10 MiB messages; "
          f"2048-bit RSA and Ed25519 keys; CPU time, medians of {args.n} interleaved rounds")
    print(f"floor: RSA-2048 sign {rsa * 1000:.3f} ms (x2 = {2 * rsa * 1000:.3f} ms for DKIM + "
          f"DomainKeys), Ed25519 sign {ed * 1000:.3f} ms (openssl speed, this run)")
    print(f"OpenDKIM milter (long-lived), per message: {med['opendkim_milter']:.3f} ms")
    for label in builds:
        pre = "" if label == "after" else "before_"
        print(f"[{label}]")
        print(f"  qmail-remote not signing: {res[pre + 'nosign_ms']:.3f} ms")
        print(f"  signing added, RSA (DKIM + DK): {res[pre + 'sign_added_ms']:.3f} ms = "
              f"{res[pre + 'sign_ratio']:.2f}x floor (target <= 2.0x and < the milter)")
        print(f"  signing added, Ed25519: {res[pre + 'sign_ed25519_added_ms']:.3f} ms = "
              f"{res[pre + 'sign_ed25519_ratio']:.2f}x its floor")
        print(f"  verifying added, 4 KiB: {res[pre + 'verify_4k_ms']:.3f} ms (target <= 1.0)")
        print(f"  verifying 10 MiB (signed minus unsigned, DKVERIFY set): "
              f"{res[pre + 'verify_10m_ms']:.1f} ms = {res[pre + 'verify_mb_per_s']} MB/s "
              "(target >= 300)")
        print(f"  receiving 10 MiB, DKVERIFY set minus unset: "
              f"{res[pre + 'receive_10m_dkverify_added_ms']:.1f} ms")
    if args.static_remote:
        print(f"  static libcrypto: not signing {res['nosign_static_ms']:.3f} ms, signing "
              f"added {res['sign_added_static_ms']:.3f} ms")


if __name__ == "__main__":
    main()
