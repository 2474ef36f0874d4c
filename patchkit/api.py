"""patchkit's use cases as functions that take values and return data. The CLI formats what they
return; tests call them directly."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from patchkit.cache import Cache, Verdict
from patchkit.errors import ConfigError, VerificationError
from patchkit.fetch import FetchPolicy, Progress, fetch_artifact
from patchkit.runner import capture
from patchkit.sources import Artifact, Manifest, load_manifest
from patchkit.unpack import tar_bytes_members


def _select(manifest: Manifest, names: Sequence[str]) -> list[Artifact]:
    if not names:
        return list(manifest.artifacts)
    return [manifest.get(n) for n in names]


def sources_list(cache: Cache, names: Sequence[str] = (), manifest: Manifest | None = None
                 ) -> list[tuple[Artifact, Verdict]]:
    m = manifest or load_manifest()
    return [(a, cache.verify(a)) for a in _select(m, names)]


def verdict_is_problem(artifact: Artifact, verdict: Verdict) -> bool:
    """A missing unpinned artifact is no problem: it is used only where a user supplies it."""
    if verdict.status == "missing":
        return artifact.pinned
    return not verdict.usable


def sources_add(cache: Cache, path: Path, *, name: str | None = None,
                trust_on_first_use: bool = False, manifest: Manifest | None = None) -> Verdict:
    m = manifest or load_manifest()
    if not path.is_file():
        raise ConfigError(f"{path} is not a file", "give the path of a downloaded upstream file")
    artifact = m.get(name) if name else m.by_filename(path.name)
    if artifact is None:
        known = ", ".join(a.filename for a in m.artifacts)
        raise ConfigError(
            f"{path.name} is not a file patchkit knows",
            f"known files: {known}; or name the artifact with --as NAME",
        )
    if not artifact.pinned and not trust_on_first_use:
        raise VerificationError(
            f"{artifact.name} has no known checksum, so patchkit cannot verify your copy",
            "if you trust this copy, add it with --trust-on-first-use: its sha256 is recorded in "
            "the cache's trust.lock.json and checked from then on",
        )
    return cache.add_file(artifact, path, trust_on_first_use=trust_on_first_use)


def sources_add_git(cache: Cache, gitdir: Path, ref: str, name: str,
                    manifest: Manifest | None = None) -> Verdict:
    m = manifest or load_manifest()
    artifact = m.get(name)
    data = capture(["git", "-C", str(gitdir), "archive", "--format=tar", ref],
                   what=f"git archive {ref}")
    return cache.add_tree(artifact, tar_bytes_members(data), f"{gitdir} at {ref}")


def sources_fetch(cache: Cache, names: Sequence[str] = (), *, policy: FetchPolicy | None = None,
                  progress_for: object = None, trust_on_first_use: bool = False,
                  manifest: Manifest | None = None) -> list[Verdict]:
    """Download what is missing. Unpinned artifacts are skipped unless named with TOFU."""
    m = manifest or load_manifest()
    out = []
    for a in _select(m, names):
        if not a.pinned and not (names and trust_on_first_use):
            v = cache.verify(a)
            if v.status == "missing":
                out.append(Verdict(name=a.name, status="missing",
                                   detail="no checksum known: fetch it by name with "
                                          "--trust-on-first-use"))
                continue
            out.append(v)
            continue
        progress: Progress | None = progress_for(a) if callable(progress_for) else None
        out.append(fetch_artifact(a, cache, policy=policy, progress=progress,
                                  trust_on_first_use=trust_on_first_use))
    return out
