"""patchkit install: qmail's hierarchy (hier.c's entries) made from a build tree, either on a live
system as root (users created when missing, owners and modes as hier.c says, then qmail's own
instcheck) or staged under a DESTDIR as any user (modes only, no chown, no users; a manifest of
owners and modes beside it for the packager)."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from patchkit.errors import BuildFailed, ConfigError, FileError
from patchkit.files import write_atomic
from patchkit.packaging import hier, users
from patchkit.runner import capture, run_merged
from patchkit.ui import Log

_KIND_BITS = {"dir": stat.S_ISDIR, "file": stat.S_ISREG, "zero": stat.S_ISREG,
              "fifo": stat.S_ISFIFO}


@dataclass(frozen=True, slots=True, kw_only=True)
class Layout:
    """What one install makes: hier.c's entries, under home, from the build tree."""

    tree: Path  # the qmail build tree (hier.c, conf-split, the built files)
    home: str  # conf-qmail, absolute
    entries: tuple[hier.Entry, ...]


def layout(tree: Path, home: str) -> Layout:
    text = (tree / "hier.c").read_text(errors="replace")
    split = hier.split_of((tree / "conf-split").read_text(errors="replace"))
    return Layout(tree=tree, home=home, entries=hier.parse(text, split))


def target_of(root: Path, home: str, e: hier.Entry) -> Path:
    base = root / home.lstrip("/")
    return base / e.path if e.path else base


def read_system(root: Path) -> tuple[str, str]:
    def read(rel: str) -> str:
        p = root / rel
        return p.read_text(errors="replace") if p.is_file() else ""
    return read("etc/passwd"), read("etc/group")


def ensure_users(root: Path, home: str, *, say: Log) -> tuple[list[str], users.Ids]:
    """Create qmail's missing groups and users in the system at root with shadow's tools,
    saying so; return what was created and the IDs the system now has."""
    groups, names = users.missing(*read_system(root))
    shell = "/usr/sbin/nologin" if (root / "usr/sbin/nologin").exists() else "/bin/false"
    created: list[str] = []
    for step in users.create_steps(groups, names, home=home, root=str(root), shell=shell):
        say(f"creating {step.name.split()[1]} ({' '.join(step.argv)})")
        capture(step.argv, step.cwd, what=step.name, error=FileError,
                hint="create qmail's users and groups yourself (qmail's INSTALL.ids), "
                     "then rerun")
        created.append(step.name.split()[1])
    ids = users.ids_of(*read_system(root))
    if ids is None:
        raise FileError(f"qmail's users are still missing from {root}/etc/passwd or group",
                        "create them (qmail's INSTALL.ids) and rerun")
    return created, ids


def stage(lay: Layout, root: Path, *, ids: users.Ids | None, queue: bool = True) -> int:
    """Make every entry under root, in hier.c's order; with ids, chown as well (then chmod, as
    chown clears set-id bits). Files are replaced by rename, so a running qmail-send keeps its
    binary and never sees a half-written one. Returns the number of entries made."""
    n = 0
    for e in lay.entries:
        if not queue and hier.is_queue(e):
            continue
        p = target_of(root, lay.home, e)
        if e.kind == "dir":
            p.mkdir(parents=True, exist_ok=True)
        elif e.kind == "file":
            src = lay.tree / e.source
            if not src.is_file():
                raise BuildFailed(f"the build tree has no {e.source} to install as {e.path}",
                                  f"rebuild: patchkit build --base ... (tree: {lay.tree})")
            tmp = p.with_name(f".{p.name}.patchkit-tmp")
            shutil.copyfile(src, tmp)
            os.replace(tmp, p)
        elif e.kind == "zero":
            p.write_bytes(b"\0" * e.size)
        elif not stat.S_ISFIFO(_lstat_mode(p)):
            p.unlink(missing_ok=True)
            os.mkfifo(p)
        if ids is not None:
            os.lchown(p, ids.uid(e.owner), ids.gid(e.group))
        os.chmod(p, e.mode)
        n += 1
    return n


def _lstat_mode(p: Path) -> int:
    try:
        return p.lstat().st_mode
    except FileNotFoundError:
        return 0


def check(lay: Layout, root: Path, *, ids: users.Ids | None, queue: bool = True) -> list[str]:
    """What differs from hier.c under root: missing entries, wrong types or modes, and with
    ids, wrong owners. Empty when the install is right."""
    problems = []
    for e in lay.entries:
        if not queue and hier.is_queue(e):
            continue
        p = target_of(root, lay.home, e)
        try:
            st = p.lstat()
        except FileNotFoundError:
            problems.append(f"{p}: missing")
            continue
        if not _KIND_BITS[e.kind](st.st_mode):
            problems.append(f"{p}: not a {e.kind}")
        if stat.S_IMODE(st.st_mode) != e.mode:
            problems.append(f"{p}: mode {stat.S_IMODE(st.st_mode):04o}, not {e.mode:04o}")
        if ids is not None and (st.st_uid, st.st_gid) != (ids.uid(e.owner), ids.gid(e.group)):
            problems.append(f"{p}: owner {st.st_uid}:{st.st_gid}, not {e.owner}:{e.group}")
    return problems


def instcheck(lay: Layout) -> str:
    """qmail's own check of the live install (make check), with the IDs the build compiled in
    (or, for notqmail, looks up): it warns on stderr and exits 0, so any output is a finding."""
    code, out = run_merged([str(lay.tree / "instcheck")], lay.tree, timeout=60)
    if code != 0 or out.strip():
        raise BuildFailed(f"qmail's instcheck found problems (exit {code}): "
                          + "; ".join(out.strip().splitlines()[:5]),
                          "the install differs from what qmail's hier.c says")
    return "ok"


def write_manifest(path: Path, lay: Layout, entries: Iterable[hier.Entry]) -> Path:
    write_atomic(path, "\n".join(hier.manifest_lines(tuple(entries), lay.home)) + "\n")
    return path


def require_root() -> None:
    if os.geteuid() != 0:
        raise ConfigError("patchkit install --root installs with qmail's owners and "
                          "set-id modes, which only root may set",
                          "run it as root (sudo), or stage the tree as any user: "
                          "patchkit install --base B --destdir DIR")
