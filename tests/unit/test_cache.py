"""The verified download cache: add, verify, require, trust-on-first-use, trees from git."""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path

import pytest
from archives import TREE, expected_digest, tar_bytes, write_targz, write_zip

from patchkit import api
from patchkit.errors import ConfigError, SourceUnavailable, VerificationError
from patchkit.sources import archive, cache, unpack
from patchkit.sources.manifest import Artifact, Manifest

DATA = b"--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old\n+new\n"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def artifact(name: str = "p-1", *, kind: str = "patch", filename: str | None = None,
             **pins: str | None) -> Artifact:
    return Artifact(name=name, version="1", kind=kind, filename=filename or f"{name}.patch",
                    urls=(f"http://127.0.0.1:9/{name}",), **pins)  # type: ignore[arg-type]


def unpinned(name: str = "u-1") -> Artifact:
    return artifact(name, unpinned="no checksum was ever published")


@pytest.fixture
def c(tmp_path: Path) -> cache.Cache:
    return cache.Cache(tmp_path / "distdir")


def src(tmp_path: Path, data: bytes = DATA, name: str = "download") -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def partial_is_empty(c: cache.Cache) -> bool:
    return not c.partial_dir.exists() or os.listdir(c.partial_dir) == []


# --------------------------------------------------------------------------- add_file


def test_add_file_good(tmp_path: Path, c: cache.Cache) -> None:
    a = artifact(sha256=sha(DATA))
    v = c.add_file(a, src(tmp_path))
    assert (v.name, v.status, v.how, v.usable) == ("p-1", "ok", "sha256", True)
    assert v.path == c.root / "p-1.patch"
    assert v.path.read_bytes() == DATA
    assert (tmp_path / "download").read_bytes() == DATA  # the source is copied, not moved
    assert partial_is_empty(c)


def test_add_file_bad_leaves_nothing(tmp_path: Path, c: cache.Cache) -> None:
    a = artifact(sha256=sha(DATA))
    bad = DATA.replace(b"new", b"evil")
    with pytest.raises(VerificationError) as info:
        c.add_file(a, src(tmp_path, bad))
    assert info.value.exit_code == 5
    assert sha(DATA) in info.value.message and sha(bad) in info.value.message
    assert not c.path(a).exists()
    assert partial_is_empty(c)
    assert not (c.root / cache.TRUST_FILE).exists()


def test_bad_file_does_not_replace_a_good_one(tmp_path: Path, c: cache.Cache) -> None:
    a = artifact(sha256=sha(DATA))
    c.add_file(a, src(tmp_path))
    with pytest.raises(VerificationError):
        c.add_file(a, src(tmp_path, b"other", name="other"))
    assert c.path(a).read_bytes() == DATA
    assert c.verify(a).status == "ok"


def test_tree_pin_accepts_a_recompressed_archive(tmp_path: Path, c: cache.Cache) -> None:
    a = artifact("pkg-1.0", kind="archive", filename="pkg-1.0.tar.gz",
                 sha256=sha(b"the published tarball"), tree=expected_digest(TREE))
    repacked = write_zip(tmp_path / "pkg-1.0.tar.gz", TREE, top="renamed-top")
    v = c.add_file(a, repacked)
    assert (v.status, v.how) == ("ok", "tree")
    assert c.verify(a).how == "tree"


def test_tree_pin_mismatch_reports_both_pins(tmp_path: Path, c: cache.Cache) -> None:
    a = artifact("pkg-1.0", kind="archive", filename="pkg-1.0.tar.gz",
                 sha256=sha(b"published"), tree=expected_digest(TREE))
    other = write_targz(tmp_path / "x.tar.gz", [*TREE, ("extra", "f", b"!")])
    with pytest.raises(VerificationError) as info:
        c.add_file(a, other)
    msg = info.value.message
    assert sha(b"published") in msg and expected_digest(TREE) in msg
    assert sha(other.read_bytes()) in msg and "tree1:" in msg.split("got", 1)[1]
    assert not c.path(a).exists() and partial_is_empty(c)


def test_tree_pin_with_garbage_file(tmp_path: Path, c: cache.Cache) -> None:
    a = artifact("pkg-1.0", kind="archive", filename="pkg-1.0.tar.gz", tree=expected_digest(TREE))
    with pytest.raises(VerificationError, match="not a readable archive"):
        c.add_file(a, src(tmp_path, b"<html>404 not found</html>"))
    assert not c.path(a).exists() and partial_is_empty(c)


# --------------------------------------------------------------------------- verify / require


def test_verify_missing_ok_bad(tmp_path: Path, c: cache.Cache) -> None:
    a = artifact(sha256=sha(DATA))
    v = c.verify(a)
    assert (v.status, v.usable, v.path) == ("missing", False, None)

    c.add_file(a, src(tmp_path))
    v = c.verify(a)
    assert (v.status, v.how, v.usable, v.path) == ("ok", "sha256", True, c.path(a))

    c.path(a).write_bytes(DATA + b"tampered\n")
    v = c.verify(a)
    assert (v.status, v.usable) == ("bad", False)
    assert sha(DATA) in v.detail and sha(DATA + b"tampered\n") in v.detail


def test_require(tmp_path: Path, c: cache.Cache) -> None:
    a = artifact(sha256=sha(DATA))
    with pytest.raises(SourceUnavailable) as info:
        c.require(a)
    assert info.value.exit_code == 4
    assert f"patchkit sources add {a.filename}" in info.value.hint
    assert a.urls[0] in info.value.hint

    c.add_file(a, src(tmp_path))
    assert c.require(a) == c.path(a)

    c.path(a).write_bytes(b"x")
    with pytest.raises(VerificationError) as bad:
        c.require(a)
    assert str(c.path(a)) in bad.value.hint


def test_seed_hint_mentions_add_git_for_tagged_archives() -> None:
    a = artifact("pkg-1.0", kind="archive", filename="pkg-1.0.tar.gz", tree="tree1:" + "0" * 64,
                 git_ref="pkg-1.0", git_repo="https://example.invalid/repo")
    hint = cache.seed_hint(a)
    assert "patchkit sources add pkg-1.0.tar.gz" in hint
    assert "patchkit sources add-git CLONE pkg-1.0 --as pkg-1.0" in hint
    assert "https://example.invalid/repo" in hint
    assert "--trust-on-first-use" not in hint
    assert "--trust-on-first-use" in cache.seed_hint(unpinned())


def test_verify_corrupt_trust_file_is_a_config_error(c: cache.Cache) -> None:
    a = unpinned()
    c.root.mkdir(parents=True)
    c.path(a).write_bytes(DATA)
    (c.root / cache.TRUST_FILE).write_text("{not json")
    with pytest.raises(ConfigError):
        c.verify(a)


def test_verify_corrupt_zip_is_bad_not_a_crash(tmp_path: Path, c: cache.Cache) -> None:
    spec = [("a.txt", "f", b"first file"), ("b.txt", "f", b"second file")]
    a = artifact("z-1", kind="archive", filename="z-1.zip", tree=expected_digest(spec))
    good = tmp_path / "z-1.zip"
    with zipfile.ZipFile(good, "w", compression=zipfile.ZIP_STORED) as z:
        for name, _kind, data in spec:
            z.writestr(name, data)
    assert c.add_file(a, good).status == "ok"
    corrupt = c.path(a).read_bytes().replace(b"second file", b"sec0nd file")  # CRC now wrong
    c.path(a).write_bytes(corrupt)
    assert zipfile.is_zipfile(c.path(a))
    assert c.verify(a).status == "bad"


# --------------------------------------------------------------------------- trust on first use


def test_unpinned_is_refused_without_the_flag(tmp_path: Path, c: cache.Cache) -> None:
    a = unpinned()
    with pytest.raises(VerificationError) as info:
        c.add_file(a, src(tmp_path))
    assert "--trust-on-first-use" in info.value.hint
    assert sha(DATA) in info.value.hint  # tells the user what they would be trusting
    assert not c.path(a).exists() and partial_is_empty(c)
    assert not (c.root / cache.TRUST_FILE).exists()

    with pytest.raises(VerificationError) as via_api:
        api.sources_add(c, src(tmp_path, name=a.filename), manifest=Manifest(artifacts=(a,)))
    assert "--trust-on-first-use" in via_api.value.hint
    assert not c.path(a).exists()


def test_trust_on_first_use_records_then_checks(tmp_path: Path, c: cache.Cache) -> None:
    a = unpinned()
    v = c.add_file(a, src(tmp_path), trust_on_first_use=True)
    assert (v.status, v.how, v.usable) == ("unverified", "trust-on-first-use", True)
    assert sha(DATA) in v.detail

    lock = json.loads((c.root / cache.TRUST_FILE).read_text())
    assert lock[a.name]["sha256"] == sha(DATA)
    assert lock[a.name]["filename"] == a.filename
    assert c.trusted() == {a.name: sha(DATA)}

    assert c.verify(a).status == "unverified"
    assert c.require(a) == c.path(a)

    c.path(a).write_bytes(DATA + b"changed\n")
    v = c.verify(a)
    assert v.status == "bad"
    assert sha(DATA) in v.detail and sha(DATA + b"changed\n") in v.detail
    with pytest.raises(VerificationError):
        c.require(a)


def test_trust_records_are_per_artifact(tmp_path: Path, c: cache.Cache) -> None:
    a, b = unpinned("u-a"), unpinned("u-b")
    c.add_file(a, src(tmp_path, b"aaa"), trust_on_first_use=True)
    c.add_file(b, src(tmp_path, b"bbb"), trust_on_first_use=True)
    assert c.trusted() == {"u-a": sha(b"aaa"), "u-b": sha(b"bbb")}


def test_trust_flag_does_not_weaken_a_pin(tmp_path: Path, c: cache.Cache) -> None:
    a = artifact(sha256=sha(DATA))
    with pytest.raises(VerificationError):
        c.add_file(a, src(tmp_path, b"not it"), trust_on_first_use=True)
    assert not c.path(a).exists()
    assert not (c.root / cache.TRUST_FILE).exists()


def test_trust_on_first_use_only_trusts_the_first_use(tmp_path: Path, c: cache.Cache) -> None:
    a = unpinned()
    c.add_file(a, src(tmp_path), trust_on_first_use=True)
    with pytest.raises(VerificationError):
        c.add_file(a, src(tmp_path, b"a different file", name="other"), trust_on_first_use=True)
    assert c.trusted() == {a.name: sha(DATA)}
    assert c.path(a).read_bytes() == DATA


# --------------------------------------------------------------------------- add_tree


def _members(top: str = "t") -> list[archive.Member]:
    return archive.read_tar_bytes(tar_bytes(TREE, top=top, compress=False))


def test_add_tree_refuses_artifacts_without_a_tree_pin(c: cache.Cache) -> None:
    for a in (artifact(sha256=sha(DATA)),
              artifact("pkg", kind="archive", filename="pkg.tar.gz", sha256=sha(DATA))):
        with pytest.raises(ConfigError) as info:
            c.add_tree(a, _members(), "somewhere")
        assert f"patchkit sources add {a.filename}" in info.value.hint
        assert not c.path(a).exists()


def test_add_tree_mismatch_leaves_nothing(c: cache.Cache) -> None:
    a = artifact("pkg", kind="archive", filename="pkg.tar.gz", tree="tree1:" + "0" * 64,
                 git_ref="pkg-9")
    with pytest.raises(VerificationError) as info:
        c.add_tree(a, _members(), "repo at v1")
    assert "repo at v1" in info.value.message and expected_digest(TREE) in info.value.message
    assert "pkg-9" in info.value.hint
    assert not c.path(a).exists() and partial_is_empty(c)


def _git_like_members() -> list[archive.Member]:
    """Members as `git archive` gives them: no top-level directory."""
    return archive.read_tar_bytes(tar_bytes(TREE, top=None, compress=False))


def test_add_tree_writes_a_deterministic_verifiable_tarball(tmp_path: Path,
                                                            c: cache.Cache) -> None:
    a = artifact("pkg", kind="archive", filename="pkg.tar.gz", tree=expected_digest(TREE))
    v = c.add_tree(a, _git_like_members(), "origin")
    assert (v.status, v.how, v.path) == ("ok", "tree", c.path(a))
    assert c.verify(a).status == "ok"
    first = c.path(a).read_bytes()
    unpack.unpack(c.path(a), tmp_path / "out")
    assert (tmp_path / "out" / "install.sh").stat().st_mode & 0o111
    assert os.readlink(tmp_path / "out" / "README") == "docs/README"

    again = cache.deterministic_targz(list(reversed(_git_like_members())), top="pkg")
    assert again == first  # same tree in any member order -> the same bytes


def test_add_tree_accepts_members_under_a_single_top(c: cache.Cache) -> None:
    a = artifact("pkg", kind="archive", filename="pkg.tar.gz", tree=expected_digest(TREE))
    v = c.add_tree(a, _members("t"), "origin")
    assert v.status == "ok"
    assert c.verify(a).status == "ok"


# --------------------------------------------------------------------------- api helpers


def test_api_sources_add_by_filename_and_by_name(tmp_path: Path, c: cache.Cache) -> None:
    a = artifact(sha256=sha(DATA))
    m = Manifest(artifacts=(a, unpinned()))
    v = api.sources_add(c, src(tmp_path, name=a.filename), manifest=m)
    assert v.status == "ok" and c.path(a).is_file()
    c.path(a).unlink()
    v = api.sources_add(c, src(tmp_path, name="renamed.diff"), name=a.name, manifest=m)
    assert v.status == "ok" and c.path(a).read_bytes() == DATA

    with pytest.raises(ConfigError) as unknown:
        api.sources_add(c, src(tmp_path, name="mystery.patch"), manifest=m)
    assert a.filename in unknown.value.hint and "--as" in unknown.value.hint
    with pytest.raises(ConfigError):
        api.sources_add(c, tmp_path / "does-not-exist", manifest=m)
    with pytest.raises(ConfigError):
        api.sources_add(c, src(tmp_path), name="no-such-artifact", manifest=m)


def test_api_list_and_problems(tmp_path: Path, c: cache.Cache) -> None:
    good, missing, bad, loose = (artifact("g", sha256=sha(DATA)), artifact("m", sha256=sha(DATA)),
                                 artifact("b", sha256=sha(DATA)), unpinned("loose"))
    m = Manifest(artifacts=(good, missing, bad, loose))
    c.add_file(good, src(tmp_path))
    c.add_file(bad, src(tmp_path))
    c.path(bad).write_bytes(b"tampered")
    rows = {a.name: (v.status, api.verdict_is_problem(a, v)) for a, v in
            api.sources_list(c, manifest=m)}
    assert rows == {"g": ("ok", False), "m": ("missing", True), "b": ("bad", True),
                    "loose": ("missing", False)}
    assert [a.name for a, _ in api.sources_list(c, ["b", "g"], manifest=m)] == ["b", "g"]

    c.add_file(loose, src(tmp_path), trust_on_first_use=True)
    (_, v), = api.sources_list(c, ["loose"], manifest=m)
    assert v.status == "unverified" and not api.verdict_is_problem(loose, v)


def test_default_distdir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATCHKIT_DISTDIR", str(tmp_path / "dd"))
    assert cache.default_distdir() == tmp_path / "dd"
    monkeypatch.delenv("PATCHKIT_DISTDIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.default_distdir() == tmp_path / "xdg" / "patchkit" / "distfiles"


def test_a_published_sha512_is_checked_beside_the_sha256(tmp_path: Path) -> None:
    """netqmail-1.06's published pins (Gentoo's Manifest) check a real download: both hashes."""
    f = tmp_path / "x.tar.gz"
    f.write_bytes(b"published bytes")
    sha256 = hashlib.sha256(b"published bytes").hexdigest()
    good = Artifact(name="x", version="1", kind="archive", filename=f.name, urls=("https://x/",),
                    sha256=sha256, sha512=hashlib.sha512(b"published bytes").hexdigest())
    assert cache.verify_file(good, f).how == "sha256"
    bad = Artifact(name="x", version="1", kind="archive", filename=f.name, urls=("https://x/",),
                   sha256=sha256, sha512="0" * 128)
    with pytest.raises(VerificationError, match="not its sha512"):
        cache.verify_file(bad, f)


def test_netqmail_carries_gentoo_s_published_pins() -> None:
    from patchkit.sources.manifest import load_manifest

    a = load_manifest().get("netqmail-1.06")
    assert (a.size, a.sha256, (a.sha512 or "")[:12]) == (
        260941, "8e7d98d15211fc9f9c28109e942e2268f42a6672d68df92a42f2afa90ff00532",
        "de40a6d8fac5")
    assert a.tree  # and the tree digest, which a cache seeded from the git tag satisfies
