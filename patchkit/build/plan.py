"""What a build does, as data: the stages for one base with one set of options, their content keys,
flags and commands. Pure: the executor (patchkit.build.executor) runs what this returns.

A stage's key is the sha256 of everything that can change its output: its inputs' pins, the
patches' digests, flags, the toolchain, and the keys of the stages it uses. Same key, same output:
the executor then skips the stage.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from patchkit.dkim.spec import RenderOptions
from patchkit.errors import ConfigError
from patchkit.patching.series import Base, Patch, Series, Toolchain
from patchkit.sources.manifest import Artifact, Manifest
from patchkit.steps import Step

PLAN_VERSION = 1  # bump when the meaning of a stage changes without its inputs changing

QMAIL_USERS = (
    # name, uid, gid; conf-users also names root (the owner of qmail's files)
    ("root", 0, 0), ("alias", 7790, 2108), ("qmaild", 7791, 2108), ("qmaill", 7792, 2108),
    ("qmailp", 7793, 2108), ("qmailq", 7794, 2107), ("qmailr", 7795, 2107),
    ("qmails", 7796, 2107),
)
QMAIL_GROUPS = (("root", 0), ("qmail", 2107), ("nofiles", 2108))

# qmail's K&R code (implicit int, implicit declarations, old-style definitions) is what gcc >= 14
# and clang >= 16 reject in their default C dialect, and gcc >= 15 defaults to C23, which drops
# K&R definitions. The fix is conf-cc, not rewriting qmail: in -std=gnu89 those stay warnings for
# every gcc and clang, so every toolchain compiles qmail in the dialect it was written in.
KR_FLAGS = ("-std=gnu89",)
# What qmail-remote and qmail-smtpd link with -DDKIM: our private static libraries (no shared
# library to find at run time: "Unable to run qmail-remote" was that), and libdkim's C++ runtime,
# statically too: qmail starts a process per delivery and per connection, and loading and
# relocating the shared libstdc++ cost every one of them about 1 MB of resident memory and
# 0.7 ms of CPU (qmail-remote, not signing: 3.29 -> 2.60 ms), for the few string and container
# classes libdkim uses. libcrypto stays shared, for its security fixes; the deb and the ebuild
# link libstdc++ shared too, as their distributions' policies ask.
DKIM_LIBS = ("-L{lib}", "-ldkim", "-ldomainkeys", "-lcrypto", "-lresolv",
             "-Wl,-Bstatic", "-lstdc++", "-Wl,-Bdynamic")
# --dkim-crypto: "direct" (default) runs OpenSSL's low-level SHA and RSA code and draws the
# randomness for RSA blinding from getrandom(2) (libdkim patch 0018, libdomainkeys 0009,
# templates/dkim/qdkim_util.c.j2), since qmail pays OpenSSL 3's per-process start-up for every
# message; "evp" compiles the plain EVP/provider path with OpenSSL's DRBG and openssl.cnf.
CRYPTO_CHOICES = ("direct", "evp")
CRYPTO_EVP_LIB_FLAGS = ("-DDKIM_CRYPTO_EVP", "-DDK_CRYPTO_EVP")
CRYPTO_EVP_QMAIL_FLAGS = ("-DQDK_CRYPTO_EVP",)
SANITIZE_FLAGS = ("-fsanitize=address,undefined", "-fno-omit-frame-pointer",
                  "-fno-sanitize-recover=undefined", "-g")


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    base: str
    qmail_home: str = "/var/qmail"
    dkim: bool = True  # the tool exists to build qmail with DKIM; --no-dkim for plain qmail
    sanitize: bool = False
    cc: str = "gcc"
    cxx: str = "g++"
    jobs: int = 2
    optimize: str = "-O2"
    crypto: str = "direct"  # CRYPTO_CHOICES
    render: RenderOptions = field(default_factory=RenderOptions)  # used when dkim is set

    def argv(self) -> tuple[str, ...]:
        """Every field as patchkit build's command line: the one conversion the docker backend
        and the matrix cells use to pass options on; the CLI parses it back (options_from), and
        a unit test round-trips every field."""
        return ("--base", self.base, "--qmail-home", self.qmail_home,
                "--dkim" if self.dkim else "--no-dkim",
                "--sanitize" if self.sanitize else "--no-sanitize",
                "--cc", self.cc, "--cxx", self.cxx, "--jobs", str(self.jobs),
                "--optimize", self.optimize, "--dkim-crypto", self.crypto,
                *self.render.argv())

    @property
    def variant(self) -> str:
        return self.base + ("+dkim" if self.dkim else "") + ("+san" if self.sanitize else "")


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceStage:
    """Unpack an artifact, apply upstream patches, then ours."""

    name: str
    component: str
    tree: Artifact
    upstream: tuple[Artifact, ...]
    patches: tuple[Patch, ...]
    key: str
    render: RenderOptions | None = None  # render and apply the DKIM patch after the patches


@dataclass(frozen=True, slots=True, kw_only=True)
class Install:
    """Copy the files matching globs (relative to the stage's build tree) into dest, after the
    stage's steps: done by the executor in Python, so no shell string, no quoting, no cwd."""

    globs: tuple[str, ...]
    dest: Path


@dataclass(frozen=True, slots=True, kw_only=True)
class CompileStage:
    """Build in a fresh copy of a source stage's tree."""

    name: str
    component: str
    source: str  # SourceStage name
    steps: tuple[Step, ...]
    files: dict[str, str]  # files written into the tree before building (conf-cc...)
    key: str
    outputs: tuple[str, ...] = ()  # relative to the plan's root; checked before a skip
    installs: tuple[Install, ...] = ()
    needs_users: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    options: Options
    toolchain: Toolchain
    root: Path  # workdir/<variant>
    sources: tuple[SourceStage, ...]
    compiles: tuple[CompileStage, ...]
    conf: dict[str, str] = field(default_factory=dict)
    # the IDs the qmail stage is built against (nss_wrapper's passwd and group): patchkit's own
    # for its builds and tests; the target system's for an install or a package
    users: tuple[tuple[str, int, int], ...] = QMAIL_USERS
    groups: tuple[tuple[str, int], ...] = QMAIL_GROUPS

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)


def key_of(*parts: object) -> str:
    blob = json.dumps([PLAN_VERSION, *parts], sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def _pin(a: Artifact) -> str:
    return a.sha256 or a.tree or f"unpinned:{a.name}"


def cflags(opts: Options, extra: tuple[str, ...] = ()) -> list[str]:
    flags = [opts.optimize, "-g" if opts.sanitize else "", *extra]
    if opts.sanitize:
        flags += SANITIZE_FLAGS
    return [f for f in flags if f]


def conf_files(opts: Options, base: Base, prefix: Path) -> dict[str, str]:
    cc = [opts.cc, *cflags(opts, (*KR_FLAGS, *base.cflags))]
    # A sanitized libdkim (C++) needs the sanitizers' C++ runtime: gcc's C driver links it
    # anyway, clang's does not (UBSan's vptr handlers stay undefined). The C++ driver links
    # qmail's C objects the same and brings that runtime with either compiler.
    ld = [opts.cxx if opts.sanitize and opts.dkim else opts.cc]
    if opts.sanitize:
        ld += SANITIZE_FLAGS
    else:
        ld.append("-s")
    files = {"conf-qmail": opts.qmail_home + "\n"}
    if opts.dkim:
        cc += ["-DDKIM", f"-I{prefix / 'include'}", f"-I{prefix / 'include' / 'libdkim'}"]
        if opts.crypto == "evp":
            cc += CRYPTO_EVP_QMAIL_FLAGS
        files["conf-dkim"] = (" ".join(DKIM_LIBS).format(lib=prefix / "lib") + "\n\n"
                              "Written by patchkit: its private static libraries.\n")
    files["conf-cc"] = " ".join(cc) + "\n"
    files["conf-ld"] = " ".join(ld) + "\n"
    return dict(sorted(files.items()))


def base_inputs(series: Series, manifest: Manifest, base: str) -> tuple[Artifact, ...]:
    """The upstream artifacts a build of base needs: its tree, its upstream patches, and the
    libraries. The one definition (the cache check, the fetch, the suite's skips use it)."""
    b = series.base(base)
    names = (b.tree, *b.upstream, *(c.artifact for c in series.components))
    return tuple(manifest.get(n) for n in dict.fromkeys(names))


def check_workdir(workdir: Path) -> Path:
    """The plan writes the workdir into argv, environment and conf-* files that programs read
    from other directories: it must be absolute (resolve it where it enters, in the CLI), and
    free of white space, on which qmail's scripts split conf-cc and conf-dkim."""
    if not workdir.is_absolute():
        raise ConfigError(f"the workdir {workdir} is relative",
                          "resolve it where it enters (the CLI does: Path.resolve())")
    if any(c.isspace() for c in str(workdir)):
        raise ConfigError(f"the workdir {str(workdir)!r} contains white space",
                          "qmail's build scripts split conf-cc on white space: choose a path "
                          "without it, e.g. --workdir /var/tmp/patchkit")
    return workdir


def make_plan(opts: Options, series: Series, manifest: Manifest, tc: Toolchain,
              workdir: Path, templates_key: str = "",
              ids: tuple[tuple[tuple[str, int, int], ...], tuple[tuple[str, int], ...]]
              | None = None) -> Plan:
    """templates_key: digest of templates/dkim (the DKIM patch is rendered from it); ids: the
    (users, groups) to build qmail against, patchkit's own (QMAIL_USERS, QMAIL_GROUPS) unless
    given. They are part of the qmail stage's key where the base compiles them in."""
    users, groups = ids or (QMAIL_USERS, QMAIL_GROUPS)
    base = series.base(opts.base)
    root = check_workdir(workdir) / opts.variant
    prefix = root / "prefix"
    jobs = f"-j{max(opts.jobs, 1)}"

    def source(component: str, tree: Artifact, upstream: tuple[Artifact, ...],
               render: RenderOptions | None = None) -> SourceStage:
        patches = series.select(component, base.name, tc)
        key = key_of("source", component, _pin(tree), [_pin(u) for u in upstream],
                     [(p.file, p.sha256, p.strip, p.eol) for p in patches],
                     render.describe() if render else None, templates_key if render else None)
        return SourceStage(name=f"src-{component}", component=component, tree=tree,
                           upstream=upstream, patches=patches, key=key, render=render)

    qsrc = source("qmail", manifest.get(base.tree), tuple(manifest.get(u) for u in base.upstream),
                  opts.render.validate() if opts.dkim else None)
    srcs = [qsrc]
    tcd = tc.describe()
    lib_flags = " ".join(cflags(opts, CRYPTO_EVP_LIB_FLAGS if opts.crypto == "evp" else ()))

    def library(component: str, make: tuple[str, ...], installs: tuple[Install, ...],
                outputs: tuple[str, ...]) -> CompileStage:
        """A library stage: make, run the library's own test program, copy into the prefix.
        The libraries are always built, so their checks vet every build."""
        src = source(component, manifest.get(series.component(component).artifact), ())
        srcs.append(src)
        cwd = root / "build" / component
        steps = (
            Step(name=f"{component}: make", argv=("make", jobs, *make), cwd=cwd),
            Step(name=f"{component}: check (its own test program)",
                 argv=(sys.executable, "-m", "patchkit.build.selftest", component, str(cwd)),
                 cwd=cwd),
        )
        return CompileStage(name=component, component=component, source=src.name, steps=steps,
                            files={}, key=key_of("compile", src.key, steps, installs, tcd),
                            outputs=outputs, installs=installs)

    compiles = [
        library("libdomainkeys",
                ("libdomainkeys.a", "domainkeys.h", "dktest", f"CC={opts.cc}",
                 f"CFLAGS=-DBIND_8_COMPAT {lib_flags}"),
                (Install(globs=("libdomainkeys.a",), dest=prefix / "lib"),
                 Install(globs=("domainkeys.h", "dktrace.h"), dest=prefix / "include")),
                ("build/libdomainkeys/dktest", "prefix/lib/libdomainkeys.a")),
        library("libdkim",
                ("-C", "src", "libdkim.a", "libdkimtest", f"CXX={opts.cxx}",
                 f"CXXFLAGS={lib_flags}"),
                (Install(globs=("src/libdkim.a",), dest=prefix / "lib"),
                 Install(globs=("src/*.h",), dest=prefix / "include" / "libdkim")),
                ("build/libdkim/src/libdkimtest", "prefix/lib/libdkim.a")),
    ]
    lib_keys = [c.key for c in compiles]
    conf = conf_files(opts, base, prefix)
    nss = root / "nss"
    qsteps = (
        Step(name="qmail: make", argv=("make", "it", "man"), cwd=root / "build" / "qmail",
             env={"LD_PRELOAD": "libnss_wrapper.so", "NSS_WRAPPER_PASSWD": str(nss / "passwd"),
                  "NSS_WRAPPER_GROUP": str(nss / "group"),
                  # sanitizer builds run their own helpers (auto-str...) under nss_wrapper;
                  # qmail's programs free nothing before exit by design: no leak reports
                  "ASAN_OPTIONS": "verify_asan_link_order=0:detect_leaks=0"}),
    )
    # IDs other than patchkit's own change what a base that compiles them in produces
    own = (users, groups) == (QMAIL_USERS, QMAIL_GROUPS)
    qkey = key_of("compile", qsrc.key, conf, qsteps, lib_keys, tcd,
                  *([] if own or base.runtime_ids else [[users, groups]]))
    compiles.append(CompileStage(name="qmail", component="qmail", source=qsrc.name, steps=qsteps,
                                 files=conf, key=qkey, needs_users=True))
    return Plan(options=opts, toolchain=tc, root=root, sources=tuple(srcs),
                compiles=tuple(compiles), conf=conf, users=users, groups=groups)


def users_files(users: tuple[tuple[str, int, int], ...] = QMAIL_USERS,
                groups: tuple[tuple[str, int], ...] = QMAIL_GROUPS) -> tuple[str, str]:
    """passwd and group files for nss_wrapper, so qmail's auto-uid/auto-gid find their users."""
    passwd = "".join(f"{n}:x:{u}:{g}::/nonexistent:/bin/false\n" for n, u, g in users)
    group = "".join(f"{n}:x:{g}:\n" for n, g in groups)
    return passwd, group
