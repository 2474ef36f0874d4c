"""Downloading artifacts into the cache over HTTP(S).

Mirrors are tried in order. Per URL: transient errors (connection refused or reset, timeouts, 5xx,
a truncated body) are retried with exponential backoff, resuming with an HTTP Range request where
the server honours it; a 4xx is final for that URL. A downloaded file is verified before it is moved
into the cache; a mismatch deletes it and the next mirror is tried. When every URL failed, the error
lists what each one did and how to seed the cache by hand.
"""

from __future__ import annotations

import http.client
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from patchkit.errors import SourceUnavailable, VerificationError
from patchkit.sources.cache import Cache, Verdict, seed_hint
from patchkit.sources.manifest import Artifact
from patchkit.ui import Progress

USER_AGENT = "patchkit/0.1 (+reproducible qmail builds)"


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchPolicy:
    attempts: int = 4  # per URL, for transient errors
    backoff: float = 1.0  # seconds before the 2nd attempt; doubles after each
    timeout: float = 30.0  # seconds of silence before giving up on a connection
    chunk: int = 1 << 16


class _Permanent(Exception):
    """This URL will not work however often we ask (404, 403, bad scheme...)."""


class _Transient(Exception):
    """Worth another attempt at the same URL."""




def _open(url: str, offset: int, timeout: float) -> http.client.HTTPResponse:
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if offset:
        req.add_header("Range", f"bytes={offset}-")
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        if 400 <= e.code < 500 and e.code not in (408, 429):
            raise _Permanent(f"HTTP {e.code} {e.reason}") from e
        raise _Transient(f"HTTP {e.code} {e.reason}") from e
    except urllib.error.URLError as e:
        if isinstance(e.reason, ValueError | socket.gaierror) or "unknown url type" in str(e):
            raise _Permanent(f"cannot reach: {e.reason}") from e
        raise _Transient(f"cannot reach: {e.reason}") from e
    except (TimeoutError, ConnectionError, http.client.HTTPException) as e:
        raise _Transient(f"{type(e).__name__}: {e}") from e
    except ValueError as e:
        raise _Permanent(str(e)) from e
    return resp  # type: ignore[no-any-return]


def download_url(url: str, dest: Path, policy: FetchPolicy, progress: Progress | None = None,
                 expected_size: int | None = None) -> None:
    """Download url into dest (appending when resuming). Raises _Permanent or _Transient."""
    offset = dest.stat().st_size if dest.exists() else 0
    resp = _open(url, offset, policy.timeout)
    with resp:
        status = resp.status
        if offset and status != 206:
            offset = 0  # the server ignored our Range: start over
        length = resp.headers.get("Content-Length")
        total = offset + int(length) if length and length.isdigit() else expected_size
        mode = "ab" if offset else "wb"
        got = offset
        with dest.open(mode) as out:
            try:
                while True:
                    chunk = resp.read(policy.chunk)
                    if not chunk:
                        break
                    out.write(chunk)
                    got += len(chunk)
                    if progress:
                        progress(got, total)
            except (TimeoutError, ConnectionError, http.client.IncompleteRead, OSError) as e:
                raise _Transient(f"transfer broke after {got} bytes: {e}") from e
    if total is not None and got < total:
        raise _Transient(f"transfer ended after {got} of {total} bytes")


def fetch_artifact(artifact: Artifact, cache: Cache, *, policy: FetchPolicy | None = None,
                   progress: Progress | None = None, trust_on_first_use: bool = False,
                   sleep: Callable[[float], None] = time.sleep) -> Verdict:
    """Bring artifact into the cache unless a verified copy is there already."""
    current = cache.verify(artifact)
    if current.usable:
        return current
    if not artifact.pinned and not trust_on_first_use:
        raise VerificationError(
            f"{artifact.name} has no known checksum; patchkit will not download it unverified",
            "rerun with --trust-on-first-use to accept what the server sends and record its "
            "sha256, or add a copy you trust: " + seed_hint(artifact).splitlines()[0],
        )
    policy = policy or FetchPolicy()
    tmp = cache.staging(artifact)
    tmp.unlink(missing_ok=True)
    report: list[str] = []
    for url in artifact.urls:
        tmp.unlink(missing_ok=True)
        delay = policy.backoff
        for attempt in range(1, policy.attempts + 1):
            try:
                download_url(url, tmp, policy, progress, artifact.size)
            except _Permanent as e:
                report.append(f"{url}: {e}")
                break
            except _Transient as e:
                if attempt == policy.attempts:
                    report.append(f"{url}: {e} (gave up after {attempt} attempts)")
                    break
                sleep(delay)
                delay *= 2
                continue
            try:
                return cache.adopt(artifact, tmp, trust_on_first_use=trust_on_first_use)
            except VerificationError as e:
                report.append(f"{url}: served a file that failed verification: {e.message}")
                break
    tmp.unlink(missing_ok=True)
    tried = "\n  ".join(report)
    raise SourceUnavailable(
        f"could not download {artifact.name}; tried:\n  {tried}",
        seed_hint(artifact),
    )
