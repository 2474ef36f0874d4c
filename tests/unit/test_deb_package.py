"""The Debian packaging as data: patches re-made for quilt (re-rooted, CRLF kept, applying to
the same result), the debian/ files rendered from qmail's hierarchy (maintainer scripts that
follow policy), SOURCE_DATE_EPOCH, and deterministic repacks that keep the tree digest."""

from __future__ import annotations

import datetime
import time
from pathlib import Path

import pytest

from patchkit.errors import ConfigError
from patchkit.packaging import deb, hier, quilt
from patchkit.packaging.debsource import repack
from patchkit.patching import diffs
from patchkit.sources.archive import Member, read_archive, strip_top
from patchkit.sources.digest import entries_of, tree_digest, tree_digest_of_archive

HIER = """void hier()
{
  h(auto_qmail,auto_uido,auto_gidq,0755);
  d(auto_qmail,"bin",auto_uido,auto_gidq,0755);
  d(auto_qmail,"alias",auto_uida,auto_gidq,02755);
  d(auto_qmail,"doc",auto_uido,auto_gidq,0755);
  d(auto_qmail,"queue",auto_uidq,auto_gidq,0750);
  dsplit("queue/mess",auto_uidq,0750);
  z(auto_qmail,"queue/lock/tcpto",1024,auto_uidr,auto_gidq,0644);
  p(auto_qmail,"queue/lock/trigger",auto_uids,auto_gidq,0622);
  c(auto_qmail,"bin","qmail-queue",auto_uidq,auto_gidq,04711);
  c(auto_qmail,"bin","qmail-lspawn",auto_uido,auto_gidq,0700);
  c(auto_qmail,"doc","FAQ",auto_uido,auto_gidq,0644);
}
"""


def test_restack_reroots_and_keeps_crlf() -> None:
    tree = {"libdkim/src/a.cpp": "one\r\ntwo\r\nthree\r\n", "Makefile": "x\ny\n"}
    patch = "--- a/src/a.cpp\n+++ b/src/a.cpp\n@@ -1,3 +1,3 @@\n one\n-two\n+TWO\n three\n"
    text = quilt.restack(tree, "libdkim/", patch, strip=1, crlf=True, name="t.patch")
    assert tree["libdkim/src/a.cpp"] == "one\r\nTWO\r\nthree\r\n"
    assert "--- a/libdkim/src/a.cpp\n+++ b/libdkim/src/a.cpp\n" in text
    assert "-two\r\n+TWO\r\n" in text  # GNU patch then needs no --binary or fuzz
    again = {"libdkim/src/a.cpp": "one\r\ntwo\r\nthree\r\n"}
    fp, = diffs.parse(text, strip=1, name="re-made")
    assert diffs.apply_file(fp, again["libdkim/src/a.cpp"], crlf=False, name="re") == \
        tree["libdkim/src/a.cpp"]


def test_restack_new_file_and_missing_final_newline() -> None:
    tree: dict[str, str] = {"a": "1\n2"}
    patch = ("--- a/a\n+++ b/a\n@@ -1,2 +1,2 @@\n 1\n-2\n\\ No newline at end of file\n+3\n"
             "--- /dev/null\n+++ b/new.c\n@@ -0,0 +1 @@\n+int x;\n")
    text = quilt.restack(tree, "", patch, strip=1, crlf=False, name="t")
    assert tree == {"a": "1\n3\n", "new.c": "int x;\n"}
    assert "-2\n\\ No newline at end of file\n+3\n" in text
    assert "--- /dev/null\n+++ b/new.c\n" in text


def test_dep3_header() -> None:
    h = quilt.dep3("Description: fix it\nWhy: because\n it broke")
    assert h.startswith("Description: fix it\n") and "Forwarded: not-needed\n" in h
    assert h.endswith("Origin: vendor\n---\n")
    assert quilt.header_of("Description: x\n\n--- a/f\n+++ b/f\n") == "Description: x"


def src(**kw: object) -> deb.DebSource:
    entries = hier.parse(HIER, 2)
    base: dict[str, object] = dict(
        base="netqmail-1.06", suite="bookworm", upstream_version="1.06+repack",
        epoch=1700000000, entries=entries, qmail_cflags="-std=gnu89", runtime_ids_patch=True,
        origs=(deb.Orig(file="netqmail-dkim_1.06+repack.orig.tar.gz", what="netqmail-1.06",
                        pristine=False, tree="tree1:abc", why="a git tag rebuild"),
               deb.Orig(file="netqmail-dkim_1.06+repack.orig-libdomainkeys.tar.gz",
                        what="libdomainkeys", pristine=True, sha256="7e10")),
        patches=(quilt.QuiltPatch(name="0001-x.patch", text="Description: x\n---\n"),
                 quilt.QuiltPatch(name="0002-dkim.patch", text="Description: d\n---\n")))
    base.update(kw)
    return deb.DebSource(**base)  # type: ignore[arg-type]


def test_debian_files() -> None:
    files = deb.render(src())
    assert files["source/format"] == "3.0 (quilt)\n"
    assert files["patches/series"] == "0001-x.patch\n0002-dkim.patch\n"
    control = files["control"]
    assert "Build-Depends: debhelper-compat (= 13)," in control
    assert "Source: netqmail-dkim\n" in control and "Rules-Requires-Root: no" in control
    assert all(len(ln) <= 80 for ln in control.splitlines())
    rules = files["rules"]
    assert "%:\n\tdh $@\n" in rules and "include /usr/share/dpkg/buildflags.mk" in rules
    assert "install -m 0755 qmail-queue $(PKG)/var/lib/qmail/bin/qmail-queue" in rules
    assert "install -m 0644 FAQ $(PKG)/var/lib/qmail/doc/FAQ" in rules
    assert "/var/lib/qmail/queue" not in rules  # the queue is made on the target (postinst)
    assert "echo '/var/lib/qmail' > conf-qmail" in rules
    assert files["changelog"].startswith("netqmail-dkim (1.06+repack-1) bookworm;")
    assert " -- patchkit <patchkit@packages.invalid>  Tue, 14 Nov 2023 22:13:20 +0000" in \
        files["changelog"]


def test_maintainer_scripts_follow_policy() -> None:
    files = deb.render(src())
    post = files["postinst"]
    # the reasons Debian's ftpmasters rejected the old qmail packaging: none of them here
    assert "useradd" not in post and "userdel" not in files["postrm"]
    assert "preinst" not in files
    assert "adduser --system --quiet --ingroup nofiles --home /var/lib/qmail/alias " \
           "--no-create-home alias" in post
    assert "addgroup --system --quiet qmail" in post
    assert "qmailq qmail 4711 /var/lib/qmail/bin/qmail-queue\n" in post
    assert "root qmail 0700 /var/lib/qmail/bin/qmail-lspawn\n" in post
    assert "alias qmail 2755 /var/lib/qmail/alias\n" in post
    assert "fifo qmails qmail 0622 0 /var/lib/qmail/queue/lock/trigger\n" in post
    assert "dir qmailq qmail 0750 0 /var/lib/qmail/queue/mess/1\n" in post
    assert "zero qmailr qmail 0644 1024 /var/lib/qmail/queue/lock/tcpto\n" in post
    assert "#DEBHELPER#" in post and post.startswith("#!/bin/sh\n")
    postrm = files["postrm"]
    assert 'if [ "$1" = purge ]' in postrm and "/var/lib/qmail/bin/qmail-queue\n" in postrm
    assert "rm -rf /var/lib/qmail/queue" in postrm
    overrides = [ln for ln in files["source/lintian-overrides"].splitlines()
                 + files["netqmail-dkim.lintian-overrides"].splitlines() if ln.strip()]
    for i, ln in enumerate(overrides):  # every override has a comment saying why
        if not ln.startswith("#"):
            assert i > 0 and overrides[i - 1].startswith("#"), ln


def test_readme_source_and_copyright() -> None:
    files = deb.render(src())
    readme = files["README.source"]
    assert "A REPACK: a git tag rebuild" in readme and "tree1:abc" in readme
    assert "sha256 7e10, patchkit's pin, verified" in readme
    assert "+repack" in readme
    cr = files["copyright"]
    assert cr.startswith("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/")
    assert "Files: libdomainkeys/*" in cr and "Yahoo" in cr
    assert "Files: libdkim/*" in cr and "License: Apache-2.0" in cr
    assert "import dkim" in files["tests/sign-verify"] and "Restrictions: needs-root" in \
        files["tests/control"]


def test_refusals() -> None:
    with pytest.raises(ConfigError):
        deb.render(src(suite="sid"))
    bad = hier.parse(HIER.replace('"queue/lock/trigger"', '"bin/trigger"'), 2)
    with pytest.raises(ConfigError, match="FIFO"):
        deb.render(src(entries=bad))


def test_source_date_epoch() -> None:
    old = int(datetime.datetime(2008, 5, 12, tzinfo=datetime.UTC).timestamp())
    e = deb.source_date_epoch(old, "bookworm")
    assert datetime.datetime.fromtimestamp(e, datetime.UTC).date() == datetime.date(2022, 12, 18)
    assert deb.source_date_epoch(e + 5, "bookworm") == e + 5


MEMBERS = [Member(path="src/a.c", kind="f", data=b"int a;\n"),
           Member(path="run", kind="x", data=b"#!/bin/sh\n"),
           Member(path="src/link", kind="l", target="a.c")]


def test_repack_is_deterministic_and_keeps_the_tree(tmp_path: Path) -> None:
    repack(MEMBERS, "libdkim", 1700000000, tmp_path / "one.tar.gz")
    time.sleep(1.1)
    repack(list(reversed(MEMBERS)), "libdkim", 1700000000, tmp_path / "two.tar.gz")
    assert (tmp_path / "one.tar.gz").read_bytes() == (tmp_path / "two.tar.gz").read_bytes()
    assert tree_digest_of_archive(tmp_path / "one.tar.gz") == tree_digest(entries_of(MEMBERS))
    got = strip_top(read_archive(tmp_path / "one.tar.gz"))
    assert {m.path for m in got if m.kind != "d"} == {"src/a.c", "run", "src/link"}


def test_packaging_patches_have_headers() -> None:
    from patchkit.resources import patches_dir

    found = sorted((patches_dir() / "debian").rglob("*.patch"))
    assert found, "patches/debian/ holds the packaging-only patches"
    for p in found:
        lines = diffs.read_text(p).splitlines()
        assert lines[0].startswith("Description: ") and any(
            ln.startswith("Why: ") for ln in lines[:3]), p
        assert diffs.parse(diffs.read_text(p), name=p.name)
