"""The docker backend against a real engine: the base image is bootstrapped from Debian packages
(no registry), a base builds in the build image, a repeat build compiles nothing, and the suite
runs in the container. Skips with one line when no engine answers; the builds also need the
upstream files (marked upstream)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import Built, make_home, patchkit, require_upstream, send_signed, tags
from harness import workdir as harness_workdir
from peers import dkim_txt, dkimpy_verify, rsa_key

from patchkit.errors import EngineError

pytestmark = [pytest.mark.docker]
SUITE = os.environ.get("PATCHKIT_TEST_SUITE", "bookworm")
BASE = "netqmail-1.06"


@pytest.fixture(scope="module")
def engine() -> Iterator[object]:
    from patchkit.docker import engine as container

    try:
        client = container.connect(timeout=30)
    except EngineError as e:
        pytest.skip(f"{e.message} (scripts/docker-up starts one)")
    yield client


@pytest.fixture(scope="module")
def base_image(engine: object) -> str:
    """patchkit-base:SUITE, bootstrapped here if the engine does not have it yet."""
    from patchkit.docker import engine as container
    from patchkit.docker import image

    ref = image.base_image(SUITE)
    if not container.image_exists(engine, ref):
        if os.geteuid() != 0:
            pytest.skip(f"{ref} is missing and bootstrapping it needs root: "
                        f"sudo patchkit image bootstrap --suite {SUITE}")
        patchkit("image", "bootstrap", "--suite", SUITE)
    return ref


@pytest.fixture(scope="module")
def workdir() -> Path:
    return harness_workdir() / "docker"


def test_bootstrapped_base_is_the_suite_it_names(engine: object, base_image: str) -> None:
    from patchkit.docker import engine as container

    spec = container.RunSpec(image=base_image, argv=(
        "sh", "-c", ". /etc/os-release; echo $VERSION_CODENAME; cat /sys/class/net/*/operstate "
        "2>/dev/null | wc -l"))
    r = container.run(engine, spec, on_line=lambda _: None)
    assert r.exit_code == 0
    codename, interfaces = r.stdout.decode().split()
    assert codename == SUITE
    assert interfaces == "1"  # network none: loopback only


def test_image_bootstrap_is_idempotent(base_image: str) -> None:
    out = json.loads(patchkit("image", "bootstrap", "--suite", SUITE, "--json").stdout)
    assert out == {"image": base_image, "present": True}


@pytest.mark.upstream
def test_build_in_container_then_rebuild_is_a_no_op(base_image: str, workdir: Path) -> None:
    require_upstream(BASE)
    args = ("build", "--backend", "docker", "--suite", SUITE, "--base", BASE,
            "--workdir", str(workdir), "--json")
    first = json.loads(patchkit(*args).stdout)
    out = Path(first["output_dir"])
    assert out == workdir.resolve() / f"docker-{SUITE}" / f"{BASE}+dkim" / "out"
    report = json.loads((out / "build.json").read_text())
    assert report["base"] == BASE
    assert "glibc" in report["toolchain"]["libc"]
    for rel in ("bin/qmail-smtpd", "bin/qmail-remote"):
        assert (out / rel).is_file() and report["outputs"][rel]
    second = json.loads(patchkit(*args).stdout)
    assert [r for r in second["stage_results"] if not r["skipped"]] == []
    assert second["outputs"] == first["outputs"]


@pytest.mark.upstream
def test_suite_runs_in_container(base_image: str, workdir: Path) -> None:
    require_upstream(BASE)
    junit = workdir / f"junit-{BASE}.xml"
    proc = patchkit("test", "--backend", "docker", "--suite", SUITE, "--base", BASE,
                    "--workdir", str(workdir), "--junit", str(junit), check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith(f"{BASE}: ") and " 0 failed, 0 errors" in proc.stdout
    assert "<testsuite" in junit.read_text()


MESSAGE = (b"From: Alice <alice@example.org>\nTo: Bob <bob@example.test>\nSubject: options\n"
           b"Date: Mon, 25 Nov 2024 12:00:00 +0000\nMessage-ID: <o1@example.org>\n\n"
           b"Hello  Bob,\n\nbye\n")


@pytest.mark.upstream
def test_build_options_reach_the_container(base_image: str, workdir: Path,
                                           tmp_path: Path) -> None:
    """A non-default render option changes what a docker-built qmail-remote signs: the first
    round's docker backend dropped them all, silently."""
    require_upstream(BASE)
    home = workdir / "homes" / "options"
    report = json.loads(patchkit(
        "build", "--backend", "docker", "--suite", SUITE, "--base", BASE, "--workdir",
        str(workdir / "options"), "--qmail-home", str(home), "--no-dk-sign",
        "--dkim-canon", "simple/simple", "--json").stdout)
    assert report["dkim_options"]["dk_sign"] is False
    built = Built(base=BASE, out=Path(report["output_dir"]), home=home, report=report)
    qhome = make_home(built, tmp_path)
    key = rsa_key(2048)
    keydir = tmp_path / "keys" / "example.org"
    keydir.mkdir(parents=True)
    (keydir / "default").write_bytes(key.pem)
    qhome.control("dksign", f"{tmp_path / 'keys'}/%/default\n")
    out, got = send_signed(built, qhome, MESSAGE, tmp_path)
    assert out.startswith(b"r"), out
    assert tags(got, "DKIM-Signature")["c"] in ("simple", "simple/simple")  # the same (RFC 6376)
    assert b"DomainKey-Signature:" not in got
    assert dkimpy_verify(got, {"default._domainkey.example.org": dkim_txt(key)}).ok
