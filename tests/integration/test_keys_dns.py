"""patchkit keys against the real test DNS server (dnsserver.py, in this process's threads on a
loopback address and a free port): every state of `keys check`, a whole rotation through the
CLI, refused activations, retiring, the way from the old single `default` file, and dkimpy
signing with the key files of the layout and verifying against the printed records served by
the test DNS (which proves the records right). Fast: no upstream files, no build."""

from __future__ import annotations

import base64
import grp
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dns.rdatatype
import dns.resolver
import pytest
from click.testing import CliRunner, Result
from dnsserver import DNSServer
from netns import require_isolated_resolver, resolver_argv

from patchkit.cli import cli
from patchkit.dkim import keys
from patchkit.dkim.dnscheck import DnsSettings
from patchkit.errors import ConfigError, DnsLookupFailed, DnsNotReady

pytestmark = [pytest.mark.peers,
              pytest.mark.skipif(shutil.which("openssl") is None,
                                 reason="needs the openssl CLI: apt-get install openssl")]

DOMAIN = "example.org"


@pytest.fixture
def server() -> Iterator[DNSServer]:
    with DNSServer(port=0) as srv:  # a free port: no root needed
        yield srv


@pytest.fixture(autouse=True)
def no_qmail_group(monkeypatch: pytest.MonkeyPatch) -> None:
    def getgrnam(name: str) -> object:
        raise KeyError(name)

    monkeypatch.setattr(grp, "getgrnam", getgrnam)


def run(server: DNSServer, keydir: Path, *args: str, dns: bool = True) -> Result:
    argv = ["keys", *args, "--keydir", str(keydir)]
    if dns:
        argv += ["--nameserver", server.address, "--port", str(server.port), "--timeout", "1"]
    return CliRunner().invoke(cli, argv)


def name(selector: str) -> str:
    return f"{selector}._domainkey.{DOMAIN}"


def new(keydir: Path, key_type: str = "ed25519", **kw: Any) -> keys.NewKey:
    return keys.new_key(DOMAIN, key_type="rsa" if key_type == "rsa" else "ed25519",
                        keydir=keydir, **kw)


def check_json(server: DNSServer, keydir: Path) -> tuple[int, dict[str, dict[str, Any]]]:
    r = run(server, keydir, "check", DOMAIN, "--json")
    return r.exit_code, {row["selector"]: row for row in json.loads(r.stdout)}


# --------------------------------------------------------------------------- keys check


def test_check_sees_every_state(server: DNSServer, tmp_path: Path) -> None:
    active_rsa = new(tmp_path, "rsa", bits=1024, selector="live")
    active_ed = new(tmp_path, selector="edlive")
    assert active_rsa.activated and active_ed.activated
    others = {s: new(tmp_path, selector=s) for s in
              ("gone", "other", "noise", "changed", "revoked", "broken", "silent")}
    server.txt(name("live"), active_rsa.dkim_record)
    server.txt(name("edlive"), active_ed.dkim_record)
    server.nxdomain(name("gone"))
    server.txt(name("noise"), "v=spf1 -all")
    server.txt(name("changed"), others["other"].dkim_record)  # another key's p=
    server.txt(name("revoked"), "v=DKIM1; k=ed25519; p=")
    server.servfail(name("broken"))
    server.drop(name("silent"))

    code, rows = check_json(server, tmp_path)
    assert code == 0  # both active keys are published as they are
    assert {s: r["status"] for s, r in rows.items()} == {
        "live": "published", "edlive": "published", "gone": "missing", "other": "missing",
        "noise": "missing", "changed": "different", "revoked": "revoked",
        "broken": "dns-error", "silent": "dns-error"}
    assert rows["live"]["active"] and rows["edlive"]["active"] and not rows["gone"]["active"]
    assert rows["live"]["record"] == active_rsa.dkim_record
    assert rows["live"]["file"] == str(tmp_path / DOMAIN / "live")
    assert "NXDOMAIN" in rows["gone"]["detail"]
    assert "within 1 s" in rows["silent"]["detail"]

    text = run(server, tmp_path, "check", DOMAIN)
    assert text.exit_code == 0
    lines = text.stdout.splitlines()
    assert lines[1].split() == ["SELECTOR", "TYPE", "ACTIVE", "STATUS", "DETAIL"]
    assert lines[2].split()[:4] == ["live", "rsa", "default", "published"]
    assert any(ln.split()[:4] == ["edlive", "ed25519", "ed25519", "published"] for ln in lines)


@pytest.mark.parametrize(("publish", "code", "word"), [
    ("nxdomain", DnsNotReady.exit_code, "missing"),
    ("different", DnsNotReady.exit_code, "different"),
    ("revoked", DnsNotReady.exit_code, "revoked"),
    ("servfail", DnsLookupFailed.exit_code, "cannot tell"),
    ("drop", DnsLookupFailed.exit_code, "cannot tell"),
])
def test_check_fails_when_an_active_key_is_not_published(server: DNSServer, tmp_path: Path,
                                                         publish: str, code: int,
                                                         word: str) -> None:
    k = new(tmp_path, selector="s1")
    {"nxdomain": lambda: server.nxdomain(name("s1")),
     "different": lambda: server.txt(name("s1"), "v=DKIM1; k=rsa; p=" + "A" * 300),
     "revoked": lambda: server.txt(name("s1"), "v=DKIM1; k=ed25519; p="),
     "servfail": lambda: server.servfail(name("s1")),
     "drop": lambda: server.drop(name("s1"))}[publish]()
    r = run(server, tmp_path, "check", DOMAIN)
    assert r.exit_code == code, r.output
    assert "s1" in r.stdout  # the table comes first
    err = r.stderr.splitlines()
    assert len(err) == 2 and err[0].startswith("error: ") and word in err[0], r.stderr
    assert err[1].startswith("hint: ")
    if code == DnsNotReady.exit_code:
        assert f'publish {name("s1")}. IN TXT "{k.dkim_record}"' in err[1]
    server.txt(name("s1"), k.dkim_record)
    assert run(server, tmp_path, "check", DOMAIN).exit_code == 0


def test_a_dangling_active_link_fails_check(server: DNSServer, tmp_path: Path) -> None:
    k = new(tmp_path, selector="s1")
    server.txt(name("s1"), k.dkim_record)
    (tmp_path / DOMAIN / "default").symlink_to("vanished")
    r = run(server, tmp_path, "check", DOMAIN)
    assert r.exit_code == DnsNotReady.exit_code
    assert "default -> vanished: no such key file" in r.stderr


def test_a_4096_bit_record_in_a_large_answer_comes_over_tcp(server: DNSServer,
                                                            tmp_path: Path) -> None:
    """A 4096-bit key's record is three character-strings; with another TXT at the name the
    answer is larger than a UDP reply may be (1232 bytes with EDNS0), so the lookup must follow
    TC to TCP."""
    k = new(tmp_path, "rsa", bits=4096, selector="big")
    server.txt(name("big"), k.dkim_record, "x" * 600)
    code, rows = check_json(server, tmp_path)
    assert code == 0 and rows["big"]["status"] == "published"
    assert server.seen(name("big"), transport="tcp")


# --------------------------------------------------------------------------- a rotation


@pytest.mark.parametrize("key_type", ["rsa", "ed25519"])
def test_a_whole_rotation(server: DNSServer, tmp_path: Path, key_type: str) -> None:
    d = tmp_path / DOMAIN
    link = d / ("default" if key_type == "rsa" else "ed25519")
    bits = ["--bits", "1024"] if key_type == "rsa" else []
    r = run(server, tmp_path, "new", DOMAIN, "--type", key_type, *bits, "--json", dns=False)
    assert r.exit_code == 0, r.output
    first = json.loads(r.stdout)
    old = first["selector"]
    assert re.fullmatch(r"20\d\dq[1-4]", old) and first["activated"]
    server.txt(first["name"], first["dkim_record"])
    assert run(server, tmp_path, "check", DOMAIN).exit_code == 0

    # 1. the next key: printed, the link left alone
    r = run(server, tmp_path, "rotate", DOMAIN, "--type", key_type, *bits, dns=False)
    assert r.exit_code == 0, r.output
    assert f"the active one stays {link.name} -> {old}" in r.stdout
    assert "--activate" in r.stdout and f"keys retire {DOMAIN} {old}" in r.stdout
    r = run(server, tmp_path, "rotate", DOMAIN, "--type", key_type, "--json", dns=False)
    assert r.exit_code == ConfigError.exit_code and "already waiting" in r.stderr
    nxt = keys.scan(DOMAIN, tmp_path).keys[-1]
    assert nxt.selector == old + "b" and os.readlink(link) == old
    record = keys.check(DOMAIN, keydir=tmp_path, dns=DnsSettings(
        nameserver=server.address, port=server.port, timeout=1)).rows[-1].record

    # 2. activating before DNS has the record is refused, saying what to publish
    r = run(server, tmp_path, "rotate", DOMAIN, "--type", key_type, "--activate")
    assert r.exit_code == DnsNotReady.exit_code, r.output
    err = r.stderr.splitlines()
    assert len(err) == 2 and f"{nxt.selector} is not published" in err[0]
    assert f'publish {name(nxt.selector)}. IN TXT "{record}"' in err[1]
    assert os.readlink(link) == old

    # 3. published: the link flips, and nothing temporary is left beside it
    server.txt(name(nxt.selector), record)
    r = run(server, tmp_path, "rotate", DOMAIN, "--type", key_type, "--activate", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert (out["previous"], out["active"]) == (old, nxt.selector)
    assert f"keys retire {DOMAIN} {old}" in out["next"][-1]
    assert os.readlink(link) == nxt.selector
    assert not [p for p in d.iterdir() if p.name.startswith(".")]
    code, rows = check_json(server, tmp_path)
    assert code == 0 and rows[nxt.selector]["active"] and not rows[old]["active"]

    # 4. retire the old one: refused while DNS still has it, then done once revoked
    r = run(server, tmp_path, "retire", DOMAIN, old)
    assert r.exit_code == DnsNotReady.exit_code
    assert f'{name(old)}. IN TXT ( "v=DKIM1; k={key_type}; p=" )' in r.stdout
    assert "still publishes a key" in r.stderr and (d / old).exists()
    server.txt(name(old), f"v=DKIM1; k={key_type}; p=")
    r = run(server, tmp_path, "retire", DOMAIN, old, "--json")
    assert r.exit_code == 0, r.output
    gone = json.loads(r.stdout)
    assert gone["status"] == "revoked"
    assert gone["removed"] == [str(d / old), str(d / f"{old}.pub")]
    assert sorted(p.name for p in d.iterdir()) == sorted(
        [link.name, nxt.selector, f"{nxt.selector}.pub"])
    assert run(server, tmp_path, "check", DOMAIN).exit_code == 0


def test_activation_waits_for_dns_that_fails(server: DNSServer, tmp_path: Path) -> None:
    k = new(tmp_path, selector="s1")
    server.txt(name("s1"), k.dkim_record)
    keys.rotate(DOMAIN, key_type="ed25519", keydir=tmp_path, dns=DnsSettings())
    pending = keys.scan(DOMAIN, tmp_path).keys[-1].selector
    server.servfail(name(pending))
    r = run(server, tmp_path, "rotate", DOMAIN, "--type", "ed25519", "--activate")
    assert r.exit_code == DnsLookupFailed.exit_code
    assert "the active key stays s1" in r.stderr
    server.txt(name(pending), "v=DKIM1; k=ed25519; p=" + base64.b64encode(bytes(32)).decode())
    r = run(server, tmp_path, "rotate", DOMAIN, "--type", "ed25519", "--activate")
    assert r.exit_code == DnsNotReady.exit_code and "different" in r.stderr
    assert os.readlink(tmp_path / DOMAIN / "ed25519") == "s1"


def test_retire_a_key_dns_never_had(server: DNSServer, tmp_path: Path) -> None:
    new(tmp_path, selector="s1")
    new(tmp_path, selector="s2")
    server.servfail(name("s2"))
    r = run(server, tmp_path, "retire", DOMAIN, "s2")
    assert r.exit_code == DnsLookupFailed.exit_code and "nothing was removed" in r.stderr
    server.nxdomain(name("s2"))
    r = run(server, tmp_path, "retire", DOMAIN, "s2")
    assert r.exit_code == 0, r.output
    assert "missing" in r.stdout and not (tmp_path / DOMAIN / "s2").exists()


def test_from_the_old_single_default_file(server: DNSServer, tmp_path: Path) -> None:
    """`patchkit keygen` made a regular file `default`: it stays the active key, rotates like
    any other, and its record is retired after the link took its place."""
    d = tmp_path / DOMAIN
    r = CliRunner().invoke(cli, ["keygen", DOMAIN, "--bits", "1024", "--keydir", str(tmp_path),
                                 "--json"])
    assert r.exit_code == 0, r.output
    legacy = json.loads(r.stdout)
    assert legacy["private_key"] == str(d / "default") and not (d / "default").is_symlink()
    server.txt(name("default"), legacy["dkim_record"])
    code, rows = check_json(server, tmp_path)
    assert code == 0 and rows["default"]["active"] and rows["default"]["status"] == "published"

    rot = keys.rotate(DOMAIN, keydir=tmp_path, bits=1024, dns=DnsSettings())
    assert rot.new is not None and rot.previous == "default"
    server.txt(rot.new.name, rot.new.dkim_record)
    r = run(server, tmp_path, "rotate", DOMAIN, "--activate")
    assert r.exit_code == 0, r.output
    assert "the old key file" in r.stderr and "retire selector default" in r.stderr
    assert os.readlink(d / "default") == rot.new.selector

    code, rows = check_json(server, tmp_path)
    assert code == 0 and rows["default"]["file"] is None and not rows["default"]["active"]
    assert rows["default"]["status"] == "published"
    assert run(server, tmp_path, "retire", DOMAIN, "default").exit_code == DnsNotReady.exit_code
    server.nxdomain(name("default"))
    r = run(server, tmp_path, "retire", DOMAIN, "default", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["removed"] == [str(d / "default.pub")]
    assert os.readlink(d / "default") == rot.new.selector  # the link itself stays


# --------------------------------------------------------------------------- dkimpy


def test_dkimpy_signs_with_the_layout_and_verifies_the_printed_records(
        server: DNSServer, tmp_path: Path) -> None:
    """What qmail-remote does with control/dksign `KEYDIR/%/default` and `KEYDIR/%/ed25519`:
    resolve the path, sign with the selector = the name it resolves to. dkimpy signs so with
    both key files and verifies both signatures against the records `keys new` printed, served
    by the test DNS."""
    dkim = pytest.importorskip("dkim")
    pytest.importorskip("nacl")
    for key_type in ("rsa", "ed25519"):
        r = run(server, tmp_path, "new", DOMAIN, "--type", key_type, "--json", dns=False)
        assert r.exit_code == 0, r.output
        k = json.loads(r.stdout)
        server.txt(k["name"], k["dkim_record"])
    msg = (b"From: a@example.org\r\nTo: b@example.net\r\nSubject: keys\r\n"
           b"Date: Thu, 03 Dec 2026 12:00:00 +0000\r\n\r\nbody\r\n")
    for template, algo in (("%/default", b"rsa-sha256"), ("%/ed25519", b"ed25519-sha256")):
        path = Path(os.path.realpath(tmp_path / template.replace("%", DOMAIN)))
        pem = path.read_bytes()
        if algo == b"ed25519-sha256":  # dkimpy takes the raw 32-byte seed, base64
            der = base64.b64decode(b"".join(pem.splitlines()[1:-1]))
            pem = base64.b64encode(der[-32:])
        msg = dkim.sign(msg, path.name.encode(), DOMAIN.encode(), pem,
                        signature_algorithm=algo, linesep=b"\r\n") + msg

    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers, resolver.port = [server.address], server.port

    def dnsfunc(qname: bytes | str, timeout: int = 5) -> bytes | None:
        n = qname.decode() if isinstance(qname, bytes) else qname
        try:
            answer = resolver.resolve(n, dns.rdatatype.TXT, lifetime=2)
        except dns.resolver.NXDOMAIN:
            return None
        return b"".join(next(iter(answer)).strings)

    d = dkim.DKIM(msg, minkey=1024)
    assert d.verify(idx=0, dnsfunc=dnsfunc)  # the Ed25519 signature (added last, so first)
    assert d.verify(idx=1, dnsfunc=dnsfunc)  # the RSA one
    assert len(server.seen(name(Path(os.path.realpath(tmp_path / DOMAIN / "ed25519")).name)))
    tampered = msg.replace(b"body\r\n", b"Body\r\n")  # the check can fail
    for idx in (0, 1):
        with pytest.raises(dkim.ValidationError, match="body hash mismatch"):
            dkim.DKIM(tampered, minkey=1024).verify(idx=idx, dnsfunc=dnsfunc)


def test_check_with_the_system_resolver(tmp_path: Path) -> None:
    """The default a person types: no --nameserver, so /etc/resolv.conf decides (here a private
    mount namespace points it at the test DNS server on port 53)."""
    require_isolated_resolver()
    k = new(tmp_path, selector="s1")
    with DNSServer() as server:
        server.txt(name("s1"), k.dkim_record)
        exe = str(Path(sys.executable).with_name("patchkit"))
        argv = resolver_argv([exe, "keys", "check", DOMAIN, "--keydir", str(tmp_path), "--json",
                              "--timeout", "2"], server.resolv_conf(tmp_path))
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 0, proc.stderr
        assert [r["status"] for r in json.loads(proc.stdout)] == ["published"]
        assert server.seen(name("s1"))
        server.nxdomain(name("s1"))
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == DnsNotReady.exit_code, proc.stderr
