"""libFuzzer targets for our DKIM C code (patchkit fuzz): the build options of the instrumented
tree, the compile and link steps of the harnesses (templates/fuzz), the directory a target runs
in, and libFuzzer's figures read from its output. The targets link the prepared tree's own
objects (qdkim_*.o, qmail's libraries, the patched libdkim and libdomainkeys): what is fuzzed is
what qmail-smtpd and qmail-remote run, with only the resolver replaced (templates/fuzz/fuzz.h).
"""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from patchkit.build.plan import Options
from patchkit.errors import BuildFailed
from patchkit.resources import templates_dir
from patchkit.runner import require_tool, run_io, run_merged
from patchkit.steps import Step

TARGETS = ("verify", "sign", "roundtrip")
# What each target links besides its harness: its own half of our code, the shared part, and the
# qmail objects and libraries these call (qmail_put, control_readfile, substdio, stralloc...).
OWN_OBJECTS = {"verify": ("qdkim_verify.o",), "sign": ("qdkim_sign.o",),
               "roundtrip": ("qdkim_sign.o", "qdkim_verify.o")}
QMAIL_OBJECTS = ("qdkim_util.o", "qmail.o", "control.o", "auto_qmail.o")
QMAIL_LIBS = ("getln.a", "open.a", "case.a", "env.a", "stralloc.a", "alloc.a", "substdio.a",
              "error.a", "str.a", "fs.a", "fd.a", "wait.a")
# The tree is built by patchkit's own --sanitize build with clang; fuzzer-no-link adds
# libFuzzer's coverage instrumentation to every object (qmail's, ours, both libraries').
OPTIMIZE = "-O1 -fsanitize=fuzzer-no-link"
HARNESS_FLAGS = ("-g", "-O1", "-fsanitize=fuzzer,address,undefined", "-fno-omit-frame-pointer",
                 "-fno-sanitize-recover=undefined")
ME = "mx.fuzz.test"  # control/me of the run directory: the verifier's authserv-id
MAX_LEN = 16384  # bytes: the largest input the fuzzer makes (larger seeds are replayed only)
PER_INPUT_TIMEOUT = 25  # seconds: an input that takes longer is a finding (a hang)
FINDING_PREFIXES = ("crash-", "leak-", "timeout-", "oom-", "slow-unit-")


def options(base: str) -> Options:
    return Options(base=base, dkim=True, sanitize=True, cc="clang", cxx="clang++",
                   optimize=OPTIMIZE)


def harness_dir() -> Path:
    return templates_dir() / "fuzz"


def require_clang() -> None:
    hint = "apt-get install clang libclang-rt-dev llvm (scripts/setup --test does)"
    require_tool("clang", hint)
    require_tool("clang++", hint)


def link_steps(root: Path, out: Path) -> list[Step]:
    """Compile and link each target against the built tree under root (a plan's root)."""
    q = root / "build" / "qmail"
    inc = root / "prefix" / "include"
    lib = root / "prefix" / "lib"
    cflags = (*HARNESS_FLAGS, "-DDKIM", f"-I{harness_dir()}", f"-I{q}", f"-I{inc}",
              f"-I{inc / 'libdkim'}")
    steps = []
    for t in TARGETS:
        obj = out / f"{t}.o"
        steps.append(Step(name=f"fuzz {t}: compile", argv=(
            "clang", *cflags, "-c", str(harness_dir() / f"{t}.c"), "-o", str(obj)), cwd=out))
        steps.append(Step(name=f"fuzz {t}: link", argv=(
            "clang++", *HARNESS_FLAGS, str(obj), *(str(q / o) for o in OWN_OBJECTS[t]),
            *(str(q / o) for o in QMAIL_OBJECTS),
            "-Wl,--start-group", *(str(q / a) for a in QMAIL_LIBS), "-Wl,--end-group",
            str(lib / "libdkim.a"), str(lib / "libdomainkeys.a"), "-lcrypto", "-lresolv",
            "-o", str(out / f"fuzz-{t}")), cwd=out))
    return steps


def lay_out(rundir: Path) -> Path:
    """The directory a target runs in (templates/fuzz/fuzz.h says what it expects)."""
    keys = harness_dir() / "keys"
    (rundir / "keys" / "example.org").mkdir(parents=True, exist_ok=True)
    (rundir / "control").mkdir(exist_ok=True)
    shutil.copyfile(keys / "rsa1024.pem", rundir / "keys" / "example.org" / "rsa")
    shutil.copyfile(keys / "ed25519.pem", rundir / "keys" / "ed25519")
    (rundir / "control" / "me").write_text(ME + "\n")
    (rundir / "control" / "dksign").write_text("keys/%/rsa\nkeys/ed25519\n")
    return rundir


def write_corpus(d: Path, inputs: Iterable[bytes]) -> int:
    """Inputs as files named by their sha1, as libFuzzer names its own; the count of distinct
    inputs (a message our signer leaves unsigned is its own signed seed)."""
    d.mkdir(parents=True, exist_ok=True)
    names = set()
    for data in inputs:
        name = hashlib.sha1(data).hexdigest()
        (d / name).write_bytes(data)
        names.add(name)
    return len(names)


def sign_seed(binary: Path, rundir: Path, message: bytes) -> bytes | None:
    """message with the signature fields our signer puts on it (the sign target's FUZZ_EMIT);
    None for a message qmail-remote would keep in the queue (Z) instead of signing."""
    rc, out, err = run_io([str(binary)], rundir, input=message, env={"FUZZ_EMIT": "1"})
    if rc == 1 and err.startswith(b"Z"):
        return None
    if rc != 0:
        raise BuildFailed(f"the sign target failed to sign a seed (exit {rc}): "
                          f"{err.decode(errors='replace').strip()[-500:]}",
                          f"run it by hand: cd {rundir} && FUZZ_EMIT=1 {binary} < MESSAGE")
    return out


def show(binary: Path, rundir: Path, message: Path) -> str:
    """What the verify target queues for message, or its reply (FUZZ_SHOW): for tests."""
    rc, out = run_merged([str(binary), str(message)], rundir, timeout=120,
                         env={"FUZZ_SHOW": "1"})
    if rc != 0:
        raise AssertionError(f"{binary.name} {message} exited {rc}:\n{out[-3000:]}")
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Stats:
    """libFuzzer's own figures at the end of a run."""

    execs: int = 0
    exec_per_s: int = 0
    cov: int = 0  # coverage points (edges) reached
    ft: int = 0  # features (edges with hit counts, comparisons...)
    corpus: int = 0
    new_units: int = 0
    peak_rss_mb: int = 0
    findings: tuple[str, ...] = field(default=())  # artifact file names (crash-..., leak-...)


_STAT = re.compile(r"^stat::(\w+):\s+(\d+)", re.M)
_LINE = re.compile(r"cov: (\d+) ft: (\d+) corp: (\d+)/")
_ARTIFACT = re.compile(r"Test unit written to (\S+)")


def parse(text: str) -> Stats:
    """The figures from libFuzzer's output (-print_final_stats=1): the stat:: lines, the last
    status line (cov, ft, corpus) and the artifacts it wrote."""
    st = {k: int(v) for k, v in _STAT.findall(text)}
    lines = _LINE.findall(text)
    cov, ft, corp = (int(x) for x in lines[-1]) if lines else (0, 0, 0)
    return Stats(execs=st.get("number_of_executed_units", 0),
                 exec_per_s=st.get("average_exec_per_sec", 0), cov=cov, ft=ft, corpus=corp,
                 new_units=st.get("new_units_added", 0), peak_rss_mb=st.get("peak_rss_mb", 0),
                 findings=tuple(Path(p).name for p in _ARTIFACT.findall(text)))


def fuzz_argv(binary: Path, corpus: Path, seeds: Path, artifacts: Path, seconds: int
              ) -> list[str]:
    """New inputs go into corpus (the first directory), seeds is read only."""
    return [str(binary), f"-max_total_time={seconds}", f"-timeout={PER_INPUT_TIMEOUT}",
            f"-max_len={MAX_LEN}",
            "-print_final_stats=1", f"-artifact_prefix={artifacts}/", str(corpus), str(seeds)]


def run(binary: Path, rundir: Path, corpus: Path, seeds: Path, artifacts: Path, seconds: int,
        log: Path) -> tuple[int, Stats]:
    """Fuzz for seconds; (exit code, figures). The whole output goes to log; what an earlier run
    found in artifacts moves to artifacts.previous, so that only this run's findings count."""
    corpus.mkdir(parents=True, exist_ok=True)
    if artifacts.exists():
        previous = artifacts.with_name(artifacts.name + ".previous")
        shutil.rmtree(previous, ignore_errors=True)
        artifacts.rename(previous)
    artifacts.mkdir(parents=True)
    rc, out = run_merged(fuzz_argv(binary, corpus, seeds, artifacts, seconds), rundir,
                         timeout=seconds + 300)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(out)
    stats = parse(out)
    found = sorted(p.name for p in artifacts.iterdir() if p.name.startswith(FINDING_PREFIXES))
    if found and not stats.findings:
        stats = replace(stats, findings=tuple(found))
    return rc, stats


def replay(binary: Path, rundir: Path, inputs: list[Path], log: Path) -> int:
    """Run each input once (the regression check); the exit code, the output to log."""
    rc, out = run_merged([str(binary), f"-timeout={PER_INPUT_TIMEOUT}", *map(str, inputs)],
                         rundir, timeout=600)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(out)
    return rc


# the function's name may hold spaces (C++: "f(int, char) const"); the path does not
_FUNC = re.compile(r"^(?:UN)?COVERED_FUNC: hits: \d+ edges: (\d+)/(\d+) .+ (\S+):\d+$", re.M)


def _component(path: str) -> str | None:
    """Our files by name, the libraries as one each; qmail's own, the harness, libstdc++: none."""
    name = path.rsplit("/", 1)[-1]
    if "/build/libdkim/" in path:
        return "libdkim"
    if "/build/libdomainkeys/" in path:
        return "libdomainkeys"
    if "/build/qmail/" in path and name.startswith("qdkim_"):
        return name
    return None


def parse_coverage(text: str) -> dict[str, tuple[int, int]]:
    """Edges covered and instrumented per component, from -print_coverage=1's function lines
    (every function linked into the target: a library's code the target cannot reach counts)."""
    out: dict[str, tuple[int, int]] = {}
    for covered, total, path in _FUNC.findall(text):
        c = _component(path)
        if c is None:
            continue
        a, b = out.get(c, (0, 0))
        out[c] = (a + int(covered), b + int(total))
    return dict(sorted(out.items()))


def coverage(binary: Path, rundir: Path, dirs: list[Path], log: Path
             ) -> dict[str, tuple[int, int]]:
    """Edge coverage of running every input in dirs once (no mutation)."""
    rc, out = run_merged([str(binary), "-runs=0", "-print_coverage=1",
                          f"-timeout={PER_INPUT_TIMEOUT}", *map(str, dirs)], rundir, timeout=1200)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(out)
    if rc != 0:
        return {}
    return parse_coverage(out)
