"""Content digests: sha256 of byte streams, and the tree digest of an unpacked source tree.

Tree digest (format ``tree1:<hex>``), defined so that one tree packed as tar.gz, as zip, or taken
from a git tag under any top-level name gives the same value:

1. Entries are the regular files and symbolic links of the tree. Directories are not entries (an
   empty directory does not count); other kinds (devices, fifos) are refused before digesting.
2. Each entry's path is relative to the tree root, with ``/`` separators, encoded as UTF-8. When
   every entry of an archive lies under one single top-level directory, that directory is the root
   (``qmail-1.03/Makefile`` -> ``Makefile``); otherwise the archive's own root is.
3. Each entry becomes one line: ``<kind> <sha256 hex> <path>\\n`` where kind is ``x`` for an
   executable regular file (any execute bit set), ``f`` for another regular file, ``l`` for a
   symbolic link, whose sha256 is that of its target string.
4. The lines are sorted by path (bytewise) and the digest is the sha256 of their concatenation.

Owners, times and permission bits other than "executable" are deliberately left out: they differ
between tar, zip and git without the content differing.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from patchkit.errors import UnsafeArchive
from patchkit.sources.archive import Member, read_archive

CHUNK = 1 << 16
TREE_PREFIX = "tree1:"


def sha256_chunks(chunks: Iterable[bytes]) -> str:
    h = hashlib.sha256()
    for chunk in chunks:
        h.update(chunk)
    return h.hexdigest()


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


def read_chunks(stream: Readable) -> Iterator[bytes]:
    read = stream.read
    while True:
        chunk = read(CHUNK)
        if not chunk:
            return
        yield chunk


def sha256_file(path: Path) -> str:
    with path.open("rb") as f:
        return sha256_chunks(read_chunks(f))


def sha512_file(path: Path) -> str:
    """The sha512 of a file (Gentoo's Manifests carry it beside BLAKE2B or SHA256)."""
    h = hashlib.sha512()
    with path.open("rb") as f:
        for chunk in read_chunks(f):
            h.update(chunk)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class TreeEntry:
    path: str  # relative, "/"-separated, before top-level stripping
    kind: str  # "f", "x" or "l"
    sha256: str


def tree_digest(entries: Iterable[TreeEntry]) -> str:
    items = list(entries)
    items = strip_single_top(items)
    seen: set[str] = set()
    lines: list[bytes] = []
    for e in sorted(items, key=lambda e: e.path.encode()):
        if e.path in seen:
            raise UnsafeArchive(f"duplicate entry {e.path!r} in tree", "the archive is malformed")
        seen.add(e.path)
        lines.append(f"{e.kind} {e.sha256} {e.path}\n".encode())
    return TREE_PREFIX + sha256_chunks(lines)


def strip_single_top(entries: list[TreeEntry]) -> list[TreeEntry]:
    tops = {e.path.split("/", 1)[0] for e in entries}
    if len(tops) == 1 and all("/" in e.path for e in entries):
        return [
            TreeEntry(path=e.path.split("/", 1)[1], kind=e.kind, sha256=e.sha256) for e in entries
        ]
    return entries


def entries_of(members: Iterable[Member]) -> Iterator[TreeEntry]:
    """The tree entries of archive members: files and links (directories are not entries)."""
    for m in members:
        if m.kind in ("f", "x"):
            yield TreeEntry(path=m.path, kind=m.kind, sha256=sha256_bytes(m.data))
        elif m.kind == "l":
            yield TreeEntry(path=m.path, kind="l", sha256=sha256_bytes(m.target.encode()))


def dir_entries(root: Path) -> Iterator[TreeEntry]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames) + [d for d in dirnames if Path(dirpath, d).is_symlink()]:
            p = Path(dirpath, name)
            rel = p.relative_to(root).as_posix()
            if p.is_symlink():
                yield TreeEntry(path=rel, kind="l", sha256=sha256_bytes(os.readlink(p).encode()))
            elif p.is_file():
                kind = "x" if p.stat().st_mode & 0o111 else "f"
                yield TreeEntry(path=rel, kind=kind, sha256=sha256_file(p))
            else:
                raise UnsafeArchive(f"special file {rel!r} in tree", "refusing devices/fifos")


def tree_digest_of_archive(path: Path) -> str:
    """Read through the one archive reader, so it refuses what unpacking refuses."""
    return tree_digest(entries_of(read_archive(path)))


def tree_digest_of_dir(root: Path) -> str:
    """Digest of an unpacked tree; the tree's own root is the root (no top-level stripping
    happens unless the directory holds a single subdirectory and nothing else)."""
    return tree_digest(dir_entries(root))
