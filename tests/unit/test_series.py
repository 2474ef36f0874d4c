"""patchkit.patching.series: the real patches/series.toml, selection by base/OpenSSL/compiler, and
validation of malformed series."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from patchkit.errors import ConfigError, VerificationError
from patchkit.patching import diffs, series
from patchkit.patching.series import Toolchain
from patchkit.resources import patches_dir

GCC12_OSSL3 = Toolchain(compiler="gcc", compiler_version=(12, 2, 0), openssl_version=(3, 0, 19))
GCC12_OSSL102 = Toolchain(compiler="gcc", compiler_version=(12, 2, 0),
                          openssl_version=(1, 0, 2))
GCC14 = Toolchain(compiler="gcc", compiler_version=(14, 2, 0), openssl_version=(3, 0, 19))
CLANG16 = Toolchain(compiler="clang", compiler_version=(16, 0, 6), openssl_version=(3, 0, 19))


@pytest.fixture(scope="module")
def real() -> series.Series:
    return series.load_series()


# --------------------------------------------------------------------------- the real series


def test_real_series_loads(real: series.Series) -> None:
    names = [b.name for b in real.bases]
    assert {"qmail-1.03", "jms1-7.10", "jms1-7.08", "netqmail-1.06", "notqmail-1.09"} <= set(names)
    assert len(names) == len(set(names))
    assert {c.name for c in real.components} == {"libdomainkeys", "libdkim"}
    assert {p.component for p in real.patches} == set(series.COMPONENTS)
    assert real.base("jms1-7.10").cflags == ("-DTLS", "-DEXTERNAL_TODO")
    assert real.base("jms1-7.08").testable is False


def test_every_listed_patch_exists_and_matches_its_pin(real: series.Series) -> None:
    for p in real.patches:
        path = series.verify_patch(p)
        assert path == patches_dir() / p.file
        assert hashlib.sha256(path.read_bytes()).hexdigest() == p.sha256


def test_no_orphan_patch_files(real: series.Series) -> None:
    root = patches_dir()
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*.patch")
               if p.relative_to(root).parts[0] not in ("dkim", "debian")}  # not build patches
    listed = {p.file for p in real.patches}
    assert on_disk - listed == set(), "patch files not listed in series.toml"
    assert listed - on_disk == set()


def test_every_patch_starts_with_description_and_why(real: series.Series) -> None:
    for p in real.patches:
        text = diffs.read_text(p.path())
        lines = text.splitlines()
        assert lines[0].startswith("Description: "), p.file
        assert any(ln.startswith("Why: ") for ln in lines[:3]), p.file
        fields = diffs.header(text)
        assert fields["Description"] and len(fields["Why"]) > 20, p.file
        first_diff = next(i for i, ln in enumerate(lines) if ln.startswith("--- "))
        assert "Why" in diffs.header("\n".join(lines[:first_diff])), p.file


def test_every_patch_parses_with_its_strip(real: series.Series) -> None:
    for p in real.patches:
        files = diffs.parse(diffs.read_text(p.path()), strip=p.strip, name=p.file)
        assert files and all(f.hunks for f in files if f.source is not None), p.file


def test_crlf_patches_are_libdkim_and_lf(real: series.Series) -> None:
    for p in real.patches:
        assert (p.eol == "crlf") == (p.component == "libdkim"), p.file
        if p.eol == "crlf":
            assert b"\r\n" not in p.path().read_bytes(), p.file


# --------------------------------------------------------------------------- selection


def test_select_by_base(real: series.Series) -> None:
    q = [p.file for p in real.select("qmail", "qmail-1.03", GCC12_OSSL3)]
    assert q == ["qmail-1.03/0001-errno-h.patch", "qmail-1.03/0002-spawn-alloc-h.patch"]
    j = [p.file for p in real.select("qmail", "jms1-7.10", GCC12_OSSL3)]
    assert j and all(f.startswith("jms1-7.10/") for f in j)
    assert [p.file for p in real.select("qmail", "jms1-7.08", GCC12_OSSL3)] == j
    assert real.select("qmail", "notqmail-1.09", GCC12_OSSL3) == ()


def test_select_by_openssl(real: series.Series) -> None:
    old = [p.file for p in real.select("libdomainkeys", "qmail-1.03", GCC12_OSSL102)]
    new = [p.file for p in real.select("libdomainkeys", "qmail-1.03", GCC12_OSSL3)]
    ossl = "libdomainkeys-0.69/0001-openssl-1.1-evp-md-ctx.patch"
    assert ossl in new and ossl not in old
    assert [f for f in new if f != ossl] == old
    jms_old = [p.file for p in real.select("qmail", "jms1-7.10", GCC12_OSSL102)]
    assert "jms1-7.10/0001-smtpd-openssl11.patch" not in jms_old


def test_select_preserves_series_order(real: series.Series) -> None:
    for comp in series.COMPONENTS:
        for base in ("qmail-1.03", "jms1-7.10"):
            sel = real.select(comp, base, GCC12_OSSL3)
            idx = [real.patches.index(p) for p in sel]
            assert idx == sorted(idx)
    dkim = [p.file for p in real.select("libdkim", "qmail-1.03", GCC12_OSSL3)]
    listed = [p.file for p in real.patches if p.component == "libdkim"]
    assert dkim == sorted(dkim) == listed and len(dkim) >= 10


def test_select_unknown_base(real: series.Series) -> None:
    with pytest.raises(ConfigError, match="unknown base 'nope'"):
        real.select("qmail", "nope", GCC12_OSSL3)
    with pytest.raises(ConfigError, match="unknown component"):
        real.component("qmail-but-not")


SYNTH = """
[[base]]
name = "b1"
tree = "t"
description = "one"
[[base]]
name = "b2"
tree = "t"
description = "two"
[[component]]
name = "libdkim"
artifact = "libdkim-x"
[[patch]]
component = "qmail"
file = "p/01-all.patch"
sha256 = "00"
[[patch]]
component = "qmail"
file = "p/02-gcc14.patch"
compiler = "gcc>=14"
sha256 = "00"
[[patch]]
component = "qmail"
file = "p/03-b2-ossl.patch"
bases = ["b2"]
openssl = ">=1.1"
sha256 = "00"
[[patch]]
component = "qmail"
file = "p/04-clang.patch"
compiler = "clang"
sha256 = "00"
[[patch]]
component = "qmail"
file = "p/05-old-ossl.patch"
openssl = "<1.1"
sha256 = "00"
[[patch]]
component = "libdkim"
file = "p/06-lib.patch"
eol = "crlf"
strip = 2
sha256 = "00"
"""


@pytest.mark.parametrize(("base", "tc", "expected"), [
    ("b1", GCC12_OSSL3, ["01-all"]),
    ("b1", GCC14, ["01-all", "02-gcc14"]),
    ("b1", CLANG16, ["01-all", "04-clang"]),
    ("b2", GCC12_OSSL3, ["01-all", "03-b2-ossl"]),
    ("b2", GCC14, ["01-all", "02-gcc14", "03-b2-ossl"]),
    ("b2", GCC12_OSSL102, ["01-all", "05-old-ossl"]),
    ("b1", GCC12_OSSL102, ["01-all", "05-old-ossl"]),
])
def test_select_synthetic(base: str, tc: Toolchain, expected: list[str]) -> None:
    s = series.parse_series(SYNTH)
    got = [p.file.split("/")[1].removesuffix(".patch") for p in s.select("qmail", base, tc)]
    assert got == expected


def test_synthetic_fields() -> None:
    s = series.parse_series(SYNTH)
    (lib,) = s.select("libdkim", "b1", GCC12_OSSL3)
    assert lib.eol == "crlf" and lib.strip == 2 and lib.bases == ()
    assert s.component("libdkim").artifact == "libdkim-x"
    assert s.base("b2").upstream == ()


@pytest.mark.parametrize(("have", "cond", "ok"), [
    ((1, 0, 2), ">=1.1", False), ((1, 1, 0), ">=1.1", True), ((3, 0, 19), ">=1.1", True),
    ((3, 0, 19), "<3", False), ((1, 1, 1), "<3", True), ((3, 0, 19), "==3", True),
    ((3, 0, 19), "==3.0.19", True), ((3, 0, 19), ">3.0.18", True), ((3,), ">=3.0.1", False),
    ((14, 2, 0), "<=14", True), ((15,), "<=14", False),
])
def test_version_conditions(have: tuple[int, ...], cond: str, ok: bool) -> None:
    assert series._satisfies(have, cond) is ok


def test_toolchain_describe() -> None:
    assert GCC14.describe() == {"compiler": "gcc 14.2.0", "openssl": "3.0.19", "libc": "glibc "}


# --------------------------------------------------------------------------- malformed series

HEAD = '[[base]]\nname = "b1"\ntree = "t"\ndescription = "d"\n'
PATCH = '[[patch]]\ncomponent = "qmail"\nfile = "x.patch"\nsha256 = "00"\n'


@pytest.mark.parametrize(("text", "needle"), [
    (HEAD + PATCH.replace('"qmail"', '"postfix"'), "component must be one of"),
    (HEAD + PATCH + 'eol = "cr"\n', "eol must be one of"),
    (HEAD + PATCH + 'bases = ["b9"]\n', "unknown bases ['b9']"),
    (HEAD + PATCH + 'openssl = "~1.1"\n', "bad version condition"),
    (HEAD + PATCH + 'openssl = ">=1.x"\n', "bad version condition"),
    (HEAD + PATCH + 'compiler = "icc>=1"\n', "bad compiler condition"),
    pytest.param(HEAD + PATCH + 'compiler = "gcc~14"\n', "bad version condition"),
    (HEAD + PATCH + PATCH, "listed twice"),
    (HEAD + PATCH + 'colour = "red"\n', "unknown keys ['colour']"),
    (HEAD + 'flavour = "x"\n', "unknown keys ['flavour']"),
    ('[[component]]\nname = "libdkim"\nartifact = "a"\nextra = 1\n', "unknown keys ['extra']"),
    ("[[base]\nname=", "not valid TOML"),
])
def test_malformed_series_is_a_config_error(text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as ei:
        series.parse_series(text, "my-series.toml")
    assert needle in ei.value.message + " " + ei.value.hint
    assert ei.value.exit_code == 3


def test_bad_compiler_condition_fails_at_select_time_too() -> None:
    p = series.Patch(component="qmail", file="x", sha256="0", compiler="gcc=>14")
    with pytest.raises(ConfigError):
        p.applies("b", GCC14)


@pytest.mark.parametrize("text", [HEAD + PATCH.replace('sha256 = "00"\n', ""),
                                  '[[base]]\nname = "b1"\ntree = "t"\n'],
                         ids=["patch-without-sha256", "base-without-description"])
def test_missing_required_key_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError):
        series.parse_series(text)


# --------------------------------------------------------------------------- verification


def _copy_patches(tmp_path: Path) -> Path:
    root = tmp_path / "patches"
    shutil.copytree(patches_dir(), root)
    return root


def test_tampered_patch_is_a_verification_error(tmp_path: Path) -> None:
    root = _copy_patches(tmp_path)
    s = series.load_series(root)
    p = s.patches[0]
    assert series.verify_patch(p, root) == root / p.file
    with (root / p.file).open("ab") as f:
        f.write(b" \n")
    with pytest.raises(VerificationError) as ei:
        series.verify_patch(p, root)
    assert p.file in ei.value.message and p.sha256 in ei.value.message
    assert ei.value.exit_code == 5


def test_missing_patch_is_a_config_error(tmp_path: Path) -> None:
    root = _copy_patches(tmp_path)
    s = series.load_series(root)
    p = s.patches[-1]
    (root / p.file).unlink()
    with pytest.raises(ConfigError, match="missing"):
        series.verify_patch(p, root)
