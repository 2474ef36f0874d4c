"""The one reader of archives: a tar (plain or compressed), a zip, or a tar in memory (what
``git archive`` writes) becomes a list of Members. The digest, the unpacker and the cache all read
through here, so they refuse the same things, for the same reasons:

- a member whose path is absolute or climbs out of the tree (``..``);
- a hard link, a device, a fifo or a socket (in a zip: any mode other than a file or a link);
- a symbolic link whose target is absolute or leads out of the tree (lexically; the unpacker
  checks again as the kernel resolves it, through the other links);
- a path that occurs twice;
- a file that is not a readable tar or zip.

Skipped everywhere: ``pax_global_header`` read as a member (git archive's metadata), and the tree
root itself (``./``). Directories are kept as members of kind ``d`` (the digest ignores them)."""

from __future__ import annotations

import io
import posixpath
import tarfile
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from patchkit.errors import UnsafeArchive

ZIP_SYMLINK = 0o120000
ZIP_REGULAR = (0, 0o100000)  # zips made on systems without modes store 0
PAX_GLOBAL_HEADER = "pax_global_header"


@dataclass(frozen=True, slots=True, kw_only=True)
class Member:
    path: str  # relative, "/"-separated, normalized; before the top directory is stripped
    kind: str  # "f" file, "x" executable file, "l" symbolic link, "d" directory
    data: bytes = b""  # file contents
    target: str = ""  # link target


def normalize_member(name: str) -> str:
    """Archive member name -> relative path; refuses absolute paths and '..' components."""
    name = name.replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchive(f"absolute path {name!r} in archive", "refusing to unpack it")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise UnsafeArchive(f"path {name!r} climbs out of the tree", "refusing to unpack it")
    return "/".join(parts)


def check_link(path: str, target: str) -> None:
    """A link's target must stay inside the tree, read from where the link stands."""
    if target.startswith("/"):
        raise UnsafeArchive(f"link {path!r} points to absolute {target!r}", "refusing to unpack")
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    if resolved == ".." or resolved.startswith("../"):
        raise UnsafeArchive(f"link {path!r} -> {target!r} leaves the tree", "refusing to unpack")


def check_members(members: Iterable[Member]) -> list[Member]:
    out: list[Member] = []
    seen: set[str] = set()
    for m in members:
        if m.kind == "l":
            check_link(m.path, m.target)
        if m.kind != "d":
            if m.path in seen:
                raise UnsafeArchive(f"duplicate member {m.path!r}", "the archive is malformed")
            seen.add(m.path)
        out.append(m)
    # a member must not lie under a link (written, it would land wherever the link points)
    links = {m.path for m in out if m.kind == "l"}
    for m in out:
        parts = m.path.split("/")
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in links:
                raise UnsafeArchive(f"member {m.path!r} goes through a link", "refusing to unpack")
    return out


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
            f = tar.extractfile(m)
            assert f is not None
            out.append(Member(path=rel, kind="x" if m.mode & 0o111 else "f", data=f.read()))
        elif m.islnk():
            raise UnsafeArchive(f"hard link {rel!r} in archive", "refusing to unpack")
        elif rel == PAX_GLOBAL_HEADER:
            continue
        else:
            raise UnsafeArchive(f"special file {rel!r} in archive", "refusing devices/fifos")
    return check_members(out)


def _zip_members(z: zipfile.ZipFile) -> list[Member]:
    out: list[Member] = []
    for info in z.infolist():
        rel = normalize_member(info.filename)
        if not rel:
            continue
        if info.is_dir():
            out.append(Member(path=rel, kind="d"))
            continue
        mode = info.external_attr >> 16
        data = z.read(info)
        if mode & 0o170000 == ZIP_SYMLINK:
            out.append(Member(path=rel, kind="l", target=data.decode()))
        elif mode & 0o170000 not in ZIP_REGULAR:
            raise UnsafeArchive(f"special file {rel!r} in archive", "refusing devices/fifos")
        else:
            out.append(Member(path=rel, kind="x" if mode & 0o111 else "f", data=data))
    return check_members(out)


_UNREADABLE = (OSError, EOFError, ValueError, tarfile.TarError, zipfile.BadZipFile, zlib.error,
               UnicodeDecodeError)


def read_archive(path: Path) -> list[Member]:
    """Every member of the tar or zip file at path, checked (see the module's list)."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                return _zip_members(z)
        with tarfile.open(path, mode="r:*") as tar:
            return _tar_members(tar)
    except UnsafeArchive:
        raise
    except _UNREADABLE as e:
        raise UnsafeArchive(f"{path.name} is not a readable tar or zip archive: {e}",
                            "delete it from the cache and fetch it again") from e


def read_tar_bytes(data: bytes) -> list[Member]:
    """Members of an in-memory tar (e.g. the output of ``git archive``), checked the same way."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            return _tar_members(tar)
    except UnsafeArchive:
        raise
    except _UNREADABLE as e:
        raise UnsafeArchive(f"not a readable tar stream: {e}", "check what produced it") from e


def strip_top(members: list[Member]) -> list[Member]:
    """Without the single top-level directory, when every file and link lies under one (the tree
    digest's rule: directories do not count, so an empty directory beside it is dropped)."""
    content = [m for m in members if m.kind != "d"]
    tops = {m.path.split("/", 1)[0] for m in content}
    if len(tops) == 1 and all("/" in m.path for m in content):
        top = tops.pop()
        return [Member(path=m.path.split("/", 1)[1], kind=m.kind, data=m.data, target=m.target)
                for m in members if m.path.startswith(top + "/")]
    return members
