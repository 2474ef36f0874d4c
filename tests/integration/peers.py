"""Independent DKIM/DomainKeys implementations to check our C code against, and the key helpers.

Peers (each module-level function pair has the same shape):

    sign(msg, domain, selector, key_pem, canon="relaxed/relaxed", algo="rsa-sha256",
         headers=None) -> the signed message (signature header prepended)
    verify(msg, txt_lookup) -> Verdict(ok, result, detail)

  dkimpy_sign / dkimpy_verify            PyPI dkimpy
  mail_dkim_sign / mail_dkim_verify      Perl Mail::DKIM (Debian libmail-dkim-perl)
  opendkim_sign / opendkim_verify        OpenDKIM test mode (Debian opendkim)
  mail_dkim_dk_sign / mail_dkim_dk_verify  DomainKeys (c=simple / c=nofws), Mail::DKIM: the only
                                         DomainKeys peer
  mail_dkim_verify_via_dns(msg, resolv_conf, kind)  Mail::DKIM over real DNS (the test server)

msg may use LF or CRLF line ends; the signed message comes back in the same convention. The
txt_lookup is a mapping "sel._domainkey.domain" -> TXT value (no network: each peer answers from
it in-process or from a file); a name not in it is NXDOMAIN. `PEERS` lists the three DKIM peers
as Peer objects for parametrizing; `Peer.missing()` says what is not installed.

Keys: rsa_key(bits, index) -> Key (openssl CLI, cached for the session), dkim_txt(key),
dk_txt(key), key_name(selector, domain), split255(value).
"""

from __future__ import annotations

import atexit
import base64
import functools
import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol

from dnsserver import split255

HERE = Path(__file__).resolve().parent
PERL_DIR = HERE / "perl"

__all__ = ["PEERS", "Key", "Peer", "Verdict", "dk_txt", "dkim_txt", "dkimpy_sign",
           "dkimpy_verify", "key_name", "mail_dkim_dk_sign", "mail_dkim_dk_verify",
           "mail_dkim_sign", "mail_dkim_verify", "mail_dkim_verify_via_dns", "opendkim_sign",
           "opendkim_verify", "rsa_key", "split255"]


# --- keys and records -----------------------------------------------------------------------

@dataclass(frozen=True)
class Key:
    bits: int
    path: Path  # the private key, PKCS#8 PEM
    pem: bytes  # PKCS#8 ("BEGIN PRIVATE KEY")
    pem_pkcs1: bytes  # PKCS#1 ("BEGIN RSA PRIVATE KEY"), same key
    public_b64: str  # base64 DER SubjectPublicKeyInfo: the p= value


@functools.cache
def _keydir() -> Path:
    d = Path(tempfile.mkdtemp(prefix="patchkit-keys-"))
    atexit.register(shutil.rmtree, d, True)
    return d


def _openssl(*args: str, data: bytes | None = None) -> bytes:
    exe = shutil.which("openssl")
    if exe is None:
        raise RuntimeError("openssl CLI not found: apt-get install openssl")
    proc = subprocess.run([exe, *args], input=data, capture_output=True, timeout=300,
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)}: {proc.stderr.decode(errors='replace')}")
    return proc.stdout


@functools.cache
def rsa_key(bits: int = 2048, index: int = 0) -> Key:
    """An RSA key of `bits` bits, generated once per session; `index` gives distinct keys of the
    same size (e.g. a wrong key for a negative test)."""
    path = _keydir() / f"rsa{bits}-{index}.pem"
    _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{bits}",
             "-out", str(path))
    pem = path.read_bytes()
    pkcs1 = _openssl("pkey", "-traditional", data=pem)
    der = _openssl("pkey", "-pubout", "-outform", "DER", data=pem)
    return Key(bits=bits, path=path, pem=pem, pem_pkcs1=pkcs1,
               public_b64=base64.b64encode(der).decode())


@dataclass(frozen=True)
class EdKey:
    path: Path  # the private key, PKCS#8 PEM as `openssl genpkey -algorithm ed25519` writes it
    pem: bytes
    public_b64: str  # the raw 32-byte public key: the p= of a k=ed25519 record (RFC 8463)
    seed_b64: str  # the raw 32-byte private key, which is what dkimpy signs with


@functools.cache
def ed25519_key(index: int = 0) -> EdKey:
    """An Ed25519 key, generated once per session; `index` gives distinct keys."""
    path = _keydir() / f"ed25519-{index}.pem"
    _openssl("genpkey", "-algorithm", "ed25519", "-out", str(path))
    pem = path.read_bytes()
    private_der = _openssl("pkey", "-outform", "DER", data=pem)
    public_der = _openssl("pkey", "-pubout", "-outform", "DER", data=pem)
    return EdKey(path=path, pem=pem, public_b64=base64.b64encode(public_der[-32:]).decode(),
                 seed_b64=base64.b64encode(private_der[-32:]).decode())


def dkim_txt(key: Key | EdKey, *, extra: str = "") -> str:
    """The DKIM key record, `v=DKIM1; k=rsa; p=...` or `k=ed25519` (extra tags, e.g. "t=y",
    are appended)."""
    kind = "ed25519" if isinstance(key, EdKey) else "rsa"
    return f"v=DKIM1; k={kind}; p={key.public_b64}" + (f"; {extra}" if extra else "")


def dk_txt(key: Key, *, extra: str = "") -> str:
    """The DomainKeys key record, `k=rsa; p=...`."""
    return f"k=rsa; p={key.public_b64}" + (f"; {extra}" if extra else "")


def key_name(selector: str, domain: str) -> str:
    return f"{selector}._domainkey.{domain}"


# --- common ---------------------------------------------------------------------------------

class Verdict(NamedTuple):
    ok: bool  # result == "pass"
    result: str  # pass, fail, none (no signature), invalid, temperror, ... (peer's words)
    detail: str  # the peer's own explanation / raw output


class SignFn(Protocol):
    def __call__(self, msg: bytes, domain: str, selector: str, key_pem: bytes | str,
                 canon: str = ..., algo: str = ...,
                 headers: Sequence[str] | None = ...) -> bytes: ...


class VerifyFn(Protocol):
    def __call__(self, msg: bytes, txt_lookup: Mapping[str, str]) -> Verdict: ...


def _crlf(msg: bytes) -> tuple[bytes, bool]:
    """msg with CRLF line ends, and whether it had them already."""
    had = b"\r\n" in msg
    return re.sub(rb"\r?\n", b"\r\n", msg), had


def _back(msg: bytes, crlf: bool) -> bytes:
    return msg if crlf else msg.replace(b"\r\n", b"\n")


def _canon(canon: str) -> str:
    return canon if "/" in canon else f"{canon}/simple"


def _pem(key_pem: bytes | str) -> bytes:
    return key_pem.encode() if isinstance(key_pem, str) else key_pem


def _lookup_name(name: str) -> str:
    return name.rstrip(".").lower()


def _lookup(txt_lookup: Mapping[str, str]) -> dict[str, str]:
    return {_lookup_name(k): v for k, v in txt_lookup.items()}


# --- dkimpy ---------------------------------------------------------------------------------

def dkimpy_missing() -> str | None:
    try:
        import dkim  # noqa: F401
    except ImportError:
        return "dkimpy not installed: pip install -e '.[test]' (PyPI dkimpy)"
    return None


def dkimpy_sign(msg: bytes, domain: str, selector: str, key_pem: bytes | str,
                canon: str = "relaxed/relaxed", algo: str = "rsa-sha256",
                headers: Sequence[str] | None = None) -> bytes:
    import dkim

    m, crlf = _crlf(msg)
    h, b = _canon(canon).split("/")
    sig = dkim.sign(m, selector.encode(), domain.encode(), _pem(key_pem),
                    canonicalize=(h.encode(), b.encode()), signature_algorithm=algo.encode(),
                    include_headers=[x.encode() for x in headers] if headers else None,
                    linesep=b"\r\n")
    return _back(sig + m, crlf)


def dkimpy_verify_each(msg: bytes, txt_lookup: Mapping[str, str]) -> list[Verdict]:
    """dkimpy's verdict on every DKIM-Signature of msg, top one first."""
    m, _ = _crlf(msg)
    n = len(re.findall(rb"(?im)^dkim-signature:", m.split(b"\r\n\r\n", 1)[0]))
    return [dkimpy_verify(msg, txt_lookup, idx=i) for i in range(n)]


def dkimpy_verify(msg: bytes, txt_lookup: Mapping[str, str], idx: int = 0) -> Verdict:
    import logging

    import dkim

    m, _ = _crlf(msg)
    records = _lookup(txt_lookup)

    def dnsfunc(name: bytes | str, timeout: int = 5) -> bytes | None:
        n = name.decode() if isinstance(name, bytes) else name
        v = records.get(_lookup_name(n))
        return v.encode() if v is not None else None

    if not re.search(rb"(?im)^dkim-signature:", m.split(b"\r\n\r\n", 1)[0]):
        return Verdict(False, "none", "no DKIM-Signature header")
    log: list[str] = []

    class _H(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            log.append(record.getMessage())

    logger = logging.getLogger("patchkit.peers.dkimpy")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    handler = _H()
    logger.addHandler(handler)
    try:
        d = dkim.DKIM(m, logger=logger, minkey=1024)
        try:
            ok = bool(d.verify(idx=idx, dnsfunc=dnsfunc))
        except dkim.DnsTimeoutError as e:
            return Verdict(False, "temperror", str(e))
        except dkim.KeyFormatError as e:
            return Verdict(False, "invalid", f"key: {e}")
        except dkim.DKIMException as e:
            # a body hash mismatch is a failed signature (as in the other peers), the rest is
            # a signature or message that could not be evaluated
            return Verdict(False, "fail" if "body hash mismatch" in str(e) else "invalid",
                           str(e))
    finally:
        logger.removeHandler(handler)
    detail = "; ".join(x for x in log if not x.startswith("sig: "))
    return Verdict(ok, "pass" if ok else "fail", detail)


# --- Perl Mail::DKIM ------------------------------------------------------------------------

def mail_dkim_missing() -> str | None:
    if shutil.which("perl") is None:
        return "perl not found: apt-get install perl libmail-dkim-perl libnet-dns-perl"
    proc = subprocess.run(["perl", "-MMail::DKIM::Verifier", "-MNet::DNS", "-MJSON::PP",
                           "-e", "1"], capture_output=True, timeout=30, check=False)
    if proc.returncode != 0:
        return "Perl Mail::DKIM/Net::DNS missing: apt-get install libmail-dkim-perl " \
               "libnet-dns-perl"
    return None


def _perl(script: str, args: Sequence[str], msg: bytes,
          wrap: Callable[[list[str]], list[str]] | None = None,
          ) -> subprocess.CompletedProcess[bytes]:
    argv = ["perl", str(PERL_DIR / script), *args]
    return subprocess.run(wrap(argv) if wrap else argv, input=msg, capture_output=True,
                          timeout=120, check=False)


def _mail_dkim_sign(kind: str, msg: bytes, domain: str, selector: str, key_pem: bytes | str,
                    method: str, algo: str, headers: Sequence[str] | None) -> bytes:
    m, crlf = _crlf(msg)
    with tempfile.TemporaryDirectory() as d:
        kf = Path(d) / "key.pem"
        kf.write_bytes(_pem(key_pem))
        args = ["--type", kind, "--algorithm", algo, "--method", method, "--domain", domain,
                "--selector", selector, "--key", str(kf)]
        if headers:
            args += ["--headers", ":".join(headers)]
        proc = _perl("dkim-sign.pl", args, m)
    if proc.returncode != 0 or not proc.stdout.endswith(b"\r\n"):
        raise RuntimeError(f"Mail::DKIM sign failed ({proc.returncode}): "
                           f"{proc.stderr.decode(errors='replace')}")
    return _back(proc.stdout + m, crlf)


def _mail_dkim_verify(msg: bytes, txt_lookup: Mapping[str, str] | None, kind: str,
                      wrap: Callable[[list[str]], list[str]] | None = None) -> Verdict:
    m, _ = _crlf(msg)
    with tempfile.TemporaryDirectory() as d:
        args: list[str] = []
        if txt_lookup is not None:
            rf = Path(d) / "records"
            lines = []
            for name, value in _lookup(txt_lookup).items():
                if "\n" in value or "\t" in name:
                    raise ValueError(f"record for {name} cannot go into the records file")
                lines.append(f"{name}\t{value}\n")
            rf.write_text("".join(lines))
            args.append(str(rf))
        proc = _perl("dkim-verify.pl", args, m, wrap)
    if proc.returncode != 0:
        raise RuntimeError(f"Mail::DKIM verify crashed ({proc.returncode}): "
                           f"{proc.stderr.decode(errors='replace')}")
    out = json.loads(proc.stdout)
    sigs = [s for s in out["signatures"] if s["type"] == kind]
    if not sigs:
        return Verdict(False, "none", f"no {kind} signature ({out['result']}: {out['detail']})")
    # like the overall result: any passing signature of that kind passes
    best = next((s for s in sigs if s["result"] == "pass"), sigs[0])
    detail = "; ".join(f"{s['domain']}/{s['selector']}: {s['detail']}" for s in sigs)
    return Verdict(best["result"] == "pass", best["result"], detail)


def mail_dkim_sign(msg: bytes, domain: str, selector: str, key_pem: bytes | str,
                   canon: str = "relaxed/relaxed", algo: str = "rsa-sha256",
                   headers: Sequence[str] | None = None) -> bytes:
    return _mail_dkim_sign("dkim", msg, domain, selector, key_pem, _canon(canon), algo, headers)


def mail_dkim_verify(msg: bytes, txt_lookup: Mapping[str, str]) -> Verdict:
    """DKIM-Signature headers only (see mail_dkim_dk_verify for DomainKeys)."""
    return _mail_dkim_verify(msg, txt_lookup, "dkim")


def mail_dkim_verify_via_dns(msg: bytes, resolv_conf: Path, kind: str = "dkim") -> Verdict:
    """Mail::DKIM asking real DNS (Net::DNS reads /etc/resolv.conf) inside the private mount
    namespace of netns.resolver_argv: e.g. the test DNS server's dns.resolv_conf(tmp_path).
    kind: "dkim" or "domainkeys"."""
    from netns import resolver_argv

    return _mail_dkim_verify(msg, None, kind, lambda argv: resolver_argv(argv, resolv_conf))


def mail_dkim_dk_sign(msg: bytes, domain: str, selector: str, key_pem: bytes | str,
                      canon: str = "nofws", headers: Sequence[str] | None = None) -> bytes:
    """A DomainKey-Signature (a=rsa-sha1, c=simple or c=nofws) prepended to msg."""
    if canon not in ("simple", "nofws"):
        raise ValueError(f"DomainKeys canonicalization is simple or nofws, not {canon!r}")
    return _mail_dkim_sign("domainkeys", msg, domain, selector, key_pem, canon, "rsa-sha1",
                           headers)


def mail_dkim_dk_verify(msg: bytes, txt_lookup: Mapping[str, str]) -> Verdict:
    """DomainKey-Signature headers only. txt_lookup holds `k=rsa; p=...` records."""
    return _mail_dkim_verify(msg, txt_lookup, "domainkeys")


# --- OpenDKIM (the milter binary in test mode) ----------------------------------------------

def opendkim_missing() -> str | None:
    if shutil.which("opendkim") is None and not Path("/usr/sbin/opendkim").exists():
        return "opendkim not found: apt-get install opendkim"
    return None


def _opendkim_exe() -> str:
    return shutil.which("opendkim") or "/usr/sbin/opendkim"


def _opendkim(conf: str, m: bytes, d: Path) -> tuple[str, str]:
    (d / "opendkim.conf").write_text(conf)
    (d / "msg.eml").write_bytes(m)
    proc = subprocess.run([_opendkim_exe(), "-x", str(d / "opendkim.conf"), "-t",
                           str(d / "msg.eml"), "-v"], capture_output=True, timeout=120,
                          check=False)
    return proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")


def opendkim_sign(msg: bytes, domain: str, selector: str, key_pem: bytes | str,
                  canon: str = "relaxed/relaxed", algo: str = "rsa-sha256",
                  headers: Sequence[str] | None = None) -> bytes:
    """Note: OpenDKIM's test mode collapses the spaces after a header colon: keep exactly one."""
    m, crlf = _crlf(msg)
    with tempfile.TemporaryDirectory() as td:
        d = Path(td)
        (d / "key.pem").write_bytes(_pem(key_pem))
        conf = (f"Mode s\nSyslog no\nRequireSafeKeys no\nDomain {domain}\n"
                f"Selector {selector}\nKeyFile {d / 'key.pem'}\n"
                f"Canonicalization {_canon(canon)}\nSignatureAlgorithm {algo}\n")
        if headers:
            conf += f"SignHeaders {','.join(headers)}\n"
        out, err = _opendkim(conf, m, d)
    i = out.find("DKIM-Signature:")
    if i < 0:
        raise RuntimeError(f"OpenDKIM made no signature:\n{out}\n{err}")
    sig = re.sub(r"\r?\n", "\r\n", out[i:].rstrip("\r\n")) + "\r\n"
    return _back(sig.encode() + m, crlf)


def opendkim_verify(msg: bytes, txt_lookup: Mapping[str, str]) -> Verdict:
    m, _ = _crlf(msg)
    with tempfile.TemporaryDirectory() as td:
        d = Path(td)
        (d / "keys").write_text("".join(f"{n} {v}\n" for n, v in _lookup(txt_lookup).items()))
        conf = f"Mode v\nSyslog no\nTestPublicKeys {d / 'keys'}\n"
        out, err = _opendkim(conf, m, d)
    text = out + err
    parts = [p.strip() for p in re.split(r"opendkim: \S*: ", text)]
    detail = "; ".join(p for p in parts if p and not p.startswith("mlfi_eom()")) or text.strip()
    if re.search(r"verification \(.*\) succeeded", text):
        return Verdict(True, "pass", detail)
    if re.search(r"verification \(.*\) failed", text):
        return Verdict(False, "fail", detail)
    if "message not signed" in text:
        return Verdict(False, "none", detail)
    if re.search(r"key retrieval failed|no key|not found", text, re.I):
        return Verdict(False, "permerror", detail)
    return Verdict(False, "invalid", detail)


# --- the peers as objects, for parametrizing ------------------------------------------------

@dataclass(frozen=True)
class Peer:
    name: str
    sign: SignFn
    verify: VerifyFn
    missing: Callable[[], str | None]


PEERS: dict[str, Peer] = {
    "dkimpy": Peer("dkimpy", dkimpy_sign, dkimpy_verify, dkimpy_missing),
    "mail-dkim": Peer("mail-dkim", mail_dkim_sign, mail_dkim_verify, mail_dkim_missing),
    "opendkim": Peer("opendkim", opendkim_sign, opendkim_verify, opendkim_missing),
}
