"""patchkit.build.plan: stage keys, conf-* flags, users files. Toolchains are built by hand."""

from __future__ import annotations

import dataclasses
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from patchkit.build import plan as planmod
from patchkit.build.plan import CompileStage, Options, Plan, SourceStage, make_plan
from patchkit.dkim.spec import RenderOptions
from patchkit.errors import ConfigError
from patchkit.patching.series import Patch, Series, Toolchain, load_series
from patchkit.sources.manifest import Manifest, load_manifest

TC = Toolchain(compiler="gcc", compiler_version=(12, 2, 0), openssl_version=(3, 0, 19),
               libc="glibc", libc_version=(2, 36))
WORK = Path("/tmp/patchkit-unit-plan")


@pytest.fixture(scope="module")
def series_() -> Series:
    return load_series()


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return load_manifest()


def opts(**kw: Any) -> Options:
    """Options for plain qmail unless a test asks for DKIM (the CLI's default is DKIM)."""
    return Options(**{"dkim": False, **kw})


def mk(series_: Series, manifest: Manifest, opts: Options, tc: Toolchain = TC,
       templates_key: str = "tk1", workdir: Path = WORK) -> Plan:
    return make_plan(opts, series_, manifest, tc, workdir, templates_key=templates_key)


def keys(p: Plan) -> dict[str, str]:
    stages: list[SourceStage | CompileStage] = [*p.sources, *p.compiles]
    return {s.name: s.key for s in stages}


# --------------------------------------------------------------------------- keys


def test_structure(series_: Series, manifest: Manifest) -> None:
    p = mk(series_, manifest, opts(base="qmail-1.03"))
    assert [s.name for s in p.sources] == ["src-qmail", "src-libdomainkeys", "src-libdkim"]
    assert [c.name for c in p.compiles] == ["libdomainkeys", "libdkim", "qmail"]
    assert p.root == WORK / "qmail-1.03"
    qsrc = p.sources[0]
    assert qsrc.tree.name == "qmail-1.03" and qsrc.upstream == () and qsrc.render is None
    assert [x.file for x in qsrc.patches] == [x.file for x in
                                              series_.select("qmail", "qmail-1.03", TC)]
    q = p.compiles[-1]
    assert q.needs_users and q.files == p.conf and q.source == "src-qmail"
    for c in p.compiles[:2]:
        assert c.outputs and all(not o.startswith("/") for o in c.outputs)
    for k in keys(p).values():
        assert re.fullmatch(r"[0-9a-f]{64}", k), k


def test_jms1_has_its_upstream_patch(series_: Series, manifest: Manifest) -> None:
    p = mk(series_, manifest, opts(base="jms1-7.10"))
    assert [u.name for u in p.sources[0].upstream] == ["jms1-7.10"]


def test_keys_stable_for_equal_inputs(series_: Series, manifest: Manifest) -> None:
    a = mk(series_, manifest, opts(base="jms1-7.10", dkim=True))
    b = mk(series_, manifest, opts(base="jms1-7.10", dkim=True,
                                      render=RenderOptions(sign_headers=tuple(
                                          RenderOptions().sign_headers))))
    assert keys(a) == keys(b)
    assert len(set(keys(a).values())) == len(keys(a))  # every stage has its own key


def _changed(a: Plan, b: Plan) -> set[str]:
    ka, kb = keys(a), keys(b)
    return {n for n in ka if ka[n] != kb[n]}


@pytest.mark.parametrize(("change", "expected"), [
    ({"sanitize": True}, {"libdomainkeys", "libdkim", "qmail"}),
    ({"qmail_home": "/opt/qmail"}, {"qmail"}),
    ({"optimize": "-O1"}, {"libdomainkeys", "libdkim", "qmail"}),
    ({"cc": "clang"}, {"libdomainkeys", "qmail"}),
    ({"cxx": "clang++"}, {"libdkim", "qmail"}),
    ({"jobs": 8}, {"libdomainkeys", "libdkim", "qmail"}),
    # a new variant has its own root, and the library steps name their directories
    ({"dkim": True}, {"src-qmail", "libdomainkeys", "libdkim", "qmail"}),
])
def test_option_changes_change_keys(series_: Series, manifest: Manifest,
                                    change: dict[str, object], expected: set[str]) -> None:
    a = mk(series_, manifest, opts(base="qmail-1.03"))
    b = mk(series_, manifest,
           dataclasses.replace(opts(base="qmail-1.03"), **change))  # type: ignore[arg-type]
    assert _changed(a, b) == expected


def test_base_changes_keys(series_: Series, manifest: Manifest) -> None:
    a = mk(series_, manifest, opts(base="qmail-1.03"))
    for other in ("jms1-7.10", "netqmail-1.06", "notqmail-1.09"):
        b = mk(series_, manifest, opts(base=other))
        # the library sources are the same; their builds live under the variant's own root
        assert _changed(a, b) == {"src-qmail", "qmail", "libdomainkeys", "libdkim"}, other
        assert b.sources[0].tree.name != a.sources[0].tree.name or b.sources[0].upstream


def test_compiler_version_changes_compile_keys(series_: Series, manifest: Manifest) -> None:
    a = mk(series_, manifest, opts(base="qmail-1.03"))
    b = mk(series_, manifest, opts(base="qmail-1.03"),
           tc=dataclasses.replace(TC, compiler_version=(14, 2, 0)))
    assert _changed(a, b) == {"libdomainkeys", "libdkim", "qmail"}
    c = mk(series_, manifest, opts(base="qmail-1.03"), tc=dataclasses.replace(TC, libc="musl"))
    assert _changed(a, c) == {"libdomainkeys", "libdkim", "qmail"}


def test_openssl_version_changes_patches_and_keys(series_: Series, manifest: Manifest) -> None:
    a = mk(series_, manifest, opts(base="jms1-7.10"))
    b = mk(series_, manifest, opts(base="jms1-7.10"),
           tc=dataclasses.replace(TC, openssl_version=(1, 0, 2)))
    # fewer patches for old OpenSSL: libdomainkeys and jms1's smtpd patch are conditional
    assert _changed(a, b) == {"src-qmail", "src-libdomainkeys", "libdomainkeys", "libdkim",
                              "qmail"}
    # a different 3.x: same patches, but the compile keys still change
    c = mk(series_, manifest, opts(base="jms1-7.10"),
           tc=dataclasses.replace(TC, openssl_version=(3, 5, 0)))
    assert _changed(a, c) == {"libdomainkeys", "libdkim", "qmail"}


def test_patch_sha256_changes_keys(series_: Series, manifest: Manifest) -> None:
    a = mk(series_, manifest, opts(base="qmail-1.03"))
    for comp, expected in (("qmail", {"src-qmail", "qmail"}),
                           ("libdkim", {"src-libdkim", "libdkim", "qmail"}),
                           ("libdomainkeys", {"src-libdomainkeys", "libdomainkeys", "qmail"})):
        i = next(i for i, p in enumerate(series_.patches) if p.component == comp)
        patches = list(series_.patches)
        patches[i] = dataclasses.replace(patches[i], sha256="f" * 64)
        b = mk(dataclasses.replace(series_, patches=tuple(patches)), manifest,
               opts(base="qmail-1.03"))
        assert _changed(a, b) == expected, comp


def test_patch_eol_and_strip_change_keys(series_: Series, manifest: Manifest) -> None:
    a = mk(series_, manifest, opts(base="qmail-1.03"))
    i = next(i for i, p in enumerate(series_.patches) if p.component == "libdkim")
    for change in ({"eol": "lf"}, {"strip": 2}):
        patches = list(series_.patches)
        patches[i] = dataclasses.replace(patches[i], **change)
        b = mk(dataclasses.replace(series_, patches=tuple(patches)), manifest,
               opts(base="qmail-1.03"))
        assert _changed(a, b) == {"src-libdkim", "libdkim", "qmail"}


def test_added_patch_changes_keys(series_: Series, manifest: Manifest) -> None:
    a = mk(series_, manifest, opts(base="qmail-1.03"))
    extra = Patch(component="qmail", file="qmail-1.03/0099-x.patch", sha256="a" * 64)
    b = mk(dataclasses.replace(series_, patches=(*series_.patches, extra)), manifest,
           opts(base="qmail-1.03"))
    assert _changed(a, b) == {"src-qmail", "qmail"}
    c = mk(series_, manifest, opts(base="qmail-1.03"))
    assert _changed(a, c) == set()


def test_render_options_and_templates_key_change_keys_only_with_dkim(
        series_: Series, manifest: Manifest) -> None:
    base = opts(base="netqmail-1.06", dkim=True)
    a = mk(series_, manifest, base)
    variants = [
        dataclasses.replace(base, render=RenderOptions(dk_canon="simple")),
        dataclasses.replace(base, render=RenderOptions(dkim_canon="simple/simple")),
        dataclasses.replace(base, render=RenderOptions(dk_sign=False)),
        dataclasses.replace(base, render=RenderOptions(authserv_id="mx.example.com")),
        dataclasses.replace(base, render=RenderOptions(sign_headers=("From", "Subject"))),
    ]
    for v in variants:
        assert _changed(a, mk(series_, manifest, v)) == {"src-qmail", "qmail"}, v.render
    assert _changed(a, mk(series_, manifest, base, templates_key="tk2")) == {"src-qmail", "qmail"}
    # without --dkim neither matters
    plain = opts(base="netqmail-1.06")
    p1 = mk(series_, manifest, plain)
    p2 = mk(series_, manifest, dataclasses.replace(
        plain, render=RenderOptions(dk_canon="simple")), templates_key="other")
    assert keys(p1) == keys(p2)
    assert p1.sources[0].render is None and a.sources[0].render is not None


def test_dkim_with_invalid_render_options_is_refused(series_: Series, manifest: Manifest) -> None:
    bad = opts(base="qmail-1.03", dkim=True, render=RenderOptions(dkim_canon="loose"))
    with pytest.raises(ConfigError):
        mk(series_, manifest, bad)
    mk(series_, manifest, dataclasses.replace(bad, dkim=False))  # unused without --dkim


def test_workdir_and_variant(series_: Series, manifest: Manifest, tmp_path: Path) -> None:
    o = opts(base="qmail-1.03", dkim=True, sanitize=True)
    assert o.variant == "qmail-1.03+dkim+san"
    p = mk(series_, manifest, o, workdir=tmp_path)
    assert p.root == tmp_path / "qmail-1.03+dkim+san"
    assert p.path("src", "qmail") == p.root / "src" / "qmail"
    for c in p.compiles:
        for step in c.steps:
            assert step.cwd == p.root / "build" / c.component


def test_key_of_is_order_insensitive_for_dicts_only() -> None:
    assert planmod.key_of({"a": 1, "b": 2}) == planmod.key_of({"b": 2, "a": 1})
    assert planmod.key_of(["a", "b"]) != planmod.key_of(["b", "a"])
    assert planmod.key_of("x") != planmod.key_of("y")


# --------------------------------------------------------------------------- conf files


def _words(text: str) -> list[str]:
    assert text.endswith("\n") and text.count("\n") == 1
    return text.split()


@pytest.mark.parametrize("base", ["qmail-1.03", "jms1-7.10", "jms1-7.08", "netqmail-1.06",
                                  "notqmail-1.09"])
@pytest.mark.parametrize("sanitize", [False, True])
def test_conf_cc_always_gnu89(series_: Series, manifest: Manifest, base: str,
                              sanitize: bool) -> None:
    p = mk(series_, manifest, opts(base=base, sanitize=sanitize))
    cc = _words(p.conf["conf-cc"])
    assert cc[0] == "gcc" and "-std=gnu89" in cc and "-O2" in cc
    ld = _words(p.conf["conf-ld"])
    assert ld[0] == "gcc"
    if sanitize:
        assert "-s" not in ld and "-fsanitize=address,undefined" in ld
        assert "-fsanitize=address,undefined" in cc and "-g" in cc
    else:
        assert ld == ["gcc", "-s"]
        assert not any(f.startswith("-fsanitize") for f in cc)
    assert p.conf["conf-qmail"] == "/var/qmail\n"
    assert "conf-dkim" not in p.conf
    assert list(p.conf) == sorted(p.conf)


def test_jms1_keeps_its_defines(series_: Series, manifest: Manifest) -> None:
    for base in ("jms1-7.10", "jms1-7.08"):
        cc = _words(mk(series_, manifest, opts(base=base)).conf["conf-cc"])
        assert "-DTLS" in cc and "-DEXTERNAL_TODO" in cc and "-std=gnu89" in cc
    cc = _words(mk(series_, manifest, opts(base="netqmail-1.06")).conf["conf-cc"])
    assert "-DTLS" not in cc and "-DEXTERNAL_TODO" not in cc


def test_dkim_conf(series_: Series, manifest: Manifest, tmp_path: Path) -> None:
    p = mk(series_, manifest, opts(base="jms1-7.10", dkim=True, qmail_home="/opt/q"),
           workdir=tmp_path)
    prefix = p.root / "prefix"
    cc = _words(p.conf["conf-cc"])
    assert "-DDKIM" in cc and "-DTLS" in cc and "-std=gnu89" in cc
    assert f"-I{prefix / 'include'}" in cc and f"-I{prefix / 'include' / 'libdkim'}" in cc
    dk = p.conf["conf-dkim"].splitlines()[0].split()  # qmail's Makefile reads line 1 only
    assert dk[0] == f"-L{prefix / 'lib'}"
    assert dk[1:] == ["-ldkim", "-ldomainkeys", "-lcrypto", "-lresolv",
                      "-Wl,-Bstatic", "-lstdc++", "-Wl,-Bdynamic"]
    assert p.conf["conf-qmail"] == "/opt/q\n"
    assert set(p.conf) == {"conf-cc", "conf-dkim", "conf-ld", "conf-qmail"}


def test_conf_files_direct() -> None:
    s = load_series()
    files = planmod.conf_files(opts(base="qmail-1.03", cc="clang", optimize="-Os"),
                               s.base("qmail-1.03"), Path("/p"))
    assert files["conf-cc"] == "clang -Os -std=gnu89\n"
    assert files["conf-ld"] == "clang -s\n"


def test_library_steps_use_the_compilers_and_flags(series_: Series, manifest: Manifest) -> None:
    p = mk(series_, manifest, opts(base="qmail-1.03", cc="gcc-14", cxx="g++-14", jobs=0))
    dk, dkim, q = p.compiles
    assert "CC=gcc-14" in dk.steps[0].argv and "-j1" in dk.steps[0].argv
    assert "CXX=g++-14" in dkim.steps[0].argv
    assert any(a.startswith("CFLAGS=-DBIND_8_COMPAT") for a in dk.steps[0].argv)
    assert [s.argv[-2:] for s in (dk.steps[1], dkim.steps[1])] == [
        ("libdomainkeys", str(p.root / "build" / "libdomainkeys")),
        ("libdkim", str(p.root / "build" / "libdkim"))]
    assert all(len(c.steps) == 2 for c in (dk, dkim))  # make, check; the copy is an Install
    assert [(i.globs, i.dest) for i in dkim.installs] == [
        (("src/libdkim.a",), p.root / "prefix" / "lib"),
        (("src/*.h",), p.root / "prefix" / "include" / "libdkim")]
    env = q.steps[0].env
    assert env["NSS_WRAPPER_PASSWD"] == str(p.root / "nss" / "passwd")
    assert env["NSS_WRAPPER_GROUP"] == str(p.root / "nss" / "group")


def test_the_plan_refuses_a_relative_workdir(series_: Series, manifest: Manifest) -> None:
    with pytest.raises(ConfigError, match="relative"):
        mk(series_, manifest, opts(base="netqmail-1.06"), workdir=Path("build"))


def test_the_plan_refuses_a_workdir_with_white_space(series_: Series,
                                                     manifest: Manifest) -> None:
    with pytest.raises(ConfigError, match="white space") as e:
        mk(series_, manifest, opts(base="netqmail-1.06"), workdir=Path("/tmp/my builds"))
    assert "--workdir" in e.value.hint


def _path_like(words: list[str]) -> list[str]:
    """The paths in argv words, -I/-L flags and VAR=value strings."""
    out = []
    for w in words:
        w = re.sub(r"^(-[IL]|[A-Z_]+=)", "", w)
        if "/" in w and not w.startswith(("-", "http")):
            out.append(w)
    return out


@pytest.mark.parametrize("dkim", [False, True])
def test_every_path_the_plan_hands_to_programs_is_absolute(
        series_: Series, manifest: Manifest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        dkim: bool) -> None:
    """What the CLI does with --workdir build (the default) from some cwd: resolve it; then no
    relative path reaches argv, a cwd, the environment, conf-* or an install destination."""
    monkeypatch.chdir(tmp_path)
    p = mk(series_, manifest, opts(base="jms1-7.10", dkim=dkim, sanitize=True),
           workdir=Path("build").resolve())
    seen: list[str] = []
    for c in p.compiles:
        for step in c.steps:
            assert step.cwd.is_absolute()
            seen += _path_like(list(step.argv)) + _path_like(list(step.env.values()))
        seen += [str(i.dest) for i in c.installs]
        for text in c.files.values():
            seen += _path_like(shlex.split(text.splitlines()[0]))
    for text in p.conf.values():
        seen += _path_like(shlex.split(text.splitlines()[0]))
    assert [s for s in seen if s.startswith(str(tmp_path / "build"))], \
        "the plan names no path under the workdir: this test checks nothing"
    relative = [s for s in seen if not s.startswith("/") and "*" not in s]
    assert relative == []
    if dkim:
        assert any(s.startswith(str(tmp_path / "build")) for s in _path_like(
            shlex.split(p.conf["conf-dkim"].splitlines()[0])))


# --------------------------------------------------------------------------- users


def test_users_files() -> None:
    passwd, group = planmod.users_files()
    rows = [line.split(":") for line in passwd.splitlines()]
    assert passwd.endswith("\n")
    assert all(len(r) == 7 for r in rows)
    names = [r[0] for r in rows]
    assert names == ["root", "alias", "qmaild", "qmaill", "qmailp", "qmailq", "qmailr", "qmails"]
    assert len(set(names)) == 8
    byname = {r[0]: r for r in rows}
    assert byname["root"][2:4] == ["0", "0"]
    for r in rows:
        assert r[2].isdigit() and r[3].isdigit() and r[6] in ("/bin/false",)
    grows = [line.split(":") for line in group.splitlines()]
    assert all(len(g) == 4 for g in grows)
    gids = {g[0]: g[2] for g in grows}
    assert {"root", "qmail", "nofiles"} == set(gids)
    assert byname["qmailq"][3] == gids["qmail"] and byname["qmaild"][3] == gids["nofiles"]
    assert byname["alias"][3] == gids["nofiles"]


def test_dkim_crypto_evp_compiles_the_plain_openssl_path(series_: Series,
                                                          manifest: Manifest) -> None:
    """--dkim-crypto evp reaches all three: both libraries' CFLAGS and qmail's conf-cc; the
    default (direct) sets none of the macros, and the two build in different stages."""
    direct = mk(series_, manifest, opts(base="netqmail-1.06", dkim=True))
    evp = mk(series_, manifest, opts(base="netqmail-1.06", dkim=True, crypto="evp"))
    for p, want in ((direct, False), (evp, True)):
        dk, dkim, _ = p.compiles
        assert ("-DDK_CRYPTO_EVP" in " ".join(dk.steps[0].argv)) is want
        assert ("-DDKIM_CRYPTO_EVP" in " ".join(dkim.steps[0].argv)) is want
        assert ("-DQDK_CRYPTO_EVP" in _words(p.conf["conf-cc"])) is want
    assert [c.key for c in direct.compiles] != [c.key for c in evp.compiles]


@pytest.mark.parametrize(("cc", "cxx"), [("gcc", "g++"), ("clang", "clang++")])
def test_sanitized_dkim_links_with_the_cxx_driver(series_: Series, manifest: Manifest, cc: str,
                                                  cxx: str) -> None:
    # clang's C driver leaves UBSan's C++ handlers (libdkim's vptr checks) undefined
    p = mk(series_, manifest, opts(base="netqmail-1.06", dkim=True, sanitize=True, cc=cc, cxx=cxx))
    assert _words(p.conf["conf-ld"])[0] == cxx
    assert _words(p.conf["conf-cc"])[0] == cc
    plain = mk(series_, manifest, opts(base="netqmail-1.06", dkim=True, cc=cc, cxx=cxx))
    assert _words(plain.conf["conf-ld"]) == [cc, "-s"]
