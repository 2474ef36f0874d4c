"""The rendered DKIM patch as a packager sees it: kept up to date in patches/dkim/, the same
patched tree builds plain qmail without -DDKIM, the binaries need no library of ours at run
time, and the man pages document what users configure."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from harness import REPO, TESTABLE, build_base, patchkit, require_upstream, workdir

from patchkit.dkim.spec import DK_LETTERS, DKIM_LETTERS

pytestmark = [pytest.mark.upstream, pytest.mark.slow]


@pytest.mark.parametrize("base", TESTABLE)
def test_kept_patch_is_current(base: str, tmp_path: Path) -> None:
    require_upstream(base)
    out = tmp_path / "dkim.patch"
    patchkit("render", "--base", base, "--workdir", str(workdir()), "-o", str(out))
    kept = REPO / "patches" / "dkim" / f"{base}.patch"
    assert kept.read_bytes() == out.read_bytes(), (
        f"{kept} is stale: run scripts/render-patches")


@pytest.mark.parametrize("base", TESTABLE)
def test_render_is_deterministic(base: str, tmp_path: Path) -> None:
    require_upstream(base)
    a, b = tmp_path / "a.patch", tmp_path / "b.patch"
    patchkit("render", "--base", base, "--workdir", str(tmp_path / "w1"), "-o", str(a))
    patchkit("render", "--base", base, "--workdir", str(tmp_path / "w2"), "-o", str(b))
    assert a.read_bytes() == b.read_bytes()


def symbols(binary: Path) -> str:
    return subprocess.run(["nm", "-D", "--defined-only", str(binary)], capture_output=True,
                          text=True, check=False).stdout + subprocess.run(
        ["nm", str(binary)], capture_output=True, text=True, check=False).stdout


@pytest.mark.parametrize("base", TESTABLE)
def test_patched_tree_without_dkim_define_builds_plain_qmail(base: str, tmp_path: Path) -> None:
    built = build_base(base, dkim=True)
    variant = built.out.parent
    tree = tmp_path / "qmail"
    shutil.copytree(variant / "src" / "qmail", tree, symlinks=True)
    assert (tree / "qdkim_sign.c").is_file()  # the DKIM patch is applied
    first, *rest = (tree / "conf-cc").read_text().splitlines()
    plain = " ".join(w for w in first.split() if w != "-DDKIM" and not w.startswith("-I"))
    (tree / "conf-cc").write_text("\n".join([plain, *rest]) + "\n")
    (tree / "conf-ld").write_text("gcc\n")  # unstripped, so nm can look inside
    nss = variant / "nss"
    env = {"PATH": "/usr/bin:/bin", "LD_PRELOAD": "libnss_wrapper.so",
           "NSS_WRAPPER_PASSWD": str(nss / "passwd"), "NSS_WRAPPER_GROUP": str(nss / "group")}
    proc = subprocess.run(["make", "qmail-remote", "qmail-smtpd"], cwd=tree, env=env,
                          capture_output=True, text=True, check=False, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (tree / "dkim.lib").read_text().strip() == ""
    for prog in ("qmail-remote", "qmail-smtpd"):
        syms = symbols(tree / prog)
        assert "qdk_sign_prepare" not in syms and "qdkv_start" not in syms, prog
        assert "DKIMSignInit" not in syms and "dk_sign" not in syms, prog
    assert b"control/dksign" not in (tree / "qmail-remote").read_bytes()
    assert b"DKVERIFY" not in (tree / "qmail-smtpd").read_bytes()
    # and with -DDKIM the same tree's (stripped) programs carry our code
    assert b"control/dksign" in built.bin("qmail-remote").read_bytes()
    assert b"DKVERIFY" in built.bin("qmail-smtpd").read_bytes()


@pytest.mark.parametrize("base", TESTABLE)
def test_binaries_need_no_library_of_ours_at_run_time(base: str) -> None:
    built = build_base(base, dkim=True)
    for prog in ("qmail-remote", "qmail-smtpd"):
        ldd = subprocess.run(["ldd", str(built.bin(prog))], capture_output=True, text=True,
                             check=False).stdout
        assert "not found" not in ldd, ldd
        assert "libdkim" not in ldd and "libdomainkeys" not in ldd, ldd
    # runs with an empty environment, as qmail-rspawn starts it ("Unable to run qmail-remote")
    proc = subprocess.run([str(built.bin("qmail-remote"))], capture_output=True, env={},
                          check=False, timeout=30)
    assert proc.returncode in (0, 100, 111), proc
    assert b"error while loading shared libraries" not in proc.stderr


@pytest.mark.parametrize("base", TESTABLE)
def test_man_pages_document_the_interface(base: str) -> None:
    built = build_base(base, dkim=True)
    tree = built.out.parent / "build" / "qmail"
    remote = (tree / "qmail-remote.8").read_text()
    smtpd = (tree / "qmail-smtpd.8").read_text()
    assert "dksign" in remote
    assert "DKVERIFY" in smtpd and "Authentication-Results" in smtpd
    for letter in (*DK_LETTERS, *DKIM_LETTERS):
        assert letter.name in smtpd, letter
    # our sections format with no groff warning (the base's own page may have some: jms1's
    # uses an undefined .b macro): no warning beyond those of the same page without our patch
    plain = Path(patchkit("prepare", "--base", base, "--no-dkim", "--workdir",
                          str(workdir())).stdout.strip())
    ours, theirs = groff(tree / "qmail-smtpd.8"), groff(plain / "qmail-smtpd.8")
    assert "DKVERIFY" in ours[0]
    assert ours[1] <= theirs[1], ours[1] - theirs[1]
    assert groff(tree / "qmail-remote.8")[1] <= groff(plain / "qmail-remote.8")[1]


def groff(page: Path) -> tuple[str, Counter[str]]:
    """The formatted text (overstrike removed) and the warnings, without line numbers."""
    proc = subprocess.run(["groff", "-man", "-Tutf8", "-ww", str(page)], capture_output=True,
                          text=True, check=False, env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    warnings = Counter(re.sub(r"^.*?:\d+: ", "", ln) for ln in proc.stderr.splitlines())
    return re.sub(".\b", "", proc.stdout), warnings
