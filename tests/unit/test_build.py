"""patchkit.build.executor on synthetic plans: tiny tar.gz sources in a tmp cache, tiny shell
steps, run counting, skipping, invalidation, failures; installed_files/collect on a synthetic
hier.c."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from archives import write_targz

from patchkit.build import executor as build
from patchkit.build.plan import CompileStage, Options, Plan, SourceStage
from patchkit.errors import BuildFailed, VerificationError
from patchkit.patching.series import Toolchain
from patchkit.sources.cache import Cache
from patchkit.sources.manifest import Artifact
from patchkit.steps import Step

pytestmark = pytest.mark.spawns  # the executor runs real (tiny) shell steps

TC = Toolchain(compiler="gcc", compiler_version=(12, 2, 0), openssl_version=(3, 0, 19))

HIER = b"""#include "auto_qmail.h"
void hier()
{
  h(auto_qmail,auto_uido,auto_gidq,0755);
  d(auto_qmail,"bin",auto_uido,auto_gidq,0755);
  c(auto_qmail,"bin","qmail-send",auto_uido,auto_gidq,0711);
  c(auto_qmail, "bin", "qmail-inject",auto_uido,auto_gidq,0755);
  c(auto_qmail,"man/man8","qmail-send.8",auto_uido,auto_gidq,0644);
  c(auto_qmail,"man/cat8","qmail-send.0",auto_uido,auto_gidq,0644);
  c(auto_qmail,"man/man5","dot-qmail.5",auto_uido,auto_gidq,0644);
  c(auto_qmail,"doc","FAQ",auto_uido,auto_gidq,0644);
  c(auto_qmail,"boot","home",auto_uido,auto_gidq,0755);
}
"""


def artifact(name: str, data: bytes, kind: str = "archive", ext: str = ".tar.gz") -> Artifact:
    return Artifact(name=name, version="1.0", kind=kind, filename=name + ext,
                    urls=(f"https://example.invalid/{name}{ext}",),
                    sha256=hashlib.sha256(data).hexdigest())


def add(cache: Cache, tmp: Path, a: Artifact, data: bytes) -> None:
    p = tmp / ("in-" + a.filename)
    p.write_bytes(data)
    cache.add_file(a, p)


def sh(name: str, root: Path, component: str, script: str) -> Step:
    return Step(name=name, argv=("sh", "-c", script), cwd=root / "build" / component)


@dataclasses.dataclass
class Synth:
    root: Path
    cache: Cache
    plan: Plan
    said: list[str]

    def run(self, plan: Plan | None = None) -> dict[str, bool]:
        res = build.execute(plan or self.plan, self.cache, say=self.said.append)
        return {r.name: r.skipped for r in res}

    def runs(self) -> list[str]:
        log = self.root / "ran.log"
        return log.read_text().split() if log.exists() else []


@pytest.fixture
def synth(tmp_path: Path) -> Synth:
    cache = Cache(tmp_path / "cache")
    up = b"--- a/file.txt\n+++ b/file.txt\n@@ -1 +1,2 @@\n alpha\n+patched by upstream\n"
    demo_tgz = tmp_path / "demo.tgz"
    write_targz(demo_tgz, [("file.txt", "f", b"alpha\n"), ("tool.sh", "x", b"#!/bin/sh\n")],
                top="demo-1.0")
    other_tgz = tmp_path / "other.tgz"
    write_targz(other_tgz, [("o.txt", "f", b"other\n")], top="other-2.0")
    a_demo = artifact("demo-1.0", demo_tgz.read_bytes())
    a_other = artifact("other-2.0", other_tgz.read_bytes())
    a_up = artifact("demo-up", up, kind="patch", ext=".patch")
    for a, data in ((a_demo, demo_tgz.read_bytes()), (a_other, other_tgz.read_bytes()),
                    (a_up, up)):
        add(cache, tmp_path, a, data)
    root = tmp_path / "work" / "v"
    sources = (
        SourceStage(name="src-demo", component="demo", tree=a_demo, upstream=(a_up,),
                    patches=(), key="s-demo-1"),
        SourceStage(name="src-other", component="other", tree=a_other, upstream=(),
                    patches=(), key="s-other-1"),
    )
    compiles = (
        CompileStage(name="demo", component="demo", source="src-demo", key="c-demo-1",
                     files={"conf-x": "from the plan\n"},
                     steps=(sh("demo: make", root, "demo",
                               "cat conf-x file.txt > out && echo demo >> ../../ran.log"),
                            sh("demo: second", root, "demo", "test -x tool.sh && cp out out2")),
                     outputs=("build/demo/out", "build/demo/out2")),
        CompileStage(name="other", component="other", source="src-other", key="c-other-1",
                     files={}, steps=(sh("other: make", root, "other",
                                         "cp o.txt res && echo other >> ../../ran.log"),),
                     outputs=("build/other/res",), needs_users=True),
    )
    plan = Plan(options=Options(base="qmail-1.03", dkim=False), toolchain=TC, root=root,
                sources=sources,
                compiles=compiles, conf={"conf-qmail": "/var/qmail\n"})
    return Synth(root=root, cache=cache, plan=plan, said=[])


ALL_RUN = {"src-demo": False, "src-other": False, "demo": False, "other": False}
ALL_SKIPPED = {"src-demo": True, "src-other": True, "demo": True, "other": True}


def test_first_run_runs_everything_second_skips_everything(synth: Synth) -> None:
    assert synth.run() == ALL_RUN
    assert synth.runs() == ["demo", "other"]
    root = synth.root
    assert (root / "build/demo/out").read_bytes() == b"from the plan\nalpha\npatched by upstream\n"
    assert (root / "src/demo/file.txt").read_bytes() == b"alpha\npatched by upstream\n"
    assert not (root / "src/demo/conf-x").exists()  # compile files go to the build copy only
    assert not (root / "src/demo/conf-qmail").exists()  # plan.conf is for the qmail tree only
    assert (root / "build/other/res").read_text() == "other\n"
    stamp = json.loads((root / "stamps/demo.json").read_text())
    assert stamp["key"] == "c-demo-1"
    assert set(stamp["outputs"]) == {"build/demo/out", "build/demo/out2"}
    assert json.loads((root / "stamps/src-demo.json").read_text()) == {"key": "s-demo-1",
                                                                       "outputs": {}}
    log = (root / "logs/demo.log").read_text()
    assert "### demo: make" in log and "### demo: second" in log
    assert any("src-demo" in m for m in synth.said) and any("demo: building" in m
                                                            for m in synth.said)
    n_said = len(synth.said)
    assert synth.run() == ALL_SKIPPED
    assert synth.run() == ALL_SKIPPED
    assert synth.runs() == ["demo", "other"]
    assert len(synth.said) == n_said  # nothing to say when everything is skipped


def test_needs_users_writes_nss_files(synth: Synth) -> None:
    synth.run()
    passwd = (synth.root / "nss/passwd").read_text()
    assert passwd.startswith("root:x:0:0:") and "qmailq:" in passwd
    assert "qmail:x:2107:" in (synth.root / "nss/group").read_text()


@pytest.mark.parametrize("how", ["delete", "edit"])
def test_changed_output_reruns_that_stage_only(synth: Synth, how: str) -> None:
    synth.run()
    out = synth.root / "build/demo/out2"
    if how == "delete":
        out.unlink()
    else:
        out.write_bytes(out.read_bytes() + b"tampered\n")
    assert synth.run() == {**ALL_SKIPPED, "demo": False}
    assert synth.runs() == ["demo", "other", "demo"]
    assert b"tampered" not in out.read_bytes()
    assert synth.run() == ALL_SKIPPED


def test_changed_compile_key_reruns(synth: Synth) -> None:
    synth.run()
    demo, other = synth.plan.compiles
    plan = dataclasses.replace(synth.plan, compiles=(demo, dataclasses.replace(other, key="c2")))
    assert synth.run(plan) == {**ALL_SKIPPED, "other": False}
    assert synth.run(plan) == ALL_SKIPPED
    assert synth.run() == {**ALL_SKIPPED, "other": False}  # back to the old key: build again
    assert synth.runs() == ["demo", "other", "other", "other"]


def test_changed_source_key_reruns_source_and_its_compiles(synth: Synth) -> None:
    synth.run()
    s_demo, s_other = synth.plan.sources
    plan = dataclasses.replace(synth.plan,
                               sources=(s_demo, dataclasses.replace(s_other, key="s2")))
    assert synth.run(plan) == {**ALL_SKIPPED, "src-other": False, "other": False}
    assert synth.run(plan) == ALL_SKIPPED


def test_deleted_source_tree_reruns_source_and_compile(synth: Synth) -> None:
    synth.run()
    shutil.rmtree(synth.root / "src/demo")
    assert synth.run() == {**ALL_SKIPPED, "src-demo": False, "demo": False}
    assert (synth.root / "src/demo/file.txt").is_file()


@pytest.mark.parametrize("damage", ["garbage", "missing"])
def test_damaged_stamp_reruns(synth: Synth, damage: str) -> None:
    synth.run()
    stamp = synth.root / "stamps/other.json"
    if damage == "garbage":
        stamp.write_text("{not json")
    else:
        stamp.unlink()
    assert synth.run() == {**ALL_SKIPPED, "other": False}


def test_stage_ok(synth: Synth) -> None:
    plan = synth.plan
    assert not build._stage_ok(plan, "demo", "c-demo-1")
    synth.run()
    assert build._stage_ok(plan, "demo", "c-demo-1")
    assert not build._stage_ok(plan, "demo", "another-key")
    assert not build._stage_ok(plan, "nonexistent", "c-demo-1")


def test_failing_step_raises_build_failed_with_log_tail(synth: Synth) -> None:
    demo, other = synth.plan.compiles
    bad = dataclasses.replace(other, steps=(
        sh("other: make", synth.root, "other",
           "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28;"
           " do echo noise $i; done; echo 'cc: error: frob.c: No such file' >&2; exit 3"),
        sh("other: never", synth.root, "other", "echo never >> ../../ran.log"),
    ))
    plan = dataclasses.replace(synth.plan, compiles=(demo, bad))
    with pytest.raises(BuildFailed) as ei:
        synth.run(plan)
    e = ei.value
    assert "other: make" in e.message and "exit 3" in e.message
    assert "cc: error: frob.c: No such file" in e.hint
    assert "noise 28" in e.hint and "noise 1\n" not in e.hint  # only the tail
    assert str(synth.root / "logs/other.log") in e.hint
    assert e.exit_code == 8
    assert "never" not in synth.runs()
    assert not (synth.root / "stamps/other.json").exists()
    # the stages before the failure stay done; the failed one runs again next time
    assert synth.run() == {**ALL_SKIPPED, "other": False}


def test_missing_declared_output_is_build_failed(synth: Synth) -> None:
    demo, other = synth.plan.compiles
    bad = dataclasses.replace(other, outputs=("build/other/res", "build/other/never-made"))
    plan = dataclasses.replace(synth.plan, compiles=(demo, bad))
    with pytest.raises(BuildFailed, match="did not produce build/other/never-made"):
        synth.run(plan)
    assert not (synth.root / "stamps/other.json").exists()


def test_bad_cached_source_is_a_verification_error(synth: Synth) -> None:
    synth.cache.path(synth.plan.sources[1].tree).write_bytes(b"not the archive")
    with pytest.raises(VerificationError):
        synth.run()


# --------------------------------------------------------------------------- qmail outputs


def test_installed_files_from_hier_c(tmp_path: Path) -> None:
    (tmp_path / "hier.c").write_bytes(HIER)
    assert build.installed_files(tmp_path) == [
        "bin/qmail-inject", "bin/qmail-send", "man/cat8/qmail-send.0", "man/man5/dot-qmail.5",
        "man/man8/qmail-send.8"]


def test_installed_files_without_bin_is_build_failed(tmp_path: Path) -> None:
    (tmp_path / "hier.c").write_text('c(auto_qmail,"man/man8","x.8",0,0,0644);\n')
    with pytest.raises(BuildFailed, match=r"hier\.c"):
        build.installed_files(tmp_path)


@pytest.fixture
def qsynth(tmp_path: Path) -> Synth:
    """A plan whose only component is a fake "qmail" tree with a hier.c."""
    cache = Cache(tmp_path / "cache")
    tgz = write_targz(tmp_path / "q.tgz", [("hier.c", "f", HIER), ("qmail-send.8", "f", b".TH\n")],
                      top="fakeqmail-1.0")
    a = artifact("fakeqmail-1.0", tgz.read_bytes())
    add(cache, tmp_path, a, tgz.read_bytes())
    root = tmp_path / "work" / "q"
    src = SourceStage(name="src-qmail", component="qmail", tree=a, upstream=(), patches=(),
                      key="sq")
    comp = CompileStage(name="qmail", component="qmail", source="src-qmail", key="cq",
                        files={"conf-cc": "cc -O2\n"},
                        steps=(sh("qmail: make", root, "qmail",
                                  "printf bin > qmail-send && printf bin2 > qmail-inject && "
                                  "echo qmail >> ../../ran.log"),))
    plan = Plan(options=Options(base="qmail-1.03", dkim=False), toolchain=TC, root=root,
                sources=(src,),
                compiles=(comp,), conf={"conf-cc": "cc -O2\n", "conf-qmail": "/var/qmail\n"})
    return Synth(root=root, cache=cache, plan=plan, said=[])


def test_qmail_stage_tracks_the_programs_hier_c_installs(qsynth: Synth) -> None:
    assert qsynth.run() == {"src-qmail": False, "qmail": False}
    assert (qsynth.root / "src/qmail/conf-qmail").read_text() == "/var/qmail\n"
    stamp = json.loads((qsynth.root / "stamps/qmail.json").read_text())
    assert set(stamp["outputs"]) == {"build/qmail/qmail-send", "build/qmail/qmail-inject"}
    assert qsynth.run() == {"src-qmail": True, "qmail": True}
    (qsynth.root / "build/qmail/qmail-inject").unlink()
    assert qsynth.run() == {"src-qmail": True, "qmail": False}
    assert qsynth.runs() == ["qmail", "qmail"]


def test_collect_copies_outputs_and_writes_build_json(qsynth: Synth, tmp_path: Path) -> None:
    results = build.execute(qsynth.plan, qsynth.cache, say=lambda m: None)
    out = tmp_path / "out"
    (out / "stale").mkdir(parents=True)
    report = build.collect(qsynth.plan, out, [{"name": "fakeqmail-1.0"}], results)
    assert not (out / "stale").exists()
    assert (out / "bin/qmail-send").read_bytes() == b"bin"
    assert (out / "man/man8/qmail-send.8").read_bytes() == b".TH\n"
    assert report["outputs"]["bin/qmail-inject"] == hashlib.sha256(b"bin2").hexdigest()
    assert report["missing_man_pages"] == ["man/cat8/qmail-send.0", "man/man5/dot-qmail.5"]
    assert report["stages"] == {"src-qmail": "sq", "qmail": "cq"}
    assert report["flags"] == {"conf-cc": "cc -O2", "conf-qmail": "/var/qmail"}
    assert report["variant"] == "qmail-1.03" and report["dkim_options"] is None
    assert json.loads((out / "build.json").read_text()) == report


def test_collect_fails_when_a_program_is_missing(qsynth: Synth, tmp_path: Path) -> None:
    results = build.execute(qsynth.plan, qsynth.cache, say=lambda m: None)
    (qsynth.root / "build/qmail/qmail-send").unlink()
    with pytest.raises(BuildFailed, match="bin/qmail-send"):
        build.collect(qsynth.plan, tmp_path / "out", [], results)
