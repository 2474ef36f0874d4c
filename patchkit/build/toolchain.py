"""Finding out what this machine builds with: the C compiler, OpenSSL's headers, the C library.
An adapter: it runs programs (through runner.capture) and returns a series.Toolchain value."""

from __future__ import annotations

import re

from patchkit.errors import ToolMissing
from patchkit.patching.series import Toolchain
from patchkit.runner import capture

OPENSSL_HINT = "install OpenSSL's headers: apt-get install libssl-dev"


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", text))


def compiler(cc: str = "gcc") -> tuple[str, tuple[int, ...]]:
    try:
        version = capture([cc, "--version"], what=f"{cc} --version", error=ToolMissing).decode()
        full = capture([cc, "-dumpfullversion", "-dumpversion"], error=ToolMissing
                       ).decode().strip()
    except ToolMissing as e:
        raise ToolMissing(f"C compiler {cc!r} not found", "apt-get install gcc g++ make") from e
    name = "clang" if "clang" in version.splitlines()[0] else "gcc"
    return name, _ints(full)


def openssl(cc: str = "gcc") -> tuple[int, ...]:
    text = capture([cc, "-E", "-dM", "-xc", "-"], input=b"#include <openssl/opensslv.h>\n",
                   what="OpenSSL headers (openssl/opensslv.h)", error=ToolMissing,
                   hint=OPENSSL_HINT).decode()
    m = re.search(r"#define OPENSSL_VERSION_STR \"([\d.]+)\"", text)
    if m:
        return _ints(m[1])
    m = re.search(r"#define OPENSSL_VERSION_NUMBER 0x([0-9a-fA-F]+)", text)
    if not m:
        raise ToolMissing("cannot tell the OpenSSL version from its headers", OPENSSL_HINT)
    n = int(m[1], 16)
    return (n >> 28, (n >> 20) & 0xFF, (n >> 12) & 0xFF)


def libc() -> tuple[str, tuple[int, ...]]:
    try:
        out = capture(["getconf", "GNU_LIBC_VERSION"], error=ToolMissing).decode()
    except ToolMissing:  # musl and others have no such variable
        return "unknown", ()
    return "glibc", _ints(out)


def detect(cc: str = "gcc") -> Toolchain:
    name, version = compiler(cc)
    lib, lib_version = libc()
    return Toolchain(compiler=name, compiler_version=version, openssl_version=openssl(cc),
                     libc=lib, libc_version=lib_version)
