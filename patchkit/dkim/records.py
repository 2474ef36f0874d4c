"""DKIM key records and names, as pure functions: domain and selector checks, the TXT record of a
key (RSA: RFC 6376, Ed25519: RFC 8463) and its split into DNS character-strings, the key type of
a PEM file, the dated selector of a rotation, and what a TXT answer says about a key (published,
different, revoked, missing). No process, no file, no socket: keys.py and dnscheck.py do those."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import string
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal

from patchkit.errors import ConfigError

KeyType = Literal["rsa", "ed25519"]
KEY_TYPES: tuple[KeyType, ...] = ("rsa", "ed25519")
BITS = (1024, 2048, 3072, 4096)
MIN_RSA_BITS = 1024  # RFC 8301 3.2: verifiers must not accept smaller RSA keys
# The active key of each type: a symlink of this name in KEYDIR/DOMAIN (qmail-remote's
# control/dksign names KEYDIR/%/default and KEYDIR/%/ed25519; the selector is the target's name)
LINK_NAMES: dict[KeyType, str] = {"rsa": "default", "ed25519": "ed25519"}

_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
# The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): SEQUENCE { SEQUENCE { OID
# 1.3.101.112 }, BIT STRING (33 bytes: 0 unused bits + the 32-byte key) }
_ED25519_SPKI = bytes.fromhex("302a300506032b6570032100")
_OID_RSA = bytes.fromhex("06092a864886f70d010101")  # 1.2.840.113549.1.1.1 rsaEncryption
_OID_ED25519 = bytes.fromhex("06032b6570")  # 1.3.101.112


def check_domain(domain: str) -> str:
    d = domain.rstrip(".").lower()
    labels = d.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels) or len(d) > 253:
        raise ConfigError(f"{domain!r} is not a domain name", "give a domain such as example.com")
    return d


def is_selector(name: str) -> bool:
    return all(_LABEL.match(label) for label in name.split("."))


def check_selector(selector: str) -> str:
    if not is_selector(selector):
        raise ConfigError(f"{selector!r} is not a valid selector",
                          "use letters, digits and hyphens, e.g. default or s2026")
    return selector


def check_new_selector(selector: str) -> str:
    """A selector for `keys new`: valid, and not a name the layout gives another meaning (the
    active-key links, and NAME.pub beside each key)."""
    check_selector(selector)
    if selector in LINK_NAMES.values():
        raise ConfigError(f"selector {selector!r} is the name of an active-key link",
                          "leave --selector out for a dated one, or choose another name")
    if selector.lower().endswith(".pub"):
        raise ConfigError(f"selector {selector!r} ends in .pub, the name of a record file",
                          "choose a selector that does not end in .pub")
    return selector


def check_bits(key_type: KeyType, bits: int | None) -> int | None:
    """The RSA modulus size to make (2048 unless given), or None for Ed25519 (always 256 bits)."""
    if key_type == "ed25519":
        if bits is not None:
            raise ConfigError("--bits is for RSA keys; an Ed25519 key always has 256 bits",
                              "leave --bits out with --type ed25519")
        return None
    if bits is None:
        return 2048
    if bits < MIN_RSA_BITS:
        raise ConfigError(f"RSA keys of {bits} bits are too short: RFC 8301 tells verifiers to "
                          f"reject keys under {MIN_RSA_BITS} bits",
                          f"choose 2048 (the default) or one of {BITS}")
    if bits not in BITS:
        raise ConfigError(f"{bits} bits is not offered", f"choose one of {BITS}")
    return bits


def dated_selector(today: dt.date, taken: Collection[str]) -> str:
    """YYYYqN for today's quarter (2026q4), else the first of 2026q4b ... 2026q4z not taken."""
    base = f"{today.year}q{(today.month - 1) // 3 + 1}"
    suffixes: list[str] = ["", *string.ascii_lowercase[1:]]
    for selector in (base + suffix for suffix in suffixes):
        if selector not in taken:
            return selector
    raise ConfigError(f"every dated selector {base} ... {base}z is taken in this quarter",
                      "give one with --selector")


def key_name(selector: str, domain: str) -> str:
    return f"{selector}._domainkey.{domain}"


def split_txt(record: str, size: int = 255) -> list[str]:
    """A TXT record's text as DNS character-strings of at most 255 bytes each."""
    return [record[i:i + size] for i in range(0, len(record), size)] or [""]


def zone_lines(name: str, record: str) -> str:
    strings = " ".join(f'"{s}"' for s in split_txt(record))
    return f"{name}. IN TXT ( {strings} )\n"


def public_key_p(key_type: KeyType, spki_der: bytes) -> str:
    """The p= value: base64 of the SubjectPublicKeyInfo for RSA (RFC 6376 3.6.1), of the raw
    32-byte public key for Ed25519 (RFC 8463 4.2)."""
    if key_type == "rsa":
        return base64.b64encode(spki_der).decode()
    if len(spki_der) != len(_ED25519_SPKI) + 32 or not spki_der.startswith(_ED25519_SPKI):
        raise ConfigError("not an Ed25519 public key (unexpected SubjectPublicKeyInfo)",
                          "check the key file with: openssl pkey -in KEY -noout -text")
    return base64.b64encode(spki_der[len(_ED25519_SPKI):]).decode()


def dkim_record(key_type: KeyType, p: str) -> str:
    return f"v=DKIM1; k={key_type}; p={p}"


def revocation_record(key_type: KeyType) -> str:
    """RFC 6376 3.6.1: an empty p= says the key was revoked."""
    return f"v=DKIM1; k={key_type}; p="


def pem_key_type(pem: bytes) -> KeyType | None:
    """The type of a private key in PEM (PKCS#8 as openssl genpkey writes it, or PKCS#1 RSA as
    old dknewkey did), or None where the file is no private key we know."""
    m = re.search(rb"-----BEGIN (RSA |)PRIVATE KEY-----\s*(.*?)-----END", pem, re.DOTALL)
    if m is None:
        return None
    if m.group(1):
        return "rsa"
    try:
        der = base64.b64decode(b"".join(m.group(2).split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    head = der[:32]  # version and AlgorithmIdentifier come first in PrivateKeyInfo
    if _OID_RSA in head:
        return "rsa"
    if _OID_ED25519 in head:
        return "ed25519"
    return None


def pub_record(text: str) -> str | None:
    """The DKIM record in a SELECTOR.pub: the character-strings of its first uncommented TXT
    line, joined (None where there is none)."""
    for line in text.splitlines():
        if " IN TXT (" in line and not line.lstrip().startswith(";"):
            return "".join(re.findall(r'"([^"]*)"', line))
    return None


# --------------------------------------------------------------------------- what DNS says

Status = Literal["published", "missing", "different", "revoked", "dns-error"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    status: Status
    detail: str


def parse_tags(record: str) -> dict[str, str] | None:
    """A DKIM key record's tags (RFC 6376 3.2: tag=value; ..., white space around them ignored),
    or None where the text is no tag list."""
    tags: dict[str, str] = {}
    for part in record.split(";"):
        if not part.strip():
            continue
        name, eq, value = part.partition("=")
        name = name.strip()
        if not eq or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
            return None
        tags.setdefault(name, value.strip())
    return tags


def judge(key_type: KeyType, p: str, texts: Sequence[str]) -> Verdict:
    """What the TXT records at a key's name (each one's character-strings joined) say about a key
    of `key_type` with public key `p`. Records that are no DKIM key record are ignored; several
    DKIM records count as published only if each one is this key (a verifier may take any)."""
    keys = []
    for text in texts:
        tags = parse_tags(text)
        if tags is None or "p" not in tags or tags.get("v", "DKIM1") != "DKIM1":
            continue
        keys.append(tags)
    if not keys:
        return Verdict(status="missing",
                       detail="no DKIM key record" + (f" ({len(texts)} other TXT)" if texts
                                                      else ""))
    same = [t for t in keys if t.get("k", "rsa") == key_type
            and "".join(t["p"].split()) == p]
    if len(same) == len(keys):
        return Verdict(status="published", detail="matches" if len(keys) == 1
                       else f"{len(keys)} records, all this key")
    revoked = [t for t in keys if not "".join(t["p"].split())]
    if not same and len(revoked) == len(keys):
        return Verdict(status="revoked", detail="p= is empty")
    if same:
        return Verdict(status="different", detail=f"{len(keys)} DKIM records, {len(same)} "
                       "this key: a verifier may take another one")
    other = keys[0]
    if other.get("k", "rsa") != key_type:
        return Verdict(status="different", detail=f"k={other.get('k', 'rsa')}, not {key_type}")
    return Verdict(status="different", detail="another public key (p=)")
