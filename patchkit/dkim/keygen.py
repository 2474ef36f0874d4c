"""The module `patchkit keygen` lived in before `patchkit keys`: its names, kept so that code
importing patchkit.dkim.keygen (scripts, tests, a branch merged later) keeps working. Everything
is defined in dkim.keys (key files, links, rotation) and dkim.records (names and records); new
code imports those."""

from __future__ import annotations

from pathlib import Path

from patchkit.dkim.keys import KeyFiles, keygen, public_key, qmail_gid
from patchkit.dkim.records import BITS, check_domain, check_selector, split_txt, zone_lines

__all__ = ["BITS", "KeyFiles", "check_domain", "check_selector", "keygen", "public_key_b64",
           "qmail_gid", "split_txt", "zone_lines"]


def public_key_b64(private_pem: Path) -> str:
    """The p= of an RSA key file (base64 of its SubjectPublicKeyInfo)."""
    return public_key(private_pem, "rsa")
