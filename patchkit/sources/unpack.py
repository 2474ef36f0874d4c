"""Safe, deterministic unpacking of tar(.gz) and zip archives, and of a git tree.

Refused: absolute paths, ``..`` components, symbolic links whose target leaves the tree, hard
links, devices and fifos, and duplicate members. Kept: the executable bit. Everything written gets
mode 0644 or 0755 and a fixed mtime, so the same archive always unpacks to the same tree. The
single top-level directory of an archive, when there is one, is stripped: the tree lands directly in
``dest``. Nothing is written until every member was checked.
"""

from __future__ import annotations

import io
import os
import posixpath
import shutil
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from patchkit.errors import UnsafeArchive
from patchkit.sources.digest import ZIP_SYMLINK, normalize_member

FIXED_MTIME = 315532800  # 1980-01-01, the zip epoch: valid for every archive format


@dataclass(frozen=True, slots=True, kw_only=True)
class Member:
    path: str
    kind: str  # "f", "x", "l", "d"
    data: bytes = b""  # file contents
    target: str = ""  # link target


def _check_link(path: str, target: str) -> None:
    if target.startswith("/"):
        raise UnsafeArchive(f"link {path!r} points to absolute {target!r}", "refusing to unpack")
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    if resolved == ".." or resolved.startswith("../"):
        raise UnsafeArchive(f"link {path!r} -> {target!r} leaves the tree", "refusing to unpack")


def _tar_members(tar: tarfile.TarFile) -> list[Member]:
    out: list[Member] = []
    for m in tar.getmembers():
        rel = normalize_member(m.name)
        if not rel:
            continue
        if m.isdir():
            out.append(Member(path=rel, kind="d"))
        elif m.issym():
            out.append(Member(path=rel, kind="l", target=m.linkname))
        elif m.isreg():
            data = tar.extractfile(m)
            assert data is not None
            content = data.read()
            kind = "x" if m.mode & 0o111 else "f"
            out.append(Member(path=rel, kind=kind, data=content))
        elif m.islnk():
            raise UnsafeArchive(f"hard link {rel!r} in archive", "refusing to unpack")
        else:
            raise UnsafeArchive(f"special file {rel!r} in archive", "refusing devices/fifos")
    return out


def _zip_members(path: Path) -> list[Member]:
    out: list[Member] = []
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            rel = normalize_member(info.filename)
            if not rel:
                continue
            mode = info.external_attr >> 16
            if info.is_dir():
                out.append(Member(path=rel, kind="d"))
                continue
            data = z.read(info)
            if mode & 0o170000 == ZIP_SYMLINK:
                out.append(Member(path=rel, kind="l", target=data.decode()))
            elif mode & 0o170000 not in (0, 0o100000):
                raise UnsafeArchive(f"special file {rel!r} in archive", "refusing devices/fifos")
            else:
                out.append(Member(path=rel, kind="x" if mode & 0o111 else "f", data=data))
    return out


def strip_top(members: list[Member]) -> list[Member]:
    content = [m for m in members if m.kind != "d"]
    tops = {m.path.split("/", 1)[0] for m in members}
    if len(tops) == 1 and content and all("/" in m.path for m in content):
        top = tops.pop()
        stripped = []
        for m in members:
            if m.path == top:
                continue
            rest = m.path.split("/", 1)[1]
            stripped.append(Member(path=rest, kind=m.kind, data=m.data, target=m.target))
        return stripped
    return members


def write_members(members: list[Member], dest: Path) -> None:
    """Write members into dest, which must not exist yet; refuses links that leave the tree
    (lexically, and once written, as the kernel resolves them through the other links)."""
    seen: set[str] = set()
    for m in members:
        if m.kind == "l":
            _check_link(m.path, m.target)
    for m in members:
        if m.kind != "d" and m.path in seen:
            raise UnsafeArchive(f"duplicate member {m.path!r}", "the archive is malformed")
        seen.add(m.path)
    # A later member must not be written through an earlier symlink.
    links = {m.path for m in members if m.kind == "l"}
    for m in members:
        parts = m.path.split("/")
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in links:
                raise UnsafeArchive(f"member {m.path!r} goes through a link", "refusing to unpack")
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


def archive_members(archive: Path) -> list[Member]:
    if zipfile.is_zipfile(archive):
        return _zip_members(archive)
    try:
        with tarfile.open(archive, mode="r:*") as tar:
            return _tar_members(tar)
    except tarfile.TarError as e:
        raise UnsafeArchive(f"{archive.name} is not a readable tar or zip archive: {e}",
                            "delete it from the cache and fetch it again") from e


def unpack(archive: Path, dest: Path) -> None:
    """Unpack archive into dest (created; must not exist), stripping a single top directory."""
    members = strip_top(archive_members(archive))
    tmp = dest.with_name(dest.name + ".unpacking")
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        write_members(members, tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    os.replace(tmp, dest)


def tar_bytes_members(data: bytes) -> list[Member]:
    """Members of an in-memory tar (e.g. the output of ``git archive``)."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        return _tar_members(tar)
