"""The download cache (distdir): verified upstream files, keyed by their published file names.

A file is in the cache only once verified against its pin; anything in flight lives under
``.partial/`` and is renamed into place atomically, so a crash never leaves a half file that looks
good. Artifacts without a known pin are accepted only by an explicit trust-on-first-use choice,
which records the observed sha256 in ``trust.lock.json`` beside them.
"""

from __future__ import annotations

import datetime as _dt
import gzip
import io
import json
import os
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path

from patchkit.errors import ConfigError, SourceUnavailable, UnsafeArchive, VerificationError
from patchkit.files import write_atomic
from patchkit.sources.archive import Member, strip_top
from patchkit.sources.digest import (
    entries_of,
    sha256_file,
    sha512_file,
    tree_digest,
    tree_digest_of_archive,
)
from patchkit.sources.manifest import Artifact
from patchkit.sources.unpack import FIXED_MTIME

TRUST_FILE = "trust.lock.json"


def default_distdir() -> Path:
    env = os.environ.get("PATCHKIT_DISTDIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "patchkit" / "distfiles"


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """How an artifact stands in the cache."""

    name: str
    status: str  # "ok", "unverified" (trusted on first use), "missing", "bad"
    how: str = ""  # "sha256", "tree", "trust-on-first-use"
    detail: str = ""
    path: Path | None = None

    @property
    def usable(self) -> bool:
        return self.status in ("ok", "unverified")


def verify_file(artifact: Artifact, path: Path, trusted: dict[str, str] | None = None) -> Verdict:
    """Verify path against artifact's pins. Raises VerificationError on a mismatch."""
    got = sha256_file(path)
    if artifact.sha256 and got == artifact.sha256:
        if artifact.sha512 and sha512_file(path) != artifact.sha512:
            raise VerificationError(f"{artifact.name}: {path.name} matches its sha256 pin but "
                                    "not its sha512 pin", "get the genuine file")
        return Verdict(name=artifact.name, status="ok", how="sha256", path=path)
    if artifact.tree:
        try:
            tree = tree_digest_of_archive(path)
        except UnsafeArchive as e:  # the one reader's refusals, unreadable files among them
            tree = f"(not a readable archive: {e})"
        if tree == artifact.tree:
            return Verdict(name=artifact.name, status="ok", how="tree", path=path)
        raise VerificationError(
            f"{artifact.name}: {path.name} does not match its pin "
            f"(expected sha256 {artifact.sha256 or '-'} or tree {artifact.tree}; "
            f"got sha256 {got}, tree {tree})",
            "the file is not the pinned upstream release: get the genuine file",
        )
    if artifact.sha256:
        raise VerificationError(
            f"{artifact.name}: {path.name} has sha256 {got}, expected {artifact.sha256}",
            "the file is not the pinned upstream release: get the genuine file",
        )
    recorded = (trusted or {}).get(artifact.name)
    if recorded is None:
        raise VerificationError(
            f"{artifact.name} has no known checksum and was not trusted on first use",
            f"if you trust this file (sha256 {got}), add it again with --trust-on-first-use",
        )
    if recorded != got:
        raise VerificationError(
            f"{artifact.name}: {path.name} has sha256 {got}, but {recorded} was recorded "
            "when it was first trusted",
            f"the file changed since; remove the entry from {TRUST_FILE} only if you know why",
        )
    return Verdict(name=artifact.name, status="unverified", how="trust-on-first-use",
                   detail=f"sha256 {got} recorded on first use, not checked against a pin",
                   path=path)


@dataclass(frozen=True, slots=True)
class Cache:
    root: Path

    def path(self, artifact: Artifact) -> Path:
        return self.root / artifact.filename

    @property
    def partial_dir(self) -> Path:
        return self.root / ".partial"

    def trusted(self) -> dict[str, str]:
        f = self.root / TRUST_FILE
        if not f.exists():
            return {}
        try:
            data = json.loads(f.read_text())
            return {name: entry["sha256"] for name, entry in data.items()}
        except (ValueError, KeyError, TypeError) as e:
            raise ConfigError(f"{f} is corrupt: {e}", "fix or delete it") from e

    def record_trust(self, artifact: Artifact, sha256: str) -> None:
        f = self.root / TRUST_FILE
        data = json.loads(f.read_text()) if f.exists() else {}
        data[artifact.name] = {
            "filename": artifact.filename,
            "sha256": sha256,
            "recorded": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        }
        write_atomic(f, json.dumps(data, indent=2, sort_keys=True) + "\n")

    def verify(self, artifact: Artifact) -> Verdict:
        p = self.path(artifact)
        if not p.exists():
            return Verdict(name=artifact.name, status="missing", detail="not in the cache")
        try:
            return verify_file(artifact, p, self.trusted())
        except VerificationError as e:
            return Verdict(name=artifact.name, status="bad", detail=e.message, path=p)

    def require(self, artifact: Artifact) -> Path:
        """The verified cached file, or an error that says how to get it."""
        v = self.verify(artifact)
        if v.usable:
            assert v.path is not None
            return v.path
        if v.status == "bad":
            raise VerificationError(v.detail, f"delete {self.path(artifact)} and add it again")
        raise SourceUnavailable(f"{artifact.name} is not in the cache ({self.root})",
                                seed_hint(artifact))

    def adopt(self, artifact: Artifact, tmp: Path, *, trust_on_first_use: bool) -> Verdict:
        """Verify a complete file outside the cache and move it in; on failure delete it."""
        try:
            if not artifact.pinned and trust_on_first_use and artifact.name not in self.trusted():
                # first use only: a later, different file must not quietly replace the trust
                self.record_trust(artifact, sha256_file(tmp))
            verdict = verify_file(artifact, tmp, self.trusted())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self.root.mkdir(parents=True, exist_ok=True)
        dest = self.path(artifact)
        os.replace(tmp, dest)
        return Verdict(name=verdict.name, status=verdict.status, how=verdict.how,
                       detail=verdict.detail, path=dest)

    def staging(self, artifact: Artifact) -> Path:
        self.partial_dir.mkdir(parents=True, exist_ok=True)
        return self.partial_dir / (artifact.filename + ".part")

    def add_file(self, artifact: Artifact, src: Path, *,
                 trust_on_first_use: bool = False) -> Verdict:
        tmp = self.staging(artifact)
        shutil.copyfile(src, tmp)
        return self.adopt(artifact, tmp, trust_on_first_use=trust_on_first_use)

    def add_tree(self, artifact: Artifact, members: list[Member], origin: str) -> Verdict:
        """Cache a tree (e.g. from a git tag) as a deterministic tar.gz, if its digest matches."""
        if artifact.kind != "archive" or not artifact.tree:
            raise ConfigError(
                f"{artifact.name} has no tree digest pin, so a tree cannot stand in for it",
                f"add the published file instead: patchkit sources add {artifact.filename}",
            )
        got = tree_digest(entries_of(members))
        if got != artifact.tree:
            raise VerificationError(
                f"{origin} does not carry {artifact.name}: tree digest {got}, "
                f"expected {artifact.tree}",
                f"check the ref (the manifest names {artifact.git_ref or 'none'})",
            )
        tmp = self.staging(artifact)
        tmp.write_bytes(deterministic_targz(strip_top(members), top=artifact.name))
        return self.adopt(artifact, tmp, trust_on_first_use=False)


def deterministic_targz(members: list[Member], top: str, mtime: int = FIXED_MTIME) -> bytes:
    """members under top/ as a tar.gz that depends on nothing else: sorted, one mtime, owner
    0:0, fixed modes, a gzip header without name or time."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for m in sorted(members, key=lambda m: m.path):
            info = tarfile.TarInfo(f"{top}/{m.path}")
            info.mtime = mtime
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if m.kind == "d":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif m.kind == "l":
                info.type, info.linkname, info.mode = tarfile.SYMTYPE, m.target, 0o777
                tar.addfile(info)
            else:
                data = m.data
                info.size, info.mode = len(data), 0o755 if m.kind == "x" else 0o644
                tar.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def seed_hint(artifact: Artifact) -> str:
    lines = [
        f"download {artifact.urls[0]} elsewhere, then: patchkit sources add {artifact.filename}"
    ]
    if artifact.git_ref:
        repo = artifact.git_repo or "a clone that carries the tag"
        lines.append(
            f"or, from a clone of {repo}: "
            f"patchkit sources add-git CLONE {artifact.git_ref} --as {artifact.name}"
        )
    if not artifact.pinned:
        lines.append("(no checksum is known for it: add --trust-on-first-use if you trust it)")
    return "\n".join(lines)


def verdict_is_problem(artifact: Artifact, verdict: Verdict) -> bool:
    """A missing unpinned artifact is no problem: it is used only where a user supplies it."""
    if verdict.status == "missing":
        return artifact.pinned
    return not verdict.usable
