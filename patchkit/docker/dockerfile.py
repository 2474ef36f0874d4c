"""The build image's Dockerfile as text: a pure function of the suite and patchkit's Python
requirements, rendered from templates/docker/Dockerfile.j2. Its tag carries a digest of the text,
so a changed Dockerfile is a new image and an unchanged one is never rebuilt.

The paths a container sees (the checkout, the cache, the state directory) are named here once and
used by the template and by the backend that mounts them."""

from __future__ import annotations

import configparser
import hashlib
import re
from collections.abc import Iterable, Mapping

import jinja2

from patchkit.build.plan import QMAIL_GROUPS, QMAIL_USERS
from patchkit.resources import templates_dir

BUILD_PACKAGES = ("gcc", "g++", "make", "patch", "git", "libssl-dev", "libnss-wrapper",
                  "groff-base", "python3", "python3-venv", "ca-certificates")
TEST_PACKAGES = ("libmail-dkim-perl", "libnet-dns-perl", "opendkim", "opendkim-tools", "openssl")
# Requirements the container does not need: the SDK drives engines (none inside), linters run on
# the host.
NOT_IN_IMAGE = frozenset({"docker", "ruff", "mypy"})

VENV = "/opt/patchkit"
SRC = "/src"  # the checkout, read-only
DISTDIR = "/distfiles"  # patchkit's cache, read-only
STATE = "/work"  # workdirs, outputs, test homes: a host directory, read-write
BUILD_REPOSITORY = "patchkit-build"

SUITES = ("bookworm", "trixie")  # the Debian suites of the build images: the one list
BASE_REPOSITORY = "patchkit-base"


def base_image(suite: str) -> str:
    """The image the Dockerfile starts FROM (bootstrapped here when the engine cannot pull)."""
    return f"{BASE_REPOSITORY}:{suite}"


def bootstrap_command(suite: str) -> str:
    return f"patchkit image bootstrap --suite {suite}"


def requirements(declared: Iterable[str], extras: Iterable[str] = ("test",)) -> tuple[str, ...]:
    """patchkit's declared requirements (importlib.metadata.requires form) for the image: the
    core ones and those of `extras`, markers dropped, minus NOT_IN_IMAGE; sorted, so the text
    and its digest do not depend on the metadata's order."""
    wanted = set(extras)
    out = set()
    for line in declared:
        spec, _, marker = line.partition(";")
        m = re.search(r"""extra\s*==\s*["']([^"']+)["']""", marker)
        if m and m[1] not in wanted:
            continue
        spec = spec.strip()
        name = re.split(r"[\s<>=!~\[;(]", spec, maxsplit=1)[0].lower()
        if name not in NOT_IN_IMAGE:
            out.add(spec)
    return tuple(sorted(out, key=str.lower))


def installed_requirements() -> tuple[str, ...]:
    """The requirements of the installed patchkit distribution (reads its metadata)."""
    from importlib.metadata import requires

    return requirements(requires("patchkit") or ())


def host_pip_cert(environ: Mapping[str, str], config_texts: Iterable[str]) -> str | None:
    """The CA bundle the host's pip is told to trust: PIP_CERT, else `cert` in a pip
    configuration file's [global] section (texts in pip's order, the last one wins)."""
    if environ.get("PIP_CERT"):
        return environ["PIP_CERT"]
    cert = None
    for text in config_texts:
        cp = configparser.ConfigParser()
        try:
            cp.read_string(text)
        except configparser.Error:
            continue
        cert = cp.get("global", "cert", fallback=cert)
    return cert


def _home(user: str) -> str:
    return "/var/qmail/alias" if user == "alias" else "/var/qmail"


PIP_CERT = "pip-ca.crt"  # the file name a host CA bundle has in the build context


def render(suite: str, *, reqs: Iterable[str], pip_cert: bool = False) -> str:
    """The Dockerfile for suite. pip_cert: the build context carries the CA bundle the host's
    pip uses (PIP_CERT), for hosts behind a TLS-inspecting proxy."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True, autoescape=False,
    )
    return env.get_template("docker/Dockerfile.j2").render(
        suite=suite,
        base_image=base_image(suite),
        build_packages=BUILD_PACKAGES,
        test_packages=TEST_PACKAGES,
        groups=[(n, g) for n, g in QMAIL_GROUPS if n != "root"],
        users=[(n, u, g, _home(n)) for n, u, g in QMAIL_USERS if n != "root"],
        requirements=tuple(reqs),
        venv=VENV, src=SRC, distdir=DISTDIR, pip_cert=PIP_CERT if pip_cert else "",
    )


def image_tag(suite: str, text: str) -> str:
    """patchkit-build:<suite>-<first 12 hex digits of the Dockerfile's sha256>."""
    return f"{BUILD_REPOSITORY}:{suite}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"
