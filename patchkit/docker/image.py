"""The build image's base, made here for engines that cannot pull: debootstrap a minimal Debian from
the mirror this host's apt already uses (never a hard-coded one), then import the tree into the
engine as ``patchkit-base:<suite>``, the name the rendered Dockerfile starts FROM.

Reading apt's configuration is pure (text in, sources out, a mirror chosen); bootstrap() runs
debootstrap and tar through patchkit.runner and hands the tarball to patchkit.container.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from patchkit.docker.dockerfile import BASE_REPOSITORY as BASE_REPOSITORY
from patchkit.docker.dockerfile import SUITES as SUITES
from patchkit.docker.dockerfile import base_image as base_image
from patchkit.docker.dockerfile import bootstrap_command as bootstrap_command
from patchkit.errors import ConfigError, EngineError, ToolMissing
from patchkit.runner import require_tool, run_step
from patchkit.steps import Step
from patchkit.ui import Log

DEBOOTSTRAP_SCRIPTS = Path("/usr/share/debootstrap/scripts")
DEBIAN_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
# Names of the Debian archive's own suites: what tells the main archive apart from security,
# updates, backports and third-party repositories (nodesource's "nodistro" is also in "main").
DEBIAN_SUITES = frozenset({
    "buster", "bullseye", "bookworm", "trixie", "forky", "duke", "sid",
    "oldoldstable", "oldstable", "stable", "testing", "unstable",
})
MIRROR_SCHEMES = ("http://", "https://", "ftp://", "file:/")


@dataclass(frozen=True, slots=True, kw_only=True)
class AptSource:
    types: tuple[str, ...]
    uris: tuple[str, ...]
    suites: tuple[str, ...]
    components: tuple[str, ...]
    origin: str  # file it came from, for messages
    enabled: bool = True


def parse_one_line(text: str, origin: str) -> list[AptSource]:
    """``deb [opt=val ...] URI SUITE COMPONENT...`` lines (sources.list and *.list)."""
    out = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        tokens = line.split()
        kind, rest = tokens[0], tokens[1:]
        if rest and rest[0].startswith("["):
            while rest and not rest[0].endswith("]"):
                rest = rest[1:]
            rest = rest[1:]
        if len(rest) < 2:
            continue
        out.append(AptSource(types=(kind,), uris=(rest[0],), suites=(rest[1],),
                             components=tuple(rest[2:]), origin=origin))
    return out


def parse_deb822(text: str, origin: str) -> list[AptSource]:
    """deb822 stanzas (*.sources): ``Types:``, ``URIs:``, ``Suites:``, ``Components:``,
    ``Enabled:``; comment lines and continuation lines as apt reads them."""
    out = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = ""
        for line in stanza.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            if line[0] in " \t" and key:
                fields[key] += " " + line.strip()
                continue
            if ":" in line:
                key, _, value = line.partition(":")
                key = key.strip().lower()
                fields[key] = value.strip()
        if not fields.get("types") or not fields.get("uris"):
            continue
        out.append(AptSource(
            types=tuple(fields["types"].split()), uris=tuple(fields["uris"].split()),
            suites=tuple(fields.get("suites", "").split()),
            components=tuple(fields.get("components", "").split()), origin=origin,
            enabled=fields.get("enabled", "yes").lower() not in ("no", "false", "0")))
    return out


def read_host_sources(apt_dir: Path = Path("/etc/apt")) -> list[AptSource]:
    """Every source apt reads here: sources.list, sources.list.d/*.list and *.sources."""
    out: list[AptSource] = []
    main = apt_dir / "sources.list"
    if main.is_file():
        out += parse_one_line(main.read_text(errors="replace"), str(main))
    d = apt_dir / "sources.list.d"
    if d.is_dir():
        for f in sorted(d.iterdir()):
            if f.suffix == ".list" and f.is_file():
                out += parse_one_line(f.read_text(errors="replace"), str(f))
            elif f.suffix == ".sources" and f.is_file():
                out += parse_deb822(f.read_text(errors="replace"), str(f))
    return out


def debian_mirror(sources: Iterable[AptSource]) -> str | None:
    """The first enabled binary source of Debian's main archive (a plain Debian suite with the
    main component), as a URL debootstrap takes; None if apt knows no such mirror."""
    for s in sources:
        if not s.enabled or "deb" not in s.types or "main" not in s.components:
            continue
        if not any(suite.rstrip("/") in DEBIAN_SUITES for suite in s.suites):
            continue
        for uri in s.uris:
            if uri.startswith(MIRROR_SCHEMES):
                return uri.rstrip("/")
    return None


def host_mirror(apt_dir: Path = Path("/etc/apt")) -> str:
    sources = read_host_sources(apt_dir)
    mirror = debian_mirror(sources)
    if mirror is None:
        seen = ", ".join(sorted({s.origin for s in sources})) or "no sources at all"
        raise ConfigError(
            f"no Debian archive mirror in this host's apt configuration ({seen})",
            "give one: patchkit image bootstrap --mirror http://deb.debian.org/debian",
        )
    return mirror


def check_debootstrap(suite: str) -> str:
    """debootstrap's path, or ToolMissing saying exactly what this host lacks for the suite."""
    path = require_tool("debootstrap", "apt-get install debootstrap")
    if not (DEBOOTSTRAP_SCRIPTS / suite).exists():
        raise ToolMissing(
            f"this debootstrap has no script for {suite} ({DEBOOTSTRAP_SCRIPTS / suite} missing)",
            "install a newer debootstrap (Debian 12 has trixie from 1.0.128+nmu2+deb12u1): "
            "apt-get update && apt-get install debootstrap",
        )
    if not DEBIAN_KEYRING.is_file():
        raise ToolMissing(f"{DEBIAN_KEYRING} is missing: debootstrap cannot verify the archive",
                          "apt-get install debian-archive-keyring")
    return path


def bootstrap(client: Any, suite: str, *, say: Log, mirror: str | None = None,
              tmp_root: Path | None = None) -> dict[str, Any]:
    """debootstrap --variant=minbase SUITE, then import it as patchkit-base:SUITE."""
    from patchkit.docker import engine as container

    if suite not in SUITES:
        raise ConfigError(f"unknown suite {suite!r}", f"one of: {', '.join(SUITES)}")
    check_debootstrap(suite)
    if os.geteuid() != 0:
        raise EngineError("debootstrap must run as root to create the base image",
                          f"sudo {bootstrap_command(suite)}")
    require_tool("tar", "apt-get install tar")
    mirror = mirror or host_mirror()
    tmp = Path(tempfile.mkdtemp(prefix=f"patchkit-bootstrap-{suite}-",
                                dir=tmp_root or "/var/tmp"))
    log = Path(tempfile.gettempdir()) / f"patchkit-bootstrap-{suite}.log"
    log.unlink(missing_ok=True)
    try:
        rootfs = tmp / "rootfs"
        say(f"debootstrap --variant=minbase {suite} from {mirror} (log: {log})")
        run_step(Step(name="debootstrap", cwd=tmp,
                      argv=("debootstrap", "--variant=minbase", suite, str(rootfs), mirror)), log)
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for f in (rootfs / junk).glob("*"):
                if f.is_file():
                    f.unlink()
        tarball = tmp / "rootfs.tar"
        run_step(Step(name="tar rootfs", cwd=tmp, argv=(
            "tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(tarball), ".")), log)
        say(f"importing {tarball.stat().st_size // (1 << 20)} MiB as {base_image(suite)}")
        image_id = container.import_image(
            client, tarball, repository=BASE_REPOSITORY, tag=suite,
            changes=(f"LABEL org.patchkit.suite={suite}",
                     f"LABEL org.patchkit.mirror={mirror}",
                     "ENV LANG=C.UTF-8", 'CMD ["/bin/bash"]'))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"image": base_image(suite), "id": image_id, "suite": suite, "mirror": mirror,
            "log": str(log)}
