"""A Debian source package's debian/ directory, as text: rendered from templates/debian/ by pure
functions over values (the base, the suite, qmail's hierarchy from hier.c, the upstream tarballs
and the patches), so the whole packaging is unit-tested as data. The adapter
(patchkit.packaging.debsource) assembles the tree and builds it in a container."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import jinja2

from patchkit.errors import ConfigError
from patchkit.packaging import hier, users
from patchkit.packaging.quilt import QuiltPatch
from patchkit.resources import templates_dir

HOME = "/var/lib/qmail"  # FHS: variable state under /var/lib; /var/qmail links to it
COMPAT_TARGET = "lib/qmail"  # /var/qmail -> lib/qmail (relative: works in a chroot too)
MAINTAINER = "patchkit <patchkit@packages.invalid>"
HOMEPAGE = "https://github.com/notqmail/notqmail"
# the current policy as lintian on each suite knows it, and the day after its release: the
# changelog's date (SOURCE_DATE_EPOCH) is never older than the Standards-Version it claims
STANDARDS = {"bookworm": ("4.6.2", "2022-12-18"), "trixie": ("4.7.2", "2025-03-10")}
DESCRIPTIONS = {"qmail-1.03": "qmail-1.03, D. J. Bernstein's secure MTA",
                "netqmail-1.06": "netqmail-1.06, the community release of qmail",
                "notqmail-1.09": "notqmail-1.09, the maintained successor of qmail",
                "jms1-7.10": "qmail-1.03 with John Simpson's combined patch 7.10"}
COPYRIGHTS = {"netqmail-1.06": "2007 the netqmail contributors",
              "notqmail-1.09": "2019-2024 the notqmail contributors",
              "qmail-1.03": "1998 Daniel J. Bernstein",
              "jms1-7.10": "2004-2012 John M. Simpson"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Orig:
    """One upstream tarball of the source package."""

    file: str  # e.g. netqmail-dkim_1.06+repack.orig-libdkim.tar.gz
    what: str  # e.g. "libdkim 1.0.19 (Alt-N)"
    pristine: bool  # the published file itself
    sha256: str = ""  # of the published file (pristine)
    tree: str = ""  # tree digest of the content (a repack)
    why: str = ""  # why it is a repack


@dataclass(frozen=True, slots=True, kw_only=True)
class DebSource:
    base: str
    suite: str
    upstream_version: str  # e.g. 1.06+repack
    epoch: int  # SOURCE_DATE_EPOCH
    entries: tuple[hier.Entry, ...]  # qmail's hierarchy (hier.c)
    origs: tuple[Orig, ...]
    patches: tuple[QuiltPatch, ...]
    qmail_cflags: str  # -std=gnu89 and the base's own defines
    runtime_ids_patch: bool
    home: str = HOME

    @property
    def source(self) -> str:
        return f"{self.base.rsplit('-', 1)[0]}-dkim"

    @property
    def version(self) -> str:
        return f"{self.upstream_version}-1"


def source_date_epoch(newest_input: int, suite: str) -> int:
    """SOURCE_DATE_EPOCH: the newest member time of the pinned published inputs, or the release
    of the suite's Standards-Version if that is later (lintian: timewarp-standards-version).
    Both are fixed by the pins and the suite, so every build of the source has the same."""
    released = datetime.datetime.fromisoformat(STANDARDS[suite][1] + "T00:00:00+00:00")
    return max(newest_input, int(released.timestamp()))


def source_name(base: str) -> str:
    return f"{base.rsplit('-', 1)[0]}-dkim"


def upstream_version(base: str, repack: bool) -> str:
    return base.rsplit("-", 1)[1] + ("+repack" if repack else "")


def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir() / "debian")),
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                              trim_blocks=True, lstrip_blocks=True, autoescape=False)


def _path(home: str, e: hier.Entry) -> str:
    return home + ("/" + e.path if e.path else "")


def render(src: DebSource) -> dict[str, str]:
    """Every file under debian/, by its path there."""
    if src.suite not in STANDARDS:
        raise ConfigError(f"no Debian packaging for suite {src.suite}",
                          f"suites: {', '.join(STANDARDS)}")
    shipped = [e for e in src.entries if not hier.is_queue(e)]
    queue = [e for e in src.entries if hier.is_queue(e)]
    files = [(e.source, _path(src.home, e), "0755" if e.mode & 0o111 else "0644")
             for e in shipped if e.kind == "file"]
    dirs = [_path(src.home, e) for e in shipped if e.kind == "dir"]
    if any(e.kind not in ("dir", "file") for e in shipped):
        raise ConfigError("qmail's hierarchy has a FIFO or zero file outside the queue",
                          "the package makes only the queue's in its postinst")
    date = datetime.datetime.fromtimestamp(src.epoch, datetime.UTC)
    ctx = {
        "source": src.source, "package": src.source, "version": src.version,
        "suite": src.suite, "base": src.base, "home": src.home, "maintainer": MAINTAINER,
        "homepage": HOMEPAGE, "standards_version": STANDARDS[src.suite][0],
        "description": DESCRIPTIONS.get(src.base, src.base),
        "qmail_copyright": COPYRIGHTS.get(src.base, "the qmail contributors"),
        "date": date.strftime("%a, %d %b %Y %H:%M:%S +0000"), "epoch": src.epoch,
        "qmail_cflags": src.qmail_cflags, "files": files, "dirs": dirs,
        "groups": users.GROUPS,
        "users": [(a.name, a.group, src.home + ("/" + a.home if a.home else ""))
                  for a in users.ACCOUNTS],
        "overrides": [(e.owner, e.group, f"{e.mode:04o}", _path(src.home, e))
                      for e in shipped],
        "override_paths": [_path(src.home, e) for e in shipped],
        "queue": [(e.kind, e.owner, e.group, f"{e.mode:04o}", e.size, _path(src.home, e))
                  for e in queue],
        "compat_target": COMPAT_TARGET, "origs": src.origs,
        "repack": any(not o.pristine for o in src.origs),
        "runtime_ids_patch": src.runtime_ids_patch,
    }
    env = _env()
    out = {name: env.get_template(f"{name}.j2").render(ctx) for name in (
        "control", "rules", "changelog", "copyright", "postinst", "postrm", "README.source",
        "tests/control")}
    out["tests/sign-verify"] = env.get_template("tests/sign-verify.j2").render(ctx)
    out["source/format"] = "3.0 (quilt)\n"
    out["source/lintian-overrides"] = env.get_template("source.lintian-overrides.j2").render(ctx)
    out[f"{src.source}.lintian-overrides"] = env.get_template("lintian-overrides.j2").render(ctx)
    out["patches/series"] = "".join(p.name + "\n" for p in src.patches)
    for p in src.patches:
        out[f"patches/{p.name}"] = p.text
    return out


EXECUTABLE = ("rules", "tests/sign-verify")


# --- the containers that build and prove the package (their scripts, as text) ---------------

BUILD_PACKAGES = ("build-essential", "debhelper", "fakeroot", "groff-base", "libssl-dev",
                  "lintian")


def builder_dockerfile(base_image: str) -> str:
    """The image dpkg-buildpackage and lintian run in: the suite's base image with the
    Build-Depends and lintian preinstalled (the build then runs with no network)."""
    return (f"FROM {base_image}\nENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8\n"
            "RUN apt-get update && apt-get install -y --no-install-recommends "
            + " ".join(BUILD_PACKAGES) + " && rm -rf /var/lib/apt/lists/*\n")


def build_script(source: str, version: str, srcdir: str, suite: str) -> str:
    """dpkg-source -b, then two full builds at different paths and times, lintian on the first,
    and the .debs of both compared byte for byte. Results in /out/SUITE/."""
    upstream = version.rsplit("-", 1)[0]
    return f"""set -eu
cd /out
rm -rf {suite} && mkdir -p {suite}
dpkg-source -b {srcdir} > {suite}/source.log 2>&1 || {{ cat {suite}/source.log >&2; exit 1; }}
build() {{
    rm -rf "$1" && mkdir -p "$1" && cd "$1"
    dpkg-source -x /out/{source}_{version}.dsc src > /dev/null
    cd src
    if ! dpkg-buildpackage -us -uc > /out/{suite}/build-$2.log 2>&1; then
        tail -40 /out/{suite}/build-$2.log >&2; exit 1
    fi
    cd /out
}}
t0=$(date +%s)
build /build/one one
t1=$(date +%s)
echo "built in $((t1 - t0)) s" >&2
cp /build/one/*.deb /build/one/*.changes /build/one/*.buildinfo {suite}/
set +e
lintian --fail-on error,warning --info --display-level '>=warning' \\
    /build/one/{source}_{version}_*.changes > {suite}/lintian.txt 2>&1
rc=$?
set -e
t2=$(date +%s)
echo "lintian exit $rc in $((t2 - t1)) s" >&2
cat {suite}/lintian.txt >&2
[ $rc -eq 0 ] || exit 3
sleep 2
build /var/tmp/a/much/longer/path/two two
for f in /build/one/*.deb; do
    n=$(basename "$f")
    if cmp -s "$f" "/var/tmp/a/much/longer/path/two/$n"; then
        echo "reproducible $n $(sha256sum < "$f" | cut -c1-64)" >&2
    else
        echo "NOT reproducible $n" >&2; exit 4
    fi
done
echo "lint-clean after $((t2 - t0)) s; upstream {upstream}" >&2
"""


def verify_script(source: str, version: str, suite: str, home: str) -> str:
    """In a fresh container of the suite: install with apt (users, owners, modes, queue, FIFO
    checked against qmail's hier), autopkgtest, purge (users stay, overrides and queue go),
    reinstall (the same IDs), check again."""
    return f"""set -eu
export DEBIAN_FRONTEND=noninteractive
deb=$(ls /out/{suite}/{source}_{version}_*.deb)
apt-get update -q > /dev/null
check() {{
    bad=0
    grep -v '^#' /out/{source}.hier | while IFS='\t' read -r path kind owner group mode; do
        case "$kind" in dir) t=-d ;; fifo) t=-p ;; *) t=-f ;; esac
        if ! test $t "$path"; then echo "BAD $path: not a $kind" >&2; echo x; continue; fi
        got=$(stat -c '%U %G %a' "$path")
        want="$owner $group $(printf %o 0$mode)"
        [ "$got" = "$want" ] || {{ echo "BAD $path: $got, not $want" >&2; echo x; }}
    done > /tmp/bad
    [ ! -s /tmp/bad ] || {{ echo "$(wc -l < /tmp/bad) entries differ from hier.c" >&2; exit 5; }}
    [ "$(readlink /var/qmail)" = {COMPAT_TARGET} ]
    echo "CHECK $1: $(grep -vc '^#' /out/{source}.hier) entries of hier.c as it says" >&2
}}
apt-get install -y -q "$deb" > /out/{suite}/install.log 2>&1 \
    || {{ tail -20 /out/{suite}/install.log >&2; exit 6; }}
check install
uid=$(id -u qmailq)
[ "$uid" -lt 1000 ] && echo "CHECK users: qmailq is system user $uid" >&2
apt-get install -y -q --no-install-recommends autopkgtest > /dev/null 2>&1
rm -rf /out/{suite}/autopkgtest
autopkgtest --no-built-binaries --output-dir /out/{suite}/autopkgtest \\
    /out/{source}_{version}.dsc "$deb" -- null > /out/{suite}/autopkgtest.log 2>&1 \\
    || {{ tail -30 /out/{suite}/autopkgtest.log >&2; exit 7; }}
echo "CHECK autopkgtest: $(grep -E '^sign-verify' /out/{suite}/autopkgtest/summary)" >&2
apt-get purge -y -q {source} > /out/{suite}/purge.log 2>&1
[ ! -e {home} ] || [ -z "$(ls -A {home}/queue 2>/dev/null)" ]
[ ! -e /var/qmail ] && ! dpkg-statoverride --list | grep -q '{home}'
[ "$(id -u qmailq)" = "$uid" ]
echo "CHECK purge: queue, overrides and /var/qmail gone, users kept" >&2
apt-get install -y -q "$deb" > /out/{suite}/reinstall.log 2>&1
check reinstall
[ "$(id -u qmailq)" = "$uid" ] && echo "CHECK reinstall: qmailq is still $uid" >&2
"""
