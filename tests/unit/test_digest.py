"""Tree digest: one tree gives one digest whether packed as tar.gz, zip, or taken from a git tag."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from archives import (
    TREE,
    Spec,
    expected_digest,
    git,
    git_repo,
    materialize,
    raw_tar,
    tinfo,
    write_targz,
    write_zip,
)

from patchkit import api
from patchkit.errors import UnsafeArchive
from patchkit.sources import archive, digest, unpack
from patchkit.sources.cache import Cache
from patchkit.sources.manifest import Artifact, Manifest

pytestmark = pytest.mark.spawns  # git trees are made with git


def _git_digest(repo: Path, ref: str) -> str:
    data = git(repo, "archive", "--format=tar", ref)
    return digest.tree_digest(digest.entries_of(archive.read_tar_bytes(data)))


def test_sha256_helpers_agree_with_hashlib(tmp_path: Path) -> None:
    data = bytes(range(256)) * 1000  # larger than one CHUNK
    f = tmp_path / "blob"
    f.write_bytes(data)
    want = hashlib.sha256(data).hexdigest()
    assert digest.sha256_file(f) == want
    assert digest.sha256_bytes(data) == want
    assert digest.sha256_chunks(digest.read_chunks(io.BytesIO(data))) == want
    assert digest.sha256_bytes(b"") == hashlib.sha256(b"").hexdigest() != want


def test_digest_matches_the_documented_format(tmp_path: Path) -> None:
    got = digest.tree_digest_of_archive(write_targz(tmp_path / "p.tar.gz", TREE))
    assert got == expected_digest(TREE)
    assert got.startswith("tree1:") and len(got) == len("tree1:") + 64


def test_targz_zip_git_and_unpacked_dir_give_the_same_digest(tmp_path: Path) -> None:
    want = expected_digest(TREE)
    targz = write_targz(tmp_path / "p.tar.gz", TREE, top="pkg-1.0")
    zipped = write_zip(tmp_path / "p.zip", TREE, top="pkg-1.0")
    repo = git_repo(tmp_path / "repo", TREE, tag="v1.0")

    assert digest.tree_digest_of_archive(targz) == want
    assert digest.tree_digest_of_archive(zipped) == want
    assert _git_digest(repo, "v1.0") == want
    unpack.unpack(targz, tmp_path / "unpacked")
    assert digest.tree_digest_of_dir(tmp_path / "unpacked") == want


def test_git_tag_through_add_git_is_cached_and_verifies(tmp_path: Path) -> None:
    want = expected_digest(TREE)
    repo = git_repo(tmp_path / "repo", TREE, tag="pkg-1.0")
    art = Artifact(name="pkg-1.0", version="1.0", kind="archive", filename="pkg-1.0.tar.gz",
                   urls=("http://127.0.0.1:9/pkg-1.0.tar.gz",), tree=want, git_ref="pkg-1.0")
    cache = Cache(tmp_path / "cache")
    v = api.sources_add_git(cache, repo, "pkg-1.0", "pkg-1.0", manifest=Manifest(artifacts=(art,)))
    assert (v.status, v.how) == ("ok", "tree")
    assert v.path == cache.path(art) and v.path.is_file()
    assert digest.tree_digest_of_archive(v.path) == want
    assert cache.verify(art).status == "ok"


@pytest.mark.parametrize("top", ["pkg-1.0", "something-else", "x", None])
def test_top_level_directory_name_does_not_matter(tmp_path: Path, top: str | None) -> None:
    want = expected_digest(TREE)
    assert digest.tree_digest_of_archive(write_targz(tmp_path / "a.tar.gz", TREE, top=top)) == want
    assert digest.tree_digest_of_archive(write_zip(tmp_path / "a.zip", TREE, top=top)) == want


def test_directory_entries_do_not_count(tmp_path: Path) -> None:
    with_dirs = write_targz(tmp_path / "a.tar.gz", TREE, with_dirs=True)
    without = write_targz(tmp_path / "b.tar.gz", TREE, with_dirs=False)
    assert digest.tree_digest_of_archive(with_dirs) == digest.tree_digest_of_archive(without)


def _variant(spec: Spec, path: str, kind: str | None = None, payload: bytes | str | None = None,
             rename: str | None = None) -> Spec:
    out: Spec = []
    for p, k, d in spec:
        if p == path:
            p, k, d = rename or p, kind or k, d if payload is None else payload
        out.append((p, k, d))
    return out


@pytest.mark.parametrize(
    "changed",
    [
        pytest.param(_variant(TREE, "src/hello.c", payload=TREE[1][2].replace(b"hi", b"ho")),
                     id="one-byte"),
        pytest.param(_variant(TREE, "install.sh", kind="f"), id="exec-bit-cleared"),
        pytest.param(_variant(TREE, "Makefile", kind="x"), id="exec-bit-set"),
        pytest.param(_variant(TREE, "docs/README", rename="docs/README.txt"), id="renamed"),
        pytest.param(_variant(TREE, "src/hello.c", rename="hello.c"), id="moved"),
        pytest.param(_variant(TREE, "README", payload="docs/../docs/README"), id="link-target"),
        pytest.param([*TREE, ("docs/extra", "f", b"")], id="file-added"),
        pytest.param(TREE[:-1], id="file-removed"),
    ],
)
def test_any_content_change_changes_the_digest(tmp_path: Path, changed: Spec) -> None:
    base = digest.tree_digest_of_archive(write_targz(tmp_path / "a.tar.gz", TREE))
    assert changed != TREE
    assert digest.tree_digest_of_archive(write_targz(tmp_path / "b.tar.gz", changed)) != base
    assert digest.tree_digest_of_archive(write_zip(tmp_path / "b.zip", changed)) != base
    repo = git_repo(tmp_path / "repo", changed)
    assert _git_digest(repo, "v1.0") != base


def test_exec_bit_change_seen_in_a_git_tag(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo", TREE, tag="v1")
    (repo / "Makefile").chmod(0o755)
    git(repo, "commit", "-q", "-am", "exec")
    git(repo, "tag", "v2")
    assert _git_digest(repo, "v1") == expected_digest(TREE)
    assert _git_digest(repo, "v2") == expected_digest(_variant(TREE, "Makefile", kind="x"))


def test_mode_bits_other_than_exec_and_mtimes_are_ignored(tmp_path: Path) -> None:
    a = raw_tar(tmp_path / "a.tar.gz", [tinfo("t/f", mode=0o644), tinfo("t/g", mode=0o755)])
    loose = [tinfo("t/f", mode=0o600), tinfo("t/g", mode=0o700)]
    loose[0][0].mtime, loose[1][0].uid = 999, 1234
    b = raw_tar(tmp_path / "b.tar.gz", loose)
    assert digest.tree_digest_of_archive(a) == digest.tree_digest_of_archive(b)


def test_dir_digest_of_materialized_tree(tmp_path: Path) -> None:
    root = materialize(tmp_path / "t", TREE)
    assert digest.tree_digest_of_dir(root) == expected_digest(TREE)


def test_dir_digest_includes_symlinked_directories(tmp_path: Path) -> None:
    spec: Spec = [*TREE, ("src-link", "l", "src")]
    root = materialize(tmp_path / "t", spec)
    assert (root / "src-link").is_dir()
    assert digest.tree_digest_of_dir(root) == expected_digest(spec)


@pytest.mark.parametrize("kind", ["h", "p", "c"])
def test_hard_links_and_special_files_are_refused(tmp_path: Path, kind: str) -> None:
    a = raw_tar(tmp_path / "a.tar.gz", [tinfo("t/f"), tinfo("t/odd", kind, link="t/f")])
    with pytest.raises(UnsafeArchive):
        digest.tree_digest_of_archive(a)


def test_duplicate_entries_are_refused() -> None:
    e = digest.TreeEntry(path="a", kind="f", sha256="0" * 64)
    with pytest.raises(UnsafeArchive, match="duplicate"):
        digest.tree_digest([e, e, digest.TreeEntry(path="b", kind="f", sha256="1" * 64)])


def test_single_top_is_stripped_only_when_everything_is_under_it() -> None:
    a = digest.TreeEntry(path="top/a", kind="f", sha256="0" * 64)
    b = digest.TreeEntry(path="top/b", kind="f", sha256="1" * 64)
    loose = digest.TreeEntry(path="top", kind="f", sha256="2" * 64)
    assert [e.path for e in digest.strip_single_top([a, b])] == ["a", "b"]
    assert [e.path for e in digest.strip_single_top([a, b, loose])] == ["top/a", "top/b", "top"]


@pytest.mark.parametrize(
    ("name", "want"),
    [("a/b", "a/b"), ("./a/./b/", "a/b"), ("a//b", "a/b"), ("a\\b", "a/b"), ("./", "")],
)
def test_normalize_member_accepts(name: str, want: str) -> None:
    assert archive.normalize_member(name) == want


@pytest.mark.parametrize("name", ["/etc/passwd", "../x", "a/../../x", "a/..", "C:/x", "\\x"])
def test_normalize_member_refuses(name: str) -> None:
    with pytest.raises(UnsafeArchive):
        archive.normalize_member(name)
