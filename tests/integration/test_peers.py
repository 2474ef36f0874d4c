"""The harness itself works: the three independent DKIM peers sign and verify each other and
reject tampered copies, Mail::DKIM's DomainKeys round-trips, and the test DNS server answers the
real C resolver (glibc res_query/res_search in a private mount namespace) as configured:
complete 4096-bit key records over TCP after a truncated UDP reply, NXDOMAIN, SERVFAIL, timeout."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from dnslib import EDNS0, QTYPE, RCODE, DNSRecord
from dnsserver import DNSServer, split255
from netns import require_isolated_resolver, resolver_argv
from peers import (
    PEERS,
    Key,
    Peer,
    dk_txt,
    dkim_txt,
    key_name,
    mail_dkim_dk_sign,
    mail_dkim_dk_verify,
    mail_dkim_missing,
    mail_dkim_sign,
    mail_dkim_verify_via_dns,
    rsa_key,
)

pytestmark = pytest.mark.peers

HERE = Path(__file__).resolve().parent
DOMAIN, SEL = "example.org", "sel2025"
# one space after each header colon (OpenDKIM's test mode collapses more); a folded header,
# inner and trailing whitespace and trailing empty lines for the canonicalizations to work on
MSG = (b"From: Alice <alice@example.org>\n"
       b"To: Bob <bob@example.test>\n"
       b"Subject: a folded\n"
       b"\tsubject line\n"
       b"Date: Tue, 25 Nov 2025 10:00:00 +0000\n"
       b"Message-ID: <1@example.org>\n"
       b"\n"
       b"first line\n"
       b"  indented   line with  spaces \n"
       b".a line that starts with a dot\n"
       b"\n"
       b"last line\n"
       b"\n"
       b"\n")


def need(peer: Peer) -> Peer:
    missing = peer.missing()
    if missing:
        pytest.skip(missing)
    return peer


def records(key: Key) -> dict[str, str]:
    return {key_name(SEL, DOMAIN): dkim_txt(key)}


def tamper_body(signed: bytes) -> bytes:
    assert b"last line" in signed
    return signed.replace(b"last line", b"last  line!")


def tamper_header(signed: bytes) -> bytes:
    assert b"To: Bob <bob@example.test>" in signed
    return signed.replace(b"To: Bob <bob@example.test>", b"To: Eve <eve@example.test>")


# --- keys ------------------------------------------------------------------------------------

@pytest.mark.parametrize("bits", [1024, 2048, 4096])
def test_rsa_key_has_the_size_asked_and_is_cached(bits: int) -> None:
    k = rsa_key(bits)
    assert rsa_key(bits) is k
    text = subprocess.run(["openssl", "pkey", "-in", str(k.path), "-noout", "-text"],
                          capture_output=True, text=True, check=True).stdout
    assert f"Private-Key: ({bits} bit" in text
    assert k.pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert k.pem_pkcs1.startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    assert dkim_txt(k) == f"v=DKIM1; k=rsa; p={k.public_b64}"
    assert dk_txt(k) == f"k=rsa; p={k.public_b64}"
    assert rsa_key(bits, 1).public_b64 != k.public_b64


def test_split255_keeps_every_byte() -> None:
    txt = dkim_txt(rsa_key(4096))
    parts = split255(txt)
    assert len(txt) > 700 and len(parts) == 3
    assert all(len(p) <= 255 for p in parts) and all(len(p) == 255 for p in parts[:-1])
    assert b"".join(parts) == txt.encode()
    assert split255("") == [b""]


# --- DKIM: every peer signs, every peer verifies ---------------------------------------------

CANONS = ["relaxed/relaxed", "simple/simple", "relaxed/simple", "simple/relaxed"]
CASES = ([("rsa-sha256", c) for c in CANONS]
         + [("rsa-sha1", c) for c in ("relaxed/relaxed", "simple/simple")])


@pytest.mark.parametrize(("algo", "canon"), CASES)
@pytest.mark.parametrize("signer", list(PEERS))
def test_peer_signature_verifies_in_all_peers_and_tampering_fails(
        signer: str, algo: str, canon: str) -> None:
    s = need(PEERS[signer])
    verifiers = [need(p) for p in PEERS.values()]
    key = rsa_key(2048)
    signed = s.sign(MSG, DOMAIN, SEL, key.pem, canon, algo)
    assert signed.endswith(MSG) and b"\r" not in signed  # LF in, LF out
    head = signed[:-len(MSG)].decode()
    assert head.startswith("DKIM-Signature:")
    assert f"a={algo}" in head and f"c={canon}" in head.replace("\n", "").replace("\t", "")
    assert f"d={DOMAIN}" in head and f"s={SEL}" in head
    for v in verifiers:
        got = v.verify(signed, records(key))
        assert got.ok and got.result == "pass", (v.name, got)
        crlf = v.verify(signed.replace(b"\n", b"\r\n"), records(key))
        assert crlf.ok, (v.name, "CRLF copy", crlf)
        for what, bad in (("body", tamper_body(signed)), ("header", tamper_header(signed))):
            got = v.verify(bad, records(key))
            assert not got.ok and got.result == "fail", (v.name, what, got)


@pytest.mark.parametrize("body_canon", ["relaxed", "simple"])
@pytest.mark.parametrize("signer", list(PEERS))
def test_whitespace_change_passes_only_relaxed_body(signer: str, body_canon: str) -> None:
    s = need(PEERS[signer])
    key = rsa_key(2048)
    signed = s.sign(MSG, DOMAIN, SEL, key.pem, f"relaxed/{body_canon}")
    changed = signed.replace(b"  indented   line", b"  indented line")
    assert changed != signed
    for v in (need(p) for p in PEERS.values()):
        got = v.verify(changed, records(key))
        assert got.ok is (body_canon == "relaxed"), (v.name, got)


@pytest.mark.parametrize("bits", [1024, 4096])
@pytest.mark.parametrize("signer", list(PEERS))
def test_key_sizes(signer: str, bits: int) -> None:
    s = need(PEERS[signer])
    key = rsa_key(bits)
    signed = s.sign(MSG, DOMAIN, SEL, key.pem)
    for v in (need(p) for p in PEERS.values()):
        assert v.verify(signed, records(key)).ok, v.name


@pytest.mark.parametrize("signer", list(PEERS))
def test_pkcs1_key_and_crlf_message(signer: str) -> None:
    s = need(PEERS[signer])
    key = rsa_key(2048)
    msg = MSG.replace(b"\n", b"\r\n")
    signed = s.sign(msg, DOMAIN, SEL, key.pem_pkcs1)
    assert signed.endswith(msg) and b"\n" not in signed.replace(b"\r\n", b"")
    for v in (need(p) for p in PEERS.values()):
        assert v.verify(signed, records(key)).ok, v.name


@pytest.mark.parametrize("signer", list(PEERS))
def test_signed_header_list_is_honoured(signer: str) -> None:
    s = need(PEERS[signer])
    key = rsa_key(2048)
    signed = s.sign(MSG, DOMAIN, SEL, key.pem, headers=["from", "subject"])
    head = signed[:-len(MSG)].decode().lower().replace(" ", "").replace("\n", "")
    assert "h=from:subject" in head.replace("\t", ""), head
    # To is not signed: changing it keeps every signature valid
    for v in (need(p) for p in PEERS.values()):
        assert v.verify(tamper_header(signed), records(key)).ok, v.name


@pytest.mark.parametrize("verifier", list(PEERS))
def test_verifier_rejects_wrong_key_missing_key_and_unsigned(verifier: str) -> None:
    v = need(PEERS[verifier])
    need(PEERS["dkimpy"])
    signed = PEERS["dkimpy"].sign(MSG, DOMAIN, SEL, rsa_key(2048).pem)
    wrong = v.verify(signed, records(rsa_key(2048, 1)))
    assert not wrong.ok and wrong.result == "fail", wrong
    nokey = v.verify(signed, {})
    assert not nokey.ok and nokey.result != "none", nokey
    unsigned = v.verify(MSG, records(rsa_key(2048)))
    assert not unsigned.ok and unsigned.result == "none", unsigned


# --- DomainKeys: Mail::DKIM is the only peer --------------------------------------------------

@pytest.mark.parametrize("canon", ["simple", "nofws"])
def test_mail_dkim_domainkeys_round_trip(canon: str) -> None:
    if (m := mail_dkim_missing()):
        pytest.skip(m)
    key = rsa_key(1024)
    recs = {key_name(SEL, DOMAIN): dk_txt(key)}
    signed = mail_dkim_dk_sign(MSG, DOMAIN, SEL, key.pem, canon)
    head = signed[:-len(MSG)].decode()
    assert head.startswith("DomainKey-Signature:") and "a=rsa-sha1" in head
    assert f"c={canon}" in head and f"d={DOMAIN}" in head
    got = mail_dkim_dk_verify(signed, recs)
    assert got.ok and got.result == "pass", got
    for bad in (tamper_body(signed), tamper_header(signed)):
        got = mail_dkim_dk_verify(bad, recs)
        assert not got.ok and got.result == "fail", got
    # nofws ignores all whitespace, simple does not
    spaced = signed.replace(b"first line", b"first  line")
    assert mail_dkim_dk_verify(spaced, recs).ok is (canon == "nofws")
    # a DKIM verifier does not count a DomainKey-Signature as DKIM
    assert mail_dkim_dk_verify(mail_dkim_sign(MSG, DOMAIN, SEL, key.pem), recs).result == "none"
    wrong = mail_dkim_dk_verify(signed, {key_name(SEL, DOMAIN): dk_txt(rsa_key(1024, 1))})
    assert not wrong.ok


# --- the DNS server on the wire (no namespace needed) ----------------------------------------

@pytest.fixture
def wire_dns() -> Iterator[DNSServer]:
    with DNSServer(port=0) as dns:  # any port: nothing here goes through resolv.conf
        yield dns


def ask(dns: DNSServer, name: str, *, tcp: bool = False, edns: int | None = None,
        timeout: float = 2) -> DNSRecord:
    q = DNSRecord.question(name, "TXT")
    if edns is not None:
        q.add_ar(EDNS0(udp_len=edns))
    return DNSRecord.parse(q.send(dns.address, dns.port, tcp=tcp, timeout=timeout))


def txt_of(reply: DNSRecord) -> list[list[bytes]]:
    return [list(rr.rdata.data) for rr in reply.rr if rr.rtype == QTYPE.TXT]


def test_dns_answers_txt_as_configured(wire_dns: DNSServer) -> None:
    wire_dns.txt("short.example.org", "v=DKIM1; p=abc")
    wire_dns.txt("Parts.Example.org.", ["one", b"two"], "second record")
    r = ask(wire_dns, "short.example.org")
    assert r.header.aa and r.header.rcode == RCODE.NOERROR and not r.header.tc
    assert txt_of(r) == [[b"v=DKIM1; p=abc"]]
    assert txt_of(ask(wire_dns, "parts.example.org")) == [[b"one", b"two"], [b"second record"]]
    other = DNSRecord.parse(DNSRecord.question("short.example.org", "A").send(
        wire_dns.address, wire_dns.port, timeout=2))
    assert other.header.rcode == RCODE.NOERROR and not other.rr  # NODATA
    with pytest.raises(ValueError):
        wire_dns.txt("x.example.org", ["y" * 256])


def test_dns_truncates_big_udp_answer_keeping_the_question(wire_dns: DNSServer) -> None:
    txt = dkim_txt(rsa_key(4096))
    wire_dns.txt(key_name(SEL, DOMAIN), txt)
    name = key_name(SEL, DOMAIN)
    r = ask(wire_dns, name)
    assert r.header.tc and not r.rr and r.header.rcode == RCODE.NOERROR
    assert len(r.questions) == 1 and str(r.q.qname) == name + "." and r.q.qtype == QTYPE.TXT
    full = ask(wire_dns, name, tcp=True)
    assert not full.header.tc and b"".join(txt_of(full)[0]) == txt.encode()
    assert len(full.pack()) > 512
    # an EDNS0 client with room gets it over UDP; one offering 512 does not
    big = ask(wire_dns, name, edns=1232)
    assert not big.header.tc and b"".join(txt_of(big)[0]) == txt.encode()
    assert ask(wire_dns, name, edns=512).header.tc
    assert [(q.transport, q.edns) for q in wire_dns.seen(name)] == [
        ("udp", None), ("tcp", None), ("udp", 1232), ("udp", 512)]


def test_dns_nxdomain_servfail_and_drop(wire_dns: DNSServer) -> None:
    wire_dns.servfail("broken.example.org")
    wire_dns.drop("slow.example.org")
    wire_dns.nxdomain("gone.example.org")
    assert ask(wire_dns, "unknown.example.org").header.rcode == RCODE.NXDOMAIN
    assert ask(wire_dns, "gone.example.org").header.rcode == RCODE.NXDOMAIN
    assert ask(wire_dns, "broken.example.org").header.rcode == RCODE.SERVFAIL
    assert ask(wire_dns, "broken.example.org", tcp=True).header.rcode == RCODE.SERVFAIL
    for tcp in (False, True):
        with pytest.raises(socket.timeout):
            ask(wire_dns, "slow.example.org", tcp=tcp, timeout=0.5)
    assert len(wire_dns.seen("slow.example.org")) == 2


def test_dns_moves_on_when_the_address_is_taken(wire_dns: DNSServer) -> None:
    with pytest.raises(OSError):
        DNSServer(host=wire_dns.address, port=wire_dns.port).start()
    with DNSServer(port=wire_dns.port) as other:
        assert other.address != wire_dns.address
        other.txt("a.example.org", "b")
        assert txt_of(ask(other, "a.example.org")) == [[b"b"]]


# --- the DNS server through the real C resolver, in a private mount namespace ----------------

@pytest.fixture
def dns(tmp_path: Path) -> Iterator[tuple[DNSServer, Path]]:
    require_isolated_resolver()
    with DNSServer() as server:
        yield server, server.resolv_conf(tmp_path)


def res_query(conf: Path, name: str, *extra: str) -> dict[str, object]:
    proc = subprocess.run(resolver_argv([sys.executable, str(HERE / "resquery.py"), *extra,
                                         name], conf),
                          capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 0, proc.stderr
    out: dict[str, object] = json.loads(proc.stdout)
    return out


def test_glibc_gets_4096_bit_key_over_tcp_after_tc(dns: tuple[DNSServer, Path]) -> None:
    server, conf = dns
    name, txt = key_name(SEL, DOMAIN), dkim_txt(rsa_key(4096))
    server.txt(name, txt)
    got = res_query(conf, name)
    assert got["h_errno_name"] == "NETDB_SUCCESS" and got["rcode"] == "NOERROR", got
    assert got["txt"] == [[p.decode() for p in split255(txt)]]
    n = got["n"]
    assert isinstance(n, int) and n > 512
    assert [q.transport for q in server.seen(name)] == ["udp", "tcp"]
    # glibc returns the full length even when the caller's buffer is smaller: C code must
    # check n > anslen (the 512-byte-buffer segfault class)
    small = res_query(conf, name, "--bufsize", "512")
    assert small["n"] == n
    # res_search (libdomainkeys) takes the same path
    assert res_query(conf, name, "--search")["txt"] == got["txt"]


@pytest.mark.parametrize(("setup", "h_errno", "min_s", "max_s"), [
    ("nxdomain", "HOST_NOT_FOUND", 0.0, 0.9),
    ("unknown", "HOST_NOT_FOUND", 0.0, 0.9),
    ("servfail", "TRY_AGAIN", 0.0, 0.9),
    ("drop", "TRY_AGAIN", 0.9, 5.0),  # options timeout:1 attempts:1
])
def test_glibc_sees_dns_failures(dns: tuple[DNSServer, Path], setup: str, h_errno: str,
                                 min_s: float, max_s: float) -> None:
    server, conf = dns
    name = f"{setup}.example.org"
    if setup != "unknown":
        getattr(server, setup)(name)
    got = res_query(conf, name)
    assert got["n"] == -1 and got["h_errno_name"] == h_errno, got
    elapsed = got["elapsed"]
    assert isinstance(elapsed, float | int) and min_s <= elapsed <= max_s, got
    assert server.seen(name)


def test_dig_and_net_dns_use_the_server_inside_the_namespace(
        dns: tuple[DNSServer, Path]) -> None:
    server, conf = dns
    key = rsa_key(4096)
    name = key_name(SEL, DOMAIN)
    server.txt(name, dkim_txt(key))
    if shutil.which("dig"):
        out = subprocess.run(resolver_argv(["dig", "+noedns", "+short", "TXT", name], conf),
                             capture_output=True, text=True, timeout=30, check=True).stdout
        assert out.replace('" "', "").strip().strip('"') == dkim_txt(key)
    if (m := mail_dkim_missing()):
        pytest.skip(m)
    server.clear()
    signed = mail_dkim_sign(MSG, DOMAIN, SEL, key.pem)
    got = mail_dkim_verify_via_dns(signed, conf)
    assert got.ok, got
    assert "tcp" in [q.transport for q in server.seen(name)]
    server.servfail(name)
    assert not mail_dkim_verify_via_dns(signed, conf).ok
