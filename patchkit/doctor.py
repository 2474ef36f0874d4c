"""`patchkit doctor`: what this machine has for local and docker builds, as data. Each check says
what it found and, when something is missing, the command that fixes it. Never raises for a
missing thing: finding those is its job."""

from __future__ import annotations

import glob
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from patchkit.errors import PatchkitError
from patchkit.sources.cache import Cache, verdict_is_problem
from patchkit.sources.manifest import load_manifest

NSS_WRAPPER_GLOBS = ("/usr/lib/*/libnss_wrapper.so", "/usr/lib/libnss_wrapper.so",
                     "/usr/lib64/libnss_wrapper.so")


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    name: str
    ok: bool
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _guard(name: str, fn: Callable[[], Finding]) -> Finding:
    try:
        return fn()
    except PatchkitError as e:
        return Finding(name=name, ok=False, detail=e.message, fix=e.hint)


def engine_checks(connect: Callable[[], Any] | None = None) -> list[Finding]:
    """The engine, whether it can pull, and which base images are present."""
    from patchkit.docker import engine as container
    from patchkit.docker import image

    try:
        client = (connect or container.connect)()
    except PatchkitError as e:
        return [Finding(name="docker engine", ok=False, detail=e.message,
                      fix="scripts/docker-up (installs docker.io, starts dockerd), "
                          "or build with --backend local")]
    out = [Finding(name="docker engine", ok=True,
                 detail=f"{container.engine_url()}, version {container.engine_version(client)}")]
    pull, why = container.can_pull(client)
    out.append(Finding(name="registry", ok=pull, detail=why if pull else f"cannot pull: {why}",
                     fix="" if pull else "no need: patchkit image bootstrap makes the base "
                                         "images from Debian packages"))
    for suite in image.SUITES:
        ref = image.base_image(suite)
        present = container.image_exists(client, ref)
        out.append(Finding(name=f"image {ref}", ok=present,
                         detail="present" if present else "missing",
                         fix="" if present else image.bootstrap_command(suite)))
    return out


def host_checks() -> list[Finding]:
    """Compilers, OpenSSL headers, debootstrap, nss_wrapper (for local builds and bootstrap)."""
    from patchkit.build import toolchain
    from patchkit.docker import image

    def cc() -> Finding:
        name, version = toolchain.compiler("gcc")
        missing = [t for t in ("g++", "make") if shutil.which(t) is None]
        return Finding(name="compilers", ok=not missing,
                     detail=f"{name} {'.'.join(map(str, version))}"
                     + (f"; missing {', '.join(missing)}" if missing else "")
                     + ", g++, make" * (not missing),
                     fix=f"apt-get install {' '.join(missing)}" if missing else "")

    def ssl() -> Finding:
        v = toolchain.openssl("gcc")
        return Finding(name="openssl headers", ok=True, detail=".".join(map(str, v)))

    def deboot() -> Finding:
        image.check_debootstrap("trixie")
        return Finding(name="debootstrap", ok=True, detail=f"{shutil.which('debootstrap')}, "
                     "scripts for bookworm and trixie")

    def nss() -> Finding:
        found = sorted(p for g in NSS_WRAPPER_GLOBS for p in glob.glob(g))
        return Finding(name="nss_wrapper", ok=bool(found),
                     detail=found[0] if found else "libnss_wrapper.so not found",
                     fix="" if found else "apt-get install libnss-wrapper")

    def mirror() -> Finding:
        return Finding(name="apt mirror", ok=True, detail=image.host_mirror())

    return [_guard("compilers", cc), _guard("openssl headers", ssl),
            _guard("debootstrap", deboot), _guard("nss_wrapper", nss),
            _guard("apt mirror", mirror)]


def cache_check(cache: Cache) -> Finding:
    pairs = [(a, cache.verify(a)) for a in load_manifest().artifacts]
    problems = [a.name for a, v in pairs if verdict_is_problem(a, v)]
    usable = sum(1 for _, v in pairs if v.usable)
    detail = f"{cache.root}: {usable} of {len(pairs)} artifacts verified"
    if problems:
        return Finding(name="cache", ok=False, detail=f"{detail}; missing or bad: "
                     f"{', '.join(problems)}",
                     fix="patchkit sources fetch, or offline: patchkit sources add / add-git")
    return Finding(name="cache", ok=True, detail=detail)


def run_checks(cache: Cache, connect: Callable[[], Any] | None = None) -> list[Finding]:
    return [*engine_checks(connect), *host_checks(), _guard("cache", lambda: cache_check(cache))]
