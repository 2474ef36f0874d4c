"""Safe, deterministic unpacking: malicious archives are refused and leave nothing behind."""

from __future__ import annotations

import os
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest
from archives import TREE, raw_tar, snapshot, tar_bytes, tinfo, write_targz, write_zip

from patchkit.errors import UnsafeArchive
from patchkit.sources import archive, digest, unpack

# --------------------------------------------------------------------------- malicious tar


def _abs_name(tmp_path: Path) -> str:
    return str(tmp_path / "abs-evil")


TAR_ATTACKS = {
    "absolute-path": lambda tp: [tinfo("top/ok"), tinfo(_abs_name(tp))],
    "dotdot-at-start": lambda tp: [tinfo("ok"), tinfo("../evil")],
    "dotdot-inside": lambda tp: [tinfo("top/ok"), tinfo("top/../../evil")],
    "symlink-outside": lambda tp: [tinfo("top/ok"), tinfo("top/link", "l", link="../../etc")],
    "symlink-outside-no-top": lambda tp: [tinfo("ok"), tinfo("sub/link", "l", link="../../etc")],
    "symlink-absolute": lambda tp: [tinfo("top/ok"), tinfo("top/link", "l", link="/etc")],
    "write-through-symlink": lambda tp: [
        tinfo("top/real", "d", mode=0o755),
        tinfo("top/ln", "l", link="real"),
        tinfo("top/ln/evil"),
    ],
    "write-through-escaping-symlink": lambda tp: [
        tinfo("top/ok"),
        tinfo("top/ln", "l", link="../.."),
        tinfo("top/ln/evil"),
    ],
    "char-device": lambda tp: [tinfo("top/ok"), tinfo("top/null", "c")],
    "block-device": lambda tp: [tinfo("top/ok"), tinfo("top/sda", "b")],
    "fifo": lambda tp: [tinfo("top/ok"), tinfo("top/pipe", "p")],
    "hard-link": lambda tp: [tinfo("top/ok"), tinfo("top/hl", "h", link="top/ok")],
    "hard-link-outside": lambda tp: [tinfo("top/ok"), tinfo("top/hl", "h", link="/etc/passwd")],
    "duplicate-member": lambda tp: [tinfo("top/ok"), tinfo("top/ok")],
    "file-then-link-same-path": lambda tp: [tinfo("top/x"), tinfo("top/x", "l", link="ok")],
}


def _assert_nothing_left(tmp_path: Path, archive: Path, dest: Path) -> None:
    assert not dest.exists()
    assert not dest.with_name(dest.name + ".unpacking").exists()
    assert sorted(os.listdir(tmp_path)) == [archive.name]  # nothing written anywhere else
    assert not Path(_abs_name(tmp_path)).exists()


@pytest.mark.parametrize("attack", sorted(TAR_ATTACKS))
def test_malicious_tar_is_refused_and_leaves_nothing(tmp_path: Path, attack: str) -> None:
    archive = raw_tar(tmp_path / "evil.tar.gz", TAR_ATTACKS[attack](tmp_path))
    dest = tmp_path / "dest"
    with pytest.raises(UnsafeArchive) as info:
        unpack.unpack(archive, dest)
    assert info.value.exit_code == 6 and info.value.hint
    _assert_nothing_left(tmp_path, archive, dest)


# --------------------------------------------------------------------------- malicious zip


def _zip(path: Path, members: list[tuple[str, int, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, mode, data in members:
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = mode << 16
            z.writestr(info, data)
    return path


ZIP_ATTACKS = {
    "absolute-path": [("top/ok", 0o100644, b"x"), ("/abs-evil", 0o100644, b"x")],
    "dotdot": [("top/ok", 0o100644, b"x"), ("top/../../evil", 0o100644, b"x")],
    "symlink-outside": [("top/ok", 0o100644, b"x"), ("top/link", 0o120777, b"../../etc")],
    "symlink-absolute": [("top/ok", 0o100644, b"x"), ("top/link", 0o120777, b"/etc")],
    "write-through-symlink": [
        ("top/real/f", 0o100644, b"x"),
        ("top/ln", 0o120777, b"real"),
        ("top/ln/evil", 0o100644, b"x"),
    ],
    "fifo": [("top/ok", 0o100644, b"x"), ("top/pipe", 0o010644, b"")],
    "char-device": [("top/ok", 0o100644, b"x"), ("top/null", 0o020644, b"")],
}


@pytest.mark.parametrize("attack", sorted(ZIP_ATTACKS))
def test_malicious_zip_is_refused_and_leaves_nothing(tmp_path: Path, attack: str) -> None:
    archive = _zip(tmp_path / "evil.zip", ZIP_ATTACKS[attack])
    assert [i.filename for i in zipfile.ZipFile(archive).infolist()] == [
        n for n, _, _ in ZIP_ATTACKS[attack]
    ]  # zipfile kept the hostile names as written
    dest = tmp_path / "dest"
    with pytest.raises(UnsafeArchive):
        unpack.unpack(archive, dest)
    _assert_nothing_left(tmp_path, archive, dest)


def _links_stay_inside(dest: Path) -> list[str]:
    """Symlinks under dest whose fully resolved target lies outside dest."""
    root = dest.resolve()
    escapes = []
    for dirpath, dirnames, filenames in os.walk(dest):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            if p.is_symlink():
                real = Path(os.path.realpath(p))
                if real != root and root not in real.parents:
                    escapes.append(f"{p.relative_to(dest)} -> {real}")
    return escapes


@pytest.mark.parametrize("members", [
    # escapes only once the single top directory is stripped
    [("top/ok", "f", ""), ("top/evil", "l", "../outside")],
    # each link looks harmless alone; through d/sub, d/x is the parent of dest
    [("a.txt", "f", ""), ("d/sub", "l", ".."), ("d/x", "l", "sub/..")],
], ids=["after-top-dir-strip", "through-another-link"])
def test_links_escaping_the_tree_are_refused(tmp_path: Path,
                                             members: list[tuple[str, str, str]]) -> None:
    archive = raw_tar(tmp_path / "evil.tar.gz",
                      [tinfo(name, kind, link=link) if link else tinfo(name)
                       for name, kind, link in members])
    dest = tmp_path / "dest"
    with pytest.raises(UnsafeArchive):
        unpack.unpack(archive, dest)
    _assert_nothing_left(tmp_path, archive, dest)


def test_links_that_stay_inside_are_kept(tmp_path: Path) -> None:
    archive = raw_tar(tmp_path / "ok.tar.gz", [
        tinfo("top/docs/README"),
        tinfo("top/docs/up", "l", link="../docs/README"),
        tinfo("top/readme", "l", link="docs/README"),
    ])
    dest = tmp_path / "dest"
    unpack.unpack(archive, dest)
    assert os.readlink(dest / "readme") == "docs/README"
    assert (dest / "docs" / "up").read_bytes() == b"data of top/docs/README"
    assert _links_stay_inside(dest) == []


def test_garbage_is_not_an_archive(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"this is not an archive at all" * 20)
    with pytest.raises(UnsafeArchive, match="not a readable tar or zip"):
        unpack.unpack(bad, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


# --------------------------------------------------------------------------- good archives


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.lstat().st_mode)


@pytest.mark.parametrize("fmt", ["tar.gz", "zip"])
def test_unpack_strips_single_top_and_keeps_exec_bit_and_links(tmp_path: Path, fmt: str) -> None:
    writer = write_targz if fmt == "tar.gz" else write_zip
    archive = writer(tmp_path / f"pkg.{fmt}", TREE, top="pkg-1.0")
    dest = tmp_path / "dest"
    unpack.unpack(archive, dest)
    assert not (dest / "pkg-1.0").exists()
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*")) == sorted(
        ["Makefile", "README", "docs", "docs/README", "install.sh", "src", "src/hello.c"])
    for path, kind, payload in TREE:
        p = dest / path
        if kind == "l":
            assert p.is_symlink() and os.readlink(p) == payload
        else:
            assert p.read_bytes() == payload
            assert _mode(p) == (0o755 if kind == "x" else 0o644)
            assert p.stat().st_mtime == unpack.FIXED_MTIME
    assert _mode(dest) == _mode(dest / "src") == 0o755
    assert digest.tree_digest_of_dir(dest) == digest.tree_digest_of_archive(archive)


def test_odd_modes_are_normalized(tmp_path: Path) -> None:
    archive = raw_tar(tmp_path / "a.tar.gz", [
        tinfo("t/secret", mode=0o600), tinfo("t/setuid", mode=0o4755), tinfo("t/gx", mode=0o610),
        tinfo("t/sub", "d", mode=0o700), tinfo("t/sub/f", mode=0o666),
    ])
    dest = tmp_path / "dest"
    unpack.unpack(archive, dest)
    assert _mode(dest / "secret") == 0o644
    assert _mode(dest / "setuid") == 0o755
    assert _mode(dest / "gx") == 0o755
    assert _mode(dest / "sub") == 0o755
    assert _mode(dest / "sub" / "f") == 0o644


def test_no_stripping_without_a_single_top(tmp_path: Path) -> None:
    archive = write_targz(tmp_path / "a.tar.gz", TREE, top=None)
    dest = tmp_path / "dest"
    unpack.unpack(archive, dest)
    assert (dest / "Makefile").is_file() and (dest / "src" / "hello.c").is_file()

    mixed = raw_tar(tmp_path / "b.tar.gz", [tinfo("top/a"), tinfo("top/b"), tinfo("loose")])
    unpack.unpack(mixed, tmp_path / "dest2")
    assert (tmp_path / "dest2" / "top" / "a").is_file()
    assert (tmp_path / "dest2" / "loose").is_file()


def test_single_top_file_is_not_stripped(tmp_path: Path) -> None:
    archive = raw_tar(tmp_path / "a.tar.gz", [tinfo("only-file")])
    unpack.unpack(archive, tmp_path / "dest")
    assert (tmp_path / "dest" / "only-file").read_bytes() == b"data of only-file"


def test_two_unpacks_are_identical(tmp_path: Path) -> None:
    archive = write_targz(tmp_path / "a.tar.gz", TREE)
    unpack.unpack(archive, tmp_path / "one")
    unpack.unpack(archive, tmp_path / "two")
    one, two = snapshot(tmp_path / "one", dirs=False), snapshot(tmp_path / "two", dirs=False)
    assert one == two
    assert len(one) == len(TREE)
    assert {v[2] for v in one.values() if v[0] == "f"} == {unpack.FIXED_MTIME * 10**9}
    assert {k: v[1] for k, v in snapshot(tmp_path / "one").items() if v[0] == "d"} == {
        "docs": 0o755, "src": 0o755}


def test_directories_get_the_fixed_mtime(tmp_path: Path) -> None:
    archive = write_targz(tmp_path / "a.tar.gz", TREE)
    dest = tmp_path / "dest"
    unpack.unpack(archive, dest)
    for d in (dest, dest / "src", dest / "docs"):
        assert d.stat().st_mtime == unpack.FIXED_MTIME, d


def test_symlinks_get_the_fixed_mtime(tmp_path: Path) -> None:
    archive = write_targz(tmp_path / "a.tar.gz", TREE)
    dest = tmp_path / "dest"
    unpack.unpack(archive, dest)
    assert (dest / "README").lstat().st_mtime == unpack.FIXED_MTIME


def test_stale_unpacking_dir_is_replaced(tmp_path: Path) -> None:
    archive = write_targz(tmp_path / "a.tar.gz", TREE)
    stale = tmp_path / "dest.unpacking"
    stale.mkdir()
    (stale / "junk").write_text("left by a crash")
    unpack.unpack(archive, tmp_path / "dest")
    assert not stale.exists()
    assert not (tmp_path / "dest" / "junk").exists()
    assert (tmp_path / "dest" / "Makefile").is_file()


def test_failure_while_writing_leaves_nothing(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    archive = write_targz(tmp_path / "a.tar.gz", TREE)

    def no_space(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(unpack.os, "symlink", no_space)
    dest = tmp_path / "dest"
    with pytest.raises(OSError, match="No space"):
        unpack.unpack(archive, dest)
    _assert_nothing_left(tmp_path, archive, dest)


def test_tar_bytes_members_reads_an_in_memory_tar() -> None:
    members = archive.read_tar_bytes(tar_bytes(TREE, top="t", compress=False))
    by_path = {m.path: m for m in members}
    assert by_path["t/install.sh"].kind == "x"
    assert by_path["t/Makefile"].kind == "f"
    assert by_path["t/Makefile"].data == TREE[0][2]
    assert by_path["t/README"].kind == "l" and by_path["t/README"].target == "docs/README"
    assert by_path["t/src"].kind == "d"


def test_tar_bytes_members_refuses_hostile_members() -> None:
    import io

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("../evil")
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(UnsafeArchive):
        archive.read_tar_bytes(buf.getvalue())
