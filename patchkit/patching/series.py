"""Bases and patch series as data (patches/series.toml): what tree each base starts from, which
upstream patches make it, and which of our portability patches apply, in one fixed order, under
which conditions (base, OpenSSL version, compiler). Pure: selection and validation only."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from patchkit.errors import ConfigError, VerificationError
from patchkit.resources import patches_dir
from patchkit.sources.digest import sha256_file

COMPONENTS = ("qmail", "libdomainkeys", "libdkim")
EOLS = ("lf", "crlf")
_COND = re.compile(r"^(?P<op>>=|<=|==|<|>)(?P<ver>\d+(\.\d+)*)$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Toolchain:
    """What a build runs with; conditions of patches are evaluated against it."""

    compiler: str  # "gcc" or "clang"
    compiler_version: tuple[int, ...]
    openssl_version: tuple[int, ...]
    libc: str = "glibc"
    libc_version: tuple[int, ...] = ()

    def describe(self) -> dict[str, str]:
        def v(t: tuple[int, ...]) -> str:
            return ".".join(map(str, t))
        return {"compiler": f"{self.compiler} {v(self.compiler_version)}",
                "openssl": v(self.openssl_version), "libc": f"{self.libc} {v(self.libc_version)}"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Base:
    name: str
    tree: str  # artifact providing the qmail tree
    upstream: tuple[str, ...]  # upstream patch artifacts applied first, in order
    description: str
    testable: bool = True
    qmailqueue: bool = False  # honours the QMAILQUEUE environment variable
    tls: bool = False  # has STARTTLS code that links against OpenSSL
    cflags: tuple[str, ...] = ()  # defines the base's own conf-cc carries (kept in ours)
    # qmail's programs look their users up at run time (notqmail); otherwise the build compiles
    # the numeric IDs in (auto-uid), so it must be built against the target system's IDs
    runtime_ids: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Patch:
    component: str
    file: str  # relative to patches/
    sha256: str
    bases: tuple[str, ...] = ()  # empty: every base (for qmail patches)
    openssl: str = ""  # e.g. ">=1.1"
    compiler: str = ""  # e.g. "gcc>=14"
    strip: int = 1
    eol: str = "lf"  # "crlf": the target files have CRLF endings, the patch has LF

    def path(self, root: Path | None = None) -> Path:
        return (root or patches_dir()) / self.file

    def applies(self, base: str, tc: Toolchain) -> bool:
        if self.bases and base not in self.bases:
            return False
        if self.openssl and not _satisfies(tc.openssl_version, self.openssl):
            return False
        if self.compiler:
            name, cond = _split_compiler(self.compiler)
            if name != tc.compiler or (cond and not _satisfies(tc.compiler_version, cond)):
                return False
        return True


@dataclass(frozen=True, slots=True, kw_only=True)
class Component:
    name: str
    artifact: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Series:
    bases: tuple[Base, ...]
    components: tuple[Component, ...]
    patches: tuple[Patch, ...]

    def base(self, name: str) -> Base:
        for b in self.bases:
            if b.name == name:
                return b
        raise ConfigError(f"unknown base {name!r}",
                          f"known bases: {', '.join(b.name for b in self.bases)}")

    def component(self, name: str) -> Component:
        for c in self.components:
            if c.name == name:
                return c
        raise ConfigError(f"unknown component {name!r}", f"known: {', '.join(COMPONENTS)}")

    def select(self, component: str, base: str, tc: Toolchain) -> tuple[Patch, ...]:
        """The patches for component on base with toolchain tc, in series order."""
        self.base(base)
        return tuple(p for p in self.patches
                     if p.component == component and p.applies(base, tc))


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split("."))


def _satisfies(have: tuple[int, ...], cond: str) -> bool:
    m = _COND.match(cond)
    if not m:
        raise ConfigError(f"bad version condition {cond!r}", "use e.g. '>=1.1' or '<3'")
    want = _version(m["ver"])
    n = max(len(want), 1)
    got = tuple(have[:n]) + (0,) * (n - len(have[:n]))
    op = m["op"]
    return {"<": got < want, "<=": got <= want, "==": got == want, ">": got > want,
            ">=": got >= want}[op]


def _split_compiler(cond: str) -> tuple[str, str]:
    m = re.match(r"^(gcc|clang)(.*)$", cond)
    if not m:
        raise ConfigError(f"bad compiler condition {cond!r}", "use e.g. 'gcc>=14'")
    return m[1], m[2]


def _only(raw: dict[str, Any], allowed: set[str], where: str) -> None:
    extra = set(raw) - allowed
    if extra:
        raise ConfigError(f"{where}: unknown keys {sorted(extra)}", "check the field names")


def _make(cls: type[Any], raw: dict[str, Any], where: str) -> Any:
    try:
        return cls(**raw)
    except TypeError as e:  # a required field missing
        raise ConfigError(f"{where}: {e}", "see the field list at the top of series.toml") from e


def parse_series(text: str, where: str = "series.toml") -> Series:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{where}: {e}", "the series file is not valid TOML") from e
    bases = []
    for raw in data.get("base", []):
        _only(raw, set(Base.__dataclass_fields__), f"{where} base")
        bases.append(_make(Base, {**raw, "upstream": tuple(raw.get("upstream", ())),
                                  "cflags": tuple(raw.get("cflags", ()))}, f"{where} base"))
    comps = []
    for raw in data.get("component", []):
        _only(raw, set(Component.__dataclass_fields__), f"{where} component")
        comps.append(_make(Component, raw, f"{where} component"))
    names = {b.name for b in bases}
    patches = []
    for raw in data.get("patch", []):
        _only(raw, set(Patch.__dataclass_fields__), f"{where} patch")
        p = _make(Patch, {**raw, "bases": tuple(raw.get("bases", ()))}, f"{where} patch")
        if p.component not in COMPONENTS:
            raise ConfigError(f"{where}: {p.file}: component must be one of {COMPONENTS}",
                              "fix the series")
        if p.eol not in EOLS:
            raise ConfigError(f"{where}: {p.file}: eol must be one of {EOLS}", "fix the series")
        unknown = set(p.bases) - names
        if unknown:
            raise ConfigError(f"{where}: {p.file}: unknown bases {sorted(unknown)}",
                              "fix the series")
        if p.openssl:
            _satisfies((0,), p.openssl)
        if p.compiler:
            _, cond = _split_compiler(p.compiler)
            if cond:
                _satisfies((0,), cond)
        patches.append(p)
    files = [p.file for p in patches]
    if len(set(files)) != len(files):
        raise ConfigError(f"{where}: a patch is listed twice", "each patch once")
    return Series(bases=tuple(bases), components=tuple(comps), patches=tuple(patches))


def load_series(root: Path | None = None) -> Series:
    d = root or patches_dir()
    f = d / "series.toml"
    return parse_series(f.read_text(encoding="utf-8"), str(f))


def verify_patch(p: Patch, root: Path | None = None) -> Path:
    """The patch file, checked against its pin in the series."""
    path = p.path(root)
    if not path.is_file():
        raise ConfigError(f"patch {p.file} listed in the series is missing", "restore it")
    got = sha256_file(path)
    if got != p.sha256:
        raise VerificationError(
            f"patch {p.file} has sha256 {got}, the series pins {p.sha256}",
            "if you changed the patch on purpose, update its sha256 in patches/series.toml",
        )
    return path
