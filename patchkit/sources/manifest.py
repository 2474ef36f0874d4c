"""The sources manifest: frozen values for upstream artifacts and their pins, parsed and validated
from patchkit/data/sources.toml. Pure: no network, no cache."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from patchkit.errors import ConfigError
from patchkit.resources import manifest_path
from patchkit.sources.digest import TREE_PREFIX

KINDS = ("archive", "patch")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Artifact:
    name: str
    version: str
    kind: str
    filename: str
    urls: tuple[str, ...]
    size: int | None = None
    sha256: str | None = None
    tree: str | None = None
    md5: str | None = None
    # the published file's sha512, where someone published it (Gentoo's Manifest): checked with
    # the sha256 on a download, and what an ebuild's Manifest DIST line carries
    sha512: str | None = None
    unpinned: str | None = None
    git_ref: str | None = None
    git_repo: str | None = None

    @property
    def pinned(self) -> bool:
        return bool(self.sha256 or self.tree)


@dataclass(frozen=True, slots=True, kw_only=True)
class Manifest:
    artifacts: tuple[Artifact, ...]

    def get(self, name: str) -> Artifact:
        for a in self.artifacts:
            if a.name == name:
                return a
        known = ", ".join(a.name for a in self.artifacts)
        raise ConfigError(f"unknown artifact {name!r}", f"known artifacts: {known}")

    def by_filename(self, filename: str) -> Artifact | None:
        for a in self.artifacts:
            if a.filename == filename:
                return a
        return None


_FIELDS = {f for f in Artifact.__dataclass_fields__}


def _artifact(raw: dict[str, Any], where: str) -> Artifact:
    unknown = set(raw) - _FIELDS
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}", "check the field names")
    for key in ("name", "version", "kind", "filename", "urls"):
        if key not in raw:
            raise ConfigError(f"{where}: missing {key!r}", "every artifact needs it")
    name = raw["name"]
    for key in ("name", "version", "kind", "filename", "sha256", "tree", "md5", "sha512",
                "unpinned", "git_ref", "git_repo"):
        if key in raw and not isinstance(raw[key], str):
            raise ConfigError(f"{where}: {key} must be a string", "fix the manifest")
    if "size" in raw and (not isinstance(raw["size"], int) or raw["size"] <= 0):
        raise ConfigError(f"{where}: size must be a positive integer", "fix the manifest")
    if raw["kind"] not in KINDS:
        raise ConfigError(f"{name}: kind must be one of {KINDS}", "fix the manifest")
    if not raw["urls"] or not all(isinstance(u, str) and "://" in u for u in raw["urls"]):
        raise ConfigError(f"{name}: urls must be a non-empty list of URLs", "fix the manifest")
    if not raw["filename"] or "/" in raw["filename"] or raw["filename"].startswith("."):
        raise ConfigError(f"{name}: filename must be a plain file name", "fix the manifest")
    sha = raw.get("sha256")
    if sha is not None and not _HEX64.match(sha):
        raise ConfigError(f"{name}: sha256 is not 64 lowercase hex digits", "fix the manifest")
    if raw.get("sha512") is not None and not (sha and re.fullmatch(r"[0-9a-f]{128}",
                                                                     raw["sha512"])):
        raise ConfigError(f"{name}: sha512 must be 128 lowercase hex digits, beside a sha256",
                          "fix the manifest")
    tree = raw.get("tree")
    if tree is not None and not (
        tree.startswith(TREE_PREFIX) and _HEX64.match(tree[len(TREE_PREFIX) :])
    ):
        raise ConfigError(f"{name}: tree must be '{TREE_PREFIX}<64 hex>'", "fix the manifest")
    if tree is not None and raw["kind"] != "archive":
        raise ConfigError(f"{name}: only archives have a tree digest", "fix the manifest")
    if not (sha or tree) and not raw.get("unpinned"):
        raise ConfigError(
            f"{name}: no pin (sha256 or tree) and no 'unpinned' reason",
            "every artifact needs a pin, or must say why none is known",
        )
    if (sha or tree) and raw.get("unpinned"):
        raise ConfigError(f"{name}: has a pin and says it is unpinned", "remove one")
    return Artifact(**{**raw, "urls": tuple(raw["urls"])})


def parse_manifest(text: str, where: str = "manifest") -> Manifest:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{where}: {e}", "the manifest is not valid TOML") from e
    arts = tuple(_artifact(raw, f"{where}[{i}]") for i, raw in enumerate(data.get("artifact", [])))
    names = [a.name for a in arts]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ConfigError(f"{where}: duplicate artifact names {sorted(dupes)}", "names are unique")
    files = [a.filename for a in arts]
    if len(set(files)) != len(files):
        raise ConfigError(f"{where}: two artifacts share a file name", "file names are unique")
    return Manifest(artifacts=arts)


def load_manifest(path: Path | None = None) -> Manifest:
    p = path or manifest_path()
    return parse_manifest(p.read_text(encoding="utf-8"), str(p))
