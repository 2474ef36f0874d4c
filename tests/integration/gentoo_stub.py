"""A stub Gentoo master repository and portage configuration, written by the tests so that
pkgcheck (pkgcore) can scan patchkit's overlay with no Gentoo tree: the categories, the packages
the ebuilds depend on as empty ebuilds, a toolchain-funcs stub, two licences and a tiny amd64
profile."""

from __future__ import annotations

from pathlib import Path

DEPS = ("acct-group/nofiles", "acct-group/qmail", "acct-user/alias", "acct-user/qmaild",
        "acct-user/qmaill", "acct-user/qmailp", "acct-user/qmailq", "acct-user/qmailr",
        "acct-user/qmails", "app-arch/unzip", "dev-libs/openssl", "sys-apps/groff")
EBUILD = """# Copyright 2026 patchkit contributors
# Distributed under the terms of the GNU General Public License v2

EAPI=8

DESCRIPTION="stub of {pkg} for patchkit's pkgcheck test"
HOMEPAGE="https://www.gentoo.org/"
LICENSE="public-domain"
SLOT="{slot}"
KEYWORDS="amd64"
"""
ECLASS = """# Copyright 2026 patchkit contributors
# Distributed under the terms of the GNU General Public License v2

# @ECLASS: toolchain-funcs.eclass
# @MAINTAINER:
# patchkit@packages.invalid
# @BLURB: stub of Gentoo's toolchain-funcs for patchkit's pkgcheck test

# @FUNCTION: tc-getCC
# @DESCRIPTION: the C compiler
tc-getCC() { echo "${CC:-gcc}"; }

# @FUNCTION: tc-getCXX
# @DESCRIPTION: the C++ compiler
tc-getCXX() { echo "${CXX:-g++}"; }
"""


def write_stub(root: Path, overlay: Path) -> Path:
    """root/gentoo (the master), root/etc/portage (its configuration); returns the config dir."""
    g = root / "gentoo"
    (g / "metadata").mkdir(parents=True)
    (g / "metadata/layout.conf").write_text(
        "repo-name = gentoo\nmasters =\nthin-manifests = true\nsign-manifests = false\n"
        "manifest-hashes = SHA256 SHA512\n")
    prof = g / "profiles"
    (prof / "default/linux/amd64").mkdir(parents=True)
    (prof / "repo_name").write_text("gentoo\n")
    (prof / "arch.list").write_text("amd64\n")
    cats = sorted({d.split("/")[0] for d in DEPS} | {"mail-mta"})
    (prof / "categories").write_text("".join(c + "\n" for c in cats))
    (prof / "profiles.desc").write_text("amd64 default/linux/amd64 stable\n")
    (prof / "use.desc").write_text("")
    (prof / "default/linux/amd64/eapi").write_text("8\n")
    (prof / "default/linux/amd64/make.defaults").write_text(
        'ARCH="amd64"\nACCEPT_KEYWORDS="amd64"\nELIBC="glibc"\nKERNEL="linux"\n'
        'USERLAND="GNU"\nIUSE_IMPLICIT="prefix"\nUSE_EXPAND_IMPLICIT="ARCH ELIBC KERNEL"\n'
        'USE_EXPAND_VALUES_ARCH="amd64"\nUSE_EXPAND_VALUES_ELIBC="glibc"\n'
        'USE_EXPAND_VALUES_KERNEL="linux"\n')
    (g / "licenses").mkdir()
    for lic in ("public-domain", "Apache-2.0", "GPL-2"):
        (g / "licenses" / lic).write_text(f"{lic} (stub)\n")
    (g / "eclass").mkdir()
    (g / "eclass/toolchain-funcs.eclass").write_text(ECLASS)
    for dep in DEPS:
        d = g / dep
        d.mkdir(parents=True)
        slot = "0/3" if dep == "dev-libs/openssl" else "0"
        (d / f"{dep.split('/')[1]}-1.ebuild").write_text(EBUILD.format(pkg=dep, slot=slot))
    etc = root / "etc/portage"
    (etc / "repos.conf").mkdir(parents=True)
    (etc / "repos.conf/repos.conf").write_text(
        f"[DEFAULT]\nmain-repo = gentoo\n\n[gentoo]\nlocation = {g}\n\n"
        f"[patchkit-dkim]\nlocation = {overlay}\n")
    (etc / "make.profile").symlink_to(prof / "default/linux/amd64")
    (etc / "make.conf").write_text('ACCEPT_KEYWORDS="amd64 ~amd64"\n')
    return etc
