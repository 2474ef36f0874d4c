"""Signing keys for qmail-remote (the recipe's dknewkey): a private key per domain and selector,
readable only by its owner and the qmail group, and SELECTOR.pub with the DNS TXT records.

Layout (what control/dksign's ``%`` expands into): KEYDIR/DOMAIN/SELECTOR is the private key,
KEYDIR/DOMAIN/SELECTOR.pub the records to publish at SELECTOR._domainkey.DOMAIN."""

from __future__ import annotations

import base64
import grp
import re
from dataclasses import dataclass
from pathlib import Path

from patchkit.errors import ConfigError, FileError, ToolMissing
from patchkit.files import write_atomic
from patchkit.runner import capture

_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
BITS = (1024, 2048, 3072, 4096)


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyFiles:
    private: Path
    public: Path
    dkim_record: str
    dk_record: str
    note: str = ""  # what the admin still has to do (e.g. no qmail group yet)


def check_domain(domain: str) -> str:
    d = domain.rstrip(".").lower()
    labels = d.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels) or len(d) > 253:
        raise ConfigError(f"{domain!r} is not a domain name", "give a domain such as example.com")
    return d


def check_selector(selector: str) -> str:
    if not all(_LABEL.match(label) for label in selector.split(".")):
        raise ConfigError(f"{selector!r} is not a valid selector",
                          "use letters, digits and hyphens, e.g. default or s2026")
    return selector


def split_txt(record: str, size: int = 255) -> list[str]:
    """A TXT record's text as DNS character-strings of at most 255 bytes each."""
    return [record[i:i + size] for i in range(0, len(record), size)] or [""]


def zone_lines(name: str, record: str) -> str:
    strings = " ".join(f'"{s}"' for s in split_txt(record))
    return f"{name}. IN TXT ( {strings} )\n"


def public_key_b64(private_pem: Path) -> str:
    der = capture(["openssl", "pkey", "-in", str(private_pem), "-pubout", "-outform", "DER"],
                  what="openssl pkey", error=ToolMissing,
                  hint="check that openssl works here: openssl version")
    return base64.b64encode(der).decode()


def qmail_gid() -> int | None:
    """The qmail group's id, or None where this host has no qmail group (yet)."""
    try:
        return grp.getgrnam("qmail").gr_gid
    except KeyError:
        return None


def _write_private(dest: Path, pem: bytes) -> str:
    """The key, 0640 and group qmail (qmail-remote runs as qmailr, group qmail, and must read it);
    0600 where there is no qmail group, with a note saying what to run once there is one.
    Returns that note, or ""."""
    gid = qmail_gid()
    if gid is None:
        write_atomic(dest, pem, mode=0o600)
        return (f"note: this host has no qmail group, so {dest} is readable by its owner only; "
                f"qmail-remote (user qmailr) cannot sign with it until you run: "
                f"chgrp qmail {dest} && chmod 0640 {dest}")
    try:
        write_atomic(dest, pem, mode=0o640, gid=gid)
    except PermissionError as e:
        raise FileError(
            f"cannot give {dest} to the qmail group ({e.strerror}); no key was written",
            "run it as root (sudo patchkit keygen ...), or make the key where you may and "
            "then, as root: chgrp qmail KEY && chmod 0640 KEY") from e
    return ""


def keygen(domain: str, *, selector: str = "default", bits: int = 2048,
           keydir: Path = Path("/etc/domainkeys"), force: bool = False) -> KeyFiles:
    domain = check_domain(domain)
    selector = check_selector(selector)
    # control/dksign takes this path as it is printed, and qmail-remote runs in the qmail home
    keydir = keydir.absolute()
    if bits not in BITS:
        raise ConfigError(f"{bits} bits is not offered", f"choose one of {BITS}")
    d = keydir / domain
    private, public = d / selector, d / f"{selector}.pub"
    if private.exists() and not force:
        raise ConfigError(f"{private} exists", "refusing to overwrite a key; add --force to "
                          "replace it (mail signed with the old key fails once it is gone)")
    d.mkdir(parents=True, exist_ok=True)
    pem = capture(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                   f"rsa_keygen_bits:{bits}"], what="openssl genpkey", error=ToolMissing,
                  hint="check that openssl works here: openssl version")
    note = _write_private(private, pem)
    p = public_key_b64(private)
    dkim = f"v=DKIM1; k=rsa; p={p}"
    dk = f"k=rsa; p={p}"
    name = f"{selector}._domainkey.{domain}"
    write_atomic(public, (
        f"; DNS TXT record for {name} ({bits}-bit RSA), for DKIM verifiers:\n"
        + zone_lines(name, dkim)
        + "; the same key as a DomainKeys record (publish one record at this name: DKIM\n"
        "; verifiers and libdomainkeys both accept the DKIM one above):\n"
        + "; " + zone_lines(name, dk)
    ))
    return KeyFiles(private=private, public=public, dkim_record=dkim, dk_record=dk, note=note)
