"""The sources manifest: the shipped one is valid; malformed ones raise ConfigError."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from patchkit.errors import ConfigError
from patchkit.resources import manifest_path
from patchkit.sources import manifest as sources

SHA = "a" * 64
TREE_PIN = "tree1:" + "b" * 64


def test_real_manifest_loads_and_every_artifact_is_pinned_or_says_why_not() -> None:
    m = sources.load_manifest()
    assert m == sources.load_manifest(manifest_path())
    assert len(m.artifacts) >= 5
    names = [a.name for a in m.artifacts]
    assert len(set(names)) == len(names)
    for a in m.artifacts:
        assert a.kind in sources.KINDS
        assert a.urls and all(u.startswith(("http://", "https://")) for u in a.urls)
        assert a.pinned != bool(a.unpinned), a.name  # a pin, or a reason, never both
        if a.unpinned:
            assert len(a.unpinned) > 20, a.name
        if a.sha256:
            assert re.fullmatch(r"[0-9a-f]{64}", a.sha256)
        if a.tree:
            assert re.fullmatch(r"tree1:[0-9a-f]{64}", a.tree)
            assert a.kind == "archive"
    assert m.get("qmail-1.03").filename == "qmail-1.03.tar.gz"
    assert m.by_filename("qmail-1.03.tar.gz") is m.get("qmail-1.03")
    assert any(not a.pinned for a in m.artifacts)  # the manifest does use 'unpinned'


def _toml(**overrides: object) -> str:
    """One artifact as TOML; a value of None drops the key."""
    fields: dict[str, object] = {
        "name": "pkg-1.0", "version": "1.0", "kind": "archive", "filename": "pkg-1.0.tar.gz",
        "urls": ["http://127.0.0.1/pkg-1.0.tar.gz"], "sha256": SHA,
    }
    fields.update(overrides)
    lines = ["[[artifact]]"]
    for k, v in fields.items():
        if v is None:
            continue
        if isinstance(v, list):
            lines.append(f"{k} = [{', '.join(_lit(x) for x in v)}]")
        else:
            lines.append(f"{k} = {_lit(v)}")
    return "\n".join(lines) + "\n"


def _lit(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def test_synthetic_manifest_parses() -> None:
    text = _toml(tree=TREE_PIN, size=10, git_ref="v1") + _toml(
        name="p", kind="patch", filename="p.patch", sha256=None, unpinned="nobody knows")
    m = sources.parse_manifest(text)
    a, p = m.artifacts
    assert (a.name, a.sha256, a.tree, a.size, a.git_ref) == ("pkg-1.0", SHA, TREE_PIN, 10, "v1")
    assert a.urls == ("http://127.0.0.1/pkg-1.0.tar.gz",) and a.pinned
    assert not p.pinned and p.unpinned == "nobody knows"
    assert m.get("p") is p
    assert m.by_filename("nope") is None


def test_unknown_artifact_names_the_known_ones() -> None:
    m = sources.parse_manifest(_toml())
    with pytest.raises(ConfigError) as info:
        m.get("other")
    assert "other" in info.value.message and "pkg-1.0" in info.value.hint


BAD = {
    "missing-pin": _toml(sha256=None),
    "missing-pin-empty-reason": _toml(sha256=None, unpinned=""),
    "sha256-too-short": _toml(sha256="a" * 63),
    "sha256-uppercase": _toml(sha256="A" * 64),
    "sha256-not-hex": _toml(sha256="g" * 64),
    "sha256-with-prefix": _toml(sha256="sha256:" + "a" * 64),
    "tree-without-prefix": _toml(tree="b" * 64),
    "tree-short": _toml(tree="tree1:" + "b" * 63),
    "tree-on-a-patch": _toml(kind="patch", filename="p.patch", tree=TREE_PIN),
    "pin-and-unpinned": _toml(unpinned="but it has a pin"),
    "duplicate-names": _toml() + _toml(filename="other.tar.gz"),
    "duplicate-filenames": _toml() + _toml(name="other"),
    "unknown-key": _toml(sha512="x"),
    "missing-name": _toml(name=None),
    "missing-urls": _toml(urls=None),
    "empty-urls": _toml(urls=[]),
    "url-without-scheme": _toml(urls=["cr.yp.to/qmail.tar.gz"]),
    "bad-kind": _toml(kind="tarball"),
    "filename-with-slash": _toml(filename="../pkg.tar.gz"),
    "filename-hidden": _toml(filename=".pkg.tar.gz"),
    "not-toml": "[[artifact]\nname = ",
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_malformed_manifest_is_a_config_error(case: str) -> None:
    with pytest.raises(ConfigError) as info:
        sources.parse_manifest(BAD[case], "test.toml")
    assert info.value.exit_code == 3
    assert info.value.hint


def test_good_variant_of_each_bad_case_parses() -> None:
    # the BAD cases fail for their own reason, not because _toml is broken
    sources.parse_manifest(_toml())
    sources.parse_manifest(_toml(sha256=None, tree=TREE_PIN))
    sources.parse_manifest(_toml(sha256=None, unpinned="why"))
    sources.parse_manifest(_toml() + _toml(name="other", filename="other.tar.gz"))


def test_load_manifest_from_a_path(tmp_path: Path) -> None:
    p = tmp_path / "sources.toml"
    p.write_text(_toml(name="mine"), encoding="utf-8")
    assert [a.name for a in sources.load_manifest(p).artifacts] == ["mine"]
    p.write_text(_toml(sha256=None), encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape("pkg-1.0: no pin")):
        sources.load_manifest(p)
    p.write_text("[[artifact]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(str(p))):
        sources.load_manifest(p)


def test_non_string_sha256_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        sources.parse_manifest(_toml(sha256=123))


def test_empty_filename_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        sources.parse_manifest(_toml(filename=""))
