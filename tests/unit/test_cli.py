"""The `patchkit sources` command line, through click's CliRunner (no upstream files needed)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from archives import TREE, git_repo
from click.testing import CliRunner, Result
from localhttp import LocalServer, serve, status

from patchkit import api
from patchkit.cli import cli
from patchkit.errors import (
    EXIT_CODES,
    ConfigError,
    SourceUnavailable,
    VerificationError,
)
from patchkit.sources import manifest as sources
from patchkit.sources.cache import TRUST_FILE
from patchkit.sources.manifest import Artifact, Manifest

DATA = b"diff --git a/x b/x\n--- a/x\n+++ b/x\n"


def run(distdir: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--distdir", str(distdir), *args], catch_exceptions=False)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- real manifest


def test_sources_list_json_has_one_row_per_artifact(tmp_path: Path) -> None:
    manifest = sources.load_manifest()
    r = run(tmp_path, "sources", "list", "--json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert [row["name"] for row in rows] == [a.name for a in manifest.artifacts]
    for row, a in zip(rows, manifest.artifacts, strict=True):
        assert row["file"] == a.filename and row["kind"] == a.kind
        assert row["status"] == "missing" and row["path"] is None
        assert row["pinned"] is a.pinned
        assert row["problem"] is a.pinned  # a missing unpinned artifact is no problem


def test_sources_list_names_and_text(tmp_path: Path) -> None:
    r = run(tmp_path, "sources", "list", "qmail-1.03", "jms1-7.08")
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("qmail-1.03") and "missing" in lines[0]
    assert "--trust-on-first-use" in lines[1]
    r = run(tmp_path, "sources", "list", "no-such-thing")
    assert r.exit_code == ConfigError.exit_code
    assert "qmail-1.03" in r.stderr  # the hint names the known artifacts


def test_sources_verify_on_an_empty_cache_fails(tmp_path: Path) -> None:
    r = run(tmp_path / "empty", "sources", "verify")
    assert r.exit_code == VerificationError.exit_code == 5
    assert "error:" in r.stderr and "hint:" in r.stderr
    error_line = next(line for line in r.stderr.splitlines() if line.startswith("error:"))
    pinned = [a.name for a in sources.load_manifest().artifacts if a.pinned]
    assert all(name in error_line for name in pinned)
    assert "jms1-7.08" not in error_line  # unpinned and missing: not a problem
    assert "Traceback" not in r.output


def test_sources_add_unknown_file(tmp_path: Path) -> None:
    stray = tmp_path / "mystery-1.0.tar.gz"
    stray.write_bytes(b"whatever")
    distdir = tmp_path / "dd"
    r = run(distdir, "sources", "add", str(stray))
    assert r.exit_code == ConfigError.exit_code == 3
    assert "error:" in r.stderr and "qmail-1.03.tar.gz" in r.stderr  # hint lists known files
    assert not distdir.exists()  # nothing was cached
    r = run(distdir, "sources", "add", str(tmp_path / "absent.patch"))
    assert r.exit_code == ConfigError.exit_code


def test_sources_add_known_name_wrong_content(tmp_path: Path) -> None:
    fake = tmp_path / "qmail-1.03.tar.gz"
    fake.write_bytes(b"not qmail")
    r = run(tmp_path / "dd", "sources", "add", str(fake))
    assert r.exit_code == VerificationError.exit_code
    assert "21ed6c562cbb55092a66197c35c8222b84115d1acab0854fdb1ad1f301626f88" in r.stderr
    assert not (tmp_path / "dd" / "qmail-1.03.tar.gz").exists()


@pytest.mark.spawns
def test_sources_add_git_tree_mismatch(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo", TREE, tag="qmail-1.03")
    r = run(tmp_path / "dd", "sources", "add-git", str(repo), "qmail-1.03", "--as", "qmail-1.03")
    assert r.exit_code == VerificationError.exit_code
    assert "error:" in r.stderr and "tree digest" in r.stderr and "hint:" in r.stderr
    assert not (tmp_path / "dd" / "qmail-1.03.tar.gz").exists()


@pytest.mark.spawns
def test_sources_add_git_bad_ref_and_unpinned_tree(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo", TREE, tag="v1")
    r = run(tmp_path / "dd", "sources", "add-git", str(repo), "no-such-tag", "--as", "qmail-1.03")
    assert r.exit_code == ConfigError.exit_code  # a bad ref is the user's configuration
    assert "no-such-tag" in r.output and "hint: " in r.output
    r = run(tmp_path / "dd", "sources", "add-git", str(repo), "v1", "--as", "jms1-7.10")
    assert r.exit_code == ConfigError.exit_code  # a patch has no tree digest


def test_help_lists_exit_codes(tmp_path: Path) -> None:
    r = run(tmp_path, "--help")
    assert r.exit_code == 0
    for code in EXIT_CODES:
        assert f"{code:>2}  " in r.stdout


# --------------------------------------------------------------------------- synthetic manifest


@pytest.fixture
def synthetic(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Manifest:
    """Replace the shipped manifest by one whose files the test creates."""
    m = Manifest(artifacts=(
        Artifact(name="thing-1", version="1", kind="patch", filename="thing-1.patch",
                 urls=("http://127.0.0.1:9/thing-1.patch",), sha256=sha(DATA)),
        Artifact(name="loose-1", version="1", kind="patch", filename="loose-1.patch",
                 urls=("http://127.0.0.1:9/loose-1.patch",), unpinned="never published"),
    ))
    monkeypatch.setattr(api, "load_manifest", lambda path=None: m)
    monkeypatch.setattr(sources, "load_manifest", lambda path=None: m)
    return m


def test_add_then_verify_succeeds_then_tampering_fails(tmp_path: Path,
                                                       synthetic: Manifest) -> None:
    dd = tmp_path / "dd"
    f = tmp_path / "thing-1.patch"
    f.write_bytes(DATA)
    r = run(dd, "sources", "add", str(f), "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out == {"name": "thing-1", "status": "ok", "verified_by": "sha256",
                   "path": str(dd / "thing-1.patch")}
    assert (dd / "thing-1.patch").read_bytes() == DATA

    r = run(dd, "sources", "verify")
    assert r.exit_code == 0, r.output
    assert "thing-1  ok (sha256)" in r.stdout

    (dd / "thing-1.patch").write_bytes(b"tampered")
    r = run(dd, "sources", "verify", "--json")
    assert r.exit_code == VerificationError.exit_code
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    assert rows["thing-1"]["status"] == "bad" and rows["thing-1"]["problem"] is True
    assert "thing-1" in r.stderr


def test_add_with_as_for_a_renamed_file(tmp_path: Path, synthetic: Manifest) -> None:
    f = tmp_path / "downloaded.bin"
    f.write_bytes(DATA)
    r = run(tmp_path / "dd", "sources", "add", str(f), "--as", "thing-1")
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("thing-1: ok (sha256) -> ")
    assert (tmp_path / "dd" / "thing-1.patch").is_file()


def test_trust_on_first_use_from_the_cli(tmp_path: Path, synthetic: Manifest) -> None:
    dd = tmp_path / "dd"
    f = tmp_path / "loose-1.patch"
    f.write_bytes(DATA)
    r = run(dd, "sources", "add", str(f))
    assert r.exit_code == VerificationError.exit_code
    assert "--trust-on-first-use" in r.stderr
    assert not (dd / "loose-1.patch").exists()

    r = run(dd, "sources", "add", str(f), "--trust-on-first-use")
    assert r.exit_code == 0, r.output
    assert "WARNING: loose-1 is NOT verified" in r.stderr
    assert json.loads((dd / TRUST_FILE).read_text())["loose-1"]["sha256"] == sha(DATA)
    rows = {row["name"]: row for row in json.loads(run(dd, "sources", "list", "--json").stdout)}
    assert rows["loose-1"]["status"] == "unverified"
    assert rows["loose-1"]["verified_by"] == "trust-on-first-use"


def test_sources_import_seeds_from_a_directory(tmp_path: Path, synthetic: Manifest) -> None:
    """What an offline CI runner does (PATCHKIT_SEED): pinned files found are verified and
    added, unpinned ones are left for a person's --trust-on-first-use, others ignored."""
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "thing-1.patch").write_bytes(DATA)
    (seed / "loose-1.patch").write_bytes(DATA)
    (seed / "unrelated.txt").write_bytes(b"x")
    dd = tmp_path / "dd"
    r = run(dd, "sources", "import", str(seed), "--json")
    assert r.exit_code == 0, r.output
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    assert set(rows) == {"thing-1"} and rows["thing-1"]["status"] == "ok"
    assert (dd / "thing-1.patch").read_bytes() == DATA
    assert not (dd / "loose-1.patch").exists() and not (dd / "unrelated.txt").exists()
    assert run(dd, "sources", "import", str(seed)).stdout == "thing-1  ok (sha256)\n"

    (seed / "thing-1.patch").write_bytes(b"tampered")
    r = run(tmp_path / "dd2", "sources", "import", str(seed))
    assert r.exit_code == VerificationError.exit_code
    assert not (tmp_path / "dd2" / "thing-1.patch").exists()


def test_distdir_from_the_environment(tmp_path: Path, synthetic: Manifest) -> None:
    f = tmp_path / "thing-1.patch"
    f.write_bytes(DATA)
    r = CliRunner(env={"PATCHKIT_DISTDIR": str(tmp_path / "env-dd")}).invoke(
        cli, ["sources", "add", str(f)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert (tmp_path / "env-dd" / "thing-1.patch").read_bytes() == DATA


def _served(monkeypatch: pytest.MonkeyPatch, url: str) -> Manifest:
    m = Manifest(artifacts=(Artifact(name="thing-1", version="1", kind="patch",
                                     filename="thing-1.patch", urls=(url,), sha256=sha(DATA)),))
    monkeypatch.setattr(api, "load_manifest", lambda path=None: m)
    return m


def test_fetch_from_a_local_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   http_server: LocalServer) -> None:
    _served(monkeypatch, http_server.route("/t", lambda h, n: serve(h, DATA)))
    r = run(tmp_path / "dd", "--quiet", "sources", "fetch", "--json")
    assert r.exit_code == 0, r.output
    (row,) = json.loads(r.stdout)
    assert (row["name"], row["status"]) == ("thing-1", "ok")
    assert (tmp_path / "dd" / "thing-1.patch").read_bytes() == DATA


def test_fetch_failure_exit_code_and_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          http_server: LocalServer) -> None:
    url = http_server.route("/t", lambda h, n: status(h, 404))
    _served(monkeypatch, url)
    r = run(tmp_path / "dd", "--quiet", "sources", "fetch")
    assert r.exit_code == SourceUnavailable.exit_code == 4
    assert url in r.stderr
    assert "hint: download" in r.stderr and "patchkit sources add thing-1.patch" in r.stderr
    assert len(http_server.seen("/t")) == 1
