"""patchkit package deb, proven end to end in containers (marked docker, upstream, slow): the
source package builds on the suite twice with byte-identical .debs, lintian --fail-on
error,warning passes with only the reviewed overrides, and in a fresh container the package
installs (users, owners, modes, queue, FIFO as hier.c says), passes its autopkgtest, purges and
reinstalls; the message its qmail-remote signed verifies at peers that are not qmail's code.
One run per base and suite: about 4 to 6 minutes each on 2 cores."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from harness import patchkit, require_upstream, workdir
from peers import mail_dkim_missing, mail_dkim_verify, opendkim_missing, opendkim_verify

from patchkit.errors import EngineError

pytestmark = [pytest.mark.docker, pytest.mark.upstream, pytest.mark.slow]
SUITE = os.environ.get("PATCHKIT_TEST_SUITE", "bookworm")


@pytest.fixture(scope="module")
def engine() -> None:
    from patchkit.docker import engine as container

    try:
        container.connect(timeout=30)
    except EngineError as e:
        pytest.skip(f"{e.message} (scripts/docker-up starts one)")


@pytest.mark.parametrize("base", ["netqmail-1.06", "notqmail-1.09"])
def test_deb_builds_lints_installs_signs_purges(engine: None, base: str) -> None:
    require_upstream(base)
    out = workdir() / "deb" / f"{base}-{SUITE}"
    r = json.loads(patchkit("package", "deb", "--base", base, "--suite", SUITE, "-o", str(out),
                            "--json").stdout)
    b = r["build"]
    names = {Path(d).name for d in b["debs"]}
    assert f"{r['source']}_{r['version']}_amd64.deb" in names
    assert set(b["reproducible"]) == names  # every .deb byte-identical across the two builds
    assert not [ln for ln in b["lintian"].splitlines() if ln.startswith(("E:", "W:"))]
    checks = " | ".join(r["verify"]["checks"])
    for what in ("install:", "users: qmailq is system user", "autopkgtest: sign-verify PASS",
                 "purge:", "reinstall: qmailq is still"):
        assert what in checks, checks
    signed = Path(r["verify"]["signed_message"])
    record = (signed.parent / "dkim.txt").read_bytes()
    msg = signed.read_bytes()
    assert b"DKIM-Signature:" in msg and b"DomainKey-Signature:" in msg
    # peers outside the container (the autopkgtest's was dkimpy): Mail::DKIM, OpenDKIM
    zone = {"default._domainkey.example.org": record.decode()}
    verified = 0
    if mail_dkim_missing() is None:
        assert mail_dkim_verify(msg, zone).ok
        verified += 1
    if opendkim_missing() is None:
        assert opendkim_verify(msg, zone).ok
        verified += 1
    if not verified:
        pytest.skip(f"no peer on the host to verify the signed message: {mail_dkim_missing()}")
    readme = (Path(r["dir"]) / "debian" / "README.source").read_text()
    assert "REPACK" in readme and "tree1:" in readme
