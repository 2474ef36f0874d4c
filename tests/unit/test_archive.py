"""One archive reader, one refusal list: the digest, the unpacker and the cache refuse the same
hostile archives (the first round's three readers did not: the digest skipped what unpacking
refused, and hashed zip fifos as files)."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest
from archives import raw_tar, tinfo

from patchkit.errors import UnsafeArchive
from patchkit.sources import archive, digest, unpack
from patchkit.sources.cache import Cache
from patchkit.sources.manifest import Artifact

TarSpec = list[tuple[tarfile.TarInfo, bytes | None]]

HOSTILE_TARS: dict[str, TarSpec] = {
    "absolute path": [tinfo("t/ok"), tinfo("/etc/passwd")],
    "dot-dot": [tinfo("t/ok"), tinfo("t/../../evil")],
    "hard link": [tinfo("t/ok"), tinfo("t/hard", "h", link="t/ok")],
    "fifo": [tinfo("t/ok"), tinfo("t/pipe", "p")],
    "device": [tinfo("t/ok"), tinfo("t/dev", "c")],
    "link out of the tree": [tinfo("t/ok"), tinfo("t/out", "l", link="../../etc")],
    "absolute link": [tinfo("t/ok"), tinfo("t/abs", "l", link="/etc/passwd")],
    "duplicate member": [tinfo("t/ok"), tinfo("t/ok")],
    "member under a link": [tinfo("t/d", "l", link="sub"), tinfo("t/d/x")],
}


def zip_with(path: Path, entries: list[tuple[str, int, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, mode, data in entries:
            info = zipfile.ZipInfo(name, date_time=(2001, 2, 3, 4, 5, 6))
            info.create_system = 3
            info.external_attr = mode << 16
            z.writestr(info, data)
    return path


HOSTILE_ZIPS: dict[str, list[tuple[str, int, bytes]]] = {
    "zip fifo": [("t/ok", 0o100644, b"x"), ("t/pipe", 0o010644, b"")],
    "zip socket": [("t/ok", 0o100644, b"x"), ("t/sock", 0o140644, b"")],
    "zip dot-dot": [("t/ok", 0o100644, b"x"), ("t/../../x", 0o100644, b"x")],
    "zip link out": [("t/ok", 0o100644, b"x"), ("t/l", 0o120777, b"../../etc")],
}


def hostile(tmp_path: Path, name: str) -> Path:
    if name in HOSTILE_TARS:
        return raw_tar(tmp_path / "a.tar.gz", HOSTILE_TARS[name])
    if name in HOSTILE_ZIPS:
        return zip_with(tmp_path / "a.zip", HOSTILE_ZIPS[name])
    corrupt = tmp_path / "a.tar.gz"
    corrupt.write_bytes(b"\x1f\x8b\x08\x00 this is no gzip stream")
    return corrupt


CASES = [*HOSTILE_TARS, *HOSTILE_ZIPS, "corrupt"]


@pytest.mark.parametrize("name", CASES)
def test_the_digest_the_unpacker_and_the_cache_refuse_alike(tmp_path: Path, name: str) -> None:
    path = hostile(tmp_path, name)
    with pytest.raises(UnsafeArchive) as read:
        archive.read_archive(path)
    with pytest.raises(UnsafeArchive) as dig:
        digest.tree_digest_of_archive(path)
    with pytest.raises(UnsafeArchive) as unp:
        unpack.unpack(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert read.value.message == dig.value.message == unp.value.message
    # the cache, asked to hold it for an artifact pinned by its tree, calls it bad for that reason
    pinned = Artifact(name="pkg", version="1", kind="archive", filename=path.name,
                      urls=("https://example.invalid/x",), tree="tree1:" + "0" * 64)
    cache = Cache(tmp_path / "cache")
    cache.root.mkdir()
    (cache.root / path.name).write_bytes(path.read_bytes())
    verdict = cache.verify(pinned)
    assert verdict.status == "bad" and read.value.message in verdict.detail


@pytest.mark.parametrize("name", list(HOSTILE_TARS))
def test_a_tar_in_memory_is_refused_alike(tmp_path: Path, name: str) -> None:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        for info, payload in HOSTILE_TARS[name]:
            if payload is not None:
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
            else:
                tar.addfile(info)
    with pytest.raises(UnsafeArchive) as mem:
        archive.read_tar_bytes(data.getvalue())
    with pytest.raises(UnsafeArchive) as disk:
        archive.read_archive(raw_tar(tmp_path / "b.tar.gz", HOSTILE_TARS[name]))
    assert mem.value.message == disk.value.message


def test_a_tidy_archive_reads_the_same_for_all_three(tmp_path: Path) -> None:
    good = raw_tar(tmp_path / "g.tar.gz", [tinfo("t/a"), tinfo("t/bin", mode=0o755),
                                           tinfo("t/lnk", "l", link="a"), tinfo("t/sub", "d")])
    members = archive.read_archive(good)
    assert digest.tree_digest_of_archive(good) == digest.tree_digest(digest.entries_of(members))
    unpack.unpack(good, tmp_path / "out")
    assert digest.tree_digest_of_dir(tmp_path / "out") == digest.tree_digest_of_archive(good)
