"""The Gentoo overlay as data: DIST lines only for files whose published hashes are known, the
hash set named in layout.conf, the EAPI 8 ebuild with acct-* users at build time where a base
compiles IDs in and at run time otherwise, metadata.xml's flags, the README's gaps."""

from __future__ import annotations

from patchkit.packaging import ebuild, hier

HIER = """void hier()
{
  h(auto_qmail,auto_uido,auto_gidq,0755);
  d(auto_qmail,"bin",auto_uido,auto_gidq,0755);
  d(auto_qmail,"queue",auto_uidq,auto_gidq,0750);
  p(auto_qmail,"queue/lock/trigger",auto_uids,auto_gidq,0622);
  c(auto_qmail,"bin","qmail-queue",auto_uidq,auto_gidq,04711);
}
"""
KNOWN = ebuild.Dist(file="libdkim-1.0.19.zip", uri="https://x/libdkim-1.0.19.zip", size=5,
                    sha256="a" * 64, sha512="b" * 128)
EBUILD = "mail-mta/notqmail-dkim/notqmail-dkim-1.09.ebuild"
UNKNOWN = ebuild.Dist(file="notqmail-1.09.tar.gz", uri="https://x/y -> notqmail-1.09.tar.gz",
                      why_unknown="no published hash")


def overlay(compiled_ids: bool, tree: ebuild.Dist) -> ebuild.Overlay:
    return ebuild.Overlay(
        base="notqmail-1.09", version="1.09", description="d", homepage="https://x/",
        tree=tree, libdomainkeys=KNOWN, libdkim=KNOWN, patchset=KNOWN,
        tree_dir="notqmail-notqmail-1.09", alt_tree_dir="notqmail-1.09",
        patchset_dir="notqmail-dkim-patches-1.09",
        qmail_patches=False, qmail_cflags="-std=gnu89", compiled_ids=compiled_ids,
        entries=hier.parse(HIER, 1))


def test_dist_lines_only_for_known_hashes() -> None:
    files = ebuild.render(overlay(False, UNKNOWN))
    manifest = files["mail-mta/notqmail-dkim/Manifest"]
    assert "notqmail-1.09.tar.gz" not in manifest
    assert f"DIST libdkim-1.0.19.zip 5 SHA256 {'a' * 64} SHA512 {'b' * 128}\n" in manifest
    assert "notqmail-1.09.tar.gz: no published hash" in files["README"]
    assert "manifest-hashes = SHA256 SHA512" in files["metadata/layout.conf"]
    assert files["profiles/repo_name"] == "patchkit-dkim\n"


def test_ebuild_users_and_layout() -> None:
    run_time = ebuild.render(overlay(False, KNOWN))[EBUILD]
    assert "EAPI=8" in run_time and "inherit toolchain-funcs" in run_time
    assert "qmail.eclass" in run_time and "inherit qmail" not in run_time
    assert 'IDEPEND="${ACCOUNTS}"' in run_time and "fowners" not in run_time
    assert "qmailq qmail 4711 /var/qmail/bin/qmail-queue" in run_time  # owners in postinst
    assert "fifo qmails qmail 0622 0 /var/qmail/queue/lock/trigger" in run_time
    assert 'S="${WORKDIR}/notqmail-notqmail-1.09"' in run_time
    assert 'mv "${WORKDIR}"/notqmail-1.09 "${S}"' in run_time
    build_time = ebuild.render(overlay(True, KNOWN))[EBUILD]
    assert 'RDEPEND="${DEPEND}"' in build_time and "fowners" in build_time
    assert "IDEPEND" not in build_time
    meta = ebuild.render(overlay(True, KNOWN))["mail-mta/notqmail-dkim/metadata.xml"]
    assert '<flag name="dkim">' in meta and '<flag name="domainkeys">' in meta


def test_hier_tsv_has_no_queue() -> None:
    tsv = ebuild.hier_tsv(hier.parse(HIER, 1))
    assert tsv.splitlines() == [
        "/var/qmail\tdir\troot\tqmail\t0755\t", "/var/qmail/bin\tdir\troot\tqmail\t0755\t",
        "/var/qmail/bin/qmail-queue\tfile\tqmailq\tqmail\t4711\tqmail-queue"]
