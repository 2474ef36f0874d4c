"""The libFuzzer targets (patchkit fuzz, templates/fuzz): built with clang under ASan+UBSan from a
patchkit-prepared tree, every kept crash input (tests/fuzz-regressions/TARGET/) and every seed
replayed, the canned key shown to reach the crypto path, and each target fuzzed for
PATCHKIT_FUZZ_SECONDS (60 by default, what CI runs) from the test suite's seeds (fuzzseeds.py).
Any crash, leak, hang or sanitizer report fails."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import fuzzseeds
import pytest
from harness import REPO, patchkit, require_upstream, workdir

from patchkit.testing import fuzz as pkfuzz

pytestmark = [pytest.mark.upstream, pytest.mark.slow, pytest.mark.fuzz]

BASE = "netqmail-1.06"
REGRESSIONS = REPO / "tests" / "fuzz-regressions"
SECONDS = int(os.environ.get("PATCHKIT_FUZZ_SECONDS", "60"))


def require_libfuzzer() -> None:
    clang = shutil.which("clang")
    if clang is None:
        pytest.skip("clang not installed: apt-get install clang libclang-rt-dev llvm "
                    "(scripts/setup --test)")
    rt = subprocess.run([clang, "--print-runtime-dir"], capture_output=True, text=True,
                        check=True).stdout.strip()
    if not (Path(rt) / "libclang_rt.fuzzer-x86_64.a").is_file():
        pytest.skip(f"libFuzzer's runtime is not in {rt}: apt-get install libclang-rt-dev")


def fuzz(*args: str) -> dict[str, Any]:
    proc = patchkit("fuzz", "--base", BASE, "--workdir", str(workdir()), "--json", *args,
                    check=False)
    assert proc.returncode == 0, f"patchkit fuzz {' '.join(args)} ({proc.returncode}):\n" \
                                 f"{proc.stderr[-4000:]}"
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("fuzz-seeds")
    fuzzseeds.write(d)
    return d


@pytest.fixture(scope="module")
def replayed(seeds: Path) -> dict[str, Any]:
    """Targets built and linked, seeds made (ours signed too), kept inputs replayed."""
    require_upstream(BASE)
    require_libfuzzer()
    return fuzz("--seconds", "0", "--seeds", str(seeds), "--regressions", str(REGRESSIONS))


def top(report: dict[str, Any]) -> Path:
    return Path(report["workdir"])


def test_kept_inputs_and_seeds_replay_clean(replayed: dict[str, Any]) -> None:
    for t in pkfuzz.TARGETS:
        kept = [p for p in (REGRESSIONS / t).glob("*") if p.is_file()]
        assert replayed["targets"][t]["regressions"] == len(kept)
        seeds = sorted((top(replayed) / "seeds" / t).iterdir())
        assert len(seeds) == replayed["targets"][t]["seeds"] > 40
        log = top(replayed) / "logs" / f"replay-seeds-{t}.log"
        rc = pkfuzz.replay(Path(replayed["targets"][t]["binary"]), top(replayed) / "run",
                           seeds, log)
        assert rc == 0, log.read_text()[-4000:]


def test_canned_key_reaches_the_crypto_path(replayed: dict[str, Any], seeds: Path,
                                            tmp_path: Path) -> None:
    """The verify target's DNS answers with the test keys: what our signer and dkimpy signed
    passes (so the fuzzer starts from inputs that reach RSA, Ed25519 and DomainKeys), and a
    tampered or unknown-selector copy does not."""
    run = top(replayed) / "run"
    binary = {t: Path(replayed["targets"][t]["binary"]) for t in pkfuzz.TARGETS}
    msg = tmp_path / "signed"
    signed = pkfuzz.sign_seed(binary["sign"], run, (seeds / "hostile-plain.eml").read_bytes())
    assert signed is not None
    msg.write_bytes(signed)
    # what qmail-remote keeps in the queue gives no seed
    assert pkfuzz.sign_seed(binary["sign"], run, (seeds / "two-from.eml").read_bytes()) is None
    out = pkfuzz.show(binary["verify"], run, msg)
    assert f"Authentication-Results: {pkfuzz.ME};" in out
    assert "dkim=pass header.d=example.org header.s=rsa header.a=rsa-sha256" in out
    assert "dkim=pass header.d=example.org header.s=ed25519 header.a=ed25519-sha256" in out
    assert "domainkeys=pass header.d=example.org header.from=alice@example.org" in out
    assert "[DKVERIFY=DEGIJKfh,CGHIJMQRkl] (queued)" in out
    for name, want in (("dkimpy-simple-simple", "dkim=pass header.d=example.org header.s=rsa"),
                       ("dkimpy-tampered", "dkim=fail"),
                       ("dkimpy-unknown-selector", "dkim=permerror"),
                       ("dkimpy-temp-selector", "dkim=temperror")):
        out = pkfuzz.show(binary["verify"], run, seeds / f"{name}.eml")
        assert want in out, (name, out[-2000:])
    # unsigned mail with no single sender: no DomainKeys verdict (was 554 DomainKeys SYNTAX)
    for name in ("sender-without-address", "two-from", "no-from"):
        out = pkfuzz.show(binary["verify"], run, seeds / f"{name}.eml")
        assert "domainkeys=none" in out and "[DKVERIFY=DEGIJKfh,CGHIJMQRkl] (queued)" in out, \
            (name, out[-2000:])
    # a forged result with our id is removed in the fuzz build too
    out = pkfuzz.show(binary["verify"], run, seeds / "forged-ar-plain.eml")
    assert "bank.test" not in out


def test_targets_fuzz_clean(replayed: dict[str, Any], seeds: Path) -> None:
    report = fuzz("--seconds", str(SECONDS), "--seeds", str(seeds))
    for t in pkfuzz.TARGETS:
        r = report["targets"][t]
        print(f"fuzz {t}: {r['execs']} execs in {SECONDS} s ({r['exec_per_s']}/s), "
              f"cov {r['cov']} ft {r['ft']}, corpus {r['corpus']}")
        assert r["exit"] == 0 and not r["findings"], r
        assert r["execs"] > 0 and r["cov"] > 0
