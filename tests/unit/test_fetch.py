"""Downloading over HTTP from a local server: verification, mirrors, retries, resume, timeouts."""

from __future__ import annotations

import hashlib
import os
import socket
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from archives import TREE, expected_digest, tar_bytes
from conftest import NetworkBlocked, NetworkGuard
from localhttp import LocalServer, serve, serve_truncated, status

from patchkit import api
from patchkit.errors import SourceUnavailable, VerificationError
from patchkit.sources import fetch
from patchkit.sources.cache import TRUST_FILE, Cache
from patchkit.sources.manifest import Artifact, Manifest

PAYLOAD = os.urandom(50_000) + b"end of payload"
FAST = fetch.FetchPolicy(attempts=4, backoff=0.001, timeout=5.0, chunk=4096)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def art(urls: list[str], data: bytes = PAYLOAD, **kw: object) -> Artifact:
    pins: dict[str, object] = {"sha256": sha(data)}
    pins.update(kw)
    return Artifact(name="thing-1", version="1", kind="patch", filename="thing-1.patch",
                    urls=tuple(urls), **pins)  # type: ignore[arg-type]


@pytest.fixture
def c(tmp_path: Path) -> Cache:
    return Cache(tmp_path / "distdir")


def nothing_left(c: Cache, a: Artifact) -> bool:
    partial = [] if not c.partial_dir.exists() else os.listdir(c.partial_dir)
    return not c.path(a).exists() and partial == []


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def always(data: bytes, **kw: bool):  # type: ignore[no-untyped-def]
    def respond(h: BaseHTTPRequestHandler, n: int) -> None:
        serve(h, data, **kw)
    return respond


def always_status(code: int):  # type: ignore[no-untyped-def]
    def respond(h: BaseHTTPRequestHandler, n: int) -> None:
        status(h, code)
    return respond


# --------------------------------------------------------------------------- the guard itself


def test_network_guard_refuses_everything_but_loopback(network_guard: NetworkGuard) -> None:
    for address in [("192.0.2.1", 80), ("example.invalid", 443), ("2001:db8::1", 80, 0, 0)]:
        with pytest.raises(NetworkBlocked):
            socket.create_connection(address[:2], timeout=0.1)  # type: ignore[arg-type]
        with socket.socket() as s, pytest.raises(NetworkBlocked):
            s.connect(address[:2])
    with pytest.raises(NetworkBlocked), socket.socket() as s:
        s.connect_ex(("198.51.100.7", 80))
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen("http://example.invalid/", timeout=0.1)
    assert len(network_guard.blocked) == 8
    network_guard.blocked.clear()  # expected here; any other test touching them fails


def test_network_guard_lets_loopback_through(http_server: LocalServer) -> None:
    url = http_server.route("/hello", always(b"hi"))
    for host in ("127.0.0.1", "localhost"):
        with urllib.request.urlopen(url.replace("127.0.0.1", host), timeout=5) as r:
            assert r.read() == b"hi"
    assert len(http_server.seen("/hello")) == 2


# --------------------------------------------------------------------------- success paths


def test_download_verifies_and_caches(http_server: LocalServer, c: Cache) -> None:
    url = http_server.route("/a", always(PAYLOAD))
    seen_progress: list[tuple[int, int | None]] = []
    a = art([url])
    v = fetch.fetch_artifact(a, c, policy=FAST, progress=lambda d, t: seen_progress.append((d, t)))
    assert (v.status, v.how, v.path) == ("ok", "sha256", c.path(a))
    assert c.path(a).read_bytes() == PAYLOAD
    assert os.listdir(c.partial_dir) == []  # nothing in flight is left over
    req = http_server.seen("/a")
    assert len(req) == 1 and "Range" not in req[0].headers
    assert req[0].headers["User-Agent"] == fetch.USER_AGENT
    assert seen_progress[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert len(seen_progress) > 1  # chunked


def test_already_cached_makes_no_request(http_server: LocalServer, c: Cache) -> None:
    url = http_server.route("/a", always(PAYLOAD))
    a = art([url])
    fetch.fetch_artifact(a, c, policy=FAST)
    v = fetch.fetch_artifact(a, c, policy=FAST)
    assert v.status == "ok"
    assert len(http_server.seen("/a")) == 1


def test_tampered_cache_is_fetched_again(http_server: LocalServer, c: Cache) -> None:
    url = http_server.route("/a", always(PAYLOAD))
    a = art([url])
    fetch.fetch_artifact(a, c, policy=FAST)
    c.path(a).write_bytes(b"tampered")
    assert fetch.fetch_artifact(a, c, policy=FAST).status == "ok"
    assert c.path(a).read_bytes() == PAYLOAD
    assert len(http_server.seen("/a")) == 2


def test_stale_partial_is_not_resumed(http_server: LocalServer, c: Cache) -> None:
    url = http_server.route("/a", always(PAYLOAD))
    a = art([url])
    c.staging(a).write_bytes(b"junk from an older run")
    assert fetch.fetch_artifact(a, c, policy=FAST).status == "ok"
    assert "Range" not in http_server.seen("/a")[0].headers
    assert c.path(a).read_bytes() == PAYLOAD


def test_tree_pinned_archive_served_recompressed(http_server: LocalServer, c: Cache) -> None:
    data = tar_bytes(TREE, top="whatever")
    a = Artifact(name="pkg-1.0", version="1.0", kind="archive", filename="pkg-1.0.tar.gz",
                 urls=(http_server.route("/pkg", always(data)),), tree=expected_digest(TREE))
    v = fetch.fetch_artifact(a, c, policy=FAST)
    assert (v.status, v.how) == ("ok", "tree")


# --------------------------------------------------------------------------- verification


def test_sha256_mismatch_leaves_nothing_and_says_why(http_server: LocalServer, c: Cache) -> None:
    evil = PAYLOAD[:-3] + b"EVL"
    url = http_server.route("/a", always(evil))
    a = art([url])
    with pytest.raises(SourceUnavailable) as info:
        fetch.fetch_artifact(a, c, policy=FAST)
    msg = info.value.message
    assert url in msg
    assert sha(PAYLOAD) in msg and sha(evil) in msg
    assert "verification" in msg
    assert nothing_left(c, a)
    assert len(http_server.seen("/a")) == 1  # a bad file is not asked for again


def test_mismatch_on_first_mirror_then_good_second(http_server: LocalServer, c: Cache) -> None:
    a = art([http_server.route("/bad", always(b"wrong")),
             http_server.route("/good", always(PAYLOAD))])
    assert fetch.fetch_artifact(a, c, policy=FAST).status == "ok"
    assert c.path(a).read_bytes() == PAYLOAD
    assert [len(http_server.seen(p)) for p in ("/bad", "/good")] == [1, 1]


# --------------------------------------------------------------------------- mirrors and retries


def test_404_is_final_for_that_url_and_the_next_mirror_is_used(http_server: LocalServer,
                                                                c: Cache) -> None:
    sleeps = Sleeps()
    a = art([http_server.route("/gone", always_status(404)),
             http_server.route("/mirror", always(PAYLOAD))])
    v = fetch.fetch_artifact(a, c, policy=FAST, sleep=sleeps)
    assert v.status == "ok" and c.path(a).read_bytes() == PAYLOAD
    assert len(http_server.seen("/gone")) == 1  # not retried
    assert len(http_server.seen("/mirror")) == 1
    assert sleeps == []


@pytest.mark.parametrize(("code", "retried"), [(403, False), (410, False), (408, True),
                                               (429, True), (502, True), (503, True)])
def test_which_statuses_are_retried(http_server: LocalServer, c: Cache, code: int,
                                    retried: bool) -> None:
    def respond(h: BaseHTTPRequestHandler, n: int) -> None:
        status(h, code) if n == 1 else serve(h, PAYLOAD)

    a = art([http_server.route("/a", respond), http_server.route("/b", always(PAYLOAD))])
    assert fetch.fetch_artifact(a, c, policy=FAST, sleep=Sleeps()).status == "ok"
    assert len(http_server.seen("/a")) == (2 if retried else 1)
    assert len(http_server.seen("/b")) == (0 if retried else 1)


def test_500_is_retried_with_doubling_backoff(http_server: LocalServer, c: Cache) -> None:
    def respond(h: BaseHTTPRequestHandler, n: int) -> None:
        status(h, 500) if n <= 3 else serve(h, PAYLOAD)

    sleeps = Sleeps()
    a = art([http_server.route("/flaky", respond)])
    policy = fetch.FetchPolicy(attempts=4, backoff=0.25, timeout=5.0)
    v = fetch.fetch_artifact(a, c, policy=policy, sleep=sleeps)
    assert v.status == "ok" and c.path(a).read_bytes() == PAYLOAD
    assert len(http_server.seen("/flaky")) == 4
    assert sleeps == [0.25, 0.5, 1.0]


def test_500_everywhere_gives_up_after_the_attempts(http_server: LocalServer, c: Cache) -> None:
    sleeps = Sleeps()
    a = art([http_server.route("/a", always_status(500)),
             http_server.route("/b", always_status(503))])
    policy = fetch.FetchPolicy(attempts=3, backoff=0.1, timeout=5.0)
    with pytest.raises(SourceUnavailable) as info:
        fetch.fetch_artifact(a, c, policy=policy, sleep=sleeps)
    assert [len(http_server.seen(p)) for p in ("/a", "/b")] == [3, 3]
    assert sleeps == [0.1, 0.2, 0.1, 0.2]  # the backoff starts over for each mirror
    assert info.value.message.count("gave up after 3 attempts") == 2
    assert "HTTP 500" in info.value.message and "HTTP 503" in info.value.message
    assert nothing_left(c, a)


def test_all_mirrors_failing(http_server: LocalServer, c: Cache, free_port: int) -> None:
    urls = [
        http_server.route("/missing", always_status(404)),
        http_server.route("/broken", always_status(500)),
        f"http://127.0.0.1:{free_port}/refused",
    ]
    a = art(urls)
    with pytest.raises(SourceUnavailable) as info:
        fetch.fetch_artifact(a, c, policy=fetch.FetchPolicy(attempts=2, backoff=0.001),
                             sleep=Sleeps())
    e = info.value
    assert e.exit_code == 4
    for url in urls:
        assert url in e.message
    assert "404" in e.message and "500" in e.message
    assert "patchkit sources add" in e.hint and a.filename in e.hint
    assert nothing_left(c, a)


def test_bad_scheme_is_permanent(c: Cache) -> None:
    sleeps = Sleeps()
    a = art(["nosuchscheme://127.0.0.1/a"])
    with pytest.raises(SourceUnavailable) as info:
        fetch.fetch_artifact(a, c, policy=FAST, sleep=sleeps)
    assert "nosuchscheme://127.0.0.1/a" in info.value.message
    assert sleeps == []


# --------------------------------------------------------------------------- resume


def test_truncated_transfer_is_resumed_with_range(http_server: LocalServer, c: Cache) -> None:
    half = len(PAYLOAD) // 2

    def respond(h: BaseHTTPRequestHandler, n: int) -> None:
        if n == 1:
            serve_truncated(h, PAYLOAD, half)
        else:
            serve(h, PAYLOAD)  # honours Range with 206

    sleeps = Sleeps()
    a = art([http_server.route("/big", respond)])
    v = fetch.fetch_artifact(a, c, policy=FAST, sleep=sleeps)
    assert v.status == "ok"
    assert c.path(a).read_bytes() == PAYLOAD
    seen = http_server.seen("/big")
    assert len(seen) == 2
    assert "Range" not in seen[0].headers
    assert seen[1].headers.get("Range") == f"bytes={half}-"
    assert sleeps == [FAST.backoff]


def test_resume_when_the_server_ignores_range(http_server: LocalServer, c: Cache) -> None:
    half = len(PAYLOAD) // 2

    def respond(h: BaseHTTPRequestHandler, n: int) -> None:
        if n == 1:
            serve_truncated(h, PAYLOAD, half)
        else:
            serve(h, PAYLOAD, honour_range=False)  # 200 with the whole file

    a = art([http_server.route("/big", respond)])
    assert fetch.fetch_artifact(a, c, policy=FAST, sleep=Sleeps()).status == "ok"
    assert c.path(a).read_bytes() == PAYLOAD  # not the first half twice
    assert http_server.seen("/big")[1].headers.get("Range") == f"bytes={half}-"


def test_resume_twice(http_server: LocalServer, c: Cache) -> None:
    third = len(PAYLOAD) // 3

    def respond(h: BaseHTTPRequestHandler, n: int) -> None:
        if n == 1:
            serve_truncated(h, PAYLOAD, third)
        elif n == 2:
            # a 206 for the rest, broken off again after another third
            h.send_response(206)
            h.send_header("Content-Length", str(len(PAYLOAD) - third))
            h.end_headers()
            h.wfile.write(PAYLOAD[third:2 * third])
        else:
            serve(h, PAYLOAD)

    a = art([http_server.route("/big", respond)])
    assert fetch.fetch_artifact(a, c, policy=FAST, sleep=Sleeps()).status == "ok"
    assert c.path(a).read_bytes() == PAYLOAD
    ranges = [r.headers.get("Range") for r in http_server.seen("/big")]
    assert ranges == [None, f"bytes={third}-", f"bytes={2 * third}-"]


def test_truncation_without_content_length_caught_by_manifest_size(http_server: LocalServer,
                                                                   c: Cache) -> None:
    half = len(PAYLOAD) // 2

    def respond(h: BaseHTTPRequestHandler, n: int) -> None:
        if n == 1:
            serve_truncated(h, PAYLOAD, half, length=False)
        else:
            serve(h, PAYLOAD, length=False)

    a = art([http_server.route("/big", respond)], size=len(PAYLOAD))
    assert fetch.fetch_artifact(a, c, policy=FAST, sleep=Sleeps()).status == "ok"
    assert c.path(a).read_bytes() == PAYLOAD
    assert http_server.seen("/big")[1].headers.get("Range") == f"bytes={half}-"


def test_truncated_every_time_gives_up(http_server: LocalServer, c: Cache) -> None:
    def respond(h: BaseHTTPRequestHandler, n: int) -> None:
        serve_truncated(h, PAYLOAD, 10, length=True) if n == 1 else status(h, 503)

    a = art([http_server.route("/big", respond)])
    with pytest.raises(SourceUnavailable) as info:
        fetch.fetch_artifact(a, c, policy=fetch.FetchPolicy(attempts=2, backoff=0.001),
                             sleep=Sleeps())
    assert "gave up after 2 attempts" in info.value.message
    assert nothing_left(c, a)


# --------------------------------------------------------------------------- timeouts


def test_timeout_is_reported(http_server: LocalServer, c: Cache) -> None:
    def respond(h: BaseHTTPRequestHandler, n: int) -> None:
        http_server.release.wait(3.0)  # far longer than the client waits
        serve(h, PAYLOAD)

    url = http_server.route("/slow", respond)
    a = art([url])
    sleeps = Sleeps()
    t0 = time.monotonic()
    with pytest.raises(SourceUnavailable) as info:
        fetch.fetch_artifact(a, c, policy=fetch.FetchPolicy(attempts=2, backoff=0.001,
                                                           timeout=0.5), sleep=sleeps)
    elapsed = time.monotonic() - t0
    assert 0.9 < elapsed < 4.5  # two attempts of about 0.5 s each (not 2 x 3 s)
    msg = info.value.message
    assert url in msg and "timed out" in msg and "gave up after 2 attempts" in msg
    assert len(http_server.seen("/slow")) == 2 and sleeps == [0.001]
    assert nothing_left(c, a)


def test_stall_in_the_middle_of_the_body_is_a_timeout(http_server: LocalServer,
                                                      c: Cache) -> None:
    half = len(PAYLOAD) // 2

    def respond(h: BaseHTTPRequestHandler, n: int) -> None:
        if n == 1:
            h.send_response(200)
            h.send_header("Content-Length", str(len(PAYLOAD)))
            h.end_headers()
            h.wfile.write(PAYLOAD[:half])
            http_server.release.wait(3.0)
        else:
            serve(h, PAYLOAD)

    a = art([http_server.route("/stall", respond)])
    policy = fetch.FetchPolicy(backoff=0.001, timeout=0.5, chunk=4096)
    v = fetch.fetch_artifact(a, c, policy=policy, sleep=Sleeps())
    assert v.status == "ok" and c.path(a).read_bytes() == PAYLOAD
    second = http_server.seen("/stall")[1].headers.get("Range", "")
    # resumed from what had been written when the stall hit (whole chunks at least)
    assert second.startswith("bytes=") and second.endswith("-")
    assert half - policy.chunk <= int(second[6:-1]) <= half


# --------------------------------------------------------------------------- trust on first use


def test_unpinned_needs_the_flag_and_makes_no_request(http_server: LocalServer,
                                                      c: Cache) -> None:
    url = http_server.route("/u", always(PAYLOAD))
    a = Artifact(name="u-1", version="1", kind="patch", filename="u-1.patch", urls=(url,),
                 unpinned="never published")
    with pytest.raises(VerificationError) as info:
        fetch.fetch_artifact(a, c, policy=FAST)
    assert "--trust-on-first-use" in info.value.hint
    assert http_server.seen("/u") == []

    v = fetch.fetch_artifact(a, c, policy=FAST, trust_on_first_use=True)
    assert (v.status, v.how) == ("unverified", "trust-on-first-use")
    assert c.trusted() == {"u-1": sha(PAYLOAD)}
    assert (c.root / TRUST_FILE).is_file()


def test_api_fetch_skips_unpinned_unless_named_with_the_flag(http_server: LocalServer,
                                                             c: Cache) -> None:
    pinned = art([http_server.route("/p", always(PAYLOAD))])
    loose = Artifact(name="u-1", version="1", kind="patch", filename="u-1.patch",
                     urls=(http_server.route("/u", always(b"loose")),), unpinned="why not")
    m = Manifest(artifacts=(pinned, loose))
    out = api.sources_fetch(c, policy=FAST, trust_on_first_use=True, manifest=m)
    assert [(v.name, v.status) for v in out] == [("thing-1", "ok"), ("u-1", "missing")]
    assert http_server.seen("/u") == []

    out = api.sources_fetch(c, ["u-1"], policy=FAST, trust_on_first_use=True, manifest=m)
    assert [(v.name, v.status) for v in out] == [("u-1", "unverified")]
    assert len(http_server.seen("/u")) == 1
