"""Safe, deterministic unpacking of tar(.gz) and zip archives, and of a git tree.

Refused: absolute paths, ``..`` components, symbolic links whose target leaves the tree, hard
links, devices and fifos, and duplicate members. Kept: the executable bit. Everything written gets
mode 0644 or 0755 and a fixed mtime, so the same archive always unpacks to the same tree. The
single top-level directory of an archive, when there is one, is stripped: the tree lands directly in
``dest``. Nothing is written until every member was checked.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from patchkit.errors import UnsafeArchive
from patchkit.sources.archive import Member, check_members, read_archive, strip_top

FIXED_MTIME = 315532800  # 1980-01-01, the zip epoch: valid for every archive format


def write_members(members: list[Member], dest: Path) -> None:
    """Write members into dest, which must not exist yet; refuses links that leave the tree
    (lexically, and once written, as the kernel resolves them through the other links)."""
    members = check_members(members)  # the reader's refusals, for members from anywhere
    dest.mkdir(parents=True)
    for m in sorted(members, key=lambda m: m.path):
        target = dest / m.path
        if m.kind == "d":
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if m.kind == "l":
            os.symlink(m.target, target)
            os.utime(target, (FIXED_MTIME, FIXED_MTIME), follow_symlinks=False)
            continue
        target.write_bytes(m.data)
        os.chmod(target, 0o755 if m.kind == "x" else 0o644)
        os.utime(target, (FIXED_MTIME, FIXED_MTIME))
    root = os.path.realpath(dest)
    for m in members:
        if m.kind == "l":
            real = os.path.realpath(dest / m.path)
            if real != root and not real.startswith(root + os.sep):
                raise UnsafeArchive(f"link {m.path!r} -> {m.target!r} resolves outside the tree",
                                    "refusing to unpack")
    for dirpath, _dirs, _files in os.walk(dest, topdown=False):
        os.chmod(dirpath, 0o755)
        os.utime(dirpath, (FIXED_MTIME, FIXED_MTIME))


def unpack(archive: Path, dest: Path) -> None:
    """Unpack archive into dest (created; must not exist), stripping a single top directory."""
    members = strip_top(read_archive(archive))
    tmp = dest.with_name(dest.name + ".unpacking")
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        write_members(members, tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    os.replace(tmp, dest)
