"""patchkit install against real builds: the staged tree (--destdir) is hier.c's, with the build's
files and a manifest; a live install (--root) creates qmail's users with the system's tools,
builds a base that compiles IDs in against them, and sets owners and set-id modes; in a container
it runs on / and qmail's own instcheck agrees. Marked upstream (the builds need the cache); the
live ones need root, the last a Docker engine."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
from pathlib import Path

import pytest
from harness import patchkit, require_upstream, workdir

pytestmark = [pytest.mark.upstream, pytest.mark.slow]
BASES = ("netqmail-1.06", "notqmail-1.09")
HOME = "/var/qmail"


def fake_system(root: Path, with_qmail: bool) -> None:
    """A system tree shadow's tools accept with --root: root only, or qmail's users too, with IDs
    unlike patchkit's own (7790...) so that a build against them is visible."""
    (root / "etc").mkdir(parents=True, exist_ok=True)
    passwd = "root:x:0:0:root:/root:/bin/sh\n"
    group = "root:x:0:\n"
    if with_qmail:
        group += "nofiles:x:801:\nqmail:x:802:\n"
        for i, (n, g) in enumerate([("alias", 801), ("qmaild", 801), ("qmaill", 801),
                                    ("qmailp", 801), ("qmailq", 802), ("qmailr", 802),
                                    ("qmails", 802)]):
            passwd += f"{n}:x:{901 + i}:{g}::{HOME}:/bin/false\n"
    (root / "etc/passwd").write_text(passwd)
    (root / "etc/group").write_text(group)
    (root / "etc/shadow").write_text("root:*:19000:0:99999:7:::\n")
    (root / "etc/gshadow").write_text("root:*::\n")
    if Path("/etc/login.defs").is_file():
        shutil.copy("/etc/login.defs", root / "etc/login.defs")


def manifest(path: Path) -> dict[str, tuple[str, str, str, str]]:
    rows = [ln.split("\t") for ln in path.read_text().splitlines() if not ln.startswith("#")]
    return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def compiled_ids(base: str) -> dict[str, int]:
    text = (workdir() / f"{base}+dkim" / "build" / "qmail" / "auto_uids.c").read_text()
    return {k: int(v) for k, v in re.findall(r"auto_(\w+) = (\d+);", text)}


@pytest.mark.parametrize("base", BASES)
def test_destdir_is_hier_with_the_build_and_a_manifest(base: str, tmp_path: Path) -> None:
    require_upstream(base)
    system = tmp_path / "target"
    fake_system(system, with_qmail=True)
    dest = tmp_path / "stage"
    r = json.loads(patchkit("install", "--base", base, "--workdir", str(workdir()), "--destdir",
                            str(dest), "--ids-from", str(system), "--json").stdout)
    rows = manifest(Path(r["manifest"]))
    assert Path(r["manifest"]) == tmp_path / "stage.manifest" and len(rows) == r["entries"]
    assert rows[f"{HOME}/bin/qmail-queue"] == ("file", "qmailq", "qmail", "4711")
    assert rows[f"{HOME}/queue/lock/trigger"] == ("fifo", "qmails", "qmail", "0622")
    assert rows[f"{HOME}/alias"] == ("dir", "alias", "qmail", "2755")
    home = dest / HOME.lstrip("/")
    for path, (kind, _, _, mode) in rows.items():
        st = (dest / path.lstrip("/")).lstat()
        assert f"{stat.S_IMODE(st.st_mode):04o}" == mode, path
        assert {"dir": stat.S_ISDIR, "file": stat.S_ISREG, "zero": stat.S_ISREG,
                "fifo": stat.S_ISFIFO}[kind](st.st_mode), path
        assert st.st_uid == os.getuid()  # staged: nobody's files changed owner
    tree = workdir() / f"{base}+dkim" / "build" / "qmail"
    for prog in ("qmail-remote", "qmail-smtpd", "qmail-queue", "qmail-send"):
        assert sha(home / "bin" / prog) == sha(tree / prog)
    if r["ids_compiled_in"]:  # built against the target's IDs, never patchkit's 7790...
        ids = compiled_ids(base)
        assert r["ids"]["users"]["qmailq"] == 905 == ids["uidq"] and ids["gidq"] == 802
    else:
        assert base == "notqmail-1.09" and r["ids"] is None


@pytest.mark.parametrize("base", BASES)
def test_live_install_into_a_root_creates_users_and_owners(base: str, tmp_path: Path) -> None:
    require_upstream(base)
    if os.geteuid() != 0:
        pytest.skip("a live install sets owners and set-id modes: run the suite as root")
    root = tmp_path / "sys"
    fake_system(root, with_qmail=False)
    args = ("install", "--base", base, "--workdir", str(workdir()), "--root", str(root), "--json")
    r = json.loads(patchkit(*args).stdout)
    assert r["created"] == ["nofiles", "qmail", "alias", "qmaild", "qmaill", "qmailp", "qmailq",
                            "qmailr", "qmails"]
    passwd = {ln.split(":")[0]: ln.split(":") for ln in (root / "etc/passwd").read_text()
              .splitlines()}
    uid_q = int(passwd["qmailq"][2])
    assert uid_q < 1000 and passwd["alias"][5] == f"{HOME}/alias"  # system accounts
    q = (root / HOME.lstrip("/") / "bin/qmail-queue").lstat()
    assert (q.st_uid, stat.S_IMODE(q.st_mode)) == (uid_q, 0o4711)
    t = (root / HOME.lstrip("/") / "queue/lock/trigger").lstat()
    assert stat.S_ISFIFO(t.st_mode) and t.st_uid == int(passwd["qmails"][2])
    if r["ids_compiled_in"]:
        assert compiled_ids(base)["uidq"] == uid_q
    again = json.loads(patchkit(*args).stdout)  # idempotent: nothing to create the second time
    assert again["created"] == [] and again["ids"] == r["ids"]


LIVE_SCRIPT = """set -e
for u in alias qmaild qmaill qmailp qmailq qmailr qmails; do userdel "$u"; done
groupdel qmail; groupdel nofiles
patchkit -q install --base "$1" --root / --workdir /state/install --json
echo "qmailq=$(id -u qmailq) $(stat -c '%U:%G:%a' /var/qmail/bin/qmail-queue)" >&2
"""


@pytest.mark.docker
@pytest.mark.parametrize("base", BASES)
def test_live_install_on_a_system_passes_instcheck(base: str) -> None:
    """On / of a fresh build container whose qmail users were removed: patchkit makes them as
    system accounts, installs, and qmail's own instcheck (make check) finds nothing wrong."""
    require_upstream(base)
    from patchkit.docker import backend
    from patchkit.docker import engine as container
    from patchkit.errors import EngineError
    from patchkit.sources.cache import Cache, default_distdir

    try:
        client = container.connect(timeout=30)
    except EngineError as e:
        pytest.skip(f"{e.message} (scripts/docker-up starts one)")
    suite = os.environ.get("PATCHKIT_TEST_SUITE", "bookworm")
    tag = backend.ensure_build_image(client, suite, lambda _: None)
    state = workdir() / "docker-install"
    state.mkdir(parents=True, exist_ok=True)
    argv = container.then_chown(("sh", "-c", LIVE_SCRIPT, "sh", base), container.host_user(),
                                ("/state",))
    lines: list[str] = []
    spec = container.RunSpec(image=tag, argv=argv, user="0:0", workdir="/src",
                             mounts=backend.mounts(Cache(default_distdir()), state))
    result = container.run(client, spec, on_line=lines.append)
    assert result.exit_code == 0, "\n".join(lines[-30:])
    r = json.loads(result.stdout)
    assert r["instcheck"] == "ok" and r["root"] == "/"
    assert r["created"][:2] == ["nofiles", "qmail"] and len(r["created"]) == 9
    uid = r["ids"]["users"]["qmailq"]
    assert uid < 1000 and uid != 7794  # a system account, not patchkit's build-time ID
    assert f"qmailq={uid} qmailq:qmail:4711" in lines
