"""The seed corpus of the fuzz targets, from the test suite's own messages: the adversarial corpus
(hostile.py) at small sizes, one past the signer's 256 KB header limit and one past the
verifier's 64 KB spool threshold; the forged Authentication-Results disguises
(hostile.forgeries, with the fuzz run's authserv-id); the signer's header cases (two From:,
Sender: without an address, a parent domain's key, bare CR); and messages signed by dkimpy with
the fuzz targets' test key. patchkit fuzz also signs every message with our own signer for the
verify target.

    .venv/bin/python tests/integration/fuzzseeds.py DIR    writes them to DIR, one a file
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from hostile import CORPUS, HEAD, LINE, forgeries

from patchkit.testing.fuzz import ME, harness_dir

BODY = LINE * 3


def _forgeries() -> dict[str, bytes]:
    return {f"forged-ar-{re.sub(r'[^a-z0-9]+', '-', k.lower())}": v + b"\n" + HEAD + b"\n" + BODY
            for k, v in forgeries(ME.encode()).items()}


def _headers() -> dict[str, bytes]:
    to = b"To: Bob <bob@example.test>\nSubject: seed\n"
    return {
        "two-from": b"From: a@example.org\nFrom: b@example.org\n" + to + b"\n" + BODY,
        "sender-without-address": b"Sender: nobody\nFrom: a@example.org\n" + to + b"\n" + BODY,
        "sender-other-domain": b"Sender: s@other.test\nFrom: a@example.org\n" + to + b"\n" + BODY,
        "parent-domain-key": b"From: a@mail.sub.example.org\n" + to + b"\n" + BODY,
        "no-rsa-key-domain": b"From: a@elsewhere.test\n" + to + b"\n" + BODY,
        "folded-from": b"From: Alice\n <alice@example.org>\n" + to + b"\n" + BODY,
        "no-from": to + b"\n" + BODY,
        "header-only": HEAD,
        "empty": b"",
        "bare-cr-body": HEAD + b"\nline one\rstill one\nline two\r\n.\n",
        "crlf-message": (HEAD + b"\n" + BODY).replace(b"\n", b"\r\n"),
        "dots": HEAD + b"\n.\n..\n.x\n",
    }


def _hostile() -> dict[str, bytes]:
    sizes = {"plain": 2000, "many-copies": 40, "long-header-line": 3000, "long-body-line": 5000}
    out = {f"hostile-{k}": fn(sizes.get(k, 3000)) for k, fn in CORPUS.items()}
    out["hostile-long-header-line-past-256k"] = CORPUS["long-header-line"](270_000)
    out["hostile-plain-spooled"] = CORPUS["plain"](100_000)  # the verifier spools past 64 KB
    return out


def _dkimpy_signed() -> dict[str, bytes]:
    """Signatures from an independent signer, with the test key (selector rsa of example.org)."""
    from peers import dkimpy_missing, dkimpy_sign

    if dkimpy_missing():
        return {}
    key = (harness_dir() / "keys" / "rsa1024.pem").read_bytes()
    msg = HEAD + b"\n" + BODY
    out = {}
    for canon in ("relaxed/relaxed", "simple/simple", "relaxed/simple", "simple/relaxed"):
        out[f"dkimpy-{canon.replace('/', '-')}"] = dkimpy_sign(msg, "example.org", "rsa", key,
                                                               canon=canon)
    out["dkimpy-rsa-sha1"] = dkimpy_sign(msg, "example.org", "rsa", key, algo="rsa-sha1")
    out["dkimpy-unknown-selector"] = dkimpy_sign(msg, "example.org", "nosuch", key)
    out["dkimpy-temp-selector"] = dkimpy_sign(msg, "example.org", "temp", key)
    out["dkimpy-h-names-one-header-40-times"] = dkimpy_sign(
        CORPUS["many-copies"](40), "example.org", "rsa", key, headers=["X-A"] * 40 + ["From"])
    out["dkimpy-tampered"] = out["dkimpy-relaxed-relaxed"].replace(b"lazy dog", b"lazy cat", 1)
    return out


def seeds() -> dict[str, bytes]:
    return {**_hostile(), **_forgeries(), **_headers(), **_dkimpy_signed()}


def write(d: Path) -> int:
    d.mkdir(parents=True, exist_ok=True)
    for old in d.glob("*.eml"):
        old.unlink()
    s = seeds()
    for name, data in s.items():
        (d / f"{name}.eml").write_bytes(data)
    return len(s)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(f"{write(Path(sys.argv[1]))} seed messages in {sys.argv[1]}")
