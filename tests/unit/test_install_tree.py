"""patchkit install without a build: hier.c read into entries, qmail's users read from passwd and
group, the tree staged into a temporary DESTDIR from a synthetic build tree, the check that
compares it with hier.c, and the refusals (no root for --root, no IDs for a base that compiles
them in)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from patchkit import api
from patchkit.build.plan import QMAIL_GROUPS, QMAIL_USERS, Options, make_plan, users_files
from patchkit.cli import cli
from patchkit.errors import BuildFailed, ConfigError
from patchkit.packaging import hier, users
from patchkit.packaging import install as pkinstall
from patchkit.patching.series import Toolchain, load_series
from patchkit.sources.manifest import load_manifest

# hier.c in the two shapes the bases have: qmail-1.03's K&R dsplit and one hier(); notqmail's
# ANSI dsplit and a hier_queue() that hier() calls. Fragments, written for the test.
KR = """#include "auto_uids.h"
void dsplit(base,uid,mode)
char *base;
int uid;
int mode;
{
  d(auto_qmail,base,uid,auto_gidq,mode);
}

void hier()
{
  h(auto_qmail,auto_uido,auto_gidq,0755);
  d(auto_qmail,"bin",auto_uido,auto_gidq,0755);
  d(auto_qmail,"alias",auto_uida,auto_gidq,02755);
  d(auto_qmail,"queue",auto_uidq,auto_gidq,0750);
  dsplit("queue/mess",auto_uidq,0750);
  d(auto_qmail,"queue/lock",auto_uidq,auto_gidq,0750);
  z(auto_qmail,"queue/lock/tcpto",1024,auto_uidr,auto_gidq,0644);
  p(auto_qmail,"queue/lock/trigger",auto_uids,auto_gidq,0622);
  /* c(auto_qmail,"bin","commented-out",auto_uido,auto_gidq,0755); */
  c(auto_qmail,"bin","qmail-queue",auto_uidq,auto_gidq,04711);
  c(auto_qmail,"bin","qmail-send",auto_uido,auto_gidq,0711);
}
"""
ANSI = """void dsplit(char *base, uid_t uid, int mode)
{
  d(auto_qmail,base,uid,auto_gidq,mode);
}

void hier_queue()
{
  d(auto_qmail,"queue",auto_uidq,auto_gidq,0750);
  p(auto_qmail,"queue/lock/trigger",auto_uids,auto_gidq,0622);
}

void hier()
{
  h(auto_qmail,auto_uido,auto_gidq,0755);
  d(auto_qmail,"bin",auto_uido,auto_gidq,0755);
  hier_queue();
  c(auto_qmail,"bin","qmail-queue",auto_uidq,auto_gidq,04711);
}
"""
TC = Toolchain(compiler="gcc", compiler_version=(12, 2, 0), openssl_version=(3, 0, 19),
               libc="glibc", libc_version=(2, 36))


def test_hier_kr_entries_in_order() -> None:
    es = hier.parse(KR, 3)
    assert [e.describe() for e in es] == [
        "dir . root:qmail 0755", "dir bin root:qmail 0755", "dir alias alias:qmail 2755",
        "dir queue qmailq:qmail 0750", "dir queue/mess qmailq:qmail 0750",
        "dir queue/mess/0 qmailq:qmail 0750", "dir queue/mess/1 qmailq:qmail 0750",
        "dir queue/mess/2 qmailq:qmail 0750", "dir queue/lock qmailq:qmail 0750",
        "zero queue/lock/tcpto qmailr:qmail 0644", "fifo queue/lock/trigger qmails:qmail 0622",
        "file bin/qmail-queue qmailq:qmail 4711", "file bin/qmail-send root:qmail 0711"]
    assert next(e for e in es if e.kind == "zero").size == 1024
    assert next(e for e in es if e.path == "bin/qmail-queue").source == "qmail-queue"


def test_hier_follows_calls_of_its_own_functions() -> None:
    assert [e.path for e in hier.parse(ANSI, 23)] == [
        "", "bin", "queue", "queue/lock/trigger", "bin/qmail-queue"]


@pytest.mark.parametrize(("text", "needle"), [
    (KR.replace('  d(auto_qmail,"bin"', '#ifdef X\n  d(auto_qmail,"bin"'), "preprocessor"),
    (KR.replace("auto_uidr", "auto_uidx"), "owner"),
    (KR.replace("auto_gidq,0644", "auto_gidz,0644"), "group"),
    (KR.replace('  d(auto_qmail,"bin"', '  e(auto_qmail,"bin"'), "calls e()"),
    (KR.replace('"bin","qmail-queue"', '"bin","qmail-inject"'), "no bin/qmail-queue"),
    ("int main() { return 0; }\n", "no hier()"),
])
def test_hier_refuses_what_it_does_not_know(text: str, needle: str) -> None:
    with pytest.raises(BuildFailed, match=needle):
        hier.parse(text, 23)


def test_split_and_manifest() -> None:
    assert hier.split_of("23\n\nThis is the queue subdirectory split.\n") == 23
    with pytest.raises(BuildFailed):
        hier.split_of("many\n")
    lines = hier.manifest_lines(hier.parse(ANSI, 1), "/var/qmail")
    assert lines[0].startswith("# path")
    assert "/var/qmail\tdir\troot\tqmail\t0755" in lines
    assert "/var/qmail/bin/qmail-queue\tfile\tqmailq\tqmail\t4711" in lines
    assert [hier.is_queue(e) for e in hier.parse(ANSI, 1)] == [False, False, True, True, False]


PASSWD = "root:x:0:0:root:/root:/bin/bash\n" + "".join(
    f"{a.name}:x:{900 + i}:{800 if a.group == 'nofiles' else 801}::/var/qmail:/bin/false\n"
    for i, a in enumerate(users.ACCOUNTS))
GROUP = "root:x:0:\nnofiles:x:800:\nqmail:x:801:\n"


def test_users_read_from_the_system() -> None:
    assert users.missing(PASSWD, GROUP) == ([], [])
    ids = users.ids_of(PASSWD, GROUP)
    assert ids is not None and ids.uid("qmailq") == 904 and ids.gid("qmail") == 801
    assert ids.uid("root") == 0 and ids.users[0] == ("root", 0, 0)
    assert users.missing("root:x:0:0::/:/bin/sh\n", "root:x:0:\n") == (
        ["nofiles", "qmail"], [a.name for a in users.ACCOUNTS])
    assert users.ids_of(PASSWD.replace("qmails:", "qmailz:"), GROUP) is None


def test_user_creation_commands() -> None:
    steps = users.create_steps(["qmail"], ["alias", "qmailq"], home="/var/qmail/", root="/",
                               shell="/usr/sbin/nologin")
    assert [s.argv for s in steps] == [
        ("groupadd", "--system", "qmail"),
        ("useradd", "--system", "--no-create-home", "--gid", "nofiles", "--home-dir",
         "/var/qmail/alias", "--shell", "/usr/sbin/nologin", "alias"),
        ("useradd", "--system", "--no-create-home", "--gid", "qmail", "--home-dir",
         "/var/qmail", "--shell", "/usr/sbin/nologin", "qmailq")]
    chroot = users.create_steps(["qmail"], [], home="/var/qmail", root="/srv/r", shell="/bin/false")
    assert chroot[0].argv == ("groupadd", "--system", "--root", "/srv/r", "qmail")


def build_tree(tmp: Path, text: str = KR) -> Path:
    tree = tmp / "build"
    tree.mkdir()
    (tree / "hier.c").write_text(text)
    (tree / "conf-split").write_text("3\n")
    (tree / "qmail-queue").write_bytes(b"\x7fELF queue")
    (tree / "qmail-send").write_bytes(b"\x7fELF send")
    return tree


def test_stage_makes_hier_with_modes_and_no_owners(tmp_path: Path) -> None:
    lay = pkinstall.layout(build_tree(tmp_path), "/var/qmail")
    dest = tmp_path / "dest"
    assert pkinstall.stage(lay, dest, ids=None) == len(lay.entries)
    home = dest / "var/qmail"
    q = (home / "bin/qmail-queue").lstat()
    assert stat.S_IMODE(q.st_mode) == 0o4711 and (home / "bin/qmail-queue").read_bytes() == \
        b"\x7fELF queue"
    assert stat.S_ISFIFO((home / "queue/lock/trigger").lstat().st_mode)
    assert (home / "queue/lock/tcpto").read_bytes() == b"\0" * 1024
    assert stat.S_IMODE((home / "alias").stat().st_mode) == 0o2755
    assert q.st_uid == os.getuid()  # no chown without ids
    assert pkinstall.check(lay, dest, ids=None) == []
    # again over the first: replaced, not failed (a reinstall over a running qmail)
    pkinstall.stage(lay, dest, ids=None)
    assert pkinstall.check(lay, dest, ids=None) == []


def test_check_finds_what_differs(tmp_path: Path) -> None:
    lay = pkinstall.layout(build_tree(tmp_path), "/var/qmail")
    dest = tmp_path / "dest"
    pkinstall.stage(lay, dest, ids=None)
    home = dest / "var/qmail"
    os.chmod(home / "bin/qmail-queue", 0o755)
    (home / "queue/lock/trigger").unlink()
    (home / "queue/lock/trigger").write_text("")
    (home / "queue/mess/2").rmdir()
    problems = pkinstall.check(lay, dest, ids=None)
    assert any("qmail-queue: mode 0755, not 4711" in p for p in problems)
    assert any("trigger: not a fifo" in p for p in problems)
    assert any("queue/mess/2: missing" in p for p in problems)
    ids = users.ids_of(PASSWD, GROUP)
    assert ids is not None
    assert any("owner" in p for p in pkinstall.check(lay, dest, ids=ids))  # we are not qmailq


def test_stage_without_the_queue(tmp_path: Path) -> None:
    lay = pkinstall.layout(build_tree(tmp_path), "/var/qmail")
    pkinstall.stage(lay, tmp_path / "d", ids=None, queue=False)
    assert not (tmp_path / "d/var/qmail/queue").exists()
    assert (tmp_path / "d/var/qmail/bin/qmail-send").is_file()
    assert pkinstall.check(lay, tmp_path / "d", ids=None, queue=False) == []


def test_stage_names_a_file_the_build_lacks(tmp_path: Path) -> None:
    tree = build_tree(tmp_path)
    (tree / "qmail-send").unlink()
    with pytest.raises(BuildFailed, match="no qmail-send"):
        pkinstall.stage(pkinstall.layout(tree, "/var/qmail"), tmp_path / "d", ids=None)


def test_live_install_needs_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(ConfigError, match="only root") as e:
        api.install(Options(base="netqmail-1.06"), api.Cache(tmp_path / "dd"), tmp_path / "w",
                    root=Path("/"), say=lambda _: None)
    assert "--destdir" in e.value.hint


def test_destdir_for_compiled_ids_needs_the_target_users(tmp_path: Path) -> None:
    (tmp_path / "sys/etc").mkdir(parents=True)
    with pytest.raises(ConfigError, match="compiles qmail's user IDs") as e:
        api.install(Options(base="netqmail-1.06"), api.Cache(tmp_path / "dd"), tmp_path / "w",
                    destdir=tmp_path / "d", ids_from=tmp_path / "sys", say=lambda _: None)
    assert "--ids-from" in e.value.hint


def test_install_needs_one_target(tmp_path: Path) -> None:
    for extra in ([], ["--root", str(tmp_path / "r"), "--destdir", str(tmp_path / "d")]):
        r = CliRunner().invoke(cli, ["--distdir", str(tmp_path), "install", "--base",
                                     "notqmail-1.09", *extra])
        assert r.exit_code == 2 and "exactly one of --root" in r.output


def test_target_ids_key_the_qmail_stage_where_compiled_in(tmp_path: Path) -> None:
    ids = users.ids_of(PASSWD, GROUP)
    assert ids is not None
    s, m = load_series(), load_manifest()

    def qkey(base: str, given: object) -> tuple[str, object]:
        p = make_plan(Options(base=base, dkim=False), s, m, TC, tmp_path, ids=given)  # type: ignore[arg-type]
        return p.compiles[-1].key, p.users
    own = qkey("netqmail-1.06", None)
    assert qkey("netqmail-1.06", (QMAIL_USERS, QMAIL_GROUPS)) == own
    target = qkey("netqmail-1.06", (ids.users, ids.groups))
    assert target[0] != own[0] and target[1] == ids.users
    # notqmail looks the users up at run time: its programs do not change with the IDs
    assert qkey("notqmail-1.09", (ids.users, ids.groups))[0] == qkey("notqmail-1.09", None)[0]
    passwd, group = users_files(ids.users, ids.groups)
    assert "qmailq:x:904:801:" in passwd and "qmail:x:801:" in group
