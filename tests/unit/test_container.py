"""The docker backend against a fake SDK client (no engine): what would be created, with which
mounts, limits and network; removal whatever happens; the image build; reading apt's mirror;
bootstrap; the CLI's engine errors; the suite's JUnit summary."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from patchkit.build.plan import Options
from patchkit.cli import cli
from patchkit.docker import backend as dockerbuild
from patchkit.docker import dockerfile, image
from patchkit.docker import engine as container
from patchkit.errors import BuildFailed, ConfigError, EngineError, TestsFailed, ToolMissing
from patchkit.sources.cache import Cache
from patchkit.testing import integration as suite

# --------------------------------------------------------------------------- the fake client


class FakeContainer:
    def __init__(self, owner: FakeClient, kw: dict[str, Any]) -> None:
        self.owner, self.kw = owner, kw
        self.started = self.removed = False

    def start(self) -> None:
        if self.owner.fail_start:
            raise RuntimeError("engine refused to start it")
        self.started = True
        self.owner.on_start()

    def logs(self, *, stream: bool = False, follow: bool = False, stdout: bool = True,
             stderr: bool = True) -> Any:
        if stream:
            return self._stream(stdout)
        return self.owner.stdout

    def _stream(self, stdout: bool) -> Iterator[bytes]:
        data = self.owner.stderr + (self.owner.stdout if stdout else b"")
        for i in range(0, len(data), 7):  # chunks that split lines
            if self.owner.interrupt_after is not None and i >= self.owner.interrupt_after:
                raise KeyboardInterrupt
            yield data[i:i + 7]

    def wait(self) -> dict[str, int]:
        return {"StatusCode": self.owner.exit_code}

    def remove(self, force: bool = False) -> None:
        assert force
        self.removed = True


class FakeImages:
    def __init__(self, owner: FakeClient) -> None:
        self.owner = owner

    def list(self, name: str) -> list[str]:
        return [name] if name in self.owner.present else []

    def get_registry_data(self, ref: str) -> None:
        raise RuntimeError("no registry here")

    def pull(self, name: str, tag: str) -> Any:
        if not self.owner.can_pull:
            raise RuntimeError("lookup registry-1.docker.io: no such host")
        owner = self.owner

        class Img:
            def tag(self, repository: str, tag: str) -> None:
                owner.present.add(f"{repository}:{tag}")
        return Img()


class FakeAPI:
    def __init__(self, owner: FakeClient) -> None:
        self.owner = owner

    def build(self, **kw: Any) -> Iterator[dict[str, str]]:
        self.owner.builds.append(kw)
        yield {"stream": "Step 1/2 : FROM patchkit-base:bookworm\n"}
        yield from self.owner.build_chunks

    def import_image_from_file(self, filename: str, **kw: Any) -> str:
        self.owner.imports.append((filename, kw))
        return '{"status":"sha256:abc"}'


class FakeClient:
    def __init__(self, *, exit_code: int = 0, stdout: bytes = b"", stderr: bytes = b"") -> None:
        self.exit_code, self.stdout, self.stderr = exit_code, stdout, stderr
        self.fail_start = False
        self.on_start: Any = lambda: None  # what the command would do to the mounts
        self.interrupt_after: int | None = None
        self.can_pull = False
        self.present: set[str] = set()
        self.created: list[FakeContainer] = []
        self.builds: list[dict[str, Any]] = []
        self.build_chunks: list[dict[str, str]] = []
        self.imports: list[tuple[str, dict[str, Any]]] = []
        self.images = FakeImages(self)
        self.api = FakeAPI(self)
        self.containers = self

    def create(self, **kw: Any) -> FakeContainer:  # client.containers.create
        c = FakeContainer(self, kw)
        self.created.append(c)
        return c


def spec(tmp_path: Path, **kw: Any) -> container.RunSpec:
    ro, rw = tmp_path / "ro", tmp_path / "rw"
    ro.mkdir(exist_ok=True)
    rw.mkdir(exist_ok=True)
    return container.RunSpec(image="patchkit-build:bookworm-0123456789ab", argv=("true",),
                             mounts=(container.Mount(host=ro, target="/src"),
                                     container.Mount(host=rw, target="/work", read_only=False)),
                             **kw)


# --------------------------------------------------------------------------- run()


def test_create_kwargs_network_none_mounts_and_limits(tmp_path: Path) -> None:
    s = spec(tmp_path, user="1000:1000",
             limits=container.Limits(memory="2g", pids=512, cpus=1.5))
    kw = container.create_kwargs(s)
    assert kw["network_mode"] == "none"
    assert kw["volumes"] == {str(tmp_path / "ro"): {"bind": "/src", "mode": "ro"},
                             str(tmp_path / "rw"): {"bind": "/work", "mode": "rw"}}
    assert (kw["mem_limit"], kw["memswap_limit"], kw["pids_limit"]) == ("2g", "2g", 512)
    assert kw["nano_cpus"] == 1_500_000_000
    assert kw["user"] == "1000:1000" and kw["init"] is True and kw["detach"] is True
    assert kw["command"] == ["true"]


def test_run_streams_stderr_lines_returns_stdout_and_removes(tmp_path: Path) -> None:
    client = FakeClient(stdout=b'{"ok": 1}\n', stderr=b"patchkit: one\npatchkit: two\nlast")
    lines: list[str] = []
    r = container.run(client, spec(tmp_path), on_line=lines.append)
    assert r == container.RunResult(exit_code=0, stdout=b'{"ok": 1}\n')
    assert lines == ["patchkit: one", "patchkit: two", "last"]
    (c,) = client.created
    assert c.started and c.removed


def test_run_removes_container_when_command_fails(tmp_path: Path) -> None:
    client = FakeClient(exit_code=2, stderr=b"error: boom\n")
    assert container.run(client, spec(tmp_path), on_line=lambda _: None).exit_code == 2
    assert client.created[0].removed


def test_run_removes_container_on_keyboard_interrupt(tmp_path: Path) -> None:
    client = FakeClient(stderr=b"x" * 100)
    client.interrupt_after = 14
    with pytest.raises(KeyboardInterrupt):
        container.run(client, spec(tmp_path), on_line=lambda _: None)
    assert client.created[0].removed


def test_run_removes_container_when_start_fails(tmp_path: Path) -> None:
    client = FakeClient()
    client.fail_start = True
    with pytest.raises(RuntimeError):
        container.run(client, spec(tmp_path), on_line=lambda _: None)
    assert client.created[0].removed


def test_run_refuses_a_missing_mount_before_creating(tmp_path: Path) -> None:
    client = FakeClient()
    bad = container.RunSpec(image="i", argv=("true",),
                            mounts=(container.Mount(host=tmp_path / "nope", target="/x"),))
    with pytest.raises(EngineError, match="does not exist"):
        container.run(client, bad, on_line=lambda _: None)
    assert client.created == []


def test_no_engine_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    url = f"unix://{tmp_path}/no-engine.sock"
    monkeypatch.setenv("DOCKER_HOST", url)
    with pytest.raises(EngineError) as e:
        container.connect(timeout=2)
    assert e.value.message == (f"no Docker engine at {url}: start one (dockerd) or use "
                               "--backend local")
    assert e.value.exit_code == 10


# --------------------------------------------------------------------------- images


def test_build_image_sends_dockerfile_and_files_with_host_network() -> None:
    client = FakeClient()
    said: list[str] = []
    tag = container.build_image(client, "FROM x\n", "patchkit-build:t", say=said.append,
                                files={"pip-ca.crt": b"CERT"})
    assert tag == "patchkit-build:t"
    (kw,) = client.builds
    assert kw["tag"] == "patchkit-build:t" and kw["network_mode"] == "host"
    assert kw["pull"] is False and kw["custom_context"] is True and kw["forcerm"] is True
    with tarfile.open(fileobj=io.BytesIO(kw["fileobj"].getvalue())) as tar:
        got = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    assert got == {"Dockerfile": b"FROM x\n", "pip-ca.crt": b"CERT"}
    assert said == ["image patchkit-build:t: Step 1/2 : FROM patchkit-base:bookworm"]


def test_build_image_failure_shows_the_end_of_the_build() -> None:
    client = FakeClient()
    client.build_chunks = [{"stream": "E: Unable to locate package gcc\n"},
                           {"error": "The command returned a non-zero code: 100"}]
    with pytest.raises(EngineError) as e:
        container.build_image(client, "FROM x\n", "t", say=lambda _: None)
    assert "non-zero code: 100" in e.value.message
    assert "Unable to locate package gcc" in e.value.hint


def test_missing_base_that_cannot_be_pulled_names_the_bootstrap_command(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dockerbuild.os, "geteuid", lambda: 1000)  # not root: cannot bootstrap
    with pytest.raises(EngineError) as e:
        dockerbuild.ensure_base(FakeClient(), "trixie", lambda _: None)
    assert "patchkit-base:trixie is missing and cannot be pulled" in e.value.message
    assert e.value.hint.endswith("sudo patchkit image bootstrap --suite trixie")


def test_missing_base_is_bootstrapped_where_this_process_may(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dockerbuild.os, "geteuid", lambda: 0)
    monkeypatch.setattr(dockerbuild.shutil, "which", lambda name: f"/usr/sbin/{name}")
    client = FakeClient()
    made: list[str] = []

    def bootstrap(c: FakeClient, suite: str, *, say: Any) -> dict[str, Any]:
        assert c is client
        made.append(suite)
        c.present.add(image.base_image(suite))
        return {"image": image.base_image(suite)}

    monkeypatch.setattr(image, "bootstrap", bootstrap)
    said: list[str] = []
    assert dockerbuild.ensure_base(client, "trixie", said.append) == "patchkit-base:trixie"
    assert made == ["trixie"]
    assert any("bootstrapping patchkit-base:trixie" in s for s in said)


def test_missing_base_is_pulled_and_tagged_where_the_engine_can() -> None:
    client = FakeClient()
    client.can_pull = True
    assert dockerbuild.ensure_base(client, "bookworm", lambda _: None) == "patchkit-base:bookworm"
    assert "patchkit-base:bookworm" in client.present


# --------------------------------------------------------------------------- dockerbuild


@pytest.fixture
def fake_engine(monkeypatch: pytest.MonkeyPatch) -> FakeClient:
    client = FakeClient()
    monkeypatch.setattr(container, "connect", lambda timeout=120: client)
    monkeypatch.setattr(dockerbuild, "require_base_inputs", lambda base, cache: None)
    monkeypatch.setattr(dockerbuild, "pip_cert_file", lambda: None)
    text = dockerfile.render("bookworm", reqs=dockerfile.installed_requirements())
    client.present.add(dockerfile.image_tag("bookworm", text))  # the image is already built
    return client


def test_docker_build_runs_local_build_in_container(fake_engine: FakeClient,
                                                    tmp_path: Path) -> None:
    state = tmp_path / "w" / "docker-bookworm"
    inner_out = state / "netqmail-1.06" / "out"
    inner_out.mkdir(parents=True)
    (inner_out / "build.json").write_text("{}")
    fake_engine.stdout = json.dumps({"output_dir": "/work/netqmail-1.06/out",
                                     "stage_results": []}).encode()
    fake_engine.stderr = b"patchkit: qmail: building (log: /work/netqmail-1.06/logs/q.log)\n"
    said: list[str] = []
    cache = Cache(tmp_path / "cache")
    cache.root.mkdir()
    report = dockerbuild.build(Options(base="netqmail-1.06", dkim=False, jobs=3), cache,
                               tmp_path / "w", None, suite="bookworm", say=said.append)
    assert report["output_dir"] == str(inner_out)
    assert report["backend"]["name"] == "docker"
    assert f"[bookworm] qmail: building (log: {state}/netqmail-1.06/logs/q.log)" in said
    (c,) = fake_engine.created
    kw = c.kw
    assert kw["network_mode"] == "none" and c.removed
    vols = {v["bind"]: (k, v["mode"]) for k, v in kw["volumes"].items()}
    assert vols["/distfiles"] == (str(cache.root.resolve()), "ro")
    assert vols["/work"] == (str(state), "rw")
    assert vols["/src"][1] == "ro"
    argv = kw["command"]
    assert argv[:4] == ["patchkit", "build", "--backend", "local"]
    assert argv[argv.index("--workdir") + 1] == "/work"
    assert argv[argv.index("--jobs") + 1] == "3"
    assert "--json" in argv and "--no-dkim" in argv


def test_docker_build_copies_outputs_to_the_chosen_dir(fake_engine: FakeClient,
                                                      tmp_path: Path) -> None:
    inner_out = tmp_path / "w" / "docker-bookworm" / "netqmail-1.06" / "out"
    (inner_out / "bin").mkdir(parents=True)
    (inner_out / "bin" / "qmail-smtpd").write_text("elf")
    fake_engine.stdout = json.dumps({"output_dir": "/work/netqmail-1.06/out",
                                     "stage_results": []}).encode()
    dest = tmp_path / "dest"
    (tmp_path / "cache").mkdir()
    report = dockerbuild.build(Options(base="netqmail-1.06", dkim=False), Cache(tmp_path / "cache"),
                               tmp_path / "w", dest, suite="bookworm", say=lambda _: None)
    assert report["output_dir"] == str(dest.resolve())
    assert (dest / "bin" / "qmail-smtpd").read_text() == "elf"


def test_docker_build_failure_names_step_and_keeps_full_log(fake_engine: FakeClient,
                                                          tmp_path: Path) -> None:
    logs = tmp_path / "w" / "docker-bookworm" / "netqmail-1.06" / "logs"
    logs.mkdir(parents=True)
    (logs / "qmail.log").write_text("cc ...\nqmail-smtpd.c:12: error: oops\n")
    fake_engine.exit_code = 8
    fake_engine.stderr = (b"patchkit: qmail: building\n"
                          b"error: step 'qmail: make' failed with exit 2\n"
                          b"hint: last lines of /work/netqmail-1.06/logs/qmail.log:\n"
                          b"qmail-smtpd.c:12: error: oops\n")
    (tmp_path / "cache").mkdir()
    with pytest.raises(BuildFailed) as e:
        dockerbuild.build(Options(base="netqmail-1.06", dkim=False), Cache(tmp_path / "cache"),
                          tmp_path / "w", None, suite="bookworm", say=lambda _: None)
    assert "step 'qmail: make' failed with exit 2" in e.value.message
    assert f"last lines of {logs}/qmail.log:" in e.value.hint
    assert "qmail-smtpd.c:12: error: oops" in e.value.hint
    kept = tmp_path / "w" / "docker-bookworm" / "netqmail-1.06" / "out" / "logs" / "qmail.log"
    assert kept.read_text().endswith("oops\n")
    assert f"full log(s): {kept}" in e.value.hint
    assert fake_engine.created[0].removed


def test_error_from_keeps_the_inner_error_class() -> None:
    err = dockerbuild.error_from(["error: x is not installed", "hint: apt-get install x"], 9, "i")
    assert isinstance(err, ToolMissing) and err.hint == "apt-get install x"
    assert isinstance(dockerbuild.error_from(["Killed"], 137, "i"), EngineError)
    odd = dockerbuild.error_from(["Traceback ...", "boom"], 1, "i")
    assert "exited 1" in odd.message and "boom" in odd.hint


# --------------------------------------------------------------------------- apt mirror

ONE_LINE = """\
# deb http://old.example/debian bookworm main
deb-src http://src.example/debian bookworm main
deb [arch=amd64 signed-by=/k.gpg] https://packages.cloud.google.com/apt cloud-sdk-bookworm main
deb [ arch=amd64 ] http://ftp.de.debian.org/debian/ bookworm main contrib
deb http://security.debian.org/debian-security bookworm-security main
"""

DEB822 = """\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
"""

NODESOURCE = """\
Types: deb
URIs: https://deb.nodesource.com/node_20.x
Suites: nodistro
Components: main
"""


def test_one_line_sources_skip_options_comments_and_deb_src() -> None:
    srcs = image.parse_one_line(ONE_LINE, "sources.list")
    assert [(s.types, s.uris, s.suites) for s in srcs] == [
        (("deb-src",), ("http://src.example/debian",), ("bookworm",)),
        (("deb",), ("https://packages.cloud.google.com/apt",), ("cloud-sdk-bookworm",)),
        (("deb",), ("http://ftp.de.debian.org/debian/",), ("bookworm",)),
        (("deb",), ("http://security.debian.org/debian-security",), ("bookworm-security",)),
    ]
    assert srcs[2].components == ("main", "contrib")
    assert image.debian_mirror(srcs) == "http://ftp.de.debian.org/debian"


def test_deb822_stanzas_and_disabled_ones() -> None:
    srcs = image.parse_deb822(DEB822, "debian.sources")
    assert len(srcs) == 2
    assert srcs[0].suites == ("bookworm", "bookworm-updates")
    assert image.debian_mirror(srcs) == "http://deb.debian.org/debian"
    off = image.parse_deb822("Enabled: no\n" + DEB822.split("\n\n")[0], "x.sources")
    assert image.debian_mirror(off) is None


def test_third_party_and_security_sources_are_not_mirrors() -> None:
    srcs = (image.parse_deb822(NODESOURCE, "n.sources")
            + image.parse_deb822(DEB822.split("\n\n")[1], "s.sources"))
    assert image.debian_mirror(srcs) is None


def test_host_sources_read_list_and_sources_files_only(tmp_path: Path) -> None:
    d = tmp_path / "sources.list.d"
    d.mkdir()
    (d / "nodesource.sources").write_text(NODESOURCE)
    (d / "debian.sources").write_text(DEB822)
    (d / "other.list.disabled-by-farm").write_text("deb http://wrong.example/debian sid main\n")
    assert image.host_mirror(tmp_path) == "http://deb.debian.org/debian"
    (tmp_path / "sources.list").write_text("deb http://first.example/debian trixie main\n")
    assert image.host_mirror(tmp_path) == "http://first.example/debian"


def test_no_mirror_says_how_to_give_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        image.host_mirror(tmp_path)
    assert "--mirror" in e.value.hint


# --------------------------------------------------------------------------- bootstrap


def test_bootstrap_runs_debootstrap_minbase_and_imports(monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    ran: list[tuple[str, ...]] = []

    def fake_step(step: Any, log: Path) -> None:
        ran.append(step.argv)
        if step.argv[0] == "debootstrap":
            (Path(step.argv[3]) / "etc").mkdir(parents=True)
        else:
            Path(step.argv[step.argv.index("-cf") + 1]).write_bytes(b"tar")

    monkeypatch.setattr(image, "run_step", fake_step)
    monkeypatch.setattr(image, "check_debootstrap", lambda suite: "/usr/sbin/debootstrap")
    monkeypatch.setattr(image, "require_tool", lambda name, hint: name)
    monkeypatch.setattr(image.os, "geteuid", lambda: 0)
    client = FakeClient()
    out = image.bootstrap(client, "trixie", mirror="http://m.example/debian",
                          say=lambda _: None, tmp_root=tmp_path)
    assert ran[0][:3] == ("debootstrap", "--variant=minbase", "trixie")
    assert ran[0][-1] == "http://m.example/debian"
    (_tarball, kw) = client.imports[0]
    assert (kw["repository"], kw["tag"]) == ("patchkit-base", "trixie")
    assert "LABEL org.patchkit.mirror=http://m.example/debian" in kw["changes"]
    assert out["image"] == "patchkit-base:trixie"
    assert list(tmp_path.iterdir()) == []  # the temporary tree is gone


def test_debootstrap_without_the_suite_script_says_what_is_missing(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(image, "require_tool", lambda name, hint: name)
    monkeypatch.setattr(image, "DEBOOTSTRAP_SCRIPTS", tmp_path)
    with pytest.raises(ToolMissing) as e:
        image.check_debootstrap("trixie")
    assert f"no script for trixie ({tmp_path}/trixie missing)" in e.value.message
    assert "debootstrap" in e.value.hint


# --------------------------------------------------------------------------- CLI


def test_cli_build_in_container_without_engine_exits_10(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    url = f"unix://{tmp_path}/none.sock"
    monkeypatch.setenv("DOCKER_HOST", url)
    monkeypatch.setattr(dockerbuild, "require_base_inputs", lambda base, cache: None)
    r = CliRunner().invoke(cli, ["--distdir", str(tmp_path), "build", "--backend", "docker",
                                 "--base", "netqmail-1.06", "--workdir", str(tmp_path / "w")])
    assert r.exit_code == 10, r.output
    assert f"error: no Docker engine at {url}: start one (dockerd) or use --backend local" \
        in r.stderr


@pytest.mark.spawns
def test_cli_doctor_json_reports_missing_engine_with_a_fix(monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
    r = CliRunner().invoke(cli, ["--distdir", str(tmp_path), "doctor", "--json"])
    assert r.exit_code == 0, r.output
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    assert rows["docker engine"]["ok"] is False
    assert "docker-up" in rows["docker engine"]["fix"]
    assert rows["cache"]["ok"] is False and "sources fetch" in rows["cache"]["fix"]
    assert {"compilers", "openssl headers", "debootstrap", "nss_wrapper"} <= set(rows)


@pytest.mark.spawns
def test_cli_doctor_with_engine_lists_base_images(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    client = FakeClient()
    client.present.add("patchkit-base:bookworm")
    client.version = lambda: {"Version": "20.10.24"}  # type: ignore[attr-defined]
    monkeypatch.setattr(container, "connect", lambda timeout=120: client)
    r = CliRunner().invoke(cli, ["--distdir", str(tmp_path), "doctor", "--json"])
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    assert rows["docker engine"]["ok"] and "20.10.24" in rows["docker engine"]["detail"]
    assert rows["registry"]["ok"] is False
    assert rows["image patchkit-base:bookworm"]["ok"] is True
    assert rows["image patchkit-base:trixie"]["fix"] == \
        "patchkit image bootstrap --suite trixie"


# --------------------------------------------------------------------------- suite results

JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0"
 failures="1" skipped="1" tests="4" time="3.5"><testcase classname="t.test_bases" name="a[x]"/>
<testcase classname="t.test_bases" name="b[x]"><failure message="boom"/></testcase>
<testcase classname="t.test_bases" name="c[x]"><skipped message="no cache"/></testcase>
<testcase classname="t.test_bases" name="d[x]"/></testsuite></testsuites>"""


def test_junit_summary_counts_and_failures() -> None:
    s = suite.junit_summary(JUNIT, "x")
    assert (s["passed"], s["failures"], s["skipped"], s["seconds"]) == (2, 1, 1, 3.5)
    assert s["failed"] == ["t.test_bases::b[x]"]
    assert suite.summary_line(s).startswith("x: 2 passed, 1 failed, 0 errors, 1 skipped")
    with pytest.raises(TestsFailed, match="1 test"):
        suite.raise_on_failure(s)


ALL_SKIPPED = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest"
 errors="0" failures="0" skipped="2" tests="2" time="0.1">
<testcase classname="t.test_bases" name="a[x]"><skipped message="no cache"/></testcase>
<testcase classname="t.test_bases" name="b[x]"><skipped message="no cache"/></testcase>
</testsuite></testsuites>"""


def test_a_run_where_everything_skipped_is_not_a_pass() -> None:
    s = suite.junit_summary(ALL_SKIPPED, "x")  # what pytest writes when every test skipped
    assert (s["passed"], s["failures"], s["errors"], s["skipped"]) == (0, 0, 0, 2)
    with pytest.raises(TestsFailed, match="no test ran for x: no cache"):
        suite.raise_on_failure(s)


def test_pytest_argv_selects_the_base_and_leaves_docker_tests_out() -> None:
    argv = suite.pytest_argv("python", "notqmail-1.09", "/work/j.xml")
    assert argv[argv.index("-k") + 1] == "notqmail-1.09"
    assert argv[:3] == ["python", "-m", "pytest"]
    assert argv[argv.index("-m", 3) + 1] == "upstream and not docker"
    assert "--junitxml=/work/j.xml" in argv


# --------------------------------------------------------------------------- one SDK importer


def test_only_container_imports_the_sdk() -> None:
    import re as _re

    pkg = Path(container.__file__).parent
    pattern = _re.compile(r"^\s*(import docker\b|from docker\b)|import_module\(\"docker\"\)", _re.M)
    root = pkg.parent
    importers = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.py")
                       if pattern.search(p.read_text()))
    assert importers == ["docker/engine.py"]


@pytest.mark.spawns
def test_cli_import_does_not_load_the_sdk() -> None:
    import subprocess
    import sys

    code = "import sys, patchkit.cli, patchkit.docker.backend; print('docker' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"


def test_suite_in_container_copies_junit_back(fake_engine: FakeClient, tmp_path: Path) -> None:
    state = tmp_path / "w" / "docker-bookworm"
    state.mkdir(parents=True)
    (state / "junit-netqmail-1.06.xml").write_text("stale, from an earlier run")
    fake_engine.on_start = lambda: (state / "junit-netqmail-1.06.xml").write_text(
        JUNIT.replace('failures="1"', 'failures="0"').replace('<failure message="boom"/>', ""))
    fake_engine.stdout = b"..s.\n3 passed, 1 skipped\n"
    (tmp_path / "cache").mkdir()
    said: list[str] = []
    junit = tmp_path / "ci" / "junit.xml"
    s = dockerbuild.test("netqmail-1.06", Cache(tmp_path / "cache"), tmp_path / "w", junit,
                         suite="bookworm", say=said.append)
    assert junit.is_file() and s["junit"] == str(junit.resolve())
    assert (s["passed"], s["failures"]) == (3, 0)
    assert "[bookworm] 3 passed, 1 skipped" in said
    (c,) = fake_engine.created
    assert c.kw["network_mode"] == "none" and c.removed
    assert c.kw["environment"] == {"PATCHKIT_TEST_WORKDIR": "/work/tests"}
    assert c.kw["user"] == "0:0" and c.kw["cap_add"] == ["SYS_ADMIN"]
    cmd = c.kw["command"]
    if cmd[0] == "sh":  # run as a non-root host user: results chowned back to them
        assert container.host_user() in cmd[2] and "/work/tests" in cmd[2]
        cmd = cmd[4:]
    assert cmd[:3] == ["python", "-m", "pytest"]


@pytest.mark.spawns
def test_then_chown_keeps_status_and_skips_root() -> None:
    argv = ("python", "-m", "pytest")
    assert container.then_chown(argv, "0:0", ("/work/t",)) == argv
    wrapped = container.then_chown(argv, "1000:100", ("/work/t", "/work/j.xml"))
    assert wrapped[:2] == ("sh", "-c") and wrapped[3:] == ("sh", *argv)
    assert "chown -R 1000:100 /work/t /work/j.xml" in wrapped[2]
    assert wrapped[2].endswith("exit $rc")
    import subprocess

    assert subprocess.run(list(container.then_chown(("sh", "-c", "exit 3"), "1:1", ("/nx",))),
                          check=False).returncode == 3
